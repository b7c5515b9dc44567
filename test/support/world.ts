/**
 * A whole service on loopback for integration and browser tests: the identity simulator
 * (HTTPS), the Key Vault fake (HTTPS) or the file store, the Function App's managed-identity
 * endpoint (a Key Vault fake's, shared by the worlds of a test file), a marketplace
 * configuration, and the local Functions host serving the real function files. The CPV app signs
 * in with the managed identity's token (a federated credential) unless told to use a secret.
 * Nothing here is mocked: msal-node, SecretClient and ManagedIdentityCredential talk HTTPS.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listRegistrations } from '../../local/functionsCore';
import { newStandInApiKey, startConnectStandIn, type ConnectStandIn } from '../../local/connectStandIn';
import { startHost, type LocalHost } from '../../local/host';
import { startIdentitySimulator, type IdentitySimulator } from '../../local/identitySimulator';
import { startKeyVaultFake, type KeyVaultFake, type ManagedIdentityTokenRequest, type MintedToken } from '../../local/keyVaultFake';
import { startPartnerCenterStandIn, type PartnerCenterStandIn } from '../../local/partnerCenterStandIn';
import { startEmailStandIn, type EmailStandIn, type EmailStandInOptions } from '../../local/emailStandIn';
import { FileSecretStore } from '../../local/fileSecretStore';
import { resetSignInBounds } from '../../shared/guards/signInBounds';
import type { ClientCredential } from '../../shared/identity/credentials';
import { resetFederatedAssertions } from '../../shared/identity/federated';
import { resetMarketplaceConfigCache } from '../../shared/marketplaces/config';
import { nearExpiryQueueName } from '../../shared/rotation/nearExpiryEvent';
import { openSecretStore, provideLocalSecretStore, resetSecretStoreCache } from '../../shared/secrets/open';
import type { SecretStore } from '../../shared/secrets/store';
import { getSettings, resetSettingsCache, settingsShape, type Environment } from '../../shared/settings';
import { openSharedState, resetSharedState, type SharedState } from '../../shared/storage/open';
import { queueOptionsOf } from '../../local/queueTriggers';
import { emptyStorage, sharedAzurite } from './storage';
import { cpvClientId, cpvEntry, cspClientId, cspEntry, tenants } from '../fixtures/config';

// The real function files, registered with the local core stand-in (jest.config.js maps it).
import '../../functions/start';
import '../../functions/callback';
import '../../functions/status';
import '../../functions/rotate';
import '../../functions/rotateNow';
import '../../functions/secretNearExpiry';

export const secrets = {
  cpv: 'cpv-app-secret-value-0123456789',
  csp: 'csp-app-secret-value-9876543210',
};

/** The Function App's managed identity, in the service's own (home) tenant: what the CPV app's federated credential names. */
export const managedIdentity = {
  homeTenant: '7e57ca11-0000-4000-8000-00000000a0e0',
  principalId: '7e57ca11-0000-4000-8000-0000000051d0',
};

/** What the managed-identity endpoint mints for the CPV assertion, when a test wants it wrong. */
export interface ManagedIdentityTokenOverrides {
  audience?: string;
  principalId?: string;
  tenant?: string;
  lifetimeSeconds?: number;
}

export interface WorldOptions {
  store?: 'keyvault' | 'file';
  /** How the CPV app proves itself: `federated` (default; the app has no secret at all) or `secret`. */
  cpvCredential?: 'federated' | 'secret';
  /** A wrong managed-identity token for the CPV assertion (another audience, subject, tenant, or expired). */
  managedIdentityToken?: ManagedIdentityTokenOverrides;
  environment?: Environment;
  /** Extra marketplace entries (raw JSON) besides MP-00001 (CSP) and MP-00002 (CPV, not consented); a function gets the callback URL (CSP entries need it). */
  marketplaces?: unknown[] | ((callbackUrl: string) => unknown[]);
  /** The configuration file's text as an operator left it (overrides `marketplaces`): an unreadable file, a broken one. */
  configText?: string;
  /** Consent already granted for MP-00002's tenant. */
  cpvConsented?: boolean;
  /** Turns the Connect push on, against a Connect stand-in. */
  connect?: WorldConnectOptions;
  /** Turns messages to marketplace contacts on, against the Communication Services Email stand-in. */
  email?: WorldEmailOptions;
  /** How long a failed queue message stays invisible (host.json says 5 minutes; a test that waits for a retry sets less). */
  queueVisibilityTimeoutMs?: number;
  /**
   * Other bounds on sign-ins than production's, or another clock (docs/SECURITY.md 29). Every
   * request of a test comes from 127.0.0.1, so a suite that sends hundreds raises them.
   */
  signInBounds?: Parameters<typeof resetSignInBounds>[0];
}

