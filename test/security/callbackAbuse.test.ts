/**
 * Callback abuse (docs/SECURITY.md 1, 2, 7): every way to bring the callback something that
 * is not the answer to this browser's own sign-in. Each case is refused with a 400 or 403 page,
 * the cookie is spent, nothing is stored, and the simulator's token-call counter proves whether
 * the token endpoint was asked: never when the service itself can tell, exactly once when only
 * Entra can (a code is opaque to the service). The cases run and passed go to
 * docs/security-figures.json.
 */
import { CompactEncrypt } from 'jose';
import { startHost } from '../../local/host';
import { startIdentitySimulator } from '../../local/identitySimulator';
import { resetSettingsCache } from '../../shared/settings';
import { transactionCookieName } from '../../shared/signIn/cookie';
import { maxSignInsInFlight } from '../../shared/signIn/browserBounds';
import { openTransaction, pkceChallenge, sealFinished, sealTransaction, stateKey, transactionKey } from '../../shared/signIn/transaction';
import { cpvClientId, cspClientId, tenants } from '../fixtures/config';
import { CookieJar, request, submitForm, type Step } from '../support/flow';
import { secrets, startWorld, tls, unboundedSignIns, type World } from '../support/world';
import { trackRun, writeFigures } from './support/figures';
import { authorizeFor, headingOf, sealed, signInUntilCallback, storeSnapshot, testKey, tokenCalls } from './support/probe';

const run = trackRun();
let world: World;
const cases: { name: string; category: string }[] = [];
const passed = new Set<string>();

/** One abuse case: recorded for the figures, counted as passed only when every assertion held. */
function abuse(category: 'state' | 'cookie' | 'code' | 'issuer' | 'tenant', name: string, fn: () => Promise<void>): void {
  cases.push({ name, category });
  run.it(`${category}: ${name}`, async () => {
    await fn();
    passed.add(name);
  });
}

const refusals = {
  missing: 'Sign-in session not found',
  setAside: 'This sign-in was set aside',
  expired: 'Sign-in took too long',
  unverified: 'Sign-in could not be verified',
  noToken: 'Microsoft did not issue a token',
  wrongAccount: 'Wrong Microsoft account',
};

type Attempt = Step & { calls: number; stored: boolean; state: string | null };

/** Runs a callback request and returns the answer with the token calls it caused and whether the store changed. */
async function attempt(url: URL | string, cookie?: string | string[]): Promise<Attempt> {
  const before = storeSnapshot(world);
  const callsBefore = tokenCalls(world);
  const headers: Record<string, string> = {};
  if (cookie !== undefined) headers.cookie = Array.isArray(cookie) ? cookie.join('; ') : cookie;
  const r = await request(url.toString(), { headers });
  return { ...r, calls: tokenCalls(world) - callsBefore, stored: storeSnapshot(world) !== before, state: new URL(url).searchParams.get('state') };
}

/**
 * What every refusal must be: the status, the reason shown, nothing stored, the token calls
 * allowed; and the browser's transaction spent, or (a callback that is not this browser's
 * sign-in: no cookie, another state) left alone (docs/SECURITY.md 36).
 */
function expectRefused(r: Attempt, o: { status?: 400 | 403; heading: string; calls: number; transaction?: 'spent' | 'left alone' }): void {
  expect({ status: r.status, heading: headingOf(r.body), calls: r.calls, stored: r.stored }).toEqual({
    status: o.status ?? 400,
    heading: o.heading,
    calls: o.calls,
    stored: false,
  });
  expect(r.location).toBeUndefined();
  if (o.transaction === 'left alone') expect(r.setCookies).toEqual([]);
  // Spent: only the cookie of the sign-in this callback answered, the one named after its state.
  else expect(r.setCookies).toEqual([`${transactionCookieName(stateKey(r.state ?? ''))}=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Lax`]);
}

function withParams(url: URL, change: (p: URLSearchParams) => void): URL {
  const u = new URL(url);
  change(u.searchParams);
  return u;
}

/**
 * Runs `use` against a callback host with its own fresh copy of every module: another instance
 * after scale-out or a restart. Async isolation, so modules loaded lazily during the request
 * (msal-node) come from the same fresh copy.
 */
async function onOtherInstance(use: (baseUrl: string) => Promise<void>): Promise<void> {
  await jest.isolateModulesAsync(async () => {
    require('../../functions/callback');
    const registrations = (require('../../local/functionsCore') as typeof import('../../local/functionsCore')).listRegistrations();
    const host = await startHost({ port: 0, registrations, log: () => undefined });
    try {
      await use(host.url);
    } finally {
      await host.close();
    }
  });
}

