import type { Environment } from '../settings';

/** Health of a stored refresh token, kept in the secret's `status` tag. */
export type TokenStatus = 'active' | 'needs-reauth' | 'connect-sync-failed';
export type Model = 'CPV' | 'CSP';

/**
 * Tags on a refresh-token secret. They describe the token and never contain it.
 * Key Vault allows 15 tags of 256 characters; keep it that way.
 */
export interface TokenTags {
  marketplace: string;
  environment: Environment;
  model: Model;
  tenant: string;
  /** ISO time the token was first issued by an interactive sign-in. */
  issuedAt: string;
  /** ISO time of the last successful rotation (absent until the first). */
  rotatedAt?: string;
  status: TokenStatus;
  /** Failure class and reason of the last failed attempt, e.g. `needs-reauth:expired`. */
  lastError?: string;
  /** ISO time of the last failed attempt. */
  lastErrorAt?: string;
  /** Connect sync state, e.g. `ok` or `failed:<code>` (Connect push). */
  connect?: string;
}

/** One version of a marketplace's refresh token. */
export interface StoredToken {
  marketplace: string;
  environment: Environment;
  value: string;
  /** Opaque version id (Key Vault secret version). */
  version: string;
  tags: TokenTags;
  createdOn: Date;
  /** Last use + 90 days: when Microsoft will consider the token dead. */
  expiresOn?: Date;
}

/** A token's metadata without its value (what listing returns). */
export type StoredTokenInfo = Omit<StoredToken, 'value'>;

export interface PutTokenInput {
  marketplace: string;
  environment: Environment;
  value: string;
  tags: TokenTags;
  expiresOn: Date;
}

/**
 * The one narrow port to secrets. Implementations: Azure Key Vault (keyVaultStore.ts) and a
 * file-backed store for local mode (fileStore.ts). Nothing here ever deletes a version.
 */
export interface SecretStore {
  /** A plain secret by name (client secrets, the Connect API key); undefined when absent. */
  getSecret(name: string): Promise<string | undefined>;
  /** The latest version of a marketplace's token; undefined when none was ever stored. */
  getToken(marketplace: string, environment: Environment): Promise<StoredToken | undefined>;
  /** Writes a new version (never overwrites one) and returns it as stored. */
  putToken(input: PutTokenInput): Promise<StoredToken>;
  /** Replaces the tags of the given version (status changes without a new token). */
  updateTokenTags(token: StoredTokenInfo, tags: TokenTags): Promise<void>;
  /** Every token of an environment, latest version each, without values. */
  listTokens(environment: Environment): Promise<StoredTokenInfo[]>;
}

/** Secret name of a marketplace's token. Only ever built from a validated marketplace ID. */
export function tokenSecretName(marketplace: string, environment: Environment): string {
  return `refresh-token-${environment}-${marketplace}`;
}

/** Content type written on token secrets, so an operator browsing the vault knows what they are. */
export const tokenContentType = 'application/vnd.microsoft.refresh-token';
