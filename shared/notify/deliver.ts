/**
 * The delivery step of a rotation run: for every token the run listed, the messages due to its
 * marketplace's contacts (shared/notify/due.ts), each claimed in the token's record with the
 * entity's ETag before it is sent, so that of all instances only one sends it; then paced under
 * Communication Services' limits, sent, and its outcome recorded.
 *
 * A throttled message (429) waits as long as its Retry-After asks, in this run when that fits,
 * else until a later run: it is never counted as failed. A message Communication Services
 * refuses, or that keeps meeting temporary failures, is logged and alerted (NotificationFailed).
 * Nothing here fails the run or changes a token.
 */
import { randomUUID } from 'node:crypto';
import { ensureAppError } from '../errors';
import { events } from '../events';
import { logEvent, type EventFields, type Logger } from '../log';
import type { MarketplaceConfig } from '../marketplaces/config';
import { lookupMarketplace, type Marketplace } from '../marketplaces/marketplace';
import { realSleep, withRetries, type Sleep } from '../retry';
import type { RotationOutcome } from '../rotation/outcomes';
import type { ListedToken } from '../secrets/store';
import type { Settings } from '../settings';
import type { SharedState } from '../storage/open';
import { tokenRecordsTable, updateTokenRecordIf, type Told, type TokenRecord } from '../storage/tokenRecords';
import { maskAddress } from './address';
import { dueFor, expiryDue, expiryOf, personDue, type Due, type DueInput } from './due';
import type { Mailer } from './emailClient';
import { SendError, sendErrorOf } from './sendError';
import { messageFor, startLinkFor } from './message';
import type { SendPace } from './pace';

export interface DeliveryContext {
  settings: Settings;
  config: MarketplaceConfig;
  shared: SharedState;
  logger: Logger;
  runId: string;
  now: () => number;
  /** The run's remaining budget: no wait reaches past it. */
  timeLeft: () => number;
  /** Opened on the first message to send. */
  mailer: () => Mailer;
  sender: string;
  pace: SendPace;
  sleep?: Sleep;
}

/** What the run has for this step: the tokens it listed, what it did to each, every token's record. */
export interface RunPass {
  tokens: readonly ListedToken[];
  outcomes: ReadonlyMap<string, RotationOutcome>;
  records: ReadonlyMap<string, TokenRecord>;
}

export interface DeliveryCounts {
  sent: number;
  deferred: number;
  failed: number;
  dropped: number;
}

/** Within a run, no single wait for Communication Services is longer (its per-minute window); a longer Retry-After waits for a later run. */
const maxWaitInRunMs = 60_000;
/** Runs in a row that met a temporary failure (not throttling) before a message counts as failed. */
const maxFailures = 3;
/** Sends of one message within a run (the first included). */
const attemptsPerRun = 3;

export async function deliverMessages(ctx: DeliveryContext, pass: RunPass): Promise<DeliveryCounts> {
  const counts: DeliveryCounts = { sent: 0, deferred: 0, failed: 0, dropped: 0 };
  const environment = ctx.settings.SERVICE_ENVIRONMENT;
  for (const token of pass.tokens) {
    if (ctx.timeLeft() <= 0) break;
    const outcome = pass.outcomes.get(token.marketplace);
    // A token rotated by this run has a new 90-day life and is not parked: nothing to say.
    if (outcome === 'rotated') continue;
    const found = lookupMarketplace(ctx.config, token.marketplace, environment);
    if (found.kind !== 'found' || found.marketplace.contacts.length === 0) continue;
    const marketplace = found.marketplace;
    const input: DueInput = {
      token,
      ...(outcome ? { outcome } : {}),
      record: pass.records.get(token.marketplace) ?? { marketplace: token.marketplace },
      contacts: marketplace.contacts,
      now: ctx.now(),
    };
    const { due, obsolete } = dueFor(input);
    if (obsolete && (await drop(ctx, marketplace, obsolete))) counts.dropped++;
    for (const d of due) {
      if (ctx.timeLeft() <= 0) break;
      const result = await deliver(ctx, marketplace, input, d);
      if (result) counts[result]++;
    }
  }
  return counts;
}

