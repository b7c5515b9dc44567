/**
 * Per-token state that is not a secret and does not fit the token's tags (all 15 are in use):
 * why and since when rotation parked a token, refusals in a row that are not yet final, and who
 * was told what and when (shared/notify). One entity per marketplace and environment, in a table
 * every instance shares, changed with optimistic concurrency (ETags) so two writers never lose
 * each other's change.
 */
import { AppError } from '../errors';
import type { Environment } from '../settings';
import type { EntityProperties, EntityTable } from './tables';

export const tokenRecordsTable = 'tokenrecords';

export interface TokenRecord {
  marketplace: string;
  /** Rotation stopped trying: a person must sign in again (the reason, since when, the configuration entry it was parked under). */
  parked?: { reason: string; since: string; entry?: string };
  /** Refusals in a row that may need a person but are not final yet: how many, the last reason, since when. */
  refusals?: { count: number; reason: string; since: string };
  /** The last message to the marketplace's contacts about a token that needs a person, and the last about its expiry. */
  told?: { person?: Told; expiry?: Told };
}

/**
 * One message to a marketplace's contacts (shared/notify/reasons.ts names the reasons). It is
 * written here, with the entity's ETag, before it is sent: two instances never both send it.
 */
export interface Told {
  /** Why: `needs-person`, or `expires-in-14` / `-7` / `-3` / `-1`. */
  reason: string;
  /** What it was about: the cause a person must fix (`mfa`, `consent`, …), or the expiry the days count down to (ISO time). */
  about: string;
  /** The addresses it went to. */
  to: string[];
  /** `queued` (decided; a throttled send waits for `retryAt`), `sending` (an instance claimed it), `sent` (accepted by the mail service), `failed` (alerted). */
  state: ToldState;
  /** When it was decided: the day it counts for. */
  at: string;
  /** When its state last changed. */
  updatedAt: string;
  /** A deferred send: not before this. */
  retryAt?: string;
  /** Attempts that failed for a reason other than throttling. */
  failures?: number;
  /** The mail service's operation id once accepted (not a secret: what its support asks for). */
  operationId?: string;
}
export type ToldState = 'queued' | 'sending' | 'sent' | 'failed';
const toldStates: readonly string[] = ['queued', 'sending', 'sent', 'failed'] satisfies ToldState[];

/** A stored `Told`, checked field by field: an entity written by hand or by an older version must not break a run. */
function toldOf(text: unknown): Told | undefined {
  if (typeof text !== 'string') return undefined;
  let v: Record<string, unknown>;
  try {
    v = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const str = (k: string) => (typeof v[k] === 'string' ? (v[k] as string) : undefined);
  const [reason, about, at, updatedAt, state] = [str('reason'), str('about'), str('at'), str('updatedAt'), str('state')];
  if (!reason || about === undefined || !at || !updatedAt || !state || !toldStates.includes(state)) return undefined;
  if (!Array.isArray(v.to) || !v.to.every((a) => typeof a === 'string')) return undefined;
  const told: Told = { reason, about, to: v.to as string[], state: state as ToldState, at, updatedAt };
  const retryAt = str('retryAt');
  if (retryAt) told.retryAt = retryAt;
  if (typeof v.failures === 'number' && v.failures > 0) told.failures = v.failures;
  const operationId = str('operationId');
  if (operationId) told.operationId = operationId;
  return told;
}

function stateOf(marketplace: string, p: EntityProperties): TokenRecord {
  const s = (key: string) => (typeof p[key] === 'string' ? (p[key] as string) : undefined);
  const state: TokenRecord = { marketplace };
  const parkedReason = s('parkedReason');
  const parkedSince = s('parkedSince');
  if (parkedReason && parkedSince) {
    const entry = s('parkedEntry');
    state.parked = { reason: parkedReason, since: parkedSince, ...(entry ? { entry } : {}) };
  }
  const count = typeof p.refusals === 'number' ? p.refusals : 0;
  const refusalReason = s('refusalReason');
  const refusalSince = s('refusalSince');
  if (count > 0 && refusalReason && refusalSince) state.refusals = { count, reason: refusalReason, since: refusalSince };
  const person = toldOf(p.toldPerson);
  const expiry = toldOf(p.toldExpiry);
  if (person || expiry) state.told = { ...(person ? { person } : {}), ...(expiry ? { expiry } : {}) };
  return state;
}

function propertiesOf(state: TokenRecord): EntityProperties {
  const p: EntityProperties = {};
  if (state.parked) {
    p.parkedReason = state.parked.reason;
    p.parkedSince = state.parked.since;
    if (state.parked.entry) p.parkedEntry = state.parked.entry;
  }
  if (state.refusals) {
    p.refusals = state.refusals.count;
    p.refusalReason = state.refusals.reason;
    p.refusalSince = state.refusals.since;
  }
  if (state.told?.person) p.toldPerson = JSON.stringify(state.told.person);
  if (state.told?.expiry) p.toldExpiry = JSON.stringify(state.told.expiry);
  return p;
}

/**
 * Who was told survives every change that does not name it: rotation's changes rebuild the
 * parked and refusal state from scratch, and forgetting a message would send it again.
 */
function keepTold(before: TokenRecord, next: TokenRecord): TokenRecord {
  return 'told' in next || !before.told ? next : { ...next, told: before.told };
}

/** Every token's state of an environment, by marketplace: one query (a page per 1,000 tokens), for a whole run or the status page. */
export async function readTokenRecords(table: EntityTable, environment: Environment): Promise<Map<string, TokenRecord>> {
  const rows = await table.list(environment);
  return new Map(rows.map((row) => [row.rowKey, stateOf(row.rowKey, row.properties)]));
}

export async function readTokenRecord(table: EntityTable, environment: Environment, marketplace: string): Promise<TokenRecord> {
  const row = await table.get(environment, marketplace);
  return row ? stateOf(marketplace, row.properties) : { marketplace };
}

/**
 * Applies `change` to the stored state and writes it back only if nobody wrote in between
 * (else reads again and re-applies). Returns the state as written.
 */
export async function updateTokenRecord(
  table: EntityTable,
  environment: Environment,
  marketplace: string,
  change: (state: TokenRecord) => TokenRecord,
): Promise<TokenRecord> {
  const next = await updateTokenRecordIf(table, environment, marketplace, change);
  // `change` always returns a state, so a write always happened.
  return next as TokenRecord;
}

/**
 * `updateTokenRecord` for a change that may decline: `change` returns undefined to leave the
 * entity as it is (nothing is written; undefined is returned). What a claim needs: the ETag
 * makes sure that of two instances deciding at once, only one finds the state it expected.
 */
export async function updateTokenRecordIf(
  table: EntityTable,
  environment: Environment,
  marketplace: string,
  change: (state: TokenRecord) => TokenRecord | undefined,
): Promise<TokenRecord | undefined> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const row = await table.get(environment, marketplace);
    const before = row ? stateOf(marketplace, row.properties) : { marketplace };
    const changed = change(before);
    if (!changed) return undefined;
    const next = keepTold(before, changed);
    const written = await table.replace(environment, marketplace, propertiesOf(next), row ? row.etag : null);
    if (written === 'written') return next;
  }
  throw new AppError('storage_failed', `The state of ${marketplace} kept changing under this write`, { marketplace, retry: { transient: true } });
}
