/**
 * Rotation's one call into notifications: a token was just parked as needing a person. The
 * message to the marketplace's contacts is decided here, written into the token's record (with
 * its ETag, so every instance sees it) and sent by the same run's delivery step
 * (shared/notify/deliver.ts), paced with the others. Never throws: a message never fails a
 * rotation.
 */
import { ensureAppError } from '../errors';
import { events } from '../events';
import { logEvent, type Logger } from '../log';
import type { MarketplaceConfig } from '../marketplaces/config';
import { lookupMarketplace } from '../marketplaces/marketplace';
import type { Settings } from '../settings';
import type { SharedState } from '../storage/open';
import { tokenRecordsTable, updateTokenRecordIf, type TokenRecord } from '../storage/tokenRecords';
import { maskAddress } from './address';
import { notificationsOf } from './open';
import { oncePerMs } from './reasons';

/** What a rotation run has that this needs (shared/rotation/rotateToken.ts's RunState is one). */
export interface ParkingRun {
  deps: { settings: Settings; config: MarketplaceConfig; shared: SharedState; logger: Logger };
  runId: string;
  now: () => number;
  /** The run's copy of every token's record: updated here, so its delivery step sees the message. */
  tokenRecords: Map<string, TokenRecord>;
}

/** Queues the message that `marketplace`'s token needs a person, for `cause` (the reason rotation parked it). */
export async function queueNeedsPerson(run: ParkingRun, marketplace: string, cause: string): Promise<void> {
  const { settings, config, shared, logger } = run.deps;
  if (!notificationsOf(settings)) return;
  const found = lookupMarketplace(config, marketplace, settings.SERVICE_ENVIRONMENT);
  if (found.kind !== 'found' || found.marketplace.contacts.length === 0) return;
  const contacts = found.marketplace.contacts;
  const now = run.now();
  const at = new Date(now).toISOString();
  try {
    const next = await updateTokenRecordIf(shared.table(tokenRecordsTable), settings.SERVICE_ENVIRONMENT, marketplace, (s) => {
      // Once a day (docs/SECURITY.md 35), whatever became of the last one: sent, failed or still queued.
      const last = s.told?.person;
      if (last && now - Date.parse(last.at) < oncePerMs) return undefined;
      return { ...s, told: { ...s.told, person: { reason: 'needs-person', about: cause, to: contacts, state: 'queued', at, updatedAt: at } } };
    });
    if (!next) return;
    run.tokenRecords.set(marketplace, next);
    logEvent(logger, 'info', events.notificationQueued, {
      runId: run.runId,
      marketplace,
      reason: 'needs-person',
      cause,
      recipients: contacts.length,
      to: contacts.map(maskAddress).join(' '),
    });
  } catch (err) {
    // The delivery step finds the token parked and no message for it, and decides it afresh (due.ts).
    logEvent(logger, 'warn', events.notificationDeferred, {
      runId: run.runId,
      marketplace,
      reason: 'needs-person',
      why: 'record-unavailable',
      code: ensureAppError(err).code,
    });
  }
}
