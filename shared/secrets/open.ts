/**
 * Which secret store this process uses: Azure Key Vault (KEY_VAULT_URL), or, in local mode only,
 * a store that local mode itself provides (LOCAL_SECRET_STORE_DIR). The production code never
 * contains a local store: local mode hands its factory over with `provideLocalSecretStore`.
 */
import { resolve } from 'node:path';
import { AppError } from '../errors';
import type { Settings } from '../settings';
import type * as KeyVaultStoreModule from './keyVaultStore';
import type { SecretStore } from './store';

export type LocalSecretStoreFactory = (dir: string) => SecretStore;

let localFactory: LocalSecretStoreFactory | undefined;

/** Local mode (and tests) register the file-backed store here before serving requests. */
export function provideLocalSecretStore(factory: LocalSecretStoreFactory | undefined): void {
  localFactory = factory;
  stores.clear();
}

const stores = new Map<string, Promise<SecretStore>>();

async function createStore(settings: Settings): Promise<SecretStore> {
  if (settings.KEY_VAULT_URL) {
    // Loaded on first use only: the Azure SDKs cost ~150 ms of cold start, and the start page
    // never needs them. A deferred require (not import()) because this package compiles to
    // CommonJS, where a real import() would need a '.js' path that Jest cannot resolve.
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- deferred on purpose: the Azure SDKs cost cold start
    const { createKeyVaultStore } = require('./keyVaultStore') as typeof KeyVaultStoreModule;
    return createKeyVaultStore({ vaultUrl: settings.KEY_VAULT_URL });
  }
  if (settings.LOCAL_SECRET_STORE_DIR) {
    if (!localFactory) {
      throw new AppError('settings_invalid', "LOCAL_SECRET_STORE_DIR is for local mode only; set KEY_VAULT_URL to this deployment's Key Vault", {
        field: 'LOCAL_SECRET_STORE_DIR',
      });
    }
    return localFactory(resolve(settings.LOCAL_SECRET_STORE_DIR));
  }
  throw new AppError('settings_invalid', 'Set KEY_VAULT_URL (Azure) or LOCAL_SECRET_STORE_DIR (local mode).', { field: 'KEY_VAULT_URL' });
}

/**
 * The secret store these settings name. One store per target per process (SDK clients keep
 * connections and access tokens worth reusing across invocations).
 */
export async function openSecretStore(settings: Settings): Promise<SecretStore> {
  const key = settings.KEY_VAULT_URL ? `key-vault:${settings.KEY_VAULT_URL}` : `files:${resolve(settings.LOCAL_SECRET_STORE_DIR ?? '')}`;
  let store = stores.get(key);
  if (!store) {
    store = createStore(settings);
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
