/**
 * When each credential in use expires (docs/SECURITY.md 32): Key Vault's `exp` of its secret
 * (for a Key Vault certificate, the certificate's notAfter, which Key Vault copies there), or,
 * for a certificate stored without one, the notAfter read from the certificate itself. Days are
 * counted in UTC calendar days, so "expires in 30 days" is the same day for every run that day.
 */
import { dayMs } from '../identity/lifetime';
import { readCertificateSecret } from '../identity/certificate';
import type { MarketplaceConfig } from '../marketplaces/config';
import type { SecretProperties, SecretStore } from '../secrets/store';
import type { Settings } from '../settings';
import { credentialsInUse, type CredentialInUse } from './inUse';

/**
 * - `ok`, `expiring` (at most 30 days left), `expired`: the expiry is known.
 * - `expiry-unknown`: stored without an expiry date (`--expires` was left out).
 * - `nothing-expires`: the federated credential (a managed identity's token, renewed by Azure).
 * - `missing`: the store has no such secret; `disabled`: its latest version is disabled.
 */
export type CredentialState = 'ok' | 'expiring' | 'expired' | 'expiry-unknown' | 'nothing-expires' | 'missing' | 'disabled';

export interface CredentialHealth extends CredentialInUse {
  state: CredentialState;
  expiresAt?: string;
  /** UTC calendar days from today to the expiry day; negative once expired. */
  daysLeft?: number;
}

/** Credentials with at most this many days left count as expiring (the first warning). */
export const expiringWithinDays = 30;

const utcDay = (ms: number) => Math.floor(ms / dayMs);

/** Calendar days (UTC) from `now` to `expiresOn`: 0 on the expiry day itself. */
export function calendarDaysLeft(expiresOn: Date, now: number): number {
  return utcDay(expiresOn.getTime()) - utcDay(now);
}

export function healthOf(credential: CredentialInUse, properties: SecretProperties | undefined, now: number, notAfter?: Date): CredentialHealth {
  if (credential.kind === 'cpv-federated') return { ...credential, state: 'nothing-expires' };
  if (!properties) return { ...credential, state: 'missing' };
  if (!properties.enabled) return { ...credential, state: 'disabled' };
  const expiresOn = properties.expiresOn ?? notAfter;
  if (!expiresOn) return { ...credential, state: 'expiry-unknown' };
  const daysLeft = calendarDaysLeft(expiresOn, now);
  const state = expiresOn.getTime() <= now ? 'expired' : daysLeft <= expiringWithinDays ? 'expiring' : 'ok';
  return { ...credential, state, expiresAt: expiresOn.toISOString(), daysLeft };
}

const stateOrder: Record<CredentialState, number> = {
  expired: 0,
  missing: 1,
  disabled: 2,
  expiring: 3,
  'expiry-unknown': 4,
  ok: 5,
  'nothing-expires': 6,
};

/** Most urgent first: expired, missing or disabled, then fewest days left. */
function byUrgency(a: CredentialHealth, b: CredentialHealth): number {
  return (
    stateOrder[a.state] - stateOrder[b.state] || (a.daysLeft ?? Infinity) - (b.daysLeft ?? Infinity) || (a.name ?? '').localeCompare(b.name ?? '')
  );
}

/**
 * The health of every credential in use. One listing of the store (no value read), except for a
 * certificate stored without an expiry: that one is read for its notAfter (its private key is
 * parsed in memory and dropped, never kept or logged).
 */
export async function credentialHealth(
  store: SecretStore,
  settings: Settings,
  config: MarketplaceConfig,
  now = Date.now(),
  /** The store's listing when the caller already has it (the status page lists tokens anyway). */
  properties?: readonly SecretProperties[],
): Promise<CredentialHealth[]> {
  const inUse = credentialsInUse(settings, config);
  if (inUse.every((c) => c.name === undefined)) return inUse.map((c) => healthOf(c, undefined, now)).sort(byUrgency);
  const listed = new Map((properties ?? (await store.listSecretProperties())).map((p) => [p.name.toLowerCase(), p]));
  const rows: CredentialHealth[] = [];
  for (const credential of inUse) {
    // Key Vault names are case-insensitive.
    const properties = credential.name === undefined ? undefined : listed.get(credential.name.toLowerCase());
    let notAfter: Date | undefined;
    if (credential.kind === 'partner-certificate' && credential.name && properties?.enabled && !properties.expiresOn) {
      const value = await store.getSecret(credential.name);
      const read = value === undefined ? undefined : readCertificateSecret(value);
      if (read && !('problem' in read)) notAfter = read.notAfter;
    }
    rows.push(healthOf(credential, properties, now, notAfter));
  }
  return rows.sort(byUrgency);
}
