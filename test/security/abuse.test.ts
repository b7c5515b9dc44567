/**
 * Abuse the service refuses (docs/SECURITY.md 6, 28, 29), through the real handlers served by the
 * local host, msal-node talking to the identity simulator, whose counter says whether the token
 * endpoint was asked. The bounds run with production numbers on a clock the test moves, so a
 * "minute later" takes no time; requests from other client addresses come from other loopback
 * addresses (127.0.0.2, …), which the host sees as other peers, exactly as App Service's front
 * end would.
 */
import { connect } from 'node:net';
import { resetSignInBounds, signInBounds } from '../../shared/guards/signInBounds';
import { resetSharedState } from '../../shared/storage/open';
import { request, tokenFromPage, type Step } from '../support/flow';
import { withStorageDown } from '../support/storage';
import { startWorld, unboundedSignIns, type World } from '../support/world';
import { header, headerProblems, htmlProblems } from './support/checks';
import { headingOf, originsOf, sealed, signInUntilCallback, storeSnapshot, tokenCalls } from './support/probe';
import { RawClient, type RawResponse } from './support/rawHttp';

const form = 'application/x-www-form-urlencoded';
const sameOrigin = { 'sec-fetch-site': 'same-origin', origin: 'null' };

let world: World;
let client: RawClient;
/** The bounds' clock; everything else runs on real time. */
let clockMs = Date.now();
const advance = (ms: number) => (clockMs += ms);
const others: RawClient[] = [];

/** A client at another address (127.0.0.n). */
function from(n: number): RawClient {
  const c = new RawClient(world.baseUrl, `127.0.0.${n}`);
  others.push(c);
  return c;
}

beforeAll(async () => {
  world = await startWorld({ store: 'keyvault', signInBounds: { now: () => clockMs } });
  client = new RawClient(world.baseUrl);
});

beforeEach(() => {
  // A fresh instance for each test: empty bounds, production numbers, the test's clock.
  resetSignInBounds({ now: () => clockMs });
});

afterAll(async () => {
  client?.close();
  for (const c of others) c.close();
  await world?.close();
});

const startBody = (marketplace = 'MP-00001') => new URLSearchParams({ marketplace }).toString();
const postStart = (c: RawClient = client, headers: Record<string, string> = {}, marketplace = 'MP-00001') =>
  c.send({ method: 'POST', path: '/api/start', headers: { 'content-type': form, ...sameOrigin, ...headers }, body: startBody(marketplace) });
const garbageCallback = (c: RawClient = client) => c.send({ path: '/api/callback?code=x&state=y' });

/** Everything a refusal by a bound must be: 429, Retry-After, a page saying when, the same headers, a logged reference, no redirect, no cookie. */
function expectRateLimited(r: RawResponse, retryAfterSeconds: number): void {
  expect({ status: r.status, retryAfter: header(r.headers, 'retry-after'), heading: headingOf(r.body) }).toEqual({
    status: 429,
    retryAfter: String(retryAfterSeconds),
    heading: 'Too many sign-in attempts',
  });
  expect(r.body).toContain(`Wait ${retryAfterSeconds} second${retryAfterSeconds === 1 ? '' : 's'}, then start again.`);
  expect(header(r.headers, 'location')).toBeUndefined();
  expect(r.headers['set-cookie']).toBeUndefined();
  const h = headerProblems(r.headers, { authority: world.simulator.url, https: false });
  expect(h.problems).toEqual([]);
  expect(htmlProblems(r.body, { origins: originsOf(world), ...(h.nonce ? { nonce: h.nonce } : {}) }).problems).toEqual([]);
  const id = header(r.headers, 'x-correlation-id') ?? '';
  expect(r.body).toContain(id);
  expect(world.logs.some((l) => l.message.includes(id) && l.message.includes('"code":"rate_limited"'))).toBe(true);
}