function onHost(url: URL, base: string): URL {
  return new URL(`${url.pathname}${url.search}`, base);
}

beforeAll(async () => {
  world = await startWorld({ store: 'keyvault', signInBounds: unboundedSignIns });
});

afterAll(async () => {
  await world?.close();
  const byCategory: Record<string, { run: number; passed: number }> = {};
  for (const c of cases) {
    const row = (byCategory[c.category] ??= { run: 0, passed: 0 });
    row.run++;
    if (passed.has(c.name)) row.passed++;
  }
  if (run.complete())
    writeFigures('callbackAbuse', {
      test: 'test/security/callbackAbuse.test.ts',
      run: cases.length,
      passed: passed.size,
      byCategory,
      cases: cases.map((c) => ({ category: c.category, case: c.name, passed: passed.has(c.name) })),
    });
});

describe('state (docs/SECURITY.md 2)', () => {
  abuse('state', 'missing state', async () => {
    const s = await signInUntilCallback(world, 'MP-00001');
    expectRefused(
      await attempt(
        withParams(s.callback, (p) => p.delete('state')),
        s.cookie,
      ),
      { heading: refusals.unverified, calls: 0, transaction: 'left alone' },
    );
    expect((await attempt(s.callback, s.cookie)).status).toBe(200);
  });

  abuse('state', 'a stray link (/api/callback?state=x from any site) during a sign-in: refused, and the real return still completes', async () => {
    const s = await signInUntilCallback(world, 'MP-00001');
    const stray = new URL('/api/callback?state=x', s.callback);
    expectRefused(await attempt(stray, s.cookie), { heading: refusals.unverified, calls: 0, transaction: 'left alone' });
    expectRefused(await attempt(new URL('/api/callback?error=access_denied&state=x', s.callback), s.cookie), {
      heading: refusals.unverified,
      calls: 0,
      transaction: 'left alone',
    });
    expect((await attempt(s.callback, s.cookie)).status).toBe(200);
  });

  abuse('state', 'mismatched state (the state of another sign-in)', async () => {
    const a = await signInUntilCallback(world, 'MP-00001');
    const b = await signInUntilCallback(world, 'MP-00001');
    expectRefused(
      await attempt(
        withParams(a.callback, (p) => p.set('state', b.callback.searchParams.get('state') ?? '')),
        a.cookie,
      ),
      { heading: refusals.unverified, calls: 0, transaction: 'left alone' },
    );
  });

  abuse('state', 'forged state first, real state second (parameter pollution)', async () => {
    const s = await signInUntilCallback(world, 'MP-00001');
    const real = s.callback.searchParams.get('state') ?? '';
    const url = withParams(s.callback, (p) => {
      p.delete('state');
      p.append('state', 'forged-state-value-0000000000000000000000');
      p.append('state', real);
    });
    expectRefused(await attempt(url, s.cookie), { heading: refusals.unverified, calls: 0, transaction: 'left alone' });
  });

  abuse('state', 'reused state: the same callback again, with a copy of the spent cookie', async () => {
    const s = await signInUntilCallback(world, 'MP-00001');
    const first = await attempt(s.callback, s.cookie);
    expect(first.status).toBe(200);
    expectRefused(await attempt(s.callback, s.cookie), { heading: refusals.unverified, calls: 0 });
  });

  abuse('state', 'expired: a transaction older than 10 minutes, with a real code for it', async () => {
    const { tx, cookie } = await sealed('MP-00001', { createdAt: Date.now() - 601_000 });
    const callback = await authorizeFor(world, tx, { tenant: tenants.csp, clientId: cspClientId });
    expectRefused(await attempt(callback, cookie), { heading: refusals.expired, calls: 0 });
    // Control: the same, 9 min 50 s old, completes; so the age is what refused the first.
    const fresh = await sealed('MP-00001', { createdAt: Date.now() - 590_000 });
    const ok = await attempt(await authorizeFor(world, fresh.tx, { tenant: tenants.csp, clientId: cspClientId }), fresh.cookie);
    expect(ok.status).toBe(200);
  });

  abuse('state', 'created in the future (clock games beyond one minute of skew)', async () => {
    const { tx, cookie } = await sealed('MP-00001', { createdAt: Date.now() + 5 * 60_000 });
    const callback = await authorizeFor(world, tx, { tenant: tenants.csp, clientId: cspClientId });
    expectRefused(await attempt(callback, cookie), { heading: refusals.expired, calls: 0 });
  });

  abuse('state', 'state carries ≥ 128 bits and is never repeated', async () => {
    const states = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const r = await request(world.startUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin' },
        body: 'marketplace=MP-00001',
      });
      const state = new URL(r.location ?? '').searchParams.get('state') ?? '';
      expect(Buffer.from(state, 'base64url').length).toBeGreaterThanOrEqual(16);
      states.add(state);
    }
    expect(states.size).toBe(20);
  });
});

