import { resolve } from 'node:path';
import * as z from 'zod';
import { AppError } from '../errors';
import { environments, secretNameSchema, type Environment, type Settings } from '../settings';
import type * as FileStoreModule from './fileStore';
import type * as KeyVaultStoreModule from './keyVaultStore';
import { tokenContentType, tokenSecretName, type Model, type SecretStore, type StoredToken, type StoredTokenInfo, type TokenStatus, type TokenTags } from './store';

/**
 * The secret store: `openSecretStore(settings)` picks Azure Key Vault or the local file store,
 * plus the tag codec and write checks both implementations share, so they behave alike.
 */

export * from './store';

// ---------------------------------------------------------------- opening a store

const stores = new Map<string, Promise<SecretStore>>();

type StoreTarget = { kind: 'key-vault'; vaultUrl: string } | { kind: 'files'; dir: string };

function targetOf(settings: Settings): StoreTarget {
  if (settings.KEY_VAULT_URL) return { kind: 'key-vault', vaultUrl: settings.KEY_VAULT_URL };
  if (settings.LOCAL_SECRET_STORE_DIR) return { kind: 'files', dir: resolve(settings.LOCAL_SECRET_STORE_DIR) };
  throw new AppError('settings_invalid', 'Set KEY_VAULT_URL (Azure) or LOCAL_SECRET_STORE_DIR (local mode).');
}

