/**
 * The Key Vault fake beyond the secret-store contract (test/secretStores.test.ts): what rotation and the
 * expiry trigger need from it, through the REAL SecretClient and ManagedIdentityCredential over HTTPS —
 * near-expiry events in Key Vault's Event Grid schema, paging with properties, versions, disabling a version,
 * content types and certificate secrets, counting by operation, latency, and the managed-identity endpoint
 * handing token-exchange requests to a minting function.
 */
import { ManagedIdentityCredential } from '@azure/identity';
import { SecretClient } from '@azure/keyvault-secrets';
import selfsigned from 'selfsigned';
import { startKeyVaultFake, type KeyVaultEventGridEvent, type KeyVaultFake, type ManagedIdentityTokenRequest } from '../local/keyVaultFake';
import { tlsFromEnv } from './localStandIns';
import { useIdentityEnv } from './support/identityEnv';

const DAY = 24 * 3600 * 1000;
let restoreIdentityEnv = (): void => undefined;

let fake: KeyVaultFake;
const received: KeyVaultEventGridEvent[] = [];
const mintRequests: ManagedIdentityTokenRequest[] = [];

beforeAll(async () => {
  fake = await startKeyVaultFake({
    tls: tlsFromEnv(),
    vaultName: 'kv-connect-test',
    onEvent: (e) => received.push(e),
    mintTokenExchangeToken: (r) => {
      mintRequests.push(r);
      return { accessToken: 'header.payload.signature', expiresOn: Math.floor(Date.now() / 1000) + 3600 };
    },
  });
  restoreIdentityEnv = useIdentityEnv(fake.identityEnv);
});

afterAll(async () => {
  await fake.close();
  restoreIdentityEnv();
});

beforeEach(() => {
  fake.reset();
  received.length = 0;
  mintRequests.length = 0;
});

function client(vault: KeyVaultFake = fake): SecretClient {
  return new SecretClient(vault.url, new ManagedIdentityCredential(), {
    disableChallengeResourceVerification: true,
    retryOptions: { maxRetries: 0 },
  });
}

const control = (path: string, body?: unknown) =>
  fetch(
    `${fake.url}/_fake/${path}`,
    body === undefined ? {} : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) },
  );