function fieldsOf(ctx: DeliveryContext, marketplace: Marketplace, told: Told): EventFields {
  return {
    runId: ctx.runId,
    marketplace: marketplace.id,
    reason: told.reason,
    about: told.about,
    recipients: told.to.length,
    // MUST (docs/SECURITY.md 35): never a whole address in a log line.
    to: told.to.map(maskAddress).join(' '),
  };
}

/** Writes `change` of the message in `slot` only if the record still holds the one we know (same reason and time). */
async function rewrite(
  ctx: DeliveryContext,
  marketplace: string,
  slot: Due['slot'],
  known: Told,
  change: (current: Told) => Told | undefined,
): Promise<TokenRecord | undefined> {
  return updateTokenRecordIf(ctx.shared.table(tokenRecordsTable), ctx.settings.SERVICE_ENVIRONMENT, marketplace, (s) => {
    const current = s.told?.[slot];
    if (!current || current.reason !== known.reason || current.at !== known.at) return undefined;
    const next = change(current);
    if (!next) return undefined;
    return { ...s, told: { ...s.told, [slot]: next } };
  });
}

/** A queued message about a person who is no longer needed: removed from the record, not sent. */
async function drop(ctx: DeliveryContext, marketplace: Marketplace, told: Told): Promise<boolean> {
  try {
    const done = await updateTokenRecordIf(ctx.shared.table(tokenRecordsTable), ctx.settings.SERVICE_ENVIRONMENT, marketplace.id, (s) => {
      const current = s.told?.person;
      if (!current || current.at !== told.at || current.state !== told.state) return undefined;
      const rest = { ...s.told };
      delete rest.person;
      return { ...s, told: rest };
    });
    if (done) logEvent(ctx.logger, 'info', events.notificationDropped, { ...fieldsOf(ctx, marketplace, told), why: 'no-longer-parked' });
    return done !== undefined;
  } catch {
    return false;
  }
}

/** Claims a due message in the record: true only for the one instance whose write found the state it decided on. */
async function claim(ctx: DeliveryContext, marketplace: Marketplace, input: DueInput, d: Due, claimed: Told): Promise<boolean> {
  const written = await updateTokenRecordIf(ctx.shared.table(tokenRecordsTable), ctx.settings.SERVICE_ENVIRONMENT, marketplace.id, (s) => {
    // The same rules, on the freshest record: another instance may have claimed or sent it since this run read it.
    const fresh = { ...input, record: s, now: ctx.now() };
    const again = d.slot === 'person' ? personDue(fresh) : expiryDue(s, expiryOf(input.token), input.contacts, fresh.now);
    if (!again || again.told.reason !== d.told.reason || (!d.fresh && again.told.at !== d.told.at)) return undefined;
    return { ...s, told: { ...s.told, [d.slot]: claimed } };
  });
  return written !== undefined;
}

