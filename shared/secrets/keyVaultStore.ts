import { DefaultAzureCredential, type TokenCredential } from '@azure/identity';
import { SecretClient, type KeyVaultSecret, type SecretClientOptions } from '@azure/keyvault-secrets';
import type { Environment } from '../settings';
import { storeError, failureOf } from './keyVaultFailure';
import { isSecretName, prepareTokenWrite } from './limits';
import { invalidSecretError, notATokenError, SecretStoreError, type SecretStoreOperation } from './storeErrors';
import { addToListing, storedTokenFrom } from './tags';
import {
  tokenContentType,
  tokenSecretName,
  type PutTokenInput,
  type SecretStore,
  type SecretProperties,
  type StoredToken,
  type TokenListing,
  type TokenTags,
  type TokenVersionRef,
} from './store';

/**
 * The secret store on Azure Key Vault. The only file that imports @azure/keyvault-secrets, and
 * the one that imports @azure/identity for Key Vault access (the CPV app's federated credential
 * has its own, shared/identity/managedIdentity.ts); shared/secrets/open.ts loads it on first use
 * so cold starts that never touch a secret do not pay for the SDKs.
 */

export interface KeyVaultStoreOptions {
  /** https://<name>.vault.azure.net (KEY_VAULT_URL). */
  vaultUrl: string;
  /** Defaults to DefaultAzureCredential (the Function App's managed identity in Azure). */
  credential?: TokenCredential;
  /** Merged over this store's defaults (retry, challenge verification). */
  clientOptions?: SecretClientOptions;
  /** Per-attempt timeout; without one a hung connection would eat the rotation's whole time budget. */
  requestTimeoutMs?: number;
}

/**
 * Few, short retries: a rotation run has a time budget and its own retry-later logic, so the SDK
 * should only smooth over blips and then let the caller see the 429 / 503. The SDK still sleeps
 * for a 429's full Retry-After before each of these retries.
 */
export const defaultKeyVaultRetryOptions = { maxRetries: 2, retryDelayInMs: 500, maxRetryDelayInMs: 4000 } as const;
const defaultRequestTimeoutMs = 15_000;

type PipelinePolicy = NonNullable<SecretClientOptions['additionalPolicies']>[number]['policy'];

/** Opens a Key Vault store. */
export function createKeyVaultStore(options: KeyVaultStoreOptions): KeyVaultSecretStore {
  return new KeyVaultSecretStore(options);
}

/** SecretStore on Azure Key Vault: every put is a new secret version; nothing is ever deleted. */
export class KeyVaultSecretStore implements SecretStore {
  private readonly client: SecretClient;
  /**
   * Token writes go through a client without SDK retries: the SDK resends a PUT after a 5xx even
   * when the first one landed, which adds a second version. Callers retry instead, and look
   * first (rotation reads the latest version before writing again).
   */
  private readonly writer: SecretClient;

  constructor(options: KeyVaultStoreOptions) {
    const credential = options.credential ?? new DefaultAzureCredential();
    const clientOptions = secretClientOptions(options.vaultUrl, options.clientOptions, options.requestTimeoutMs ?? defaultRequestTimeoutMs);
    this.client = new SecretClient(options.vaultUrl, credential, clientOptions);
    this.writer = new SecretClient(options.vaultUrl, credential, {
      ...clientOptions,
      retryOptions: { ...clientOptions.retryOptions, maxRetries: 0 },
    });
  }

  async getSecret(name: string): Promise<string | undefined> {
    const secret = await this.fetchLatest('getSecret', name);
    return secret?.value;
  }

  async getToken(marketplace: string, environment: Environment, version?: string): Promise<StoredToken | undefined> {
    const name = tokenSecretName(marketplace, environment);
    const secret = await this.fetchLatest('getToken', name, version);
    if (!secret) return undefined;
    const token = toStoredToken(secret, marketplace, environment);
    // A secret under a token's name that is not a token (someone edited it by hand) is not
    // silently treated as "no token": that would let a new sign-in skip the tenant check.
    if (!token) throw notATokenError('getToken', name);
    return token;
  }

  async putToken(input: PutTokenInput): Promise<StoredToken> {
    const { name, record: tags } = prepareTokenWrite('putToken', input, input.tags, input.value);
    let stored: KeyVaultSecret;
    try {
      stored = await this.writer.setSecret(name, input.value, { contentType: tokenContentType, tags, expiresOn: input.expiresOn });
    } catch (err) {
      throw storeError('putToken', name, err);
    }
    const token = toStoredToken(stored, input.marketplace, input.environment);
    if (!token) {
      throw new SecretStoreError('putToken', name, { transient: false }, `Key Vault putToken for secret '${name}' returned an unexpected answer`);
    }
    return token;
  }