export interface WorldConnectOptions {
  /** Connect products per marketplace ID, written as `connect_products_<environment>` (the stand-in knows them all). */
  products: Record<string, string[]>;
  /** Names the operator gives products, written as `connect_product_names` of each marketplace listing them. */
  names?: Record<string, string>;
  /** The key as Connect issues it; a fresh `SU-…:…` key by default. */
  apiKey?: string;
  /** Store the key in the vault with its `ApiKey ` prefix (as copied from Connect's UI) instead of bare. */
  storeWithScheme?: boolean;
  /** Set CONNECT_API_KEY_SECRET_NAME but do not store the secret (an operator's mistake). */
  secretMissing?: boolean;
}

export interface WorldEmailOptions {
  /** Contacts per marketplace ID, written as `contacts_<environment>`. */
  contacts: Record<string, string[]>;
  /** NOTIFICATION_SENDER_ADDRESS; a custom domain's by default (its limits are Learn's higher ones). */
  sender?: string;
  limits?: EmailStandInOptions['limits'];
}

/**
 * Bounds no test reaches, for suites that send many sign-ins from 127.0.0.1 to prove something
 * else; the production bounds are proven in test/security/abuse.test.ts.
 */
export const unboundedSignIns: NonNullable<WorldOptions['signInBounds']> = (() => {
  const huge = { capacity: 1e9, refillEveryMs: 1 };
  const bounds = { perClient: huge, overall: huge, maxClients: 10_000 };
  return { bounds: { start: bounds, callback: bounds } };
})();

/** Key Vault secret name of the Connect API key in the world. */
export const connectApiKeySecretName = 'connect-api-key';

export interface LogLine {
  level: string;
  functionName: string;
  message: string;
}

export interface World {
  host: LocalHost;
  simulator: IdentitySimulator;
  /** Partner Center, which proves every token before it counts. */
  partnerCenter: PartnerCenterStandIn;
  vault?: KeyVaultFake;
  /** The Function App's managed-identity endpoint (shared by the worlds of a test file): its faults and counters. */
  identityEndpoint: KeyVaultFake;
  /** The Connect stand-in and its accepted key, when `connect` was given. */
  connect?: ConnectStandIn;
  /** The Communication Services Email stand-in, when `email` was given. */
  email?: EmailStandIn;
  connectApiKey?: string;
  store: SecretStore;
  /** The app's own storage account (Azurite): its connection string, and the service's view of it. */
  storage: { connectionString: string; shared: SharedState };
  /** The CPV app's credential as the service presents it, for tests that redeem directly. */
  cpvCredential: ClientCredential;
  /** Every managed-identity token the endpoint handed out for this world's CPV assertions (canaries). */
  assertions: string[];
  logs: LogLine[];
  baseUrl: string;
  startUrl: string;
  callbackUrl: string;
  environment: Environment;
  close(): Promise<void>;
}

export function tls(): { cert: string; key: string } {
  const certPath = process.env.LOCAL_TLS_CERT;
  const keyPath = process.env.LOCAL_TLS_KEY;
  if (!certPath || !keyPath)
    throw new Error('Run the tests through `npm test` (scripts/with-local-tls.mjs sets LOCAL_TLS_CERT / LOCAL_TLS_KEY and trusts the certificate).');
  return { cert: readFileSync(certPath, 'utf8'), key: readFileSync(keyPath, 'utf8') };
}

