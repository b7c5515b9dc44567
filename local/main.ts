/**
 * `npm start`: the whole service offline. Starts the Microsoft identity simulator (HTTPS on
 * loopback), Azurite (Microsoft's Storage emulator) as the app's own storage account, a
 * file-backed secret store, the sample marketplace configuration and a local Functions host
 * serving the real function files. The CPV app signs in as in Azure, with the
 * managed identity's token (a federated credential), served by a Key Vault fake's
 * managed-identity endpoint. Any setting already in the environment wins, so pointing
 * AUTHORITY_HOST at Microsoft and KEY_VAULT_URL at a vault makes it the real thing.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { startAzurite, type Azurite } from './azurite';
import { startConnectStandIn } from './connectStandIn';
import { startEmailStandIn } from './emailStandIn';
import { listRegistrations } from './functionsCore';
import { installFunctionsCore, startHost } from './host';
import { startIdentitySimulator } from './identitySimulator';
import { startKeyVaultFake, type KeyVaultFake } from './keyVaultFake';
import { startPartnerCenterStandIn } from './partnerCenterStandIn';
import { localApps, localConnect, localIdentity, localSender, sampleMarketplaces } from './sample';
import { provideLocalSecretStore } from '../shared/secrets/open';
import { FileSecretStore } from './fileSecretStore';
import { nearExpiryScanner } from './nearExpiryScanner';
import { nearExpiryQueueName } from '../shared/rotation/nearExpiryEvent';
import { queueOptionsOf } from './queueTriggers';

async function main(): Promise<void> {
  const env = process.env;
  const dataDir = resolve(env.LOCAL_DATA_DIR ?? '.local');
  mkdirSync(dataDir, { recursive: true });
  const port = Number(env.PORT ?? 7071);
  const simulatorPort = Number(env.SIMULATOR_PORT ?? port + 1);
  const callbackUrl = `http://localhost:${port}/api/callback`;

  env.SERVICE_ENVIRONMENT ??= 'test';
  env.CALLBACK_URL ??= callbackUrl;
  env.ROTATION_SCHEDULE ??= '0 */10 * * * *';

  const localSecrets = new Map<string, string>();
  // The Function App's managed-identity endpoint: the Key Vault fake's, started once for whoever
  // needs it (the CPV app's federated credential, the Communication Services stand-in).
  let identity: KeyVaultFake | undefined;
  let mintTokenExchangeToken: Parameters<typeof startKeyVaultFake>[0]['mintTokenExchangeToken'];
  const identityEndpoint = async (tls: { cert: string; key: string }): Promise<KeyVaultFake> => {
    identity ??= await startKeyVaultFake({
      tls,
      mintTokenExchangeToken: (r) => {
        if (!mintTokenExchangeToken) throw new Error('no federated credential in this local mode (CPV_CREDENTIAL=secret)');
        return mintTokenExchangeToken(r);
      },
    });
    Object.assign(env, identity.identityEnv);
    env.AZURE_CLIENT_ID ??= localIdentity.clientId;
    return identity;
  };
  let simulatorUrl: string | undefined;
  let cpvFederated = false;
  let partnerCenterUrl: string | undefined;
  if (!env.AUTHORITY_HOST) {
    if (!env.LOCAL_TLS_CERT || !env.LOCAL_TLS_KEY)
      throw new Error('Run through `npm start` (scripts/with-local-tls.mjs makes the loopback certificate).');
    // Federated unless told otherwise, or unless a real vault is named (its credential is not ours to fake).
    cpvFederated = env.CPV_CREDENTIAL !== 'secret' && !env.KEY_VAULT_URL;
    const cpvSecret = cpvFederated ? undefined : persisted(join(dataDir, 'cpv-client-secret'));
    const cspSecret = persisted(join(dataDir, 'csp-client-secret'));
    if (cpvSecret) localSecrets.set(localApps.cpv.secretName, cpvSecret);
    localSecrets.set(localApps.csp.secretName, cspSecret);
    const tls = { cert: readFileSync(env.LOCAL_TLS_CERT, 'utf8'), key: readFileSync(env.LOCAL_TLS_KEY, 'utf8') };
    // Named, as app registrations are: the simulator's consent pages show the name, never the client ID.
    const cpvApp = {
      clientId: localApps.cpv.clientId,
      displayName: 'CloudBlue Connect (CPV, stand-in)',
      redirectUris: [env.CALLBACK_URL],
      multiTenant: true,
    };
    const simulator = await startIdentitySimulator({
      port: simulatorPort,
      tls,
      clients: [
        cpvSecret ? { ...cpvApp, clientSecret: cpvSecret } : cpvApp,
        {
          clientId: localApps.csp.clientId,
          displayName: "Sample distributor's Partner Center app",
          clientSecret: cspSecret,
          redirectUris: [env.CALLBACK_URL],
          multiTenant: false,
        },
      ],
      stateFile: join(dataDir, 'identity-simulator.json'),
    });
    simulatorUrl = simulator.url;
    if (cpvFederated) {
      // The CPV app trusts the managed identity (the issuer names the simulator's port, known only now).
      simulator.registerClient({
        ...cpvApp,
        federatedCredentials: [
          { issuer: simulator.issuer(localIdentity.homeTenant), subject: localIdentity.principalId, audience: 'api://AzureADTokenExchange' },
        ],
      });
      // The simplest stand-in for the Function App's managed-identity endpoint is the Key Vault
      // fake's: only that endpoint is used (secrets stay in the file store), and it hands tokens
      // for api://AzureADTokenExchange to the simulator, as Entra issues them in Azure.
      mintTokenExchangeToken = (r) =>
        simulator.mintManagedIdentityToken({
          tenant: localIdentity.homeTenant,
          principalId: localIdentity.principalId,
          clientId: r.clientId ?? localIdentity.clientId,
        });
      await identityEndpoint(tls);
      env.CPV_CREDENTIAL = 'federated';
    }
    env.AUTHORITY_HOST = simulator.url;
    if (!env.PARTNER_CENTER_API_URL) {
      // Partner Center checks the simulator's tokens as the real one checks Entra's.
      const partnerCenter = await startPartnerCenterStandIn({ port: Number(env.PARTNER_CENTER_PORT ?? port + 3), tls, jwksUrl: simulator.jwksUrl });
      partnerCenterUrl = partnerCenter.url;
      env.PARTNER_CENTER_API_URL = partnerCenter.url;
    }
    env.CPV_CLIENT_ID ??= localApps.cpv.clientId;
    if (!cpvFederated) {
      env.CPV_CREDENTIAL ??= 'secret';
      env.CPV_CLIENT_SECRET_NAME ??= localApps.cpv.secretName;
    }
  }
  // The Connect stand-in, unless CONNECT_API_URL points at a real Connect. Its key is kept in a
  // file like the other local secrets and seeded into the file store below.
  let connectUrl: string | undefined;
  if (!env.CONNECT_API_URL) {
    const key = `SU-000-000-000:${persisted(join(dataDir, 'connect-api-key'))}`;
    const connect = await startConnectStandIn({
      port: Number(env.CONNECT_PORT ?? port + 2),
      apiKeys: [key],
      products: { [localConnect.product]: ['refresh_token_test', 'refresh_token_production'] },
    });
    connectUrl = connect.url;
    env.CONNECT_API_URL = connect.url;
    if (!env.KEY_VAULT_URL) {
      env.CONNECT_API_KEY_SECRET_NAME ??= localConnect.apiKeySecretName;
      localSecrets.set(localConnect.apiKeySecretName, key);
    }
  }
  // Messages to marketplace contacts: the Communication Services Email stand-in, reached by the
  // real SDK with the managed identity's token, unless a real resource is named. Its outbox is
  // the page a person reads to see what the distributor's admin would get.
  let outboxUrl: string | undefined;
  if (!env.COMMUNICATION_SERVICES_ENDPOINT && env.LOCAL_TLS_CERT && env.LOCAL_TLS_KEY) {
    const tls = { cert: readFileSync(env.LOCAL_TLS_CERT, 'utf8'), key: readFileSync(env.LOCAL_TLS_KEY, 'utf8') };
    await identityEndpoint(tls);
    const email = await startEmailStandIn({ tls, port: Number(env.EMAIL_PORT ?? port + 8) });
    env.COMMUNICATION_SERVICES_ENDPOINT = email.url;
    env.NOTIFICATION_SENDER_ADDRESS ??= localSender;
    outboxUrl = `${email.url}/_local/outbox.html`;
  }
  if (!env.KEY_VAULT_URL) {
    env.LOCAL_SECRET_STORE_DIR ??= join(dataDir, 'secrets');
    // The production code holds no local store: local mode hands its own to the service.
    provideLocalSecretStore((dir) => new FileSecretStore(dir));
    const store = new FileSecretStore(env.LOCAL_SECRET_STORE_DIR);
    for (const [name, value] of localSecrets) if ((await store.getSecret(name)) !== value) await store.setSecret(name, value);
  }
  // The app's own storage account (leases, shared state, the near-expiry queue): Azurite, unless
  // the environment names a real one. Its data stays in .local/azurite across restarts.
  let azurite: Azurite | undefined;
  if (!env.AzureWebJobsStorage && !env.AzureWebJobsStorage__accountName) {
    azurite = await startAzurite({ blobPort: port + 5, queuePort: port + 6, tablePort: port + 7, location: join(dataDir, 'azurite') });
    env.AzureWebJobsStorage = azurite.connectionString;
  }
  env.TRANSACTION_COOKIE_KEY ??= persisted(join(dataDir, 'transaction-cookie-key'));
  if (!env.MARKETPLACE_CONFIG_PATH) {
    env.MARKETPLACE_CONFIG_PATH = join(dataDir, 'marketplaces.json');
    writeFileSync(env.MARKETPLACE_CONFIG_PATH, JSON.stringify(sampleMarketplaces(env.CALLBACK_URL), null, 2) + '\n');
  }

  installFunctionsCore();
  const functionsDir = join(__dirname, '..', 'functions');
  for (const file of readdirSync(functionsDir)
    .filter((f) => f.endsWith('.js'))
    .sort()) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- each compiled function file registers itself when loaded, as in the Functions worker
    require(join(functionsDir, file));
  }
  const host = await startHost({
    port,
    registrations: listRegistrations(),
    timers: true,
    queues: queueOptionsOf(join(__dirname, '..', '..', 'host.json')),
  });

  // Key Vault's SecretNearExpiry: the file store raises none, so local mode scans it and queues
  // the same event (local/nearExpiryScanner.ts). A real vault's events cannot reach this machine.
  const storeDir = env.KEY_VAULT_URL ? undefined : env.LOCAL_SECRET_STORE_DIR;
  const scanner =
    storeDir === undefined
      ? undefined
      : nearExpiryScanner({
          store: new FileSecretStore(storeDir),
          // As Event Grid writes to a storage queue: the event's JSON, base64-encoded.
          deliver: (event) => host.enqueue(nearExpiryQueueName, Buffer.from(JSON.stringify(event)).toString('base64')),
          onError: (err) => console.error(`near-expiry scan failed: ${err instanceof Error ? err.name : 'error'}`),
        });
  scanner?.start();

  const startUrl = `${host.url}/api/start`;
  console.log('');
  console.log(`  connect-ms-auth, local mode (${env.SERVICE_ENVIRONMENT} environment)`);
  console.log(`  Start URL:   ${startUrl}`);
  console.log(`  Status:      ${host.url}/api/status`);
  if (simulatorUrl)
    console.log(
      `  Microsoft identity simulator: ${simulatorUrl} (self-signed certificate in .local/tls; your browser will ask you to accept it once)`,
    );
  if (azurite)
    console.log(
      `  Storage (Azurite): blob, queue and table on ports ${azurite.ports.blob}–${azurite.ports.table}, data in ${join(dataDir, 'azurite')}`,
    );
  console.log(`  Marketplaces: MP-00001 (CSP), MP-00002 (CPV, consent not yet granted) — config ${env.MARKETPLACE_CONFIG_PATH}`);
  if (cpvFederated) console.log('  CPV app: signs in with the managed identity (federated credential; there is no client secret)');
  if (partnerCenterUrl) console.log(`  Partner Center stand-in: ${partnerCenterUrl} (checks MFA and the Partner Center role of every new token)`);
  if (outboxUrl) console.log(`  Messages to marketplace contacts (Communication Services Email stand-in): ${outboxUrl} (JSON: /_local/outbox)`);
  if (connectUrl)
    console.log(
      `  Connect API stand-in: ${connectUrl} (MP-00001's token goes to ${localConnect.product}; faults via ${new URL(connectUrl).origin}/_connect/faults)`,
    );
  console.log('  Ctrl+C stops.');
  console.log('');

  const stop = () => {
    scanner?.stop();
    void host
      .close()
      .then(() => azurite?.stop())
      .then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

/** A random value kept in a file, so restarts keep cookies, secrets and tokens valid. */
function persisted(path: string): string {
  if (existsSync(path)) return readFileSync(path, 'utf8').trim();
  const value = randomBytes(32).toString('base64url');
  writeFileSync(path, value + '\n', { mode: 0o600 });
  return value;
}

main().catch((err: unknown) => {
  console.error(`local mode failed to start: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