describe('sign-ins begun per client address (docs/SECURITY.md 29)', () => {
  it('ten may begin at once; the eleventh gets 429 with Retry-After and a page that says when, and no cookie', async () => {
    for (let i = 0; i < 10; i++) expect((await postStart()).status).toBe(303);
    expectRateLimited(await postStart(), 6);
  });

  it('a person is not locked out for long: one more after 6 s, all ten after a minute', async () => {
    for (let i = 0; i < 10; i++) await postStart();
    advance(3_000);
    expectRateLimited(await postStart(), 3);
    advance(3_000);
    expect((await postStart()).status).toBe(303);
    expect((await postStart()).status).toBe(429);
    advance(60_000);
    for (let i = 0; i < 10; i++) expect((await postStart()).status).toBe(303);
  });

  it('every submission counts, whatever it carries: unknown marketplaces cannot be enumerated for free', async () => {
    // Before: 2,000 unknown IDs in 4 s told which marketplaces exist. Now each costs one of ten.
    const answers: number[] = [];
    for (let i = 0; i < 12; i++) answers.push((await postStart(client, {}, `MP-${String(90000 + i)}`)).status);
    expect(answers).toEqual([...Array<number>(10).fill(404), 429, 429]);
    // Typos and cross-site posts count too (a minute later each time, so the overall bound is not what refuses).
    advance(60_000);
    const typo = from(2);
    for (let i = 0; i < 10; i++) expect((await postStart(typo, {}, 'mp-1')).status).toBe(400);
    expect((await postStart(typo)).status).toBe(429);
    advance(60_000);
    const crossSite = from(3);
    for (let i = 0; i < 10; i++) expect((await postStart(crossSite, { 'sec-fetch-site': 'cross-site' })).status).toBe(403);
    expect((await postStart(crossSite)).status).toBe(429);
  });

  it('a limited client gets the same answer whatever the ID: a configured, an unknown, a misconfigured or a malformed one', async () => {
    for (let i = 0; i < 10; i++) await postStart();
    const answers = [];
    for (const id of ['MP-00001', 'MP-00002', 'MP-99999', 'MP-12345678', 'mp-1', '']) {
      const r = await postStart(client, {}, id);
      answers.push({
        id,
        status: r.status,
        retryAfter: header(r.headers, 'retry-after'),
        heading: headingOf(r.body),
        length: r.body.replace(/[0-9a-f-]{36}/g, '').length,
      });
      expectRateLimited(r, 6);
    }
    // Byte for byte the same page but for its reference.
    expect(new Set(answers.map(({ status, retryAfter, heading, length }) => JSON.stringify({ status, retryAfter, heading, length }))).size).toBe(1);
  });

  it('a client cannot buy itself a new address with X-Forwarded-For; another client is not affected', async () => {
    for (let i = 0; i < 10; i++) await postStart();
    for (const forged of ['203.0.113.9', '198.51.100.1, 203.0.113.10:443', '[2001:db8::1]:80', 'unknown']) {
      expect((await postStart(client, { 'x-forwarded-for': forged })).status).toBe(429);
    }
    expect((await postStart(from(2))).status).toBe(303);
  });
});

describe('code redemptions: callbacks per client address and overall (docs/SECURITY.md 29)', () => {
  it("the issue's attack (a transaction, then a garbage code, over and over) reaches Entra ten times, then never", async () => {
    const before = tokenCalls(world);
    const statuses: number[] = [];
    for (let i = 0; i < 30; i++) {
      const { tx, cookie } = await sealed('MP-00001');
      const r = await client.send({
        path: `/api/callback?${new URLSearchParams({ code: `garbage-${i}`, state: tx.state }).toString()}`,
        headers: { cookie },
      });
      statuses.push(r.status);
    }
    expect(tokenCalls(world) - before).toBe(10);
    expect(statuses).toEqual([...Array<number>(10).fill(400), ...Array<number>(20).fill(429)]);
  });

  it('and through the start page too: at most ten transactions, at most ten token calls per address and minute', async () => {
    const before = tokenCalls(world);
    for (let i = 0; i < 25; i++) {
      const start = await postStart();
      const location = header(start.headers, 'location');
      const cookie = (start.headers['set-cookie'] ?? [])[0]?.split(';')[0];
      const state = location ? new URL(location).searchParams.get('state') : 'none';
      await client.send({
        path: `/api/callback?${new URLSearchParams({ code: `garbage-${i}`, state: state ?? '' }).toString()}`,
        headers: cookie ? { cookie } : {},
      });
    }
    expect(tokenCalls(world) - before).toBe(10);
  });

  it('a refused callback makes no token-endpoint call and keeps the cookie; the real admin completes the same sign-in 6 s later', async () => {
    for (let i = 0; i < 10; i++) expect((await garbageCallback()).status).toBe(400);
    const admin = await signInUntilCallback(world, 'MP-00001');
    const before = tokenCalls(world);
    const stored = storeSnapshot(world);
    const refused = await client.send({ path: `${admin.callback.pathname}${admin.callback.search}`, headers: { cookie: admin.cookie } });
    expectRateLimited(refused, 6);
    expect({ calls: tokenCalls(world) - before, storeChanged: storeSnapshot(world) !== stored }).toEqual({ calls: 0, storeChanged: false });

    advance(6_000);
    const done: Step = await request(admin.callback.toString(), { headers: { cookie: admin.cookie } });
    expect(done.status).toBe(200);
    const token = tokenFromPage(done.body);
    expect(token).toBeDefined();
    expect((await world.store.getToken('MP-00001', 'test'))?.value).toBe(token);
    expect(tokenCalls(world) - before).toBe(1);
  });

  it('overall: twenty at once from twenty addresses, then one a second for everyone', async () => {
    const statuses: number[] = [];
    for (let n = 2; n < 27; n++) statuses.push((await garbageCallback(from(n))).status);
    expect(statuses).toEqual([...Array<number>(20).fill(400), ...Array<number>(5).fill(429)]);
    const r = await garbageCallback(from(27));
    expectRateLimited(r, 1);
    advance(1_000);
    expect((await garbageCallback(from(28))).status).toBe(400);
    expect((await garbageCallback(from(29))).status).toBe(429);
  });

  it('fails closed when the table of client addresses is full (docs/SECURITY.md 28): a new address is refused, known ones are served', async () => {
    resetSignInBounds({ now: () => clockMs, bounds: { callback: { ...signInBounds.callback, maxClients: 3 } } });
    for (const n of [2, 3, 4]) expect((await garbageCallback(from(n))).status).toBe(400);
    const refused = await garbageCallback(from(5));
    expect(refused.status).toBe(429);
    expect(Number(header(refused.headers, 'retry-after'))).toBeGreaterThan(0);
    expect((await garbageCallback(from(2))).status).toBe(400);
    // A minute later the quiet addresses are forgotten, and the new one gets through.
    advance(61_000);
    expect((await garbageCallback(from(5))).status).toBe(400);
  });
});

