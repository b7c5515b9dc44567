/**
 * The secret-store contract, run against both stores: the Key Vault store (the REAL SecretClient
 * and the REAL DefaultAzureCredential / ManagedIdentityCredential, over HTTPS against the local
 * Key Vault fake and its managed-identity endpoint) and the file store (a temp folder).
 * Run under `node scripts/with-local-tls.mjs` (it sets LOCAL_TLS_CERT / LOCAL_TLS_KEY and trusts them).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { ManagedIdentityCredential } from '@azure/identity';
import { SecretClient } from '@azure/keyvault-secrets';
import { pageAfter, routeOf, startKeyVaultFake, type KeyVaultFake } from '../local/keyVaultFake';
import { FaultControl, SlidingWindowLimiter } from '../local/keyVaultFake/faults';
import { FileSecretStore } from '../local/fileSecretStore';
import { AppError } from '../shared/errors';
import { createKeyVaultStore, KeyVaultSecretStore, type KeyVaultStoreOptions } from '../shared/secrets/keyVaultStore';
import { openSecretStore, provideLocalSecretStore, resetSecretStoreCache } from '../shared/secrets/open';
import { SecretStoreError } from '../shared/secrets/storeErrors';
import { tokenContentType, tokenSecretName, type PutTokenInput, type SecretStore, type StoredToken, type TokenTags } from '../shared/secrets/store';
import { retryAfterFromHeaders } from '../shared/retry';
import { loadSettings, type Environment } from '../shared/settings';
import { useIdentityEnv } from './support/identityEnv';

// ---------------------------------------------------------------- fixtures

function localTls(): { cert: Buffer; key: Buffer } {
  const cert = process.env.LOCAL_TLS_CERT;
  const key = process.env.LOCAL_TLS_KEY;
  if (!cert || !key) throw new Error('LOCAL_TLS_CERT / LOCAL_TLS_KEY are not set: run `node scripts/with-local-tls.mjs npx jest …`');
  return { cert: readFileSync(cert), key: readFileSync(key) };
}

const expiresOn = new Date('2027-02-01T10:20:30.000Z');
/** Every token value is a canary: no error may ever contain one. */
const canary = () => `rt-canary-${randomUUID()}`;

function tagsFor(marketplace: string, environment: Environment = 'test', extra: Partial<TokenTags> = {}): TokenTags {
  return {
    marketplace,
    environment,
    model: 'CSP',
    tenant: '11111111-2222-3333-4444-555555555555',
    issuedAt: '2026-11-01T00:00:00.000Z',
    status: 'active',
    ...extra,
  };
}

function tokenInput(marketplace: string, environment: Environment = 'test', extra: Partial<TokenTags> = {}): PutTokenInput {
  return { marketplace, environment, value: canary(), tags: tagsFor(marketplace, environment, extra), expiresOn };
}

/** What a store error says about itself: the operation, the secret and the failure's class. */
function facts(err: AppError): Record<string, unknown> {
  if (!(err instanceof SecretStoreError)) throw new Error(`expected a SecretStoreError, got ${err.name} ${err.code}`);
  return { operation: err.operation, secretName: err.secretName, ...err.failure };
}

/** Asserts that nothing a caller could log about `err` contains any of `values`. */
function expectNoSecretIn(err: unknown, values: string[]): void {
  const e = err as AppError;
  const surfaces = [e.message, String(e.stack), inspect(e, { depth: 8 }), JSON.stringify(e.diagnosis()), JSON.stringify(e)];
  for (const value of values) for (const surface of surfaces) expect(surface).not.toContain(value);
}

async function failureOf(promise: Promise<unknown>): Promise<AppError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof AppError) return err;
    throw err;
  }
  throw new Error('expected a failure');
}

