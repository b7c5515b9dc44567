/**
 * When each credential in use expires (docs/SECURITY.md 32): Key Vault's `exp` of its secret
 * (for a Key Vault certificate, the certificate's notAfter, which Key Vault copies there), or,
 * for a certificate stored without one, the notAfter read from the certificate itself. Days are
 * counted in UTC calendar days, so "expires in 30 days" is the same day for every run that day.
 */
import { dayMs } from '../identity/lifetime';
import { ensureAppError } from '../errors';
import { readCertificateSecret, type CertificateProblem } from '../identity/certificate';
import type { MarketplaceConfig } from '../marketplaces/config';
import type { SecretProperties, SecretStore } from '../secrets/store';
import type { Settings } from '../settings';
import { credentialsInUse, type CredentialInUse } from './inUse';

/**
 * - `ok`, `expiring` (at most 30 days left), `expired`: the expiry is known.
 * - `expiry-unknown`: stored without an expiry date (`--expires` was left out).
 * - `nothing-expires`: the federated credential (a managed identity's token, renewed by Azure).
 * - `missing`: the store has no such secret; `disabled`: its latest version is disabled;
 *   `unreadable`: the store cannot read it (local mode's file store: a file it may not read).
 * - `unusable`: a certificate the service cannot sign with (`problem` says why): certificate or key
 *   only, not RSA, an encrypted key, a key that does not match, PKCS#12. Its expiry is beside the point.
 */
export type CredentialState =
  'ok' | 'expiring' | 'expired' | 'expiry-unknown' | 'nothing-expires' | 'missing' | 'disabled' | 'unreadable' | 'unusable';

export interface CredentialHealth extends CredentialInUse {
  state: CredentialState;
  /** Why a certificate is unusable. */
  problem?: CertificateProblem;
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

export function healthOf(
  credential: CredentialInUse,
  properties: SecretProperties | undefined,
  now: number,
  notAfter?: Date,
  problem?: CertificateProblem,
): CredentialHealth {
  if (credential.kind === 'cpv-federated') return { ...credential, state: 'nothing-expires' };
  if (!properties) return { ...credential, state: 'missing' };
  if (properties.unreadable) return { ...credential, state: 'unreadable' };
  if (!properties.enabled) return { ...credential, state: 'disabled' };
  if (problem) return { ...credential, state: 'unusable', problem };
  const expiresOn = properties.expiresOn ?? notAfter;
  if (!expiresOn) return { ...credential, state: 'expiry-unknown' };
  const daysLeft = calendarDaysLeft(expiresOn, now);
  const state = expiresOn.getTime() <= now ? 'expired' : daysLeft <= expiringWithinDays ? 'expiring' : 'ok';
  return { ...credential, state, expiresAt: expiresOn.toISOString(), daysLeft };
}

const stateOrder: Record<CredentialState, number> = {
  expired: 0,
  unusable: 1,
  missing: 2,
  unreadable: 3,
  disabled: 4,
  expiring: 5,
  'expiry-unknown': 6,
  ok: 7,
  'nothing-expires': 8,
};

/** Most urgent first: expired, missing or disabled, then fewest days left. */
function byUrgency(a: CredentialHealth, b: CredentialHealth): number {
  return (
    stateOrder[a.state] - stateOrder[b.state] || (a.daysLeft ?? Infinity) - (b.daysLeft ?? Infinity) || (a.name ?? '').localeCompare(b.name ?? '')
  );
}

/**
 * The health of every credential in use. One listing of the store (no value read), except for
 * the certificates: each is read and checked as the sign-in would use it, for whether it can be
 * used at all and, stored without an expiry, for its notAfter (its private key is parsed in
 * memory and dropped, never kept or logged). A read that fails is that credential's problem.
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
    if (credential.kind === 'partner-certificate' && credential.name && properties?.enabled && !properties.unreadable) {
      const read = await readCertificate(store, credential.name);
      if (read === 'unreadable') rows.push(healthOf(credential, { ...properties, unreadable: true }, now));
      else if (read && 'problem' in read) rows.push(healthOf(credential, properties, now, undefined, read.problem));
      else rows.push(healthOf(credential, properties, now, read?.notAfter));
      continue;
    }
    rows.push(healthOf(credential, properties, now));
  }
  return rows.sort(byUrgency);
}

/** A certificate's secret as the sign-in reads it; `unreadable` when the store fails to hand it over. */
async function readCertificate(store: SecretStore, name: string): Promise<ReturnType<typeof readCertificateSecret> | undefined | 'unreadable'> {
  let value: string | undefined;
  try {
    value = await store.getSecret(name);
  } catch (err) {
    // Transient failures are the page's to report (it answers 503); anything else is this credential's.
    if (ensureAppError(err).retry.transient) throw err;
    return 'unreadable';
  }
  return value === undefined ? undefined : readCertificateSecret(value);
}
