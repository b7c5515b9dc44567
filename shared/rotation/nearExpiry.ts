/**
 * The second, independent trigger of a rotation: Key Vault raises SecretNearExpiry 30 days
 * before a token version's `exp`, which rotation sets to 90 days after the token's last use, so
 * the event means no rotation for 60 days. That marketplace is rotated at once; every message is
 * logged (SecretNearExpiryReceived, which the portal alerts on, or SecretNearExpiryDropped).
 *
 * Not forced: the 12-hour rule of docs/ROTATION.md ("Limits") stays on. A token the event is
 * right about was last used 60 days ago, far past 12 hours, so the rule never holds back a due
 * rotation; what it holds back is the rest. Event Grid and the queue deliver at least once, an
 * event may wait in the queue while the timer catches up, a message may hold an array of events,
 * and whoever may write to the queue can add messages.
 * Unforced, none of them can do more than the timer would: at most one new version per token
 * per 12 hours, and no Key Vault writes spent on churn.
 *
 * Retried when a later attempt may help: a transient failure of that token (Entra, Partner
 * Center, Key Vault) or of the run throws, so the queue delivers the message again (host.json:
 * at most 5 deliveries, minutes apart, then the poison queue). The event is the evidence that
 * the timer has not been rotating this token, so "the next timer run catches it" is the one
 * thing not to count on; and Key Vault raises it once per version (the current one), so a dropped
 * message does not come back. A message with several events handles them in turn; a retry of
 * one hands the others over again, which the 12-hour rule makes harmless. Everything else completes the message: a malformed or foreign message, a token that
 * needs a person or whose app's credential is wrong (each has its own alert), one rotated
 * recently or by another run, a marketplace not configured, invalid settings or configuration
 * (RotationRunFailed alerts). Retrying those could not change the answer.
 */
import { AppError, ensureAppError } from '../errors';
import { events } from '../events';
import { logEvent, type Logger } from '../log';
import type { Settings } from '../settings';
import { parseNearExpiryMessage, type DropReason, type ParsedNearExpiry } from './nearExpiryEvent';
import type { RotationOutcome, RotationSummary } from './outcomes';

export interface NearExpiryDeps {
  /** The settings of this process (getSettings); may throw settings_invalid. */
  settings: () => Settings;
  /** Rotates one marketplace, not forced (runRotation with trigger `near-expiry`). */
  rotate: (settings: Settings, marketplace: string) => Promise<RotationSummary>;
  logger: Logger;
  correlationId: string;
  /** How often the queue has handed over this message, this time included. */
  dequeueCount?: number;
}

export type NearExpiryResult =
  | { kind: 'dropped'; reason: DropReason }
  /** The run ended, and left the token in this state (`no-token`: none stored, or its latest version is disabled). */
  | { kind: 'rotation'; marketplace: string; outcome: RotationOutcome | 'no-token'; reason?: string }
  /** The run could not start or failed as a whole (not transient: a retry would fail alike). */
  | { kind: 'failed'; code: string; marketplace?: string };

/** Deliveries of one message before the host moves it to the poison queue (host.json `extensions.queues.maxDequeueCount`). */
const maxDeliveries = 5;

/** Outcomes a later delivery of the same message may improve on. */
const worthAnotherDelivery: ReadonlySet<RotationOutcome> = new Set(['transient', 'store-failed', 'not-reached']);

/**
 * Handles one message of the near-expiry queue: one result per event in it (one, unless the
 * message is an array). Throws only to have the message delivered again (a transient AppError);
 * every other ending is a result.
 */
export async function rotateOnNearExpiry(message: unknown, deps: NearExpiryDeps): Promise<NearExpiryResult[]> {
  let settings: Settings;
  try {
    settings = deps.settings();
  } catch (err) {
    return [runFailed(deps, err)];
  }
  const results: NearExpiryResult[] = [];
  for (const parsed of parseNearExpiryMessage(message, settings.SERVICE_ENVIRONMENT)) results.push(await handleEvent(parsed, settings, deps));
  return results;
}

async function handleEvent(parsed: ParsedNearExpiry, settings: Settings, deps: NearExpiryDeps): Promise<NearExpiryResult> {
  const { logger, correlationId } = deps;
  const delivery = { correlationId, dequeueCount: deps.dequeueCount };
  const environment = settings.SERVICE_ENVIRONMENT;
  if (parsed.kind === 'dropped') {
    // Only validated fields: the message itself may be anything, so none of it is quoted.
    const { kind: _kind, ...fields } = parsed;
    logEvent(logger, 'warn', events.secretNearExpiryDropped, { ...fields, ...delivery });
    return { kind: 'dropped', reason: parsed.reason };
  }

  const { event, form, batchSize } = parsed;
  const about = {
    marketplace: event.marketplace,
    environment,
    version: event.version,
    expiresAt: event.expiresAt,
    eventId: event.eventId,
    form,
    batchSize,
    ...delivery,
  };
  let summary: RotationSummary;
  try {
    summary = await deps.rotate(settings, event.marketplace);
  } catch (err) {
    // The event outlived its token (none stored any more): nothing to rotate, and not a failed run.
    if (ensureAppError(err).code === 'token_not_found') {
      logEvent(logger, 'warn', events.secretNearExpiryReceived, { ...about, outcome: 'no-token' });
      return { kind: 'rotation', marketplace: event.marketplace, outcome: 'no-token' };
    }
    logEvent(logger, 'warn', events.secretNearExpiryReceived, { ...about, outcome: 'failed', code: ensureAppError(err).code });
    return runFailed(deps, err, event.marketplace);
  }
  const result = summary.results.find((r) => r.marketplace === event.marketplace);
  const outcome = result?.outcome ?? 'no-token';
  logEvent(logger, 'warn', events.secretNearExpiryReceived, { ...about, outcome, reason: result?.reason, runId: summary.runId });
  if (result && worthAnotherDelivery.has(result.outcome)) {
    // The queue's last delivery (host.json: maxDequeueCount 5): next stop the poison queue, which nothing reads; say so loudly.
    if ((deps.dequeueCount ?? 0) >= maxDeliveries) {
      logEvent(logger, 'error', events.rotationRunFailed, {
        trigger: 'near-expiry',
        marketplace: event.marketplace,
        code: 'rotation_incomplete',
        outcome: result.outcome,
        ...delivery,
      });
    }
    throw new AppError(
      'rotation_incomplete',
      `Rotation of ${event.marketplace} after SecretNearExpiry ended ${result.outcome}; the queue delivers it again`,
      {
        marketplace: event.marketplace,
        retry: { transient: true },
      },
    );
  }
  return { kind: 'rotation', marketplace: event.marketplace, outcome, ...(result?.reason ? { reason: result.reason } : {}) };
}

/** The run failed as a whole: logged as the timer logs it; rethrown only when it may pass later. */
function runFailed(deps: NearExpiryDeps, err: unknown, marketplace?: string): NearExpiryResult {
  const e = ensureAppError(err);
  logEvent(deps.logger, 'error', events.rotationRunFailed, {
    trigger: 'near-expiry',
    marketplace,
    code: e.code,
    correlationId: deps.correlationId,
  });
  if (e.code === 'settings_invalid')
    logEvent(deps.logger, 'error', events.configurationInvalid, {
      ...e.diagnosis(),
      code: e.code,
      trigger: 'near-expiry',
      correlationId: deps.correlationId,
    });
  if (e.retry.transient) throw e;
  return { kind: 'failed', code: e.code, ...(marketplace ? { marketplace } : {}) };
}
