/**
 * Writing the token into Connect, through the real handlers served by the local host,
 * the real rotation run, the Key Vault fake and the Connect stand-in: generation and rotation
 * update Connect; each failure class ends in the right status with no token lost; a later run
 * repairs a transient failure; the API key never leaks.
 */
import { startConnectStandIn } from '../../local/connectStandIn';
import { ConnectApi, ConnectCallError } from '../../shared/connect/api';
import { decodeConnectTag, encodeConnectTag } from '../../shared/connect/tag';
import { callbackBudgetMs } from '../../shared/signIn/pageBudget';
import { tokenSecretName } from '../../shared/secrets/store';
import { request, signIn, tokenFromPage, type Step } from '../support/flow';

/** What a person reads on a page: its text, without the markup (IDs sit in spans that keep them on one line). */
function textOf(html: string): string {
  return html.replace(/<[^>]+>/g, '');
}
import { startWorld, type World } from '../support/world';

const P1 = 'PRD-100-000-001';
const P2 = 'PRD-100-000-002';
const MP = 'MP-00001';
const parameter = 'refresh_token_test';
// Canary: the key as Connect issues it. Its secret half must never be seen outside the header.
const canarySecret = 'c4n4ryc0nn3ctk3y0123456789abcdef01234567';
const canaryKey = `SU-123-456-789:${canarySecret}`;

interface Summary {
  counts: Record<string, number>;
  results: { marketplace: string; outcome: string; connect?: string }[];
  connect?: { afterRotate: Record<string, number>; retried: Record<string, number> };
}
interface StatusJson {
  connectPush: boolean;
  tokens: { marketplace: string; status: string; lastError?: string; connect?: { product: string; state: string; code?: string }[] }[];
}

/** Every response body the tests saw, for the canary check. */
const seen: string[] = [];
async function call(url: string, init: RequestInit = {}): Promise<Step> {
  const step = await request(url, init);
  seen.push(step.body, JSON.stringify([...step.headers]));
  return step;
}

async function rotateNow(world: World, marketplace = MP): Promise<Summary> {
  const r = await call(`${world.baseUrl}/api/rotate?marketplace=${marketplace}`, { method: 'POST' });
  expect(r.status).toBe(200);
  return JSON.parse(r.body) as Summary;
}

async function status(world: World): Promise<StatusJson> {
  const r = await call(`${world.baseUrl}/api/status?format=json`);
  expect(r.status).toBe(200);
  return JSON.parse(r.body) as StatusJson;
}

async function tokenRow(world: World, marketplace = MP) {
  return (await status(world)).tokens.find((t) => t.marketplace === marketplace);
}

async function generate(world: World, marketplace = MP): Promise<{ page: string; token: string }> {
  const { callback } = await signIn(world, marketplace);
  seen.push(callback.body);
  expect(callback.status).toBe(200);
  const token = tokenFromPage(callback.body);
  expect(token).toBeDefined();
  return { page: callback.body, token: token ?? '' };
}

/** The timer, as the Functions host fires it. */
async function timerRun(world: World): Promise<void> {
  await world.host.invokeTimer('rotate');
}

function latestLog(world: World, event: string): Record<string, unknown> | undefined {
  const line = [...world.logs].reverse().find((l) => l.message.includes(`"event":"${event}"`));
  return line ? (JSON.parse(line.message) as Record<string, unknown>) : undefined;
}

