/**
 * Key Vault's Event Grid events, in the Event Grid schema of Key Vault's events
 * (`Microsoft.KeyVault.SecretNearExpiry` and friends): top-level `id, topic, subject, eventType, eventTime,
 * data, dataVersion, metadataVersion`, and in `data` the object's `Id, VaultName, ObjectType, ObjectName,
 * Version, NBF, EXP` (times in unix seconds). The fake raises the near-expiry event only.
 */
import { randomUUID } from 'node:crypto';
import type { FakeSecretVersion } from './vault';

/** Key Vault raises SecretNearExpiry this long before a secret's `exp`. */
export const NEAR_EXPIRY_DAYS = 30;
const DAY_MS = 24 * 3600 * 1000;

export const SECRET_NEAR_EXPIRY = 'Microsoft.KeyVault.SecretNearExpiry';

/** The `data` of a Key Vault object event. */
export interface KeyVaultEventData {
  /** The version's URL, `{vault}/secrets/{name}/{version}`. */
  Id: string;
  VaultName: string;
  ObjectType: 'Secret';
  ObjectName: string;
  Version: string;
  /** Not-before in unix seconds, null when the version has none. */
  NBF: number | null;
  /** Expiry in unix seconds. */
  EXP: number | null;
}

/** One event in the Event Grid schema. */
export interface KeyVaultEventGridEvent {
  id: string;
  /** The vault's Azure resource id. */
  topic: string;
  /** The object's name. */
  subject: string;
  eventType: typeof SECRET_NEAR_EXPIRY;
  /** ISO 8601, UTC. */
  eventTime: string;
  data: KeyVaultEventData;
  dataVersion: '1';
  metadataVersion: '1';
}

export interface EventSource {
  vaultUrl: string;
  vaultName: string;
  topic: string;
}

/** The Azure resource id a local vault of this name would have (Event Grid's `topic`). */
export function defaultTopic(vaultName: string): string {
  return `/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-local/providers/Microsoft.KeyVault/vaults/${vaultName}`;
}

/** Whether a version is due its near-expiry event at `nowMs`: enabled, with an `exp` in the next 30 days. */
export function isNearExpiry(v: Pick<FakeSecretVersion, 'enabled' | 'exp'>, nowMs: number): boolean {
  if (!v.enabled || v.exp === undefined) return false;
  const expMs = v.exp * 1000;
  return expMs > nowMs && expMs - nowMs <= NEAR_EXPIRY_DAYS * DAY_MS;
}

/** The event for one version; local/nearExpiryScanner.ts raises the same for the file store. */
export function nearExpiryEvent(
  v: Pick<FakeSecretVersion, 'name' | 'version' | 'nbf' | 'exp'>,
  source: EventSource,
  nowMs: number,
): KeyVaultEventGridEvent {
  return {
    id: randomUUID(),
    topic: source.topic,
    subject: v.name,
    eventType: SECRET_NEAR_EXPIRY,
    eventTime: new Date(nowMs).toISOString(),
    data: {
      Id: `${source.vaultUrl}/secrets/${v.name}/${v.version}`,
      VaultName: source.vaultName,
      ObjectType: 'Secret',
      ObjectName: v.name,
      Version: v.version,
      NBF: v.nbf ?? null,
      EXP: v.exp ?? null,
    },
    dataVersion: '1',
    metadataVersion: '1',
  };
}