/** One message: claim, pace, send, record. Returns what became of it, or undefined when another instance has it or it must wait its turn. */
async function deliver(ctx: DeliveryContext, marketplace: Marketplace, input: DueInput, d: Due): Promise<keyof DeliveryCounts | undefined> {
  const fields = fieldsOf(ctx, marketplace, { ...d.told, to: marketplace.contacts });
  // Under the limits first: a message claimed but not sent would sit in the record for a day.
  const wait = ctx.pace.waitMs();
  if (wait > 0 && wait >= Math.min(maxWaitInRunMs, ctx.timeLeft())) {
    logEvent(ctx.logger, 'info', events.notificationDeferred, { ...fields, why: 'paced', waitMs: Math.round(wait) });
    return undefined;
  }
  const at = new Date(ctx.now()).toISOString();
  const claimed: Told = { ...d.told, to: marketplace.contacts, state: 'sending', updatedAt: at };
  delete claimed.retryAt;
  try {
    if (!(await claim(ctx, marketplace, input, d, claimed))) return undefined;
  } catch (err) {
    logEvent(ctx.logger, 'warn', events.notificationDeferred, { ...fields, why: 'record-unavailable', code: ensureAppError(err).code });
    return 'deferred';
  }
  // One rotation queued is logged when it was queued; a message decided here, once it is recorded.
  if (d.fresh) logEvent(ctx.logger, 'info', events.notificationQueued, fields);

  const pushesToConnect = Boolean(ctx.settings.CONNECT_API_KEY_SECRET_NAME) && marketplace.connectProducts.length > 0;
  const parked = input.record.parked?.reason ?? /^needs-reauth:(.+)$/.exec(input.token.tags.lastError ?? '')?.[1];
  const message = messageFor({
    marketplace,
    reason: claimed.reason,
    about: claimed.about,
    ...(input.token.tags.rotatedAt || input.token.tags.issuedAt ? { lastRenewed: input.token.tags.rotatedAt ?? input.token.tags.issuedAt } : {}),
    ...(parked && input.token.tags.status === 'needs-reauth' ? { parkedCause: parked } : {}),
    pushesToConnect,
    startLink: startLinkFor(ctx.settings, marketplace.id),
  });

  const sleep = ctx.sleep ?? realSleep;
  try {
    const { operationId } = await withRetries(
      async () => {
        // Every attempt counts against the limits: each takes its slot.
        if (ctx.pace.waitMs() >= ctx.timeLeft()) throw new SendError('throttled', undefined, 'Paced', ctx.pace.waitMs());
        await ctx.pace.take();
        return ctx.mailer()({ ...message, from: ctx.sender, to: marketplace.contacts, operationId: randomUUID() });
      },
      {
        attempts: attemptsPerRun,
        isTransient: (err) => sendErrorOf(err).kind !== 'refused',
        retryAfterMs: (err) => sendErrorOf(err).retryAfterMs,
        maxWaitMs: maxWaitInRunMs,
        timeLeft: ctx.timeLeft,
        sleep,
        onRetry: (attempt, waitMs) =>
          logEvent(ctx.logger, 'warn', events.notificationDeferred, { ...fields, why: 'retry', attempt, waitMs: Math.round(waitMs) }),
      },
    );
    await record(ctx, marketplace.id, d.slot, claimed, (c) => ({ ...c, state: 'sent', updatedAt: new Date(ctx.now()).toISOString(), operationId }));
    logEvent(ctx.logger, 'info', events.notificationSent, { ...fields, operationId });
    return 'sent';
  } catch (err) {
    const e = sendErrorOf(err);
    const now = ctx.now();
    const failures = (d.told.failures ?? 0) + (e.kind === 'unavailable' ? 1 : 0);
    const diagnosis = { status: e.status, code: e.code };
    if (e.kind === 'refused' || failures >= maxFailures) {
      await record(ctx, marketplace.id, d.slot, claimed, (c) => ({ ...c, state: 'failed', updatedAt: new Date(now).toISOString(), failures }));
      logEvent(ctx.logger, 'error', events.notificationFailed, { ...fields, ...diagnosis, kind: e.kind, failures });
      return 'failed';
    }
    // Throttled or temporarily unavailable: back in the queue, for this run's successors once its wait is over.
    const retryAt = new Date(now + Math.max(e.retryAfterMs ?? 0, e.kind === 'unavailable' ? 15 * 60_000 : 60_000)).toISOString();
    await record(ctx, marketplace.id, d.slot, claimed, (c) => ({
      ...c,
      state: 'queued',
      updatedAt: new Date(now).toISOString(),
      retryAt,
      ...(failures > 0 ? { failures } : {}),
    }));
    logEvent(ctx.logger, 'warn', events.notificationDeferred, { ...fields, ...diagnosis, why: e.kind, retryAt, failures });
    return 'deferred';
  }
}

/** Records what became of a claimed message; a record that cannot be written leaves it `sending`, claimable again after a day. */
async function record(ctx: DeliveryContext, marketplace: string, slot: Due['slot'], claimed: Told, change: (c: Told) => Told): Promise<void> {
  await rewrite(ctx, marketplace, slot, claimed, (current) =>
    current.state === 'sending' && current.updatedAt === claimed.updatedAt ? change(current) : undefined,
  ).catch((err: unknown) =>
    logEvent(ctx.logger, 'warn', events.notificationDeferred, {
      runId: ctx.runId,
      marketplace,
      why: 'record-unavailable',
      code: ensureAppError(err).code,
    }),
  );
}