describe('Connect push (Key Vault store, two products on MP-00001)', () => {
  let world: World;
  const versions = () => world.vault?.versions(tokenSecretName(MP, 'test')) ?? [];
  const latest = async () => (await world.store.getToken(MP, 'test'))?.value;
  const inConnect = (product: string) => world.connect?.value(product, parameter, MP);

  beforeAll(async () => {
    world = await startWorld({ connect: { products: { [MP]: [P1, P2] }, apiKey: canaryKey }, cpvConsented: true });
  });
  afterAll(async () => {
    await world.close();
  });
  beforeEach(() => {
    world.connect?.faults.clear();
  });

  it('generation: the token is written to every product and read back; the page says nothing is left to paste', async () => {
    const { page, token } = await generate(world);
    expect(inConnect(P1)).toBe(token);
    expect(inConnect(P2)).toBe(token);
    expect(page).toContain('<strong>Nothing to do:</strong> the token was written to');
    expect(page).toContain(`the parameter <code id="parameter-name">${parameter}</code> of marketplace`);
    expect(textOf(page)).toContain(`in product ${P1} and product ${P2} in Connect, and read back`);
    expect(page).toContain(`<code id="parameter-name">${parameter}</code>`);

    const stored = await world.store.getToken(MP, 'test');
    expect(stored?.value).toBe(token);
    expect(stored?.tags).toMatchObject({ status: 'active', connect: 'ok:100-000-001,100-000-002' });
    // Connect's outcome changes tags, never the token: one version.
    expect(versions()).toHaveLength(1);
    const row = await tokenRow(world);
    expect(row?.connect).toEqual([
      { product: P1, state: 'ok' },
      { product: P2, state: 'ok' },
    ]);
    // The stand-in refuses anything but `Authorization: ApiKey <key>` and the exact body: none refused.
    expect(world.connect?.stats.unauthorized).toBe(0);
    expect(world.connect?.calls.every((c) => c.status === 201 || c.status === 200)).toBe(true);
  });

  it('a marketplace without Connect products: no push, and the page only says where to paste', async () => {
    const before = world.connect?.stats.requests;
    const { page } = await generate(world, 'MP-00002');
    expect(page).not.toContain('id="connect-status"');
    expect(page).toContain('<h2>Next step</h2>');
    expect(page).toContain('and paste the token into the parameter <code id="parameter-name">');
    expect(world.connect?.stats.requests).toBe(before);
    expect((await world.store.getToken('MP-00002', 'test'))?.tags.connect).toBeUndefined();
  });

  it('rotation: the new token is pushed after it is stored and verified', async () => {
    const old = await latest();
    const summary = await rotateNow(world);
    expect(summary.counts.rotated).toBe(1);
    expect(summary.results[0]).toMatchObject({ marketplace: MP, outcome: 'rotated', connect: 'ok' });
    expect(summary.connect?.afterRotate).toEqual({ ok: 1, pending: 0, failed: 0 });
    const now = await latest();
    expect(now).not.toBe(old);
    expect(inConnect(P1)).toBe(now);
    expect(inConnect(P2)).toBe(now);
    expect(versions()).toHaveLength(2);
    expect((await tokenRow(world))?.connect?.map((c) => c.state)).toEqual(['ok', 'ok']);
  });

  describe.each([
    ['503 (x3)', (w: World) => w.connect?.faults.unavailable(3, { product: P2, method: 'POST' }), 'HTTP_503'],
    ['429 with Retry-After (x3)', (w: World) => w.connect?.faults.throttle(3, 1, { product: P2 }), 'HTTP_429'],
    ['dropped connection (x3)', (w: World) => w.connect?.faults.drop(3, { product: P2 }), 'NETWORK'],
    ['write lost, read-back differs (x3)', (w: World) => w.connect?.faults.add({ kind: 'lostWrite', count: 3, product: P2 }), 'READBACK_MISMATCH'],
  ])('transient: %s', (_name, inject, code) => {
    it('retried within the run, then left pending; nothing lost; the next run repairs it without a new token version', async () => {
      const before = await latest();
      const versionsBefore = versions().length;
      inject(world);
      const summary = await rotateNow(world);
      expect(summary.counts.rotated).toBe(1);
      expect(summary.results[0]?.connect).toBe('pending');
      expect(summary.connect?.afterRotate).toEqual({ ok: 0, pending: 1, failed: 0 });

      // The rotation stands: the new token is the latest, read back, and one version was added.
      const rotated = await latest();
      expect(rotated).not.toBe(before);
      expect(versions()).toHaveLength(versionsBefore + 1);
      expect(inConnect(P1)).toBe(rotated);
      // P2 still holds the previous token: still valid at Microsoft (not revoked on redemption).
      expect(inConnect(P2)).toBe(before);
      const stored = await world.store.getToken(MP, 'test');
      expect(stored?.tags.status).toBe('active');
      expect(decodeConnectTag(stored?.tags.connect).get(P2)).toEqual({ product: P2, state: 'pending' });
      expect((await tokenRow(world))?.connect).toEqual([
        { product: P1, state: 'ok' },
        { product: P2, state: 'pending' },
      ]);
      expect(latestLog(world, 'ConnectSyncPending')).toMatchObject({ marketplace: MP, product: P2, class: 'transient', code, trigger: 'rotate' });
      expect(world.connect?.faults.pending()).toBe(0);

      // The timer's next run: the token is not due (rotated minutes ago), but its pending push is.
      await timerRun(world);
      expect(await latest()).toBe(rotated);
      expect(versions()).toHaveLength(versionsBefore + 1);
      expect(inConnect(P2)).toBe(rotated);
      expect((await world.store.getToken(MP, 'test'))?.tags).toMatchObject({ status: 'active', connect: 'ok:100-000-001,100-000-002' });
      expect(latestLog(world, 'RotationRunCompleted')).toMatchObject({ trigger: 'timer', rotated: 0, connectSynced: 1, connectPending: 0 });
    });
  });

  describe.each([
    [400, 'VAL_001'],
    [401, 'AUTH_001'],
    [403, 'AUTH_002'],
    [404, 'NFND_000'],
  ] as const)('rejected: %d', (statusCode, errorCode) => {
    it("connect-sync-failed with Connect's error code and an alert log; the token in Key Vault stays valid; no retry storm; the next rotation repairs it", async () => {
      const before = await latest();
      const versionsBefore = versions().length;
      world.connect?.faults.reject(statusCode, 1, { product: P2, method: 'POST' });
      const summary = await rotateNow(world);
      expect(summary.counts.rotated).toBe(1);
      expect(summary.connect?.afterRotate).toEqual({ ok: 0, pending: 0, failed: 1 });

      const rotated = await latest();
      expect(rotated).not.toBe(before);
      expect(versions()).toHaveLength(versionsBefore + 1);
      expect(inConnect(P1)).toBe(rotated);
      expect(inConnect(P2)).toBe(before);
      const stored = await world.store.getToken(MP, 'test');
      expect(stored?.tags).toMatchObject({ status: 'connect-sync-failed', lastError: `connect-sync-failed:${errorCode}` });
      const row = await tokenRow(world);
      expect(row?.status).toBe('connect-sync-failed');
      expect(row?.connect).toEqual([
        { product: P1, state: 'ok' },
        { product: P2, state: 'failed', code: errorCode },
      ]);
      const alert = world.logs.filter((l) => l.message.includes('"event":"ConnectSyncFailed"')).at(-1);
      expect(alert?.level).toBe('error');
      expect(JSON.parse(alert?.message ?? '{}')).toMatchObject({
        marketplace: MP,
        product: P2,
        class: 'rejected',
        errorCode,
        parameter,
        trigger: 'rotate',
      });

      // A refused push is not retried every run: the timer leaves Connect alone.
      const calls = world.connect?.calls.length;
      await timerRun(world);
      expect(world.connect?.calls.length).toBe(calls);
      expect(await latest()).toBe(rotated);

      // The operator fixes the cause and rotates: Connect catches up, the status clears.
      const again = await rotateNow(world);
      expect(again.connect?.afterRotate).toEqual({ ok: 1, pending: 0, failed: 0 });
      expect(inConnect(P2)).toBe(await latest());
      expect((await world.store.getToken(MP, 'test'))?.tags.status).toBe('active');
      expect((await world.store.getToken(MP, 'test'))?.tags.lastError).toBeUndefined();
    });
  });

  it('generation while Connect refuses one product and does not answer for the other: the token is shown with where to paste it', async () => {
    world.connect?.faults.reject(403, 1, { product: P1 });
    world.connect?.faults.unavailable(3, { product: P2, retryAfterSeconds: 0 });
    const { page, token } = await generate(world);
    expect(await latest()).toBe(token);
    expect(textOf(page)).toContain(`Connect was not updated for product ${P1} and product ${P2}.`);
    expect(textOf(page)).toContain(
      `then product ${P1} and product ${P2}, then Configuration, and paste the token into the parameter ${parameter} of marketplace ${MP}.`,
    );
    expect(textOf(page)).toContain(`product ${P1}: Connect refused the update`);
    expect(textOf(page)).toContain(`product ${P2}: Connect did not answer in time`);
    expect(page).toContain(`<code id="parameter-name">${parameter}</code>`);
    const stored = await world.store.getToken(MP, 'test');
    expect(stored?.tags).toMatchObject({ status: 'connect-sync-failed', connect: 'fail=AUTH_002:100-000-001;retry:100-000-002' });
    expect(latestLog(world, 'ConnectSyncFailed')).toMatchObject({ product: P1, trigger: 'generate', errorCode: 'AUTH_002' });

    // The next run pushes the pending product only; the refused one waits for the next rotation.
    await timerRun(world);
    expect(inConnect(P2)).toBe(token);
    expect(inConnect(P1)).not.toBe(token);
    expect((await world.store.getToken(MP, 'test'))?.tags.connect).toBe('fail=AUTH_002:100-000-001;ok:100-000-002');

    const html = await call(`${world.baseUrl}/api/status`);
    expect(html.body).toContain(`Connect refused 1 token(s)`);
    expect(textOf(html.body)).toContain(`${P1}: refused (AUTH_002)`);
    expect(textOf(html.body)).toContain(`${P2}: written to the product parameter and read back`);
    await rotateNow(world);
    expect((await tokenRow(world))?.connect?.map((c) => c.state)).toEqual(['ok', 'ok']);
  });

  it('generation while Connect does not answer at all: the page comes within its budget with the token, Connect is left pending, and the next run pushes what is current', async () => {
    world.connect?.faults.add({ kind: 'hang', count: 100 });
    const started = Date.now();
    const { page, token } = await generate(world);
    const waited = Date.now() - started;
    world.connect?.faults.clear();
    // The callback stops pushing at its page budget (shared/signIn/pageBudget.ts) instead of
    // waiting out every retry and timeout (20 s before): a behaviour, with the start page and the
    // simulator's sign-in before the callback as the only margin.
    expect(waited).toBeLessThan(callbackBudgetMs + 2_500);
    expect(await latest()).toBe(token);
    expect(textOf(page)).toContain(`product ${P1}: Connect did not answer in time`);
    const stored = await world.store.getToken(MP, 'test');
    expect(decodeConnectTag(stored?.tags.connect).get(P1)?.state).toBe('pending');
    await timerRun(world);
    expect(inConnect(P1)).toBe(token);
    expect(inConnect(P2)).toBe(token);
  }, 60_000);

  it('a version written but never pushed (the process died) is pushed by the next run', async () => {
    // What a crash between the vault write and the push leaves behind: a new version tagged pending.
    const current = await world.store.getToken(MP, 'test');
    if (!current) throw new Error('no token');
    await world.store.updateTokenTags(current, {
      ...current.tags,
      connect: encodeConnectTag([P1, P2].map((product) => ({ product, state: 'pending' }))),
    });
    world.connect?.reset();
    await timerRun(world);
    expect(inConnect(P1)).toBe(current.value);
    expect(inConnect(P2)).toBe(current.value);
    expect((await world.store.getToken(MP, 'test'))?.tags.connect).toBe('ok:100-000-001,100-000-002');
  });

  // Last, whatever order Jest runs the blocks above in: it searches everything they produced.
  describe('canary', () => {
    it('the API key never appears in logs, responses or errors (canary), and neither does a token', async () => {
      expect(world.logs.length).toBeGreaterThan(0);
      const outputs = [...world.logs.map((l) => l.message), ...seen];
      for (const text of outputs) {
        expect(text).not.toContain(canarySecret);
        expect(text).not.toContain('SU-123-456-789');
      }
      const tokens = world.connect?.configurations().map((c) => c.value) ?? [];
      expect(tokens.length).toBeGreaterThan(0);
      for (const line of world.logs) for (const token of tokens) expect(line.message).not.toContain(token);
    });
  });
});