  async updateTokenTags(token: TokenVersionRef, tags: TokenTags): Promise<void> {
    const { name, record } = prepareTokenWrite('updateTokenTags', token, tags);
    try {
      // Only tags are sent: the SDK leaves out contentType and attributes it was not given, and
      // Key Vault keeps what a PATCH leaves out (value, expiry, content type).
      await this.client.updateSecretProperties(name, token.version, { tags: record });
    } catch (err) {
      throw storeError('updateTokenTags', name, err);
    }
  }

  async disableTokenVersion(token: TokenVersionRef): Promise<void> {
    const name = tokenSecretName(token.marketplace, token.environment);
    if (!isSecretName(name)) throw invalidSecretError('disableTokenVersion', undefined, 'the secret name is not a valid Key Vault name');
    try {
      // Disabled, never deleted (docs/SECURITY.md 13, 25): the version stays for audit and recovery.
      await this.client.updateSecretProperties(name, token.version, { enabled: false });
    } catch (err) {
      throw storeError('disableTokenVersion', name, err);
    }
  }

  async listTokens(environment: Environment): Promise<TokenListing> {
    // The listing alone (one request per page of 25): tags and attributes of each secret's
    // latest version. No secret is read, so the status page costs Key Vault almost nothing.
    const listing: TokenListing = { tokens: [], attention: [], others: [] };
    try {
      for await (const properties of this.client.listPropertiesOfSecrets()) addToListing(listing, properties, environment);
    } catch (err) {
      throw storeError('listTokens', undefined, err);
    }
    return listing;
  }

  async listSecretProperties(): Promise<SecretProperties[]> {
    // The same listing as listTokens: attributes of each secret's latest version, no value.
    const all: SecretProperties[] = [];
    try {
      for await (const p of this.client.listPropertiesOfSecrets()) {
        all.push({
          name: p.name,
          enabled: p.enabled !== false,
          ...(p.contentType ? { contentType: p.contentType } : {}),
          ...(p.expiresOn ? { expiresOn: p.expiresOn } : {}),
          ...(p.notBefore ? { notBefore: p.notBefore } : {}),
        });
      }
    } catch (err) {
      throw storeError('listSecretProperties', undefined, err);
    }
    return all;
  }

  /** The latest version of a secret, or undefined when Key Vault has no secret by that name. */
  private async fetchLatest(operation: SecretStoreOperation, name: string, version?: string): Promise<KeyVaultSecret | undefined> {
    if (!isSecretName(name)) throw invalidSecretError(operation, undefined, 'the secret name is not a valid Key Vault name');
    try {
      return await this.client.getSecret(name, version ? { version } : {});
    } catch (err) {
      if (failureOf(err).statusCode === 404) return undefined;
      throw storeError(operation, name, err);
    }
  }
}

// ---------------------------------------------------------------- client options

/** True for a vault on this machine (the Key Vault fake), where the challenge's resource cannot match the host. */
export function isLoopbackVault(vaultUrl: string): boolean {
  const host = new URL(vaultUrl).hostname;
  return host === 'localhost' || host === '127.0.0.1' || host === '[::1]';
}

/** Sets a per-attempt timeout on every request, list pages included (the SDK passes options to the first page only). */
function requestTimeoutPolicy(timeoutMs: number): PipelinePolicy {
  return {
    name: 'connectMsAuthRequestTimeout',
    sendRequest(request, next) {
      if (!request.timeout) request.timeout = timeoutMs;
      return next(request);
    },
  };
}

/** This store's SecretClient options, with the caller's on top. */
export function secretClientOptions(vaultUrl: string, given: SecretClientOptions | undefined, timeoutMs: number): SecretClientOptions {
  return {
    ...given,
    retryOptions: { ...defaultKeyVaultRetryOptions, ...given?.retryOptions },
    // MUST stay on for real vaults: it stops a forged challenge from sending our token elsewhere.
    disableChallengeResourceVerification: given?.disableChallengeResourceVerification ?? isLoopbackVault(vaultUrl),
    additionalPolicies: [...(given?.additionalPolicies ?? []), { policy: requestTimeoutPolicy(timeoutMs), position: 'perRetry' }],
  };
}

// ---------------------------------------------------------------- mapping (pure)

/** A Key Vault secret as our token, or undefined when it is not this marketplace's token. */
export function toStoredToken(secret: KeyVaultSecret, marketplace: string, environment: Environment): StoredToken | undefined {
  const { properties } = secret;
  return storedTokenFrom(
    {
      value: secret.value,
      version: properties.version,
      contentType: properties.contentType,
      tags: properties.tags,
      createdOn: properties.createdOn,
      expiresOn: properties.expiresOn,
    },
    marketplace,
    environment,
  );
}