/** A raw HTTPS request to the fake (for what the SDK never sends). */
function rawRequest(
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: init.method ?? 'GET', headers: init.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

// ---------------------------------------------------------------- the fake and the environment it needs

let restoreIdentityEnv = (): void => undefined;
let fake: KeyVaultFake;

beforeAll(async () => {
  fake = await startKeyVaultFake({ tls: localTls() });
  // The REAL credentials find the fake's managed-identity endpoint the way they find App Service's.
  restoreIdentityEnv = useIdentityEnv(fake.identityEnv);
});

afterAll(async () => {
  await fake.close();
  restoreIdentityEnv();
});

/** A Key Vault store on the fake, with the default DefaultAzureCredential; fast SDK retries so tests stay quick. */
function keyVaultStore(options: Partial<KeyVaultStoreOptions> & { maxRetries?: number } = {}): KeyVaultSecretStore {
  const { maxRetries, ...rest } = options;
  return createKeyVaultStore({
    vaultUrl: fake.url,
    ...rest,
    clientOptions: {
      retryOptions: { retryDelayInMs: 5, maxRetryDelayInMs: 20, ...(maxRetries === undefined ? {} : { maxRetries }) },
      ...rest.clientOptions,
    },
  });
}

// ---------------------------------------------------------------- the contract, on both stores

interface StoreUnderTest {
  store: SecretStore;
  /** Every version stored under `name`, oldest first. */
  versionsOf(name: string): Promise<Array<{ version: string; value: string; tags?: Record<string, string> }>>;
  /** Writes a secret around the port (plain secrets, hand-edited secrets). */
  setRaw(name: string, value: string, options?: { contentType?: string; tags?: Record<string, string>; expiresOn?: Date }): Promise<void>;
  /** Vault writes sent so far (0 for the file store, which sends nothing). */
  writesSent(): number;
}

interface Kind {
  name: string;
  open(): Promise<StoreUnderTest>;
  close(): Promise<void>;
}

const keyVaultKind: Kind = {
  name: 'Key Vault store (real SecretClient + DefaultAzureCredential, HTTPS fake)',
  async open() {
    fake.reset();
    const store = keyVaultStore();
    return {
      store,
      versionsOf: async (name) => fake.versions(name),
      setRaw: async (name, value, options) => void fake.seed(name, value, options),
      writesSent: () => fake.stats.requests.write + fake.stats.requests.patch,
    };
  },
  async close() {},
};

let tempDir: string | undefined;
const fileKind: Kind = {
  name: 'file store (temp folder)',
  async open() {
    tempDir = await mkdtemp(join(tmpdir(), 'secret-store-'));
    const store = new FileSecretStore(join(tempDir, 'secrets'));
    return {
      store,
      versionsOf: (name) => store.listVersions(name),
      setRaw: async (name, value, options) => void (await store.setSecret(name, value, options)),
      writesSent: () => 0,
    };
  },
  async close() {
    if (tempDir) await rm(tempDir, { recursive: true, force: true });
  },
};

describe.each([keyVaultKind, fileKind])('$name', (kind) => {
  let t: StoreUnderTest;
  /** Every version a test wrote, checked after it: nothing ever deletes. */
  let written: StoredToken[];
  const put = async (input: PutTokenInput) => {
    const token = await t.store.putToken(input);
    written.push(token);
    return token;
  };

  beforeEach(async () => {
    t = await kind.open();
    written = [];
  });
  afterEach(async () => {
    for (const token of written) {
      const versions = await t.versionsOf(tokenSecretName(token.marketplace, token.environment));
      expect(versions.map((v) => v.version)).toContain(token.version);
    }
    await kind.close();
  });

  it('putToken then getToken returns the latest version with its value, tags, creation and expiry', async () => {
    const input = tokenInput('MP-10001');
    const stored = await put(input);
    expect(stored).toMatchObject({ marketplace: 'MP-10001', environment: 'test', value: input.value, tags: input.tags, expiresOn });
    expect(stored.version).toMatch(/^[0-9a-f]{32}$/);
    expect(stored.createdOn).toBeInstanceOf(Date);
    expect(Math.abs(stored.createdOn.getTime() - Date.now())).toBeLessThan(60_000);
    expect(await t.store.getToken('MP-10001', 'test')).toEqual(stored);
  });

  it('putting twice keeps both versions; getToken returns the second', async () => {
    const first = await put(tokenInput('MP-10002'));
    const second = await put(tokenInput('MP-10002', 'test', { rotatedAt: '2026-11-02T00:00:00.000Z' }));
    expect(second.version).not.toBe(first.version);
    const versions = await t.versionsOf(tokenSecretName('MP-10002', 'test'));
    expect(versions.map((v) => [v.version, v.value])).toEqual([
      [first.version, first.value],
      [second.version, second.value],
    ]);
    expect(await t.store.getToken('MP-10002', 'test')).toEqual(second);
  });

  it('tags round-trip as strings, unset optional tags are left out, and the secret says what it is', async () => {
    const full = tagsFor('MP-10003', 'test', {
      rotatedAt: '2026-11-02T00:00:00.000Z',
      status: 'needs-reauth',
      lastError: 'needs-reauth:expired',
      lastErrorAt: '2026-11-03T00:00:00.000Z',
      connect: 'failed:403',
      model: 'CPV',
    });
    await put({ ...tokenInput('MP-10003'), tags: full });
    expect((await t.store.getToken('MP-10003', 'test'))?.tags).toEqual(full);

    await put(tokenInput('MP-10003'));
    const [, latest] = await t.versionsOf(tokenSecretName('MP-10003', 'test'));
    expect(latest?.tags).toEqual({
      marketplace: 'MP-10003',
      environment: 'test',
      model: 'CSP',
      tenant: '11111111-2222-3333-4444-555555555555',
      issuedAt: '2026-11-01T00:00:00.000Z',
      status: 'active',
    });
    // Tags describe the token without containing it (docs/SECURITY.md 14).
    expect(JSON.stringify(latest?.tags)).not.toContain(written[1]?.value);
  });

  it('updateTokenTags changes the tags of that version only: no new version, same value and expiry', async () => {
    const older = await put(tokenInput('MP-10004'));
    const latest = await put(tokenInput('MP-10004'));
    const reauth = tagsFor('MP-10004', 'test', {
      status: 'needs-reauth',
      lastError: 'needs-reauth:revoked',
      lastErrorAt: '2026-11-05T00:00:00.000Z',
    });

    await t.store.updateTokenTags(latest, reauth);
    expect(await t.store.getToken('MP-10004', 'test')).toEqual({ ...latest, tags: reauth });

    await t.store.updateTokenTags(older, tagsFor('MP-10004', 'test', { status: 'connect-sync-failed' }));
    const versions = await t.versionsOf(tokenSecretName('MP-10004', 'test'));
    expect(versions).toHaveLength(2);
    expect(versions.map((v) => v.tags?.status)).toEqual(['connect-sync-failed', 'needs-reauth']);
    expect(versions.map((v) => v.value)).toEqual([older.value, latest.value]);
  });

  it('updateTokenTags refuses tags of another marketplace, and fails on a version that does not exist', async () => {
    const token = await put(tokenInput('MP-10005'));
    await expect(t.store.updateTokenTags(token, tagsFor('MP-99999'))).rejects.toMatchObject({ code: 'internal' });
    const missing = await failureOf(t.store.updateTokenTags({ ...token, version: 'f'.repeat(32) }, tagsFor('MP-10005')));
    expect(missing.code).toBe('secret_store_failed');
    expect(facts(missing)).toMatchObject({ errorCode: 'SecretNotFound', transient: false });
  });

  it('listTokens returns each token of the environment once (latest version, no value), past a page of 25', async () => {
    const marketplaces = Array.from({ length: 30 }, (_, i) => `MP-2${String(i).padStart(4, '0')}`);
    for (const mp of marketplaces) await put(tokenInput(mp));
    const rotated = await put(tokenInput('MP-20007', 'test', { rotatedAt: '2026-11-02T00:00:00.000Z' }));
    for (const mp of ['MP-20000', 'MP-30001', 'MP-30002']) await put(tokenInput(mp, 'production'));
    // Secrets that are not tokens of this environment: a plain secret, a hand-made one with a
    // token's content type but no token tags, and a copy of a token under another name.
    await t.setRaw('cpv-client-secret', canary());
    await t.setRaw(tokenSecretName('MP-29999', 'test'), canary(), { contentType: tokenContentType, tags: { note: 'hand-made' } });
    await t.setRaw('copy-of-a-token', canary(), { contentType: tokenContentType, tags: { ...tagsFor('MP-29998') } });

    const listing = await t.store.listTokens('test');
    const listed = listing.tokens;
    expect(listed.map((i) => i.marketplace).sort()).toEqual(marketplaces);
    // The hand-made secret under a token's name is not hidden: it needs the operator.
    expect(listing.attention).toEqual([
      expect.objectContaining({ marketplace: 'MP-29999', environment: 'test', reason: 'not-written-by-this-service' }),
    ]);
    for (const info of listed) {
      expect(info).not.toHaveProperty('value');
      expect(info.environment).toBe('test');
      expect(info.expiresOn).toEqual(expiresOn);
      // The listing stands for the latest version by its creation time (it names no version).
      const latest = await t.store.getToken(info.marketplace, 'test');
      expect(info.createdOn).toEqual(latest?.createdOn);
    }
    expect(listed.find((i) => i.marketplace === 'MP-20007')).toMatchObject({ tags: rotated.tags, createdOn: rotated.createdOn });
    expect((await t.store.listTokens('production')).tokens.map((i) => i.marketplace).sort()).toEqual(['MP-20000', 'MP-30001', 'MP-30002']);
  });

  it('a token whose latest version is disabled is listed as needing attention, never hidden', async () => {
    const first = await put(tokenInput('MP-21001'));
    const second = await put(tokenInput('MP-21001'));
    await t.store.disableTokenVersion(second);
    const listing = await t.store.listTokens('test');
    expect(listing.tokens.find((i) => i.marketplace === 'MP-21001')).toBeUndefined();
    expect(listing.attention).toContainEqual(expect.objectContaining({ marketplace: 'MP-21001', reason: 'latest-version-disabled' }));
    // The older version is still there and readable by its id; the disabled one is not.
    expect((await t.store.getToken('MP-21001', 'test', first.version))?.value).toBe(first.value);
    expect((await failureOf(t.store.getToken('MP-21001', 'test', second.version))).code).toBe('secret_store_failed');
  });

  it('lists the secret earlier versions kept the last run in (rotation-run-{env}) as neither a token nor a credential', async () => {
    // Run records now live in the app's storage account; a vault may still hold the old secret.
    await t.setRaw('rotation-run-test', 'run-1', { contentType: 'application/vnd.connect-ms-auth.rotation-run', tags: { runId: 'run-1' } });
    const listing = await t.store.listTokens('test');
    expect(listing.tokens).toEqual([]);
    expect(listing.attention).toEqual([]);
    expect(listing.others.map((o) => o.name)).not.toContain('rotation-run-test');
  });

  it('getSecret returns a plain secret and undefined for a missing one; getToken is undefined when no token was stored', async () => {
    const value = canary();
    await t.setRaw('csp-client-secret-test', value);
    expect(await t.store.getSecret('csp-client-secret-test')).toBe(value);
    expect(await t.store.getSecret('no-such-secret')).toBeUndefined();
    expect(await t.store.getToken('MP-10006', 'test')).toBeUndefined();
  });

  it("listSecretProperties gives every secret's latest version: content type, expiry (or none), enabled, never a value", async () => {
    const values = [canary(), canary(), canary()];
    await t.setRaw('partner-secret-a', values[0]!, { expiresOn: new Date('2026-01-01T00:00:00.000Z') });
    await t.setRaw('partner-secret-a', values[1]!, { contentType: 'text/plain', expiresOn });
    await t.setRaw('connect-api-key', values[2]!);
    await put(tokenInput('MP-10020'));
    const listed = await t.store.listSecretProperties();
    expect(listed.sort((a, b) => a.name.localeCompare(b.name))).toEqual([
      { name: 'connect-api-key', enabled: true },
      { name: 'partner-secret-a', enabled: true, contentType: 'text/plain', expiresOn },
      { name: tokenSecretName('MP-10020', 'test'), enabled: true, contentType: tokenContentType, expiresOn },
    ]);
    for (const value of values) expect(JSON.stringify(listed)).not.toContain(value);
  });

  it('getToken refuses a secret under a token name that is not a token, rather than pretend there is none', async () => {
    await t.setRaw(tokenSecretName('MP-10007', 'test'), canary(), { tags: { note: 'typed in the portal' } });
    const err = await failureOf(t.store.getToken('MP-10007', 'test'));
    expect(err.code).toBe('secret_store_failed');
    expect(facts(err)).toMatchObject({ errorCode: 'NotAToken', transient: false });
  });

  it('refuses what Key Vault would refuse before sending it, and never quotes the value', async () => {
    const huge = { ...tokenInput('MP-10008'), value: `rt-canary-${'x'.repeat(25 * 1024)}` };
    const tooBig = await failureOf(t.store.putToken(huge));
    expect(tooBig.code).toBe('secret_store_failed');
    expect(facts(tooBig)).toMatchObject({ errorCode: 'BadParameter', transient: false });
    expectNoSecretIn(tooBig, [huge.value]);

    const longTag = await failureOf(t.store.putToken(tokenInput('MP-10008', 'test', { lastError: 'e'.repeat(257) })));
    expect(facts(longTag)).toMatchObject({ errorCode: 'BadParameter' });

    const badName = await failureOf(t.store.getSecret('../outside'));
    expect(badName.message).not.toContain('../outside');
    expect(t.writesSent()).toBe(0);
  });
});

// ---------------------------------------------------------------- Key Vault specifics: auth, faults, limits

describe('Key Vault store against the fake', () => {
  beforeEach(() => fake.reset());

  it('answers the first request with the challenge and accepts only tokens from its managed-identity endpoint', async () => {
    const store = keyVaultStore();
    expect(await store.getSecret('absent')).toBeUndefined();
    expect(fake.stats.challenges).toBe(1); // one per SecretClient: later requests carry the token
    expect(await store.getSecret('absent')).toBeUndefined();
    expect(fake.stats.challenges).toBe(1);

    const noToken = await rawRequest(`${fake.url}/secrets/absent/?api-version=2025-07-01`);
    expect(noToken.status).toBe(401);
    expect(noToken.headers['www-authenticate']).toMatch(
      /^Bearer authorization="https:\/\/login\.microsoftonline\.com\/[^"]+", resource="https:\/\/vault\.azure\.net"$/,
    );
    const forged = await rawRequest(`${fake.url}/secrets/absent/?api-version=2025-07-01`, {
      headers: { authorization: 'Bearer eyJmb3JnZWQiOnRydWV9.c2ln' },
    });
    expect(forged.status).toBe(401);

    const wrongHeader = await rawRequest(`${fake.identityEndpoint}?resource=https://vault.azure.net&api-version=2019-08-01`, {
      headers: { 'x-identity-header': 'guess' },
    });
    expect(wrongHeader.status).toBe(401);
    const otherResource = await rawRequest(`${fake.identityEndpoint}?resource=https://storage.azure.com&api-version=2019-08-01`, {
      headers: { 'x-identity-header': fake.identityHeader },
    });
    const { access_token: storageToken } = JSON.parse(otherResource.body) as { access_token: string };
    const wrongAudience = await rawRequest(`${fake.url}/secrets/absent/?api-version=2025-07-01`, {
      headers: { authorization: `Bearer ${storageToken}` },
    });
    expect(wrongAudience.status).toBe(401);
  });

  it('works the same with an injected ManagedIdentityCredential', async () => {
    const store = keyVaultStore({ credential: new ManagedIdentityCredential() });
    const input = tokenInput('MP-40001');
    const stored = await store.putToken(input);
    expect((await store.getToken('MP-40001', 'test'))?.value).toBe(input.value);
    expect(fake.versions(tokenSecretName('MP-40001', 'test'))).toEqual([
      expect.objectContaining({ version: stored.version, contentType: tokenContentType, exp: expiresOn.getTime() / 1000 }),
    ]);
  });

  it('lists in pages of 25 by following nextLink', async () => {
    const store = keyVaultStore();
    for (let i = 0; i < 26; i++)
      fake.seed(tokenSecretName(`MP-5${String(i).padStart(4, '0')}`, 'test'), canary(), {
        contentType: tokenContentType,
        tags: { ...tagsFor(`MP-5${String(i).padStart(4, '0')}`) },
      });
    expect((await store.listTokens('test')).tokens).toHaveLength(26);
    expect(fake.stats.requests.list).toBe(2);

    // Versions page the same way (the SDK's listPropertiesOfSecretVersions).
    for (let i = 0; i < 27; i++) fake.seed('many-versions', canary());
    const client = new SecretClient(fake.url, new ManagedIdentityCredential(), { disableChallengeResourceVerification: true });
    const versions: string[] = [];
    for await (const p of client.listPropertiesOfSecretVersions('many-versions')) versions.push(p.version ?? '');
    expect(versions).toEqual(fake.versions('many-versions').map((v) => v.version));
  });

  it('a 429 surfaces as secret_store_failed with the status and Retry-After, and no token in it', async () => {
    const store = keyVaultStore({ maxRetries: 0 });
    const input = tokenInput('MP-40002');
    fake.faults.throttle('write', 1, 7);
    const err = await failureOf(store.putToken(input));
    expect(err.code).toBe('secret_store_failed');
    expect(facts(err)).toMatchObject({ operation: 'putToken', statusCode: 429, errorCode: 'Throttled', retryAfterMs: 7000, transient: true });
    expect(err.message).toContain('HTTP 429');
    expectNoSecretIn(err, [input.value]);
    expect(fake.versions(tokenSecretName('MP-40002', 'test'))).toHaveLength(0);

    fake.faults.throttle('list', 1, 3);
    const listErr = await failureOf(store.listTokens('test'));
    expect(facts(listErr)).toMatchObject({ operation: 'listTokens', statusCode: 429, retryAfterMs: 3000, transient: true });
  });

  it('a 503 is retried by the SDK (at most twice) and then surfaces as transient', async () => {
    const store = keyVaultStore(); // default retry policy: maxRetries 2
    const stored = await store.putToken(tokenInput('MP-40003'));
    const readsBefore = fake.stats.requests.read;

    fake.faults.unavailable('read', 1);
    expect((await store.getToken('MP-40003', 'test'))?.version).toBe(stored.version);
    expect(fake.stats.requests.read - readsBefore).toBe(2);

    fake.faults.unavailable('read', 3);
    const err = await failureOf(store.getToken('MP-40003', 'test'));
    expect(err.code).toBe('secret_store_failed');
    expect(facts(err)).toMatchObject({ statusCode: 503, errorCode: 'ServiceUnavailable', transient: true });
    expect(fake.stats.requests.read - readsBefore).toBe(5);
  });

  it('a write that fails after Key Vault stored it leaves the new version readable (callers must read back)', async () => {
    const store = keyVaultStore({ maxRetries: 0 });
    const input = tokenInput('MP-40004');
    fake.faults.error('write', 1, { afterCommit: true });
    const err = await failureOf(store.putToken(input));
    expect(facts(err)).toMatchObject({ statusCode: 500, transient: true });
    expectNoSecretIn(err, [input.value]);
    expect((await store.getToken('MP-40004', 'test'))?.value).toBe(input.value);
  });

  it('a token write is never resent by the SDK, so one failed put leaves at most one version', async () => {
    // The SDK's default retries resend a PUT after a 5xx even when it landed; the store's
    // writes go without them and callers look before writing again (rotation does).
    const store = keyVaultStore();
    const input = tokenInput('MP-40005');
    fake.faults.error('write', 1, { afterCommit: true });
    const err = await failureOf(store.putToken(input));
    expect(facts(err)).toMatchObject({ statusCode: 500, transient: true });
    const versions = fake.versions(tokenSecretName('MP-40005', 'test'));
    expect(versions.map((v) => v.value)).toEqual([input.value]);
  });

  it('a hung write times out as a transient failure; the write may still have happened', async () => {
    const store = keyVaultStore({ maxRetries: 0, requestTimeoutMs: 300 });
    const input = tokenInput('MP-40006');
    fake.faults.hang('write', 1, { afterCommit: true });
    const started = Date.now();
    const err = await failureOf(store.putToken(input));
    expect(Date.now() - started).toBeLessThan(5000);
    expect(err.code).toBe('secret_store_failed');
    expect(facts(err)).toMatchObject({ errorCode: 'Timeout', transient: true });
    expectNoSecretIn(err, [input.value]);
    expect((await store.getToken('MP-40006', 'test'))?.value).toBe(input.value);
  });

  it('latency is added to the requests of the chosen kind', async () => {
    const store = keyVaultStore();
    await store.getSecret('warm-up'); // challenge + token outside the measurement
    fake.faults.setLatency(150, 'read');
    const started = Date.now();
    await store.getSecret('absent');
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    fake.faults.setLatency(0, 'read');
  });

  it("enforces Key Vault's 300 writes per 10 s: the 301st gets 429 with Retry-After", async () => {
    const store = keyVaultStore({ maxRetries: 0 });
    const inputs = Array.from({ length: 300 }, (_, i) => tokenInput(`MP-6${String(i % 50).padStart(4, '0')}`));
    for (let i = 0; i < inputs.length; i += 30) await Promise.all(inputs.slice(i, i + 30).map((input) => store.putToken(input)));
    const err = await failureOf(store.putToken(tokenInput('MP-69999')));
    expect(facts(err)).toMatchObject({ statusCode: 429, errorCode: 'Throttled', transient: true });
    expect(facts(err).retryAfterMs).toBeGreaterThanOrEqual(1000);
    expect(facts(err).retryAfterMs).toBeLessThanOrEqual(10_000);
    expect(fake.stats.throttled).toBe(1);
    // Reads have their own, larger budget.
    expect(await store.getSecret('absent')).toBeUndefined();
  });

  it('refuses deletes (the service never deletes a secret version)', async () => {
    fake.seed('kept', canary());
    const client = new SecretClient(fake.url, new ManagedIdentityCredential(), {
      disableChallengeResourceVerification: true,
      retryOptions: { maxRetries: 0 },
    });
    await expect(client.beginDeleteSecret('kept')).rejects.toMatchObject({ statusCode: 403 });
    expect(fake.stats.requests.delete).toBe(1);
    expect(fake.versions('kept')).toHaveLength(1);
  });

  it('validates names, tag counts and value size like Key Vault', async () => {
    const client = new SecretClient(fake.url, new ManagedIdentityCredential(), {
      disableChallengeResourceVerification: true,
      retryOptions: { maxRetries: 0 },
    });
    await expect(client.setSecret('bad_name', 'v')).rejects.toMatchObject({ statusCode: 400 });
    const sixteenTags = Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`t${i}`, 'v']));
    await expect(client.setSecret('ok-name', 'v', { tags: sixteenTags })).rejects.toMatchObject({ statusCode: 400 });
    await expect(client.setSecret('ok-name', 'x'.repeat(25 * 1024 + 1))).rejects.toMatchObject({ statusCode: 400 });
    await expect(client.getSecret('ok-name')).rejects.toMatchObject({ statusCode: 404, code: 'SecretNotFound' });
    expect(fake.secretNames()).toEqual([]);
  });

  it('takes fault switches from other processes over HTTP and reports its counters', async () => {
    const store = keyVaultStore({ maxRetries: 0 });
    const set = await rawRequest(`${fake.url}/_fake/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ add: { kind: 'read', effect: 'throttle', count: 1, retryAfterSeconds: 2 } }),
    });
    expect(set.status).toBe(200);
    expect(JSON.parse(set.body)).toMatchObject({ rules: [{ kind: 'read', effect: 'throttle', count: 1 }] });
    const err = await failureOf(store.getSecret('anything'));
    expect(facts(err)).toMatchObject({ statusCode: 429, retryAfterMs: 2000 });

    const bad = await rawRequest(`${fake.url}/_fake/faults`, { method: 'POST', body: JSON.stringify({ add: { kind: 'read', effect: 'explode' } }) });
    expect(bad.status).toBe(400);

    const stats = JSON.parse((await rawRequest(`${fake.url}/_fake/stats`)).body) as { requests: { read: number }; faultsInjected: number };
    expect(stats).toMatchObject({ requests: { read: 1 }, faultsInjected: 1 });

    fake.seed('seen-from-outside', 'value-not-shown');
    const versions = await rawRequest(`${fake.url}/_fake/secrets/seen-from-outside/versions`);
    expect(versions.body).not.toContain('value-not-shown');
    expect(JSON.parse(versions.body)).toMatchObject({
      versions: [{ name: 'seen-from-outside', valueSha256: expect.stringMatching(/^[0-9a-f]{64}$/) }],
    });
  });
});

// ---------------------------------------------------------------- opening a store from settings

describe('openSecretStore', () => {
  const base = {
    SERVICE_ENVIRONMENT: 'test',
    CALLBACK_URL: 'https://connect-ms-auth.example/api/callback',
    AzureWebJobsStorage__accountName: 'stfuncapp0001',
    TRANSACTION_COOKIE_KEY: randomBytes(32).toString('base64url'),
  };
  afterEach(() => resetSecretStoreCache());

  it('opens the Key Vault store for KEY_VAULT_URL, once per process', async () => {
    fake.reset();
    const settings = loadSettings({ ...base, KEY_VAULT_URL: fake.url });
    const store = await openSecretStore(settings);
    expect(store).toBeInstanceOf(KeyVaultSecretStore);
    expect(await openSecretStore(settings)).toBe(store);
    // A loopback vault works without extra options: challenge verification is off only there.
    const input = tokenInput('MP-70001');
    await store.putToken(input);
    expect((await store.getToken('MP-70001', 'test'))?.value).toBe(input.value);
  });

  it('opens the file store for LOCAL_SECRET_STORE_DIR without loading the Azure SDKs (cold start)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'secret-store-open-'));
    try {
      await jest.isolateModulesAsync(async () => {
        // Tripwires, not fakes: loading either SDK on this path fails the test.
        jest.doMock('@azure/keyvault-secrets', () => {
          throw new Error('@azure/keyvault-secrets was loaded');
        });
        jest.doMock('@azure/identity', () => {
          throw new Error('@azure/identity was loaded');
        });
        const secrets = require('../shared/secrets/open') as typeof import('../shared/secrets/open');
        const local = require('../local/fileSecretStore') as typeof import('../local/fileSecretStore');
        secrets.provideLocalSecretStore((storeDir) => new local.FileSecretStore(storeDir));
        const store = await secrets.openSecretStore(loadSettings({ ...base, LOCAL_SECRET_STORE_DIR: dir }));
        const input = tokenInput('MP-70002');
        await store.putToken(input);
        expect((await store.getToken('MP-70002', 'test'))?.value).toBe(input.value);
      });
    } finally {
      jest.dontMock('@azure/keyvault-secrets');
      jest.dontMock('@azure/identity');
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses LOCAL_SECRET_STORE_DIR when local mode did not provide its store (the deployed app holds none)', async () => {
    provideLocalSecretStore(undefined);
    const err = await failureOf(openSecretStore(loadSettings({ ...base, LOCAL_SECRET_STORE_DIR: '/tmp/nowhere' })));
    expect(err).toMatchObject({ code: 'settings_invalid', field: 'LOCAL_SECRET_STORE_DIR' });
  });

  it('the file store refuses to open on an Azure instance', () => {
    for (const variable of ['WEBSITE_INSTANCE_ID', 'WEBSITE_SITE_NAME']) {
      expect(() => new FileSecretStore('/tmp/nowhere', { env: { [variable]: 'x' } })).toThrow(expect.objectContaining({ code: 'settings_invalid' }));
    }
    expect(() => new FileSecretStore('/tmp/nowhere', { env: {} })).not.toThrow();
  });
});

// ---------------------------------------------------------------- file store specifics

describe('file store', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'file-store-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('keeps one owner-only JSON file per secret and leaves no temporary files behind', async () => {
    const store = new FileSecretStore(dir);
    await Promise.all(Array.from({ length: 20 }, () => store.putToken(tokenInput('MP-80001'))));
    await store.setSecret('connect-api-key', canary());
    expect((await readdir(dir)).sort()).toEqual(['connect-api-key.json', `${tokenSecretName('MP-80001', 'test')}.json`]);
    // 20 concurrent puts from two store instances would race without the per-file lock.
    expect(await store.listVersions(tokenSecretName('MP-80001', 'test'))).toHaveLength(20);
    if (process.platform !== 'win32') {
      expect(statSync(join(dir, 'connect-api-key.json')).mode & 0o077).toBe(0);
    }
  });

  it('serializes writes across store instances of the same folder', async () => {
    const a = new FileSecretStore(dir);
    const b = new FileSecretStore(dir);
    await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).putToken(tokenInput('MP-80002'))));
    expect(await a.listVersions(tokenSecretName('MP-80002', 'test'))).toHaveLength(10);
  });

  it('reports a corrupt file without quoting it', async () => {
    const store = new FileSecretStore(dir);
    const value = canary();
    await writeFile(join(dir, 'broken.json'), `{"name":"broken","versions":[{"value":"${value}"`);
    const err = await failureOf(store.getSecret('broken'));
    expect(facts(err)).toMatchObject({ errorCode: 'CorruptFile', transient: false });
    expectNoSecretIn(err, [value]);
  });

  it('uses the injected clock, in whole seconds like Key Vault', async () => {
    const store = new FileSecretStore(dir, { now: () => new Date('2026-11-20T08:00:00.750Z') });
    const token = await store.putToken(tokenInput('MP-80003'));
    expect(token.createdOn).toEqual(new Date('2026-11-20T08:00:00.000Z'));
  });
});

// ---------------------------------------------------------------- small pure pieces

describe('pure helpers', () => {
  it('reads Retry-After in its three forms', () => {
    const get = (h: Record<string, string>) => (n: string) => h[n];
    expect(retryAfterFromHeaders(get({ 'retry-after': '3' }))).toBe(3000);
    expect(retryAfterFromHeaders(get({ 'retry-after-ms': '250', 'retry-after': '3' }))).toBe(250);
    expect(retryAfterFromHeaders(get({ 'retry-after': new Date(10_000 + 4000).toUTCString() }), 10_000)).toBe(4000);
    expect(retryAfterFromHeaders(get({}))).toBeUndefined();
  });

  it('routes the REST surface the SDK uses', () => {
    expect(routeOf('GET', '/secrets')).toEqual({ op: 'list' });
    expect(routeOf('GET', '/secrets/a-b/')).toEqual({ op: 'get', name: 'a-b' });
    expect(routeOf('GET', '/secrets/a-b/0123')).toEqual({ op: 'get', name: 'a-b', version: '0123' });
    expect(routeOf('PUT', '/secrets/a-b')).toEqual({ op: 'set', name: 'a-b' });
    expect(routeOf('PATCH', '/secrets/a-b/0123')).toEqual({ op: 'update', name: 'a-b', version: '0123' });
    expect(routeOf('GET', '/secrets/a-b/versions')).toEqual({ op: 'listVersions', name: 'a-b' });
    expect(routeOf('DELETE', '/secrets/a-b')).toEqual({ op: 'delete', name: 'a-b' });
    expect(routeOf('POST', '/secrets/a-b/backup')).toBeUndefined();
    expect(routeOf('GET', '/deletedsecrets')).toBeUndefined();
  });

  it('pages after a key and says when there is more', () => {
    const items = ['a', 'b', 'c', 'd', 'e'];
    expect(pageAfter(items, (x) => x, undefined, 2)).toEqual({ page: ['a', 'b'], more: true });
    expect(pageAfter(items, (x) => x, 'b', 2)).toEqual({ page: ['c', 'd'], more: true });
    expect(pageAfter(items, (x) => x, 'd', 2)).toEqual({ page: ['e'], more: false });
  });

  it('consumes fault rules one request at a time, in order', () => {
    const faults = new FaultControl();
    faults.throttle('write', 2, 5);
    faults.error('any', 1);
    expect(faults.take('read')).toMatchObject({ effect: 'error' });
    expect(faults.take('write')).toMatchObject({ effect: 'throttle', retryAfterSeconds: 5 });
    expect(faults.take('write')).toMatchObject({ effect: 'throttle' });
    expect(faults.take('write')).toBeUndefined();
    expect(faults.take('msi')).toBeUndefined();
  });

  it('limits a sliding window and says when it opens again', () => {
    let now = 0;
    const limiter = new SlidingWindowLimiter(3, 10_000, () => now);
    expect([limiter.tryAcquire(), limiter.tryAcquire(), limiter.tryAcquire()].every((r) => r.ok)).toBe(true);
    now = 2500;
    expect(limiter.tryAcquire()).toEqual({ ok: false, retryAfterSeconds: 8 });
    now = 10_001;
    expect(limiter.tryAcquire()).toEqual({ ok: true });
  });
});