async function createStore(target: StoreTarget): Promise<SecretStore> {
  if (target.kind === 'key-vault') {
    // Loaded on first use only: the Azure SDKs cost ~150 ms of cold start, and the start page
    // never needs them. A deferred require (not import()) because this package compiles to
    // CommonJS, where a real import() would need a '.js' path that Jest cannot resolve.
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- deferred on purpose
    const { createKeyVaultStore } = require('./keyVaultStore') as typeof KeyVaultStoreModule;
    return createKeyVaultStore({ vaultUrl: target.vaultUrl });
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- deferred on purpose (it imports this file)
  const { openFileStore } = require('./fileStore') as typeof FileStoreModule;
  return openFileStore({ dir: target.dir });
}

/**
 * The secret store these settings name: Key Vault when KEY_VAULT_URL is set, else the file store
 * in LOCAL_SECRET_STORE_DIR. One store per target per process (SDK clients keep connections
 * and access tokens worth reusing across invocations).
 */
export async function openSecretStore(settings: Settings): Promise<SecretStore> {
  const target = targetOf(settings);
  const key = target.kind === 'key-vault' ? `key-vault:${target.vaultUrl}` : `files:${target.dir}`;
  let store = stores.get(key);
  if (!store) {
    store = createStore(target);
    stores.set(key, store);
    // A failed open is not cached: the next invocation tries again.
    store.catch(() => stores.delete(key));
  }
  return store;
}

/** Forgets the cached stores (tests that change settings). */
export function resetSecretStoreCache(): void {
  stores.clear();
}

// ---------------------------------------------------------------- shared by both stores

/** Key Vault's limits on a secret (facts.md). The file store enforces them too, so local mode fails like Azure. */
export const secretLimits = {
  maxTags: 15,
  maxTagNameLength: 512,
  maxTagValueLength: 256,
  maxValueBytes: 25 * 1024,
} as const;

/** True for a name Key Vault accepts (`^[0-9a-zA-Z-]{1,127}$`). Also what keeps file-store paths inside their folder. */
export function isSecretName(name: string): boolean {
  return secretNameSchema.safeParse(name).success;
}

/** What is wrong with a write before it is sent, or undefined. Never mentions the value itself. */
export function secretWriteProblem(name: string, value: string, tags: Record<string, string> | undefined): string | undefined {
  if (!isSecretName(name)) return 'the secret name is not a valid Key Vault name';
  if (Buffer.byteLength(value, 'utf8') > secretLimits.maxValueBytes) return `the value is larger than ${secretLimits.maxValueBytes} bytes`;
  const entries = Object.entries(tags ?? {});
  if (entries.length > secretLimits.maxTags) return `more than ${secretLimits.maxTags} tags`;
  const long = entries.find(([k, v]) => k.length > secretLimits.maxTagNameLength || v.length > secretLimits.maxTagValueLength);
  if (long) return `tag '${long[0].slice(0, 64)}' is longer than Key Vault allows`;
  return undefined;
}

/**
 * The checks both stores make before writing a token or its tags: the tags belong to that
 * marketplace and environment, and Key Vault's limits hold. Returns the secret name and the
 * tags as stored; throws an AppError that never mentions the value.
 */
export function prepareTokenWrite(
  operation: 'putToken' | 'updateTokenTags',
  target: { marketplace: string; environment: Environment },
  tags: TokenTags,
  value = '',
): { name: string; record: Record<string, string> } {
  const name = tokenSecretName(target.marketplace, target.environment);
  if (!tagsBelongTo(tags, target.marketplace, target.environment)) throw tagsMismatchError(operation, name);
  const record = tokenTagsToRecord(tags);
  const problem = secretWriteProblem(name, value, record);
  if (problem) throw invalidSecretError(operation, name, problem);
  return { name, record };
}

// Records keyed by the unions make the compiler flag a status or model added in store.ts but not here.
const tokenStatuses: Record<TokenStatus, true> = { active: true, 'needs-reauth': true, 'connect-sync-failed': true };
const models: Record<Model, true> = { CPV: true, CSP: true };
const enumOf = <T extends string>(record: Record<T, true>) => z.enum(Object.keys(record) as [T, ...T[]]);

/** Tags that make a secret one of our tokens. Unknown extra tags are dropped (Key Vault stores strings only). */
const tokenTagsSchema = z.object({
  marketplace: z.string().min(1),
  environment: z.enum(environments),
  model: enumOf(models),
  tenant: z.string().min(1),
  issuedAt: z.string().min(1),
  rotatedAt: z.string().min(1).optional(),
  status: enumOf(tokenStatuses),
  lastError: z.string().optional(),
  lastErrorAt: z.string().optional(),
  connect: z.string().optional(),
});

/** Token tags as stored: string values only, unset ones left out (Key Vault has no null tags). */
export function tokenTagsToRecord(tags: TokenTags): Record<string, string> {
  const record: Record<string, string> = {};
  for (const [key, value] of Object.entries(tags)) if (value !== undefined) record[key] = String(value);
  return record;
}

/** Tags read back from a secret, or undefined when they are not a token's (such a secret is left alone). */
export function parseTokenTags(record: Record<string, string> | undefined): TokenTags | undefined {
  const parsed = tokenTagsSchema.safeParse(record ?? {});
  if (!parsed.success) return undefined;
  const tags: TokenTags = {
    marketplace: parsed.data.marketplace,
    environment: parsed.data.environment,
    model: parsed.data.model,
    tenant: parsed.data.tenant,
    issuedAt: parsed.data.issuedAt,
    status: parsed.data.status,
  };
  // exactOptionalPropertyTypes-safe: only copy what is present.
  for (const key of ['rotatedAt', 'lastError', 'lastErrorAt', 'connect'] as const) {
    const value = parsed.data[key];
    if (value !== undefined) tags[key] = value;
  }
  return tags;
}

/** What a store knows about one version of a secret, in the shape both stores can give. */
export interface SecretVersionParts {
  value: string | undefined;
  version: string | undefined;
  contentType: string | undefined;
  tags: Record<string, string> | undefined;
  createdOn: Date | undefined;
  expiresOn: Date | undefined;
}

/** A stored version as this marketplace's token, or undefined when it is not one (wrong content type, tags or owner). */
export function storedTokenFrom(parts: SecretVersionParts, marketplace: string, environment: Environment): StoredToken | undefined {
  const tags = parseTokenTags(parts.tags);
  if (parts.contentType !== tokenContentType || !tags || !tagsBelongTo(tags, marketplace, environment)) return undefined;
  if (parts.value === undefined || !parts.version || !parts.createdOn) return undefined;
  return {
    marketplace,
    environment,
    value: parts.value,
    version: parts.version,
    tags,
    createdOn: parts.createdOn,
    ...(parts.expiresOn ? { expiresOn: parts.expiresOn } : {}),
  };
}

/** A token without its value (what listTokens returns). */
export function withoutValue(token: StoredToken): StoredTokenInfo {
  const { value: _value, ...info } = token;
  return info;
}

/** True when tags describe the token of exactly this marketplace and environment. */
export function tagsBelongTo(tags: TokenTags, marketplace: string, environment: Environment): boolean {
  return tags.marketplace === marketplace && tags.environment === environment;
}

// ---------------------------------------------------------------- errors both stores raise

/** The port operation a store error came from (in every error's details). */
export type SecretStoreOperation = 'getSecret' | 'getToken' | 'putToken' | 'updateTokenTags' | 'listTokens' | 'setSecret';

/** A write or name the store refuses before trying (Key Vault would answer 400). Not transient. */
export function invalidSecretError(operation: SecretStoreOperation, secretName: string | undefined, problem: string): AppError {
  // An invalid name is not echoed: whatever was passed is not known to be safe to print.
  const subject = secretName === undefined ? '' : ` for secret '${secretName}'`;
  return new AppError('secret_store_failed', `Refused ${operation}${subject}: ${problem}`, {
    details: { operation, secretName, errorCode: 'BadParameter', transient: false },
  });
}

/** A secret under a token's name that is not a token (content type or tags). Not transient. */
export function notATokenError(operation: SecretStoreOperation, secretName: string): AppError {
  return new AppError('secret_store_failed', `Secret '${secretName}' exists but is not a refresh token of this service (content type or tags)`, {
    details: { operation, secretName, errorCode: 'NotAToken', transient: false },
  });
}

/** A caller passed tags of another marketplace or environment: a bug, never written. */
export function tagsMismatchError(operation: SecretStoreOperation, secretName: string): AppError {
  return new AppError('internal', `Token tags for secret '${secretName}' name another marketplace or environment`, {
    details: { operation, secretName },
  });
}