/** host.json's queue settings, as the Functions host reads them. */
export const hostQueueOptions = queueOptionsOf(join(__dirname, '..', '..', 'host.json'));

/** Every app setting the service reads: the world starts from none of them. */
const settingNames = Object.keys(settingsShape);

/**
 * The Function App's managed-identity endpoint, one per test file (process). msal-node inside
 * @azure/identity resolves IDENTITY_ENDPOINT once per process and caches its tokens process-wide
 * (by identity client id), so every world of a file shares this endpoint, and each world names
 * a fresh identity client id so that no world is handed an assertion an earlier world's
 * simulator signed. Its tokens for api://AzureADTokenExchange come from the current world's
 * simulator; its own tokens (Key Vault) verify at every Key Vault fake of the process.
 */
let identityEndpoint: Promise<KeyVaultFake> | undefined;
let mintForCurrentWorld: ((request: ManagedIdentityTokenRequest) => MintedToken) | undefined;

function sharedIdentityEndpoint(certs: { cert: string; key: string }): Promise<KeyVaultFake> {
  identityEndpoint ??= startKeyVaultFake({
    tls: certs,
    port: 0,
    mintTokenExchangeToken: (request) => {
      if (!mintForCurrentWorld) throw new Error('no world is running');
      return mintForCurrentWorld(request);
    },
  });
  return identityEndpoint;
}

// Registered while the test file loads (jest allows hooks only then), closed after its last test.
if (typeof afterAll === 'function')
  afterAll(async () => {
    const endpoint = identityEndpoint;
    identityEndpoint = undefined;
    await (await endpoint)?.close();
  });