describe('Microsoft.KeyVault.SecretNearExpiry', () => {
  it("is raised once for a secret whose current version is enabled and expires within 30 days, in Key Vault's Event Grid schema", async () => {
    const now = Date.now();
    // An older version near its expiry raises nothing: Key Vault watches the current version.
    fake.seed('refresh-token-mp-00001-test', 'v1', { expiresOn: new Date(now + 10 * DAY) });
    const soon = fake.seed('refresh-token-mp-00001-test', 'v2', { expiresOn: new Date(now + 20 * DAY), notBefore: new Date(now - DAY) });
    const soonToo = fake.seed('refresh-token-mp-00005-test', 'v', { expiresOn: new Date(now + 25 * DAY) });
    const later = fake.seed('refresh-token-mp-00002-test', 'v', { expiresOn: new Date(now + 40 * DAY) });
    fake.seed('refresh-token-mp-00003-test', 'v', { expiresOn: new Date(now + 10 * DAY), enabled: false });
    fake.seed('refresh-token-mp-00004-test', 'v', { expiresOn: new Date(now - DAY) }); // already expired: SecretExpired's business
    fake.seed('connect-api-key', 'v'); // no expiry

    const events = fake.emitNearExpiry(now);
    expect(events.map((e) => e.data.Version)).toEqual([soon.version, soonToo.version]);
    expect(events[0]).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      topic: '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-local/providers/Microsoft.KeyVault/vaults/kv-connect-test',
      subject: 'refresh-token-mp-00001-test',
      eventType: 'Microsoft.KeyVault.SecretNearExpiry',
      eventTime: new Date(now).toISOString(),
      data: {
        Id: `${fake.url}/secrets/refresh-token-mp-00001-test/${soon.version}`,
        VaultName: 'kv-connect-test',
        ObjectType: 'Secret',
        ObjectName: 'refresh-token-mp-00001-test',
        Version: soon.version,
        NBF: soon.nbf,
        EXP: soon.exp,
      },
      dataVersion: '1',
      metadataVersion: '1',
    });
    expect(events[1]!.data.NBF).toBeNull();
    expect(received).toEqual(events);
    expect(fake.stats.eventsRaised).toBe(2);

    // Once per version: asking again raises nothing new; fifteen days on, the 40-day secret is due.
    expect(fake.emitNearExpiry(now + DAY)).toEqual([]);
    expect(fake.emitNearExpiry(now + 15 * DAY).map((e) => e.data.Version)).toEqual([later.version]);
    expect(fake.events()).toHaveLength(3);
  });

  it('is not raised for a version disabled through the SDK, and can be asked for over the control API', async () => {
    const now = Date.now();
    const sdk = client();
    const canary = `canary-${Date.now()}-secret-value`;
    const stored = await sdk.setSecret('cpv-client-secret', canary, { expiresOn: new Date(now + 5 * DAY) });
    await sdk.updateSecretProperties('cpv-client-secret', stored.properties.version!, { enabled: false });
    const kept = await sdk.setSecret('partner-secret-mp-00001', canary, { expiresOn: new Date(now + 5 * DAY) });

    const res = await control('events/near-expiry', { now: new Date(now).toISOString() });
    expect(res.status).toBe(200);
    const { events } = (await res.json()) as { events: KeyVaultEventGridEvent[] };
    expect(events.map((e) => [e.subject, e.data.Version])).toEqual([['partner-secret-mp-00001', kept.properties.version]]);
    expect(JSON.stringify(events)).not.toContain(canary);
    const all = (await (await control('events')).json()) as { events: KeyVaultEventGridEvent[] };
    expect(all.events).toHaveLength(1);
    expect((await control('events/near-expiry', { now: 'yesterday' })).status).toBe(400);
    expect(
      (await fetch(`${fake.url}/_fake/events/near-expiry`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{}' })).status,
    ).toBe(415);
  });
});