describe('Connect push (file store, key stored as copied from Connect with its "ApiKey " prefix)', () => {
  let world: World;
  beforeAll(async () => {
    world = await startWorld({ store: 'file', connect: { products: { [MP]: [P1] }, storeWithScheme: true } });
  });
  afterAll(async () => {
    await world.close();
  });

  it('generation and rotation update Connect; the header is `ApiKey <key>`, not `ApiKey ApiKey <key>`', async () => {
    const { token } = await generate(world);
    expect(world.connect?.value(P1, parameter, MP)).toBe(token);
    await rotateNow(world);
    const rotated = (await world.store.getToken(MP, 'test'))?.value;
    expect(rotated).not.toBe(token);
    expect(world.connect?.value(P1, parameter, MP)).toBe(rotated);
    expect(world.connect?.stats.unauthorized).toBe(0);
  });
});

describe('Connect push misconfigured: CONNECT_API_KEY_SECRET_NAME names a secret that is not in the vault', () => {
  let world: World;
  beforeAll(async () => {
    world = await startWorld({ connect: { products: { [MP]: [P1] }, secretMissing: true } });
  });
  afterAll(async () => {
    await world.close();
  });

  it('the token is still stored and shown; the status says connect-sync-failed (API_KEY_MISSING) and the operator is alerted', async () => {
    const { page, token } = await generate(world);
    expect((await world.store.getToken(MP, 'test'))?.value).toBe(token);
    expect(textOf(page)).toContain(`product ${P1}: Connect refused the update`);
    expect(world.connect?.stats.requests).toBe(0);
    expect((await tokenRow(world))?.connect).toEqual([{ product: P1, state: 'failed', code: 'API_KEY_MISSING' }]);
    expect(latestLog(world, 'ConnectSyncFailed')).toMatchObject({ errorCode: 'API_KEY_MISSING', marketplace: MP });
  });
});