describe('local mode (docs/SECURITY.md 6)', () => {
  it('POST /api/rotate refuses a cross-site post (JSON 403) and rotates nothing; tools and same-origin posts still work', async () => {
    resetSignInBounds(unboundedSignIns);
    const admin = await signInUntilCallback(world, 'MP-00001');
    expect((await request(admin.callback.toString(), { headers: { cookie: admin.cookie } })).status).toBe(200);
    const before = { store: storeSnapshot(world), calls: tokenCalls(world) };
    const forged: Record<string, string>[] = [
      { 'sec-fetch-site': 'cross-site' },
      { 'sec-fetch-site': 'same-site' },
      { origin: 'http://evil.example' },
      { 'sec-fetch-site': 'cross-site', origin: 'null', 'content-type': form },
    ];
    for (const headers of forged) {
      const r = await client.send({ method: 'POST', path: '/api/rotate?marketplace=MP-00001', headers });
      expect({ headers, status: r.status, type: header(r.headers, 'content-type'), body: JSON.parse(r.body) as { error?: string } }).toEqual({
        headers,
        status: 403,
        type: 'application/json; charset=utf-8',
        body: expect.objectContaining({ error: 'cross_site_request' }) as unknown,
      });
    }
    expect({ store: storeSnapshot(world), calls: tokenCalls(world) }).toEqual(before);
    // A tool (no browser headers) and the site's own page may still rotate.
    expect((await client.send({ method: 'POST', path: '/api/rotate?marketplace=MP-00001' })).status).toBe(200);
    expect(
      (await client.send({ method: 'POST', path: '/api/rotate?marketplace=MP-00001', headers: { 'sec-fetch-site': 'same-origin' } })).status,
    ).toBe(200);
  });

  it('a client that leaves mid-request is logged as what it is, not as an unhandled error or a failed generation', async () => {
    resetSignInBounds(unboundedSignIns);
    const port = Number(new URL(world.baseUrl).port);
    /** Sends `head` (and whatever follows), then closes the connection after `afterMs`. */
    const leave = (head: string, afterMs: number) =>
      new Promise<void>((resolve) => {
        const socket = connect(port, '127.0.0.1', () => {
          socket.write(head);
          setTimeout(() => {
            socket.destroy();
            resolve();
          }, afterMs);
        });
      });
    const logsFrom = world.logs.length;

    // Before the request is complete: a body announced, not sent.
    const early = await signInUntilCallback(world, 'MP-00001');
    await leave(
      `GET ${early.callback.pathname}${early.callback.search} HTTP/1.1\r\nHost: localhost:${port}\r\nCookie: ${early.cookie}\r\nContent-Length: 100\r\n\r\nabc`,
      50,
    );
    // While the callback works (Entra slow): the function finishes, the token is stored.
    const late = await signInUntilCallback(world, 'MP-00001');
    world.simulator.faults.apply({ kind: 'latency', ms: 300 });
    try {
      await leave(`GET ${late.callback.pathname}${late.callback.search} HTTP/1.1\r\nHost: localhost:${port}\r\nCookie: ${late.cookie}\r\n\r\n`, 50);
      const deadline = Date.now() + 5_000;
      while (!world.logs.slice(logsFrom).some((l) => l.message.includes('before the answer')) && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 20));
    } finally {
      world.simulator.faults.clear();
    }
    const lines = world.logs.slice(logsFrom);
    expect(lines.filter((l) => l.functionName === 'host').map((l) => `${l.level}: ${l.message}`)).toEqual([
      'information: client closed the connection before the whole request was sent; no function ran (GET /api/callback)',
      'information: client closed the connection before the answer (200) was sent; the function ran to the end (GET /api/callback)',
    ]);
    expect(lines.filter((l) => l.level === 'error' || /unhandled|TokenGenerationFailed/.test(l.message))).toEqual([]);
    expect(lines.some((l) => l.message.includes('"event":"TokenGenerated"'))).toBe(true);
  });

  it('the local host answers only its own names (DNS rebinding): any other Host gets a 421 page and reaches no function', async () => {
    const port = new URL(world.baseUrl).port;
    const before = { store: storeSnapshot(world), calls: tokenCalls(world), logs: world.logs.filter((l) => l.functionName !== 'host').length };
    for (const host of [
      'rebound.example',
      `rebound.example:${port}`,
      'localhost',
      `localhost:${Number(port) + 1}`,
      `localhost.rebound.example:${port}`,
      `127.0.0.1.nip.io:${port}`,
      `0.0.0.0:${port}`,
    ]) {
      for (const req of [
        { path: '/api/status' },
        { method: 'POST', path: '/api/rotate' },
        { method: 'POST', path: '/api/start', headers: { 'content-type': form, ...sameOrigin }, body: startBody() },
      ]) {
        const r = await client.send({ ...req, headers: { ...req.headers, host } });
        expect({ host, path: req.path, status: r.status, heading: headingOf(r.body) }).toEqual({
          host,
          path: req.path,
          status: 421,
          heading: 'Wrong address',
        });
        expect(r.body).not.toContain('rebound');
      }
    }
    // No function ran: nothing rotated, nothing logged by a function, no token call.
    expect({ store: storeSnapshot(world), calls: tokenCalls(world), logs: world.logs.filter((l) => l.functionName !== 'host').length }).toEqual(
      before,
    );
    expect((await client.send({ path: '/api/status', headers: { host: `localhost:${port}` } })).status).toBe(200);
  });
});