export async function startWorld(options: WorldOptions = {}): Promise<World> {
  const environment = options.environment ?? 'test';
  const dir = mkdtempSync(join(tmpdir(), 'world-'));
  // A fresh storage account: nothing left by an earlier world of this file.
  const azurite = await sharedAzurite();
  await emptyStorage(azurite.connectionString);
  resetSharedState();
  // The host listens first, on a port the system picks: a port found free and bound later could
  // be taken in between by any of the servers and connections below (EADDRINUSE).
  const logs: LogLine[] = [];
  const host = await startHost({
    port: 0,
    registrations: listRegistrations(),
    log: (l) => logs.push({ level: l.level, functionName: l.functionName, message: l.message }),
    env: { ...process.env, AzureWebJobsStorage: azurite.connectionString },
    queues: {
      ...hostQueueOptions,
      ...(options.queueVisibilityTimeoutMs !== undefined ? { visibilityTimeoutMs: options.queueVisibilityTimeoutMs } : {}),
    },
  });
  const port = Number(new URL(host.url).port);
  const baseUrl = `http://localhost:${port}`;
  const callbackUrl = `${baseUrl}/api/callback`;
  const certs = tls();

  const federated = (options.cpvCredential ?? 'federated') === 'federated';
  // Named as local mode names them (local/main.ts): the simulator's pages show an app's name, never its client ID.
  const cpvApp = { clientId: cpvClientId, displayName: 'CloudBlue Connect (CPV, stand-in)', redirectUris: [callbackUrl], multiTenant: true };
  const simulator = await startIdentitySimulator({
    port: 0,
    tls: certs,
    clients: [
      // Federated: the CPV app has no secret, so a secret sent anyway is refused (AADSTS7000215).
      federated ? cpvApp : { ...cpvApp, clientSecret: secrets.cpv },
      {
        clientId: cspClientId,
        displayName: "Distributor's Partner Center app",
        clientSecret: secrets.csp,
        redirectUris: [callbackUrl],
        multiTenant: false,
      },
    ],
    consentedTenants: options.cpvConsented ? [{ clientId: cpvClientId, tenant: tenants.cpv }] : [],
  });

  // The CPV app trusts the managed identity (the issuer names the simulator's port, known only now).
  const identityClientId = randomUUID();
  const assertions: string[] = [];
  const mi = options.managedIdentityToken ?? {};
  const mint = (clientId: string): MintedToken =>
    simulator.mintManagedIdentityToken({
      tenant: mi.tenant ?? managedIdentity.homeTenant,
      principalId: mi.principalId ?? managedIdentity.principalId,
      clientId,
      ...(mi.audience ? { audience: mi.audience } : {}),
      ...(mi.lifetimeSeconds !== undefined ? { lifetimeSeconds: mi.lifetimeSeconds } : {}),
    });
  if (federated) {
    simulator.registerClient({
      ...cpvApp,
      federatedCredentials: [
        { issuer: simulator.issuer(managedIdentity.homeTenant), subject: managedIdentity.principalId, audience: 'api://AzureADTokenExchange' },
      ],
    });
  }
  mintForCurrentWorld = (r) => {
    const minted = mint(r.clientId ?? identityClientId);
    assertions.push(minted.accessToken);
    return minted;
  };
  const identity = await sharedIdentityEndpoint(certs);
  const cpvCredential: ClientCredential = federated
    ? { kind: 'assertion', assertion: async () => mint(identityClientId).accessToken }
    : { kind: 'secret', secret: secrets.cpv };

  const partnerCenter = await startPartnerCenterStandIn({ tls: certs, jwksUrl: simulator.jwksUrl });

  const connectProducts = options.connect?.products ?? {};
  const contacts = options.email?.contacts ?? {};
  const withConnect = (entry: unknown): unknown => {
    const id = (entry as { id?: unknown }).id;
    const products = typeof id === 'string' ? connectProducts[id] : undefined;
    const named = typeof id === 'string' ? contacts[id] : undefined;
    const names = Object.fromEntries(Object.entries(options.connect?.names ?? {}).filter(([p]) => products?.includes(p)));
    return {
      ...(entry as object),
      ...(products ? { [`connect_products_${environment}`]: products } : {}),
      ...(products && Object.keys(names).length > 0 ? { connect_product_names: names } : {}),
      ...(named ? { [`contacts_${environment}`]: named } : {}),
    };
  };
  const extraMarketplaces = typeof options.marketplaces === 'function' ? options.marketplaces(callbackUrl) : (options.marketplaces ?? []);
  const configPath = join(dir, 'marketplaces.json');
  if (options.configText !== undefined) writeFileSync(configPath, options.configText);
  else
    writeFileSync(
      configPath,
      JSON.stringify({ marketplaces: [cspEntry('MP-00001', callbackUrl), cpvEntry('MP-00002'), ...extraMarketplaces].map(withConnect) }),
    );

  let connect: ConnectStandIn | undefined;
  const connectApiKey = options.connect ? (options.connect.apiKey ?? newStandInApiKey()) : undefined;
  if (options.connect && connectApiKey) {
    const allProducts = [...new Set(Object.values(connectProducts).flat())];
    connect = await startConnectStandIn({
      apiKeys: [connectApiKey],
      products: Object.fromEntries(allProducts.map((id) => [id, ['refresh_token_test', 'refresh_token_production']])),
    });
  }

  for (const name of settingNames) delete process.env[name];
  Object.assign(process.env, {
    SERVICE_ENVIRONMENT: environment,
    CALLBACK_URL: callbackUrl,
    AUTHORITY_HOST: simulator.url,
    PARTNER_CENTER_API_URL: partnerCenter.url,
    CPV_CLIENT_ID: cpvClientId,
    ...(federated ? { CPV_CREDENTIAL: 'federated' } : { CPV_CREDENTIAL: 'secret', CPV_CLIENT_SECRET_NAME: 'cpv-client-secret' }),
    // The Function App's user-assigned identity: the Key Vault credential and the CPV assertion both use it.
    AZURE_CLIENT_ID: identityClientId,
    ...identity.identityEnv,
    TRANSACTION_COOKIE_KEY: randomBytes(32).toString('base64url'),
    MARKETPLACE_CONFIG_PATH: configPath,
    ROTATION_SCHEDULE: '0 0 3 * * *',
    AzureWebJobsStorage: azurite.connectionString,
  });
  if (connect) Object.assign(process.env, { CONNECT_API_URL: connect.url, CONNECT_API_KEY_SECRET_NAME: connectApiKeySecretName });
  const email = options.email
    ? await startEmailStandIn({ tls: certs, ...(options.email.limits ? { limits: options.email.limits } : {}) })
    : undefined;
  if (email)
    Object.assign(process.env, {
      COMMUNICATION_SERVICES_ENDPOINT: email.url,
      NOTIFICATION_SENDER_ADDRESS: options.email?.sender ?? 'DoNotReply@notify.world.example.com',
    });
  const storedConnectKey =
    options.connect && !options.connect.secretMissing && connectApiKey
      ? `${options.connect.storeWithScheme ? 'ApiKey ' : ''}${connectApiKey}`
      : undefined;

  let vault: KeyVaultFake | undefined;
  // The fake's SecretNearExpiry events go to the host's near-expiry queue, as Event Grid delivers them (set once the host runs).
  const vaultEvents: { deliver?: (event: unknown) => void } = {};
  if ((options.store ?? 'keyvault') === 'keyvault') {
    vault = await startKeyVaultFake({ tls: certs, port: 0, onEvent: (event) => vaultEvents.deliver?.(event) });
    process.env.KEY_VAULT_URL = vault.url;
    if (!federated) vault.seed('cpv-client-secret', secrets.cpv);
    vault.seed('partner-secret-MP-00001', secrets.csp);
    if (storedConnectKey) vault.seed(connectApiKeySecretName, storedConnectKey);
  } else {
    process.env.LOCAL_SECRET_STORE_DIR = join(dir, 'secrets');
    // As local mode does (local/main.ts): the service holds no file store of its own.
    provideLocalSecretStore((storeDir) => new FileSecretStore(storeDir));
  }
  resetSettingsCache();
  resetMarketplaceConfigCache();
  resetSecretStoreCache();
  resetFederatedAssertions();
  // A fresh instance: empty guards.
  resetSignInBounds(options.signInBounds);
  const store = await openSecretStore(getSettings());
  if (!vault) {
    const fileStore = store as SecretStore & { setSecret(name: string, value: string): Promise<unknown> };
    if (!federated) await fileStore.setSecret('cpv-client-secret', secrets.cpv);
    await fileStore.setSecret('partner-secret-MP-00001', secrets.csp);
    if (storedConnectKey) await fileStore.setSecret(connectApiKeySecretName, storedConnectKey);
  }

  // As Event Grid writes to a storage queue: the event's JSON, base64-encoded. The write takes a
  // moment; waiting for the queues to be idle waits for the writes first.
  const deliveries = new Set<Promise<void>>();
  vaultEvents.deliver = (event) => {
    const delivery = host
      .enqueue(nearExpiryQueueName, Buffer.from(JSON.stringify(event)).toString('base64'))
      .catch((err: unknown) => void logs.push({ level: 'error', functionName: 'event-grid', message: String(err) }));
    deliveries.add(delivery);
    void delivery.finally(() => deliveries.delete(delivery));
  };
  const worldHost: LocalHost = {
    ...host,
    queuesIdle: async () => {
      await Promise.all(deliveries);
      await host.queuesIdle();
    },
  };

  return {
    host: worldHost,
    simulator,
    partnerCenter,
    ...(vault ? { vault } : {}),
    identityEndpoint: identity,
    ...(connect && connectApiKey ? { connect, connectApiKey } : {}),
    ...(email ? { email } : {}),
    store,
    storage: { connectionString: azurite.connectionString, shared: openSharedState(getSettings()) },
    cpvCredential,
    assertions,
    logs,
    baseUrl,
    startUrl: `${baseUrl}/api/start`,
    callbackUrl,
    environment,
    close: async () => {
      await host.close();
      await simulator.close();
      await partnerCenter.close();
      await vault?.close();
      await connect?.close();
      await email?.close();
      resetSecretStoreCache();
      resetSharedState();
      provideLocalSecretStore(undefined);
    },
  };
}