describe('what rotation reads and writes, through the real SecretClient', () => {
  it('lists secret properties with tags and attributes in pages (maxresults, nextLink), counting each page', async () => {
    for (let i = 1; i <= 5; i++)
      fake.seed(`refresh-token-mp-0000${i}-test`, `v${i}`, {
        contentType: 'text/plain',
        tags: { marketplace: `MP-0000${i}`, status: 'current' },
        expiresOn: new Date(Date.now() + 90 * DAY),
      });
    const pages: {
      name: string;
      tags: Record<string, string> | undefined;
      enabled: boolean | undefined;
      expiresOn: Date | undefined;
      contentType: string | undefined;
    }[][] = [];
    for await (const page of client().listPropertiesOfSecrets().byPage({ maxPageSize: 2 })) {
      pages.push(page.map((p) => ({ name: p.name, tags: p.tags, enabled: p.enabled, expiresOn: p.expiresOn, contentType: p.contentType })));
    }
    expect(pages.map((p) => p.length)).toEqual([2, 2, 1]);
    expect(pages[0]![0]).toEqual({
      name: 'refresh-token-mp-00001-test',
      tags: { marketplace: 'MP-00001', status: 'current' },
      enabled: true,
      expiresOn: expect.any(Date),
      contentType: 'text/plain',
    });
    expect(fake.stats.operations.listSecrets).toBe(3);
    expect(fake.stats.requests.list).toBe(3);
  });

  it('lists versions with their attributes, disables one with PATCH, and refuses to read the disabled one', async () => {
    const sdk = client();
    const first = await sdk.setSecret('refresh-token-mp-00001-test', 'old', { tags: { status: 'fallback' } });
    const second = await sdk.setSecret('refresh-token-mp-00001-test', 'new', { tags: { status: 'current' } });
    await sdk.updateSecretProperties('refresh-token-mp-00001-test', first.properties.version!, { enabled: false });

    const versions: { version: string | undefined; enabled: boolean | undefined; status: string | undefined }[] = [];
    for await (const p of sdk.listPropertiesOfSecretVersions('refresh-token-mp-00001-test'))
      versions.push({ version: p.version, enabled: p.enabled, status: p.tags?.status });
    expect(versions).toEqual([
      { version: first.properties.version, enabled: false, status: 'fallback' },
      { version: second.properties.version, enabled: true, status: 'current' },
    ]);
    await expect(sdk.getSecret('refresh-token-mp-00001-test', { version: first.properties.version! })).rejects.toMatchObject({ statusCode: 403 });
    expect((await sdk.getSecret('refresh-token-mp-00001-test')).value).toBe('new');
    expect(fake.stats.operations).toEqual({ getSecret: 2, setSecret: 2, updateSecret: 1, listSecrets: 0, listSecretVersions: 1, deleteSecret: 0 });
  });

  it("keeps a content type, and stores a certificate's secret as Key Vault does (PEM, managed, validity as nbf/exp)", async () => {
    const sdk = client();
    await sdk.setSecret('partner-cert-note', 'pem…', { contentType: 'application/x-pem-file' });
    expect((await sdk.getSecret('partner-cert-note')).properties.contentType).toBe('application/x-pem-file');

    const made = await selfsigned.generate([{ name: 'commonName', value: 'partner app' }], {
      keyType: 'rsa',
      keySize: 2048,
      notAfterDate: new Date(Date.now() + 200 * DAY),
    });
    fake.seedCertificate('partner-certificate-mp-00001', { certificate: made.cert, privateKey: made.private });
    const secret = await sdk.getSecret('partner-certificate-mp-00001');
    expect(secret.value).toContain('-----BEGIN PRIVATE KEY-----');
    expect(secret.value).toContain('-----BEGIN CERTIFICATE-----');
    expect(secret.properties).toMatchObject({ contentType: 'application/x-pem-file', managed: true });
    expect(Math.abs(secret.properties.expiresOn!.getTime() - (Date.now() + 200 * DAY))).toBeLessThan(5 * 60 * 1000);
  });

  it('adds the configured latency to every vault request', async () => {
    const slow = await startKeyVaultFake({ tls: tlsFromEnv(), latencyMs: 150 });
    try {
      slow.seed('s', 'v');
      const sdk = client(slow);
      await sdk.getSecret('s'); // the challenge round trip and the token come first
      const started = Date.now();
      await sdk.getSecret('s');
      expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    } finally {
      await slow.close();
    }
  });
});

describe('the managed-identity endpoint and token exchange', () => {
  it('hands api://AzureADTokenExchange requests (with the identity they name) to the minting function', async () => {
    const res = await fetch(
      `${fake.identityEndpoint}?api-version=2019-08-01&resource=${encodeURIComponent('api://AzureADTokenExchange')}&client_id=mi-client`,
      {
        headers: { 'X-IDENTITY-HEADER': fake.identityHeader },
      },
    );
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      access_token: 'header.payload.signature',
      expires_on: expect.stringMatching(/^\d+$/),
      resource: 'api://AzureADTokenExchange',
      token_type: 'Bearer',
      client_id: 'mi-client',
    });
    expect(mintRequests).toEqual([{ resource: 'api://AzureADTokenExchange', clientId: 'mi-client' }]);

    // The real credential (scope with /.default) goes the same way; Key Vault's own tokens do not.
    const token = await new ManagedIdentityCredential({ clientId: 'mi-client-2' }).getToken('api://AzureADTokenExchange/.default');
    expect(token.token).toBe('header.payload.signature');
    expect(mintRequests[1]).toMatchObject({ clientId: 'mi-client-2' });
    fake.seed('s', 'v');
    await client().getSecret('s');
    expect(mintRequests).toHaveLength(2);
  });
});