describe('the single-use record of each sign-in (docs/SECURITY.md 2, 28)', () => {
  beforeEach(() => {
    resetSignInBounds(unboundedSignIns);
  });

  it('is kept in the storage account, not in memory: a replay is refused on a freshly started instance, without a token call', async () => {
    const admin = await signInUntilCallback(world, 'MP-00001');
    const done = await request(admin.callback.toString(), { headers: { cookie: admin.cookie } });
    expect(done.status).toBe(200);
    // What a new instance knows: nothing in memory (its own Storage clients, no guards, no cache).
    resetSharedState();
    resetSignInBounds(unboundedSignIns);
    const before = tokenCalls(world);
    const replay = await request(admin.callback.toString(), { headers: { cookie: admin.cookie } });
    expect({ status: replay.status, calls: tokenCalls(world) - before }).toEqual({ status: 400, calls: 0 });
  });

  it('fails closed when Storage does not answer: 503 with Retry-After, no token call, and the same sign-in completes once Storage is back', async () => {
    const admin = await signInUntilCallback(world, 'MP-00001');
    const path = `${admin.callback.pathname}${admin.callback.search}`;
    const before = tokenCalls(world);
    await withStorageDown(async () => {
      for (let attempt = 0; attempt < 2; attempt++) {
        const r = await client.send({ path, headers: { cookie: admin.cookie } });
        expect({ status: r.status, heading: headingOf(r.body) }).toEqual({ status: 503, heading: 'Sign-ins cannot be completed right now' });
        const retryAfter = Number(header(r.headers, 'retry-after'));
        expect(retryAfter).toBeGreaterThan(0);
        expect(retryAfter).toBeLessThanOrEqual(600);
        expect(r.body).toMatch(/Try again in (\d+ seconds|\d+ minutes|a minute)/);
      }
    });
    expect(tokenCalls(world) - before).toBe(0);
    // Nothing was recorded while Storage was down, so the state was not spent.
    const r = await client.send({ path, headers: { cookie: admin.cookie } });
    expect(r.status).toBe(200);
  });
});
