/**
 * `CredentialExpiring` (docs/SECURITY.md 32), the warning the alert rule fires on: on the day a
 * credential has 30 days left, on the day it has 14, and every day from 7 days on, expired ones
 * included, until it is replaced. Only once per credential per UTC day in a process: the rotation
 * runs daily, and a manual run or a second timer firing the same day says nothing new.
 *
 * "Every day from 7" rather than "on the day it has 7": a credential first seen with fewer days
 * left (just configured, or a missed run) would otherwise never be warned about.
 */
import { ensureAppError } from '../errors';
import { events } from '../events';
import { dayMs } from '../identity/lifetime';
import { logEvent, type EventFields, type Logger } from '../log';
import type { MarketplaceConfig } from '../marketplaces/config';
import type { SecretStore } from '../secrets/store';
import type { Settings } from '../settings';
import { credentialHealth, type CredentialHealth } from './expiry';

export const warningThresholds = [30, 14, 7] as const;
export type WarningThreshold = (typeof warningThresholds)[number];

/** The threshold a credential with `daysLeft` reaches today, if today is a day to warn about it. */
export function warningThresholdOf(daysLeft: number): WarningThreshold | undefined {
  if (daysLeft <= 7) return 7;
  return daysLeft === 14 || daysLeft === 30 ? daysLeft : undefined;
}

/** How many marketplace IDs one event names; the count says how many there are. */
const maxUsersNamed = 10;

/** Remembers which credential was warned about on which UTC day (in this process). */
export class ExpiryWarnings {
  private readonly warnedOn = new Map<string, number>();

  /** Logs CredentialExpiring for each credential due today and not yet warned about today; returns those. */
  warn(rows: CredentialHealth[], logger: Logger, now: number, fields: EventFields = {}): CredentialHealth[] {
    const today = Math.floor(now / dayMs);
    const warned: CredentialHealth[] = [];
    for (const row of rows) {
      if (row.daysLeft === undefined || (row.state !== 'expiring' && row.state !== 'expired')) continue;
      const threshold = warningThresholdOf(row.daysLeft);
      if (threshold === undefined) continue;
      const key = `${row.kind}:${(row.name ?? '').toLowerCase()}`;
      if (this.warnedOn.get(key) === today) continue;
      this.warnedOn.set(key, today);
      warned.push(row);
      // Names and dates only: never a value, a thumbprint or anything read from the secret.
      logEvent(logger, 'warn', events.credentialExpiring, {
        ...fields,
        credential: row.kind,
        name: row.name,
        field: row.field,
        threshold,
        daysLeft: row.daysLeft,
        expiresAt: row.expiresAt,
        expired: row.state === 'expired',
        usedBy: row.usedBy.slice(0, maxUsersNamed).join(' '),
        usedByCount: row.usedBy.length,
      });
    }
    return warned;
  }
}

/** This process's memory of the warnings (rotation runs share it). */
export const processExpiryWarnings = new ExpiryWarnings();

export interface ExpiryCheckDeps {
  store: SecretStore;
  settings: Settings;
  config: MarketplaceConfig;
  logger: Logger;
  now?: number;
  /** Logged with each warning (the rotation run that checked). */
  runId?: string;
  warnings?: ExpiryWarnings;
}

/**
 * Checks every credential in use and warns about those due today. Never throws: a failed check
 * is logged (CredentialCheckFailed) and the rotation run it belongs to carries on.
 */
export async function warnExpiringCredentials(deps: ExpiryCheckDeps): Promise<CredentialHealth[]> {
  const now = deps.now ?? Date.now();
  try {
    const rows = await credentialHealth(deps.store, deps.settings, deps.config, now);
    return (deps.warnings ?? processExpiryWarnings).warn(rows, deps.logger, now, { runId: deps.runId });
  } catch (err) {
    const e = ensureAppError(err);
    logEvent(deps.logger, 'warn', events.credentialCheckFailed, { runId: deps.runId, code: e.code, ...e.diagnosis() });
    return [];
  }
}
