/**
 * Which messages are due for one token, from what a rotation run already has: the token as the
 * vault listed it, what the run did to it, and its record in the shared table. Pure: the same
 * rules decide here and again, on the freshest record, when an instance claims a message
 * (shared/notify/deliver.ts), so two instances never both send one.
 */
import { expiryAfterUse } from '../identity/lifetime';
import type { RotationOutcome } from '../rotation/outcomes';
import { lastActivity } from '../rotation/rotateToken';
import type { ListedToken } from '../secrets/store';
import type { Told, TokenRecord } from '../storage/tokenRecords';
import { expiryReason, oncePerMs, thresholdCrossed, thresholdOf } from './reasons';

/** Where a message is kept in the token's record: the last about a person, the last about the expiry. */
export type Slot = 'person' | 'expiry';

export interface Due {
  slot: Slot;
  /** The message as it stands in the record (a retry), or as it would be written (a new one). */
  told: Told;
  /** A new message: not yet in the record. */
  fresh: boolean;
}

/**
 * A message in the record that this instance may send now: decided and not yet tried, or
 * throttled and past its Retry-After, or claimed by an instance that vanished over a day ago (the
 * once-a-day rule holds even if that instance had sent it).
 */
export function sendable(t: Told, now: number): boolean {
  if (t.state === 'queued') return !t.retryAt || Date.parse(t.retryAt) <= now;
  if (t.state === 'sending') return now - Date.parse(t.updatedAt) >= oncePerMs;
  return false;
}

/** When the token's 90-day life ends: the version's `exp` as listed, else 90 days after its last use. */
export function expiryOf(token: Pick<ListedToken, 'expiresOn' | 'tags' | 'createdOn'>): Date {
  return token.expiresOn ?? expiryAfterUse(lastActivity(token));
}

/**
 * The expiry message due for a life ending at `expiresAt`, given the record: the threshold just
 * crossed, unless the contacts heard about it (or a tighter one) in this life already, or about
 * this very reason within a day. A throttled one past its wait is due again as it stands.
 */
export function expiryDue(record: TokenRecord, expiresAt: Date, contacts: string[], now: number): Due | undefined {
  const threshold = thresholdCrossed(expiresAt.getTime() - now);
  if (threshold === undefined) return undefined;
  const about = expiresAt.toISOString();
  const last = record.told?.expiry;
  const lastThreshold = last ? thresholdOf(last.reason) : undefined;
  if (last && last.about === about && lastThreshold !== undefined && lastThreshold <= threshold) {
    // This threshold (or a tighter one) of this life is in the record already: due only as a retry.
    return last.reason === expiryReason(threshold) && sendable(last, now) ? { slot: 'expiry', told: last, fresh: false } : undefined;
  }
  if (last && last.reason === expiryReason(threshold) && now - Date.parse(last.at) < oncePerMs) return undefined;
  const at = new Date(now).toISOString();
  return {
    slot: 'expiry',
    fresh: true,
    told: { reason: expiryReason(threshold), about, to: contacts, state: 'queued', at, updatedAt: at },
  };
}

export interface DueInput {
  token: Pick<ListedToken, 'expiresOn' | 'tags' | 'createdOn'>;
  /** What this run did to the token, if it got to it. */
  outcome?: RotationOutcome;
  record: TokenRecord;
  contacts: string[];
  now: number;
}

/** The cause the token was parked for: the record's, else the tag rotation wrote (`needs-reauth:<cause>`). */
function parkedCauseOf(input: Pick<DueInput, 'token' | 'record'>): string {
  return input.record.parked?.reason ?? /^needs-reauth:(.+)$/.exec(input.token.tags.lastError ?? '')?.[1] ?? 'unknown';
}

/**
 * The message about a person, for a parked token: the one rotation queued when it parked it
 * (shared/notify/needsPerson.ts), or a new one when the record has none for this parking (the
 * queueing failed, or the contacts were named, or the messages turned on, after it was parked).
 * Undefined when the token is not parked, or its contacts heard about it within a day.
 */
export function personDue(input: DueInput): Due | undefined {
  const { token, outcome, record, contacts, now } = input;
  if (token.tags.status !== 'needs-reauth' && outcome !== 'needs-reauth') return undefined;
  const last = record.told?.person;
  if (last && (last.state === 'queued' || last.state === 'sending'))
    return sendable(last, now) ? { slot: 'person', told: last, fresh: false } : undefined;
  const parkedSince = Date.parse(record.parked?.since ?? token.tags.lastErrorAt ?? '');
  if (last && (Number.isNaN(parkedSince) || Date.parse(last.at) >= parkedSince || now - Date.parse(last.at) < oncePerMs)) return undefined;
  const at = new Date(now).toISOString();
  return {
    slot: 'person',
    fresh: true,
    told: { reason: 'needs-person', about: parkedCauseOf(input), to: contacts, state: 'queued', at, updatedAt: at },
  };
}

/**
 * What to send for one token, and a queued message about a person that nobody needs any more
 * (someone signed in since, so the token is no longer parked): to drop, not to send.
 */
export function dueFor(input: DueInput): { due: Due[]; obsolete?: Told } {
  const person = input.record.told?.person;
  const parked = input.token.tags.status === 'needs-reauth' || input.outcome === 'needs-reauth';
  // Not one another instance is sending right now: its record of the send must find the message.
  const obsolete = person && !parked && (person.state === 'queued' || sendable(person, input.now)) ? person : undefined;
  const due = [personDue(input), expiryDue(input.record, expiryOf(input.token), input.contacts, input.now)].filter((d): d is Due => d !== undefined);
  return obsolete ? { due, obsolete } : { due };
}