describe('the transaction cookie (docs/SECURITY.md 2, 3)', () => {
  abuse('cookie', 'no cookie (cookies blocked, or a link opened elsewhere)', async () => {
    const s = await signInUntilCallback(world, 'MP-00001');
    expectRefused(await attempt(s.callback), { heading: refusals.missing, calls: 0, transaction: 'left alone' });
  });

  abuse('cookie', 'a cookie from another browser (two sign-ins, cookies swapped)', async () => {
    const a = await signInUntilCallback(world, 'MP-00001');
    const b = await signInUntilCallback(world, 'MP-00001');
    expectRefused(await attempt(a.callback, b.cookie), { heading: refusals.unverified, calls: 0, transaction: 'left alone' });
    expectRefused(await attempt(b.callback, a.cookie), { heading: refusals.unverified, calls: 0, transaction: 'left alone' });
    // Control: each browser's own answer still completes.
    expect((await attempt(a.callback, a.cookie)).status).toBe(200);
  });

  abuse('cookie', 'tampered: one character changed in each of the five JWE parts', async () => {
    const s = await signInUntilCallback(world, 'MP-00001');
    const parts = s.cookieValue.split('.');
    expect(parts).toHaveLength(5);
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i] ?? '';
      const flipped = parts.map((q, j) => (j === i ? (p.length === 0 ? 'A' : `${p[0] === 'A' ? 'B' : 'A'}${p.slice(1)}`) : q)).join('.');
      expectRefused(await attempt(s.callback, `${s.cookieName}=${flipped}`), { heading: refusals.unverified, calls: 0 });
    }
  });

  abuse('cookie', 'truncated: cut short, or a part missing', async () => {
    const s = await signInUntilCallback(world, 'MP-00001');
    const v = s.cookieValue;
    const parts = v.split('.');
    const variants = [
      v.slice(0, 1),
      v.slice(0, 10),
      v.slice(0, 100),
      v.slice(0, -1),
      v.slice(0, -10),
      ...parts.map((_, i) => parts.filter((__, j) => j !== i).join('.')),
    ];
    for (const t of variants) expectRefused(await attempt(s.callback, `${s.cookieName}=${t}`), { heading: refusals.unverified, calls: 0 });
  });

  abuse('cookie', 'oversized: a genuinely sealed transaction over the size limit, and a valid one padded', async () => {
    const { tx, value, cookie } = await sealed('MP-00001', { marketplace: `MP-00001${' '.repeat(900)}` });
    expect(value.length).toBeGreaterThan(1024);
    const callback = await authorizeFor(world, tx, { tenant: tenants.csp, clientId: cspClientId });
    expectRefused(await attempt(callback, cookie), { heading: refusals.unverified, calls: 0 });
    const s = await signInUntilCallback(world, 'MP-00001');
    expectRefused(await attempt(s.callback, `${s.cookie}${'A'.repeat(4096)}`), { heading: refusals.unverified, calls: 0 });
  });

  abuse('cookie', 'duplicated: two copies of the same valid cookie', async () => {
    const s = await signInUntilCallback(world, 'MP-00001');
    expectRefused(await attempt(s.callback, [s.cookie, s.cookie]), { heading: refusals.unverified, calls: 0 });
  });

  abuse('cookie', 'sealed with another key', async () => {
    const s = await signInUntilCallback(world, 'MP-00001');
    const opened = await openTransaction(s.cookieValue, testKey());
    if (!opened.ok) throw new Error('the test could not open its own cookie');
    const forged = await sealTransaction(opened.transaction, transactionKey('an-attacker-chosen-key-'.padEnd(48, 'x')));
    expectRefused(await attempt(s.callback, `${s.cookieName}=${forged}`), { heading: refusals.unverified, calls: 0 });
  });

  abuse('cookie', 'sealed for the other environment (a production transaction at the test deployment)', async () => {
    const { tx, cookie } = await sealed('MP-00001', {}, 'production');
    const callback = await authorizeFor(world, tx, { tenant: tenants.csp, clientId: cspClientId });
    expectRefused(await attempt(callback, cookie), { heading: refusals.unverified, calls: 0 });
  });

  abuse('cookie', 'another algorithm: A128GCM with half the key, and an unencrypted token', async () => {
    const s = await signInUntilCallback(world, 'MP-00001');
    const opened = await openTransaction(s.cookieValue, testKey());
    if (!opened.ok) throw new Error('the test could not open its own cookie');
    const plaintext = new TextEncoder().encode(JSON.stringify(opened.transaction));
    const weaker = await new CompactEncrypt(plaintext).setProtectedHeader({ alg: 'dir', enc: 'A128GCM' }).encrypt(testKey().slice(0, 16));
    const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(plaintext).toString('base64url')}.`;
    for (const v of [weaker, none]) expectRefused(await attempt(s.callback, `${s.cookieName}=${v}`), { heading: refusals.unverified, calls: 0 });
  });

  /** POST /api/start from the browser whose cookies are `cookie`, then Sign in at the simulator: the callback URL and the start's answer. */
  async function startAndSignIn(cookie: string): Promise<{ start: Step; callback: URL }> {
    const start = await request(world.startUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin', cookie },
      body: 'marketplace=MP-00001',
    });
    if (start.status !== 303 || !start.location) throw new Error(`start answered ${start.status}`);
    const page = await request(start.location);
    const signedIn = await submitForm(start.location, page.body, 'Sign in');
    return { start, callback: new URL(signedIn.location ?? '') };
  }

  abuse(
    'cookie',
    `too many sign-ins in one browser: the ${maxSignInsInFlight + 1}th sets the oldest aside, whose return says exactly that and touches nothing; the others still finish`,
    async () => {
      const jar = new CookieJar();
      const tabs: URL[] = [];
      for (let i = 0; i <= maxSignInsInFlight; i++) {
        const { start, callback } = await startAndSignIn(jar.header());
        jar.take(start.setCookies);
        tabs.push(callback);
      }
      expect(jar.names().filter((n) => n.startsWith('__Host-ms-auth-tx-'))).toHaveLength(maxSignInsInFlight);
      expect(jar.names()).toContain('__Host-ms-auth-evicted');
      expectRefused(await attempt(tabs[0]!, jar.header()), { heading: refusals.setAside, calls: 0, transaction: 'left alone' });
      // The others finish, in any order: newest first here.
      for (const tab of tabs.slice(1).reverse()) {
        const r = await attempt(tab, jar.header());
        expect({ status: r.status, calls: r.calls }).toEqual({ status: 200, calls: 1 });
        jar.take(r.setCookies);
      }
    },
  );

  abuse(
    'cookie',
    'too many cookies: 60 crafted sign-in cookies beside the real one; the start opens at most 20, and the callback still finds its own',
    async () => {
      const junk = Array.from({ length: 60 }, (_, i) => `${transactionCookieName(stateKey(`junk-${i}`))}=${'A'.repeat(40)}`).join('; ');
      const { start, callback } = await startAndSignIn(junk);
      // Its own cookie, and the unreadable ones it opened cleared: never all sixty.
      expect(start.setCookies.length).toBeLessThanOrEqual(21);
      expect(start.setCookies.filter((c) => !/Max-Age=0/.test(c))).toHaveLength(1);
      const own = start.setCookies.find((c) => !/Max-Age=0/.test(c))?.split(';')[0] ?? '';
      const r = await attempt(callback, `${junk}; ${own}`);
      expect({ status: r.status, calls: r.calls }).toEqual({ status: 200, calls: 1 });
    },
  );

  abuse(
    'cookie',
    "a finished sign-in's record: genuine, it says the sign-in finished (200, no token, nothing spent); tampered, moved under another sign-in's name or of the other environment, it is refused",
    async () => {
      const a = await signInUntilCallback(world, 'MP-00001');
      const done = await attempt(a.callback, a.cookie);
      expect(done.status).toBe(200);
      const record = /=([^;]*)/.exec(done.setCookies[0] ?? '')?.[1] ?? '';
      const again = await attempt(a.callback, `${a.cookieName}=${record}`);
      expect({ status: again.status, heading: headingOf(again.body), calls: again.calls, setCookies: again.setCookies }).toEqual({
        status: 200,
        heading: 'This sign-in already finished',
        calls: 0,
        setCookies: [],
      });
      const parts = record.split('.');
      const tampered = parts.map((p, i) => (i === 3 ? `${p[0] === 'A' ? 'B' : 'A'}${p.slice(1)}` : p)).join('.');
      expectRefused(await attempt(a.callback, `${a.cookieName}=${tampered}`), { heading: refusals.unverified, calls: 0 });
      const b = await signInUntilCallback(world, 'MP-00001');
      expectRefused(await attempt(b.callback, `${b.cookieName}=${record}`), { heading: refusals.unverified, calls: 0 });
      const key = stateKey(a.callback.searchParams.get('state') ?? '');
      const production = await sealFinished(
        { purpose: 'finished', key, marketplace: 'MP-00001', environment: 'production', finishedAt: Date.now() },
        testKey(),
      );
      expectRefused(await attempt(a.callback, `${a.cookieName}=${production}`), { heading: refusals.unverified, calls: 0 });
    },
  );

  abuse('cookie', 'the cookie is __Host-, Secure, HttpOnly, SameSite=Lax, Path=/, 10 minutes, and the verifier is not readable in it', async () => {
    const r = await request(world.startUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin' },
      body: 'marketplace=MP-00001',
    });
    expect(r.setCookies).toHaveLength(1);
    const state = new URL(r.location ?? '').searchParams.get('state') ?? '';
    // Named after its state: another sign-in in another tab has a cookie of its own.
    expect(r.setCookies[0]).toMatch(
      new RegExp(`^__Host-ms-auth-tx-${stateKey(state)}=[A-Za-z0-9_.-]+; Path=/; Max-Age=600; Secure; HttpOnly; SameSite=Lax$`),
    );
    expect(r.setCookies[0]).not.toMatch(/Domain=/i);
    const value = (r.setCookies[0] ?? '').split(';')[0]?.split('=')[1] ?? '';
    const opened = await openTransaction(value, testKey());
    if (!opened.ok) throw new Error('the test could not open the cookie');
    // docs/SECURITY.md 1: the verifier (≥ 32 random bytes) never travels in clear; the URL has only its S256 challenge.
    expect(Buffer.from(opened.transaction.verifier, 'base64url').length).toBeGreaterThanOrEqual(32);
    const authorize = new URL(r.location ?? '');
    expect(authorize.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authorize.searchParams.get('code_challenge')).toBe(pkceChallenge(opened.transaction.verifier));
    expect(r.location).not.toContain(opened.transaction.verifier);
    const decoded = value
      .split('.')
      .map((p) => Buffer.from(p, 'base64url').toString('latin1'))
      .join('|');
    expect(decoded).not.toContain(opened.transaction.verifier);
  });
});

describe('the authorization code (docs/SECURITY.md 1)', () => {
  abuse('code', 'replayed code at the same instance (callback URL and cookie copied)', async () => {
    const s = await signInUntilCallback(world, 'MP-00001');
    expect((await attempt(s.callback, s.cookie)).status).toBe(200);
    const latest = await world.store.getToken('MP-00001', 'test');
    expectRefused(await attempt(s.callback, s.cookie), { heading: refusals.unverified, calls: 0 });
    expect((await world.store.getToken('MP-00001', 'test'))?.version).toBe(latest?.version);
  });

  abuse(
    'code',
    'replayed code at another instance (its own memory, the same storage account): refused by the shared single-use record, without a token call',
    async () => {
      const s = await signInUntilCallback(world, 'MP-00001');
      expect((await attempt(s.callback, s.cookie)).status).toBe(200);
      const latest = await world.store.getToken('MP-00001', 'test');
      // The state's single-use record lives in the app's storage account, not in one instance's memory.
      await onOtherInstance(async (other) =>
        expectRefused(await attempt(onHost(s.callback, other), s.cookie), { heading: refusals.unverified, calls: 0 }),
      );
      expect((await world.store.getToken('MP-00001', 'test'))?.version).toBe(latest?.version);
    },
  );

  abuse('code', "code injection: a code redeemed with another sign-in's verifier (PKCE)", async () => {
    const victim = await signInUntilCallback(world, 'MP-00001');
    const attacker = await signInUntilCallback(world, 'MP-00001');
    // The attacker's own state and cookie, with the victim's code: only PKCE can tell.
    const injected = withParams(attacker.callback, (p) => p.set('code', victim.callback.searchParams.get('code') ?? ''));
    expectRefused(await attempt(injected, attacker.cookie), { heading: refusals.noToken, calls: 1 });
    expect(world.simulator.stats.tokenErrors.invalid_grant).toBeGreaterThanOrEqual(1);
  });

  abuse('code', 'missing or malformed code never reaches Entra', async () => {
    for (const change of [
      (p: URLSearchParams) => p.delete('code'),
      (p: URLSearchParams) => p.set('code', ''),
      (p: URLSearchParams) => p.set('code', 'a b'),
      (p: URLSearchParams) => p.set('code', 'x'.repeat(5000)),
    ]) {
      const s = await signInUntilCallback(world, 'MP-00001');
      expectRefused(await attempt(withParams(s.callback, change), s.cookie), { heading: refusals.unverified, calls: 0 });
    }
  });

  abuse('code', 'an error answer never reaches Entra (error=access_denied with a code)', async () => {
    const s = await signInUntilCallback(world, 'MP-00001');
    const url = withParams(s.callback, (p) => {
      p.set('error', 'access_denied');
      p.set('error_description', 'AADSTS65004: User declined to consent <script>alert(1)</script>');
    });
    const r = await attempt(url, s.cookie);
    expectRefused(r, { heading: 'Sign-in was not completed', calls: 0 });
    expect(r.body).not.toContain('AADSTS65004');
  });
});

describe('issuer and tenant (docs/SECURITY.md 7)', () => {
  abuse('issuer', 'mix-up: the id token was issued by another authority than the configured one', async () => {
    const s = await signInUntilCallback(world, 'MP-00001');
    // The same Entra under another name: tokens say https://localhost:PORT, the service is configured for https://127.0.0.1:PORT.
    const configured = process.env.AUTHORITY_HOST ?? '';
    process.env.AUTHORITY_HOST = configured.replace('//localhost:', '//127.0.0.1:');
    resetSettingsCache();
    try {
      expectRefused(await attempt(s.callback, s.cookie), { heading: refusals.unverified, calls: 1 });
    } finally {
      process.env.AUTHORITY_HOST = configured;
      resetSettingsCache();
    }
  });

  abuse('issuer', 'a code minted by another Entra (a second identity simulator) is refused by the configured one', async () => {
    const rogue = await startIdentitySimulator({
      port: 0,
      tls: tls(),
      clients: [{ clientId: cspClientId, clientSecret: secrets.csp, redirectUris: [world.callbackUrl], multiTenant: false }],
    });
    try {
      const { tx, cookie } = await sealed('MP-00001');
      const foreign = await authorizeFor({ ...world, simulator: rogue }, tx, { tenant: tenants.csp, clientId: cspClientId });
      expect(rogue.stats.codesIssued).toBe(1);
      expectRefused(await attempt(foreign, cookie), { heading: refusals.noToken, calls: 1 });
      expect(rogue.stats.tokenCalls.total).toBe(0);
    } finally {
      await rogue.close();
    }
  });

  abuse('tenant', 'an id token from another tenant: refused, and the existing token stays the latest version', async () => {
    const first = await signInUntilCallback(world, 'MP-00001');
    expect((await attempt(first.callback, first.cookie)).status).toBe(200);
    const latest = await world.store.getToken('MP-00001', 'test');
    world.simulator.faults.apply({ kind: 'idTokenTenantOverride', tenant: tenants.other });
    const s = await signInUntilCallback(world, 'MP-00001');
    const r = await attempt(s.callback, s.cookie);
    expectRefused(r, { status: 403, heading: refusals.wrongAccount, calls: 1 });
    expect(r.body).toContain('No token was stored');
    expect((await world.store.getToken('MP-00001', 'test'))?.version).toBe(latest?.version);
  });

  abuse('tenant', 'CPV: an id token from another tenant cannot set the CPV marketplace either', async () => {
    world.simulator.grantConsent(cpvClientId, tenants.cpv);
    world.simulator.faults.apply({ kind: 'idTokenTenantOverride', tenant: tenants.other });
    const s = await signInUntilCallback(world, 'MP-00002');
    expectRefused(await attempt(s.callback, s.cookie), { status: 403, heading: refusals.wrongAccount, calls: 1 });
    expect(await world.store.getToken('MP-00002', 'test')).toBeUndefined();
  });
});