describe('the Connect port against the stand-in', () => {
  const key = 'SU-000-000-000:0123456789abcdef0123456789abcdef01234567';
  let standIn: Awaited<ReturnType<typeof startConnectStandIn>>;
  beforeAll(async () => {
    standIn = await startConnectStandIn({ apiKeys: [key], products: { [P1]: [parameter] } });
  });
  afterAll(async () => {
    await standIn.close();
  });
  beforeEach(() => standIn.reset());

  const failureOf = async (p: Promise<unknown>) => {
    try {
      await p;
    } catch (err) {
      return err;
    }
    throw new Error('expected a failure');
  };

  it('sets and reads back a value with the exact header and body', async () => {
    const api = new ConnectApi({ baseUrl: standIn.url, apiKey: key });
    await api.setConfiguration(P1, parameter, MP, 'value-1');
    expect(await api.readConfiguration(P1, parameter, MP)).toBe('value-1');
    expect(await api.readConfiguration(P1, parameter, 'MP-00009')).toBeUndefined();
  });

  it('a wrong key is rejected (401, AUTH_001) and the error carries neither the key nor the value', async () => {
    const api = new ConnectApi({ baseUrl: standIn.url, apiKey: 'SU-000-000-000:wrongwrongwrong' });
    const err = await failureOf(api.setConfiguration(P1, parameter, MP, 'secret-token-value'));
    expect(err).toBeInstanceOf(ConnectCallError);
    expect(err).toMatchObject({ failureClass: 'rejected', connectCode: 'AUTH_001', status: 401 });
    const text = `${String(err)} ${JSON.stringify(err)} ${(err as Error).stack ?? ''}`;
    expect(text).not.toContain('wrongwrongwrong');
    expect(text).not.toContain('secret-token-value');
  });

  it("an unknown parameter is a 400 with Connect's error shape", async () => {
    const api = new ConnectApi({ baseUrl: standIn.url, apiKey: key });
    expect(await failureOf(api.setConfiguration(P1, 'refresh_token_production', MP, 'x'))).toMatchObject({
      failureClass: 'rejected',
      connectCode: 'VAL_001',
    });
  });

  it('a hung request times out as transient (AbortSignal.timeout)', async () => {
    standIn.faults.add({ kind: 'hang' });
    const api = new ConnectApi({ baseUrl: standIn.url, apiKey: key, timeoutMs: 200 });
    expect(await failureOf(api.setConfiguration(P1, parameter, MP, 'x'))).toMatchObject({ failureClass: 'transient', connectCode: 'TIMEOUT' });
  });

  it('429 carries Retry-After to the caller', async () => {
    standIn.faults.throttle(1, 7);
    const api = new ConnectApi({ baseUrl: standIn.url, apiKey: key });
    expect(await failureOf(api.readConfiguration(P1, parameter, MP))).toMatchObject({
      failureClass: 'transient',
      connectCode: 'HTTP_429',
      status: 429,
      retry: { transient: true, retryAfterMs: 7000 },
    });
  });

  it('refuses to send the key over plain http to anything but loopback', () => {
    expect(() => new ConnectApi({ baseUrl: 'http://api.connect.example/public/v1', apiKey: key })).toThrow(ConnectCallError);
  });

  it('the control API takes faults as JSON and refuses anything else', async () => {
    const form = await fetch(`${standIn.origin}/_connect/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'kind=drop',
    });
    expect(form.status).toBe(415);
    const ok = await fetch(`${standIn.origin}/_connect/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ kind: 'reject', status: 404, count: 1 }),
    });
    expect(ok.status).toBe(204);
    const api = new ConnectApi({ baseUrl: standIn.url, apiKey: key });
    expect(await failureOf(api.setConfiguration(P1, parameter, MP, 'x'))).toMatchObject({ failureClass: 'rejected', connectCode: 'NFND_000' });
  });

  it("the tag fits Key Vault's 256 characters for twenty products in every state", () => {
    const products = Array.from({ length: 20 }, (_, i) => `PRD-${String(100 + i)}-000-000`);
    const states = products.map((product, i) => ({
      product,
      state: (['ok', 'pending', 'failed'] as const)[i % 3] as 'ok' | 'pending' | 'failed',
      code: `ERR_${i}`,
    }));
    const tag = encodeConnectTag(states);
    expect(tag.length).toBeLessThanOrEqual(256);
    const back = decodeConnectTag(tag);
    expect([...back.values()].map((p) => p.state)).toEqual(expect.arrayContaining(['ok', 'pending', 'failed']));
    expect(back.size).toBe(20);
  });
});
