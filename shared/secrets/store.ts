import { isMarketplaceId } from '../marketplaces/id';
import { environments, type Environment } from '../settings';

/**
 * Health and stage of a stored refresh-token version, kept in its `status` tag.
 * - `pending`: written by rotation, not yet accepted by Partner Center; never shown, pushed or
 *   counted (docs/SECURITY.md 24). The version named by its `fallback` tag is still current.
 * - `active`: proven at Partner Center.
 * - `needs-reauth`: Entra or Partner Center refused it for a reason only a person can fix.
 * - `connect-sync-failed`: proven, but Connect refused it.
 */
export type TokenStatus = 'pending' | 'active' | 'needs-reauth' | 'connect-sync-failed';
export type Model = 'CPV' | 'CSP';

/**
 * Tags on a refresh-token version. They describe the token and never contain it.
 * Key Vault allows 15 tags of 256 characters: this is all 15, so a new one replaces another.
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
  /** ISO time Partner Center last accepted this version (absent while pending). */
  verifiedAt?: string;
  /** Who signed in to generate the token: `<object id> <user name>` (docs/SECURITY.md 26). */
  signer?: string;
  /** The partner organization's name, as Partner Center's profile gives it. */
  partner?: string;
  status: TokenStatus;
  /** Failure class and reason of the last failed attempt, e.g. `needs-reauth:expired`. */
  lastError?: string;
  /** ISO time of the last failed attempt. */
  lastErrorAt?: string;
  /** Connect sync state, e.g. `ok` or `failed:<code>` (Connect push). */
  connect?: string;
  /** The version this one replaced: the fallback while this one is current, or the current one while this one is pending. */
  fallback?: string;
  /** Older versions whose disabling failed, space-separated: the next promotion disables them (docs/SECURITY.md 25). */
  retire?: string;
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

/**
 * What a listing says about a marketplace's latest version: its tags and attributes, no value
 * and no version id (Key Vault's listing carries neither; reading them costs a request each).
 */
export interface ListedToken {
  marketplace: string;
  environment: Environment;
  tags: TokenTags;
  /** Identifies the latest version as of the listing: a read that finds another has raced a writer. */
  createdOn: Date;
  expiresOn?: Date;
}

/**
 * A secret under a token's name that the service cannot use as that token: written by hand (no
 * token content type or tags), or its latest version disabled. Never hidden: it needs a person.
 */
export interface TokenAttention {
  marketplace: string;
  environment: Environment;
  /** `unreadable`: the store could not read it at all (a local file the service may not read, or a broken one). */
  reason: 'not-written-by-this-service' | 'latest-version-disabled' | 'unreadable';
  createdOn?: Date;
}

/** Everything the listing says about an environment, from the listing alone. */
export interface TokenListing {
  tokens: ListedToken[];
  attention: TokenAttention[];
  /**
   * Every other secret of the store (client secrets, certificates' secrets, the Connect API key),
   * from the same listing: the status page's credential section needs no second one.
   */
  others: SecretProperties[];
}

/**
 * What a listing says about any secret's latest version (a client secret, a certificate's
 * secret, the Connect API key): its attributes, never its value.
 */
export interface SecretProperties {
  name: string;
  contentType?: string;
  /** Key Vault's `exp`; for a certificate's secret, Key Vault sets it to the certificate's notAfter. */
  expiresOn?: Date;
  notBefore?: Date;
  /** A disabled latest version cannot be read: whoever uses the secret fails. */
  enabled: boolean;
  /** Set when the store could not read the secret at all (the local file store's files); its other properties are then unknown. */
  unreadable?: true;
}

/** A version's identity and tags, enough to change its tags or disable it. */
export type TokenVersionRef = Pick<StoredToken, 'marketplace' | 'environment' | 'version'>;

export interface PutTokenInput {
  marketplace: string;
  environment: Environment;
  value: string;
  tags: TokenTags;
  expiresOn: Date;
}

/**
 * The one narrow port to secrets. Implementations: Azure Key Vault (keyVaultStore.ts) and, in
 * local mode only, a file-backed store (local/fileSecretStore.ts). Nothing here ever deletes a
 * version: old ones are disabled.
 */
export interface SecretStore {
  /** A plain secret by name (client secrets, the Connect API key); undefined when absent. */
  getSecret(name: string): Promise<string | undefined>;
  /** The latest version of a marketplace's token, or the given version; undefined when none was ever stored. */
  getToken(marketplace: string, environment: Environment, version?: string): Promise<StoredToken | undefined>;
  /** Writes a new version (never overwrites one) and returns it as stored. */
  putToken(input: PutTokenInput): Promise<StoredToken>;
  /** Replaces the tags of the given version (status changes without a new token). */
  updateTokenTags(token: TokenVersionRef, tags: TokenTags): Promise<void>;
  /** Disables one version: it stays in the vault but can no longer be read or used. */
  disableTokenVersion(token: TokenVersionRef): Promise<void>;
  /** Every token of an environment (the latest version's tags and attributes) and what needs attention: from the listing alone. */
  listTokens(environment: Environment): Promise<TokenListing>;
  /** Every secret's latest version's properties, from the listing alone (no value is read): credential expiry. */
  listSecretProperties(): Promise<SecretProperties[]>;
}

/** Secret name of a marketplace's token. Only ever built from a validated marketplace ID. */
export function tokenSecretName(marketplace: string, environment: Environment): string {
  return `refresh-token-${environment}-${marketplace}`;
}

/**
 * The environment and marketplace a secret name stands for, when it is exactly the name
 * tokenSecretName gives them (a valid marketplace ID, nothing before or after); else undefined.
 */
export function parseTokenSecretName(name: string): { environment: Environment; marketplace: string } | undefined {
  for (const environment of environments) {
    const prefix = tokenSecretName('', environment);
    if (!name.startsWith(prefix)) continue;
    const marketplace = name.slice(prefix.length);
    return isMarketplaceId(marketplace) && tokenSecretName(marketplace, environment) === name ? { environment, marketplace } : undefined;
  }
  return undefined;
}

/** Content type written on token secrets, so an operator browsing the vault knows what they are. */
export const tokenContentType = 'application/vnd.microsoft.refresh-token';

/**
 * The secret earlier versions of this service kept the last rotation run's record in (as its
 * tags). Run records now live in the app's storage account (shared/storage/runRecords.ts); a
 * vault that still has this secret lists it as neither a token nor a credential.
 */
export function legacyRunRecordName(environment: Environment): string {
  return `rotation-run-${environment}`;
}

/** The marketplace a token secret's name belongs to, or undefined for any other name. */
export function marketplaceOfTokenName(name: string, environment: Environment): string | undefined {
  const m = new RegExp(`^refresh-token-${environment}-(MP-[0-9]{5,8})$`).exec(name);
  return m?.[1];
}
