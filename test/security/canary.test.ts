/**
 * Secrets never leak (docs/SECURITY.md 12, 14): every flow runs with known canary values
 * (client secrets, a CSP app's certificate and private key, the cookie key, a Connect API key,
 * and every refresh token, authorization code, PKCE verifier, transaction cookie and
 * managed-identity assertion the run produces), then every log line, console line, response
 * header and body (except the one token page showing its own token, and the Set-Cookie carrying
 * its own cookie), redirect URL, exception message, Key Vault tag and message to a marketplace's
 * contacts (the Communication Services Email stand-in's outbox, docs/SECURITY.md 35) is searched
 * for each of them. Zero hits; and no message carries a correlation, trace or operation id.
 */
import { readdirSync, readFileSync } from 'node:fs';
import selfsigned from 'selfsigned';
import { join } from 'node:path';
import { resetSignInBounds } from '../../shared/guards/signInBounds';
import { resetSettingsCache } from '../../shared/settings';
import { transactionCookiePrefix } from '../../shared/signIn/cookie';
import { openRecord } from '../../shared/signIn/transaction';
import type { AppCredentials } from '../../shared/identity/credentials';
import { redeemCode, redeemRefreshToken } from '../../shared/identity/msal';
import { AppError } from '../../shared/errors';
import { cpvClientId, cspClientId, cspEntry, tenants } from '../fixtures/config';
import { cookieHeader, request, signIn, submitForm, tokenFromPage } from '../support/flow';
import { withStorageDown } from '../support/storage';
import { secrets, startWorld, unboundedSignIns, type World } from '../support/world';
import { trackRun, writeFigures } from './support/figures';
import { signInUntilCallback, testKey } from './support/probe';

const shortKeyCanary = 'short-cookie-key-CANARY-91';

/**
 * Client secrets an operator pasted where a Key Vault secret name belongs, in shapes a character
 * set does not give away: lowercase letters and digits, hex, and split by dashes.
 */
const pastedSecrets = {
  lowercase: 'q8m2x7kd4w9fj3ta6zc1rn5vb0hy8ep2s7gu4lk9',
  hex: '9f3c2a7e81bd4e0f9a6cd25b7e10f4a8c3e91b07',
  dashed: 'k7q2-x9m4-b2c8-w5n1-t3z6-r8f0-h4j7-p1v9-d6s3',
};
/** MP-00004: a CSP entry naming pasted secrets instead of their names. */
const pastedMarketplace = 'MP-00004';

/** MP-00003: a CSP app that proves itself with a certificate from Key Vault, in a tenant of its own. */
const certMarketplace = 'MP-00003';
const certTenant = '55555555-5555-4555-8555-555555555555';
const certClientId = '66666666-6666-4666-8666-666666666666';

const run = trackRun();
let world: World;

/** Everything the service said, as text, with what each piece may legitimately contain. */
interface Output {
  where: string;
  text: string;
  /** Canary values this output may contain (the token page's own token, the Set-Cookie's own cookie). */
  allowed: Set<string>;
}
const outputs: Output[] = [];
const consoleLines: string[] = [];
const exceptions: string[] = [];

/** Canary values by kind, filled as the flows produce them. */
const canaries = {
  clientSecret: new Set<string>([secrets.cpv, secrets.csp, ...Object.values(pastedSecrets)]),
  cookieKey: new Set<string>([shortKeyCanary]),
  apiKey: new Set<string>(),
  refreshToken: new Set<string>(),
  code: new Set<string>(),
  verifier: new Set<string>(),
  cookie: new Set<string>(),
  /** The sealed records that replace a sign-in's transaction once its token is stored (nothing secret inside, but sealed). */
  finishedRecord: new Set<string>(),
  /** The managed-identity tokens the CPV app presented as its client assertion. */
  assertion: new Set<string>(),
  /** The certificate's secret, in its two parts: the private key and the certificate. */
  privateKey: new Set<string>(),
  certificate: new Set<string>(),
};

const realFetch = globalThis.fetch;

/** Records every answer of the service (not the simulator's) and the codes and cookies it is handed. */
async function recordingFetch(input: string | URL | Request, init?: RequestInit): Promise<Response> {
  const url = typeof input === 'string' ? input : input instanceof URL ? input.toString() : input.url;
  const response = await realFetch(input, init);
  if (!url.startsWith(world.baseUrl)) return response;
  const target = new URL(url);
  const code = target.searchParams.get('code');
  if (code) canaries.code.add(code);
  const body = await response.clone().text();
  const setCookies = response.headers.getSetCookie();
  const allowed = new Set<string>();
  for (const sc of setCookies) {
    const pair = sc.split(';')[0] ?? '';
    const value = pair.startsWith(transactionCookiePrefix) ? pair.slice(pair.indexOf('=') + 1) : '';
    if (value) {
      allowed.add(value);
      // A transaction (its verifier a canary too), or the sealed record that a sign-in finished: both searched for everywhere.
      const opened = await openRecord(value, testKey());
      if (opened.ok && opened.kind === 'transaction') {
        canaries.cookie.add(value);
        canaries.verifier.add(opened.transaction.verifier);
      } else canaries.finishedRecord.add(value);
    }
  }
  const shownToken = tokenFromPage(body);
  if (shownToken) canaries.refreshToken.add(shownToken);
  const where = `${init?.method ?? 'GET'} ${target.pathname} → ${response.status}`;
  const headerLines: string[] = [];
  response.headers.forEach((value, name) => {
    if (name !== 'set-cookie') headerLines.push(`${name}: ${value}`);
  });
  outputs.push({ where: `${where} headers`, text: headerLines.join('\n'), allowed: new Set() });
  outputs.push({ where: `${where} Set-Cookie`, text: setCookies.join('\n'), allowed });
  const location = response.headers.get('location');
  if (location) outputs.push({ where: `${where} Location`, text: location, allowed: new Set() });
  outputs.push({ where: `${where} body`, text: body, allowed: shownToken ? new Set([shownToken]) : new Set() });
  return response;
}

function recordException(where: string, err: unknown): void {
  const e = err instanceof Error ? err : new Error(String(err));
  exceptions.push(`${where}: ${e.name}: ${e.message}\n${e.stack ?? ''}\n${err instanceof AppError ? JSON.stringify(err.diagnosis()) : ''}`);
}

/** Every stored version of every secret: refresh tokens are canaries; tags must not contain any. */
function harvestVault(): void {
  const vault = world.vault;
  if (!vault) throw new Error('needs the Key Vault fake');
  for (const name of vault.secretNames()) {
    for (const v of vault.versions(name)) {
      if (name.startsWith('refresh-token-')) canaries.refreshToken.add(v.value);
    }
  }
  for (const assertion of world.assertions) canaries.assertion.add(assertion);
}

const post = (path: string, body?: string, headers: Record<string, string> = {}) =>
  request(`${world.baseUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin', ...headers },
    ...(body !== undefined ? { body } : {}),
  });

beforeAll(async () => {
  // The Connect push on, so the Connect API key is read and used by generate and rotate.
  world = await startWorld({
    store: 'keyvault',
    signInBounds: unboundedSignIns,
    connect: { products: { 'MP-00001': ['PRD-111-111-111'], 'MP-00002': ['PRD-222-222-222'] } },
    // Messages to contacts on: the revoked token below is told to MP-00001's admin.
    email: {
      contacts: {
        'MP-00001': ['admin@canary-csp.example.com'],
        'MP-00002': ['admin@canary-cpv.example.com'],
        [certMarketplace]: ['admin@canary-cert.example.com'],
      },
    },
    marketplaces: (callbackUrl) => {
      const {
        partner_client_secret_test: _t,
        partner_client_secret_production: _p,
        ...entry
      } = cspEntry(certMarketplace, callbackUrl, certTenant, {
        partner_client_id_test: certClientId,
        partner_client_id_production: certClientId,
      });
      return [
        { ...entry, partner_client_certificate_test: 'partner-cert-MP-00003', partner_client_certificate_production: 'partner-cert-MP-00003' },
        cspEntry(pastedMarketplace, callbackUrl, tenants.csp, {
          partner_client_secret_test: pastedSecrets.hex,
          partner_client_secret_production: pastedSecrets.dashed,
        }),
      ];
    },
  });
  const cert = await selfsigned.generate([{ name: 'commonName', value: 'canary app' }], { keyType: 'rsa', keySize: 2048 });
  canaries.privateKey.add(cert.private);
  canaries.certificate.add(cert.cert);
  world.simulator.registerClient({ clientId: certClientId, redirectUris: [world.callbackUrl], multiTenant: false, certificates: [cert.cert] });
  world.vault?.seedCertificate('partner-cert-MP-00003', { certificate: cert.cert, privateKey: cert.private });
  canaries.cookieKey.add(process.env.TRANSACTION_COOKIE_KEY ?? '');
  canaries.apiKey.add(world.connectApiKey ?? '');
  globalThis.fetch = recordingFetch as typeof fetch;
  for (const level of ['log', 'info', 'warn', 'error', 'debug'] as const) {
    jest.spyOn(console, level).mockImplementation((...args: unknown[]) => {
      consoleLines.push(args.map(String).join(' '));
    });
  }
});

afterAll(async () => {
  globalThis.fetch = realFetch;
  jest.restoreAllMocks();
  await world?.close();
});

describe('a canary run through every flow (docs/SECURITY.md 12)', () => {
  run.it('generate (CSP)', async () => {
    const r = await signIn(world, 'MP-00001');
    expect(r.callback.status).toBe(200);
  });

  run.it('consent and generate (CPV)', async () => {
    const first = await signIn(world, 'MP-00002');
    expect(first.callback.status).toBe(403);
    const link = /id="admin-consent" href="([^"]+)"/.exec(first.callback.body)?.[1]?.replace(/&amp;/g, '&') ?? '';
    const page = await request(link);
    const accepted = await submitForm(link, page.body, 'Accept');
    expect((await request(accepted.location ?? '', { headers: { cookie: cookieHeader(first.callback.setCookies) } })).status).toBe(200);
    expect((await signIn(world, 'MP-00002')).callback.status).toBe(200);
  });

  run.it('generate and rotate (CSP with a certificate), and its certificate refused', async () => {
    expect((await signIn(world, certMarketplace)).callback.status).toBe(200);
    expect((await post(`/api/rotate?marketplace=${certMarketplace}`)).status).toBe(200);
    world.simulator.faults.apply({ kind: 'invalidClient', clientId: certClientId, reason: 'certificateExpired' });
    expect((await signIn(world, certMarketplace)).callback.status).toBe(502);
    expect((await post(`/api/rotate?marketplace=${certMarketplace}`)).status).toBe(200);
    world.simulator.faults.clear();
    harvestVault();
  });

  run.it('the CPV assertion refused (no matching federated credential), at sign-in and rotation', async () => {
    world.simulator.faults.apply({ kind: 'invalidClient', clientId: cpvClientId, reason: 'noMatchingFederatedCredential' });
    expect((await signIn(world, 'MP-00002')).callback.status).toBe(502);
    expect((await post('/api/rotate?marketplace=MP-00002')).status).toBe(200);
    world.simulator.faults.clear();
    harvestVault();
  });

  run.it('status, HTML and JSON', async () => {
    expect((await request(`${world.baseUrl}/api/status`)).status).toBe(200);
    expect((await request(`${world.baseUrl}/api/status?format=json`)).status).toBe(200);
  });

  run.it('rotate now (all, then one), and the timer', async () => {
    harvestVault();
    expect((await post('/api/rotate')).status).toBe(200);
    expect((await post('/api/rotate?marketplace=MP-00001')).status).toBe(200);
    await world.host.invokeTimer('rotate').catch((err: unknown) => recordException('timer', err));
    harvestVault();
  });

  run.it('every sign-in error: crossed state, tampered cookie, injected code, wrong tenant, Entra down or refusing, store failing', async () => {
    // Crossed state and a tampered cookie.
    const a = await signInUntilCallback(world, 'MP-00001');
    const b = await signInUntilCallback(world, 'MP-00001');
    expect((await request(a.callback.toString(), { headers: { cookie: b.cookie } })).status).toBe(400);
    expect((await request(a.callback.toString(), { headers: { cookie: `${a.cookie.slice(0, -3)}xyz` } })).status).toBe(400);
    // The victim's code with the attacker's transaction: Entra refuses the verifier.
    const injected = new URL(b.callback);
    injected.searchParams.set('code', a.callback.searchParams.get('code') ?? '');
    expect((await request(injected.toString(), { headers: { cookie: b.cookie } })).status).toBe(400);
    // Another tenant's account.
    world.simulator.faults.apply({ kind: 'idTokenTenantOverride', tenant: tenants.other });
    expect((await signIn(world, 'MP-00001')).callback.status).toBe(403);
    // Entra unavailable, unreachable, and the app's secret refused.
    world.simulator.faults.apply({ kind: 'transient', count: 1, status: 503 });
    expect((await signIn(world, 'MP-00001')).callback.status).toBe(503);
    world.simulator.faults.apply({ kind: 'networkFailure', count: 1 });
    expect((await signIn(world, 'MP-00001')).callback.status).toBe(503);
    world.simulator.faults.apply({ kind: 'invalidClient', clientId: cspClientId, reason: 'invalidSecret' });
    expect((await signIn(world, 'MP-00001')).callback.status).toBe(502);
    world.simulator.faults.clear();
    // Connect refusing the key, and Connect down: the token page says so, nothing logs the key.
    world.connect?.faults.add({ kind: 'reject', status: 401 });
    expect((await signIn(world, 'MP-00001')).callback.status).toBe(200);
    world.connect?.faults.add({ kind: 'unavailable', status: 503, retryAfterSeconds: 0, count: 2 });
    expect((await signIn(world, 'MP-00001')).callback.status).toBe(200);
    world.connect?.faults.clear();
    // The token is issued but the vault keeps failing (the callback retries a transient failure
    // once, looking first whether it landed): the page must not show it, nothing may log it.
    world.vault?.faults.error('write', 5);
    expect((await signIn(world, 'MP-00001')).callback.status).toBe(503);
    world.vault?.faults.clear();
    harvestVault();
  });

  run.it('every rotation error: revoked, invalid client, Entra down, store failing', async () => {
    world.simulator.faults.apply([
      { kind: 'refreshTokenRevoked', tenant: tenants.csp },
      { kind: 'invalidClient', clientId: cpvClientId, reason: 'expiredSecret' },
    ]);
    expect((await post('/api/rotate')).status).toBe(200);
    world.simulator.faults.clear();
    // A fresh CSP token (the revoked one needs a person), then Entra down and Key Vault failing during rotation.
    expect((await signIn(world, 'MP-00001')).callback.status).toBe(200);
    world.simulator.faults.apply({ kind: 'transient', count: 10, status: 503, retryAfterSeconds: 0 });
    expect((await post('/api/rotate?marketplace=MP-00001')).status).toBe(200);
    world.simulator.faults.clear();
    world.vault?.faults.error('write', 1, { afterCommit: true });
    expect((await post('/api/rotate?marketplace=MP-00001')).status).toBe(200);
    world.vault?.faults.unavailable('any', 20);
    expect((await post('/api/rotate')).status).toBeGreaterThanOrEqual(200);
    expect((await request(`${world.baseUrl}/api/status?format=json`)).status).toBe(503);
    world.vault?.faults.clear();
    harvestVault();
  });

  run.it('every request error: method, size, type, cross-site, unknown marketplace', async () => {
    await request(`${world.baseUrl}/api/start`, { method: 'PUT' });
    await request(`${world.baseUrl}/api/callback`, { method: 'DELETE' });
    await post('/api/start', `marketplace=${'A'.repeat(3000)}`);
    await post('/api/start', 'marketplace=MP-00001', { 'content-type': 'text/plain' });
    await post('/api/start', 'marketplace=MP-00001', { 'sec-fetch-site': 'cross-site' });
    await post('/api/start', 'marketplace=MP-99999');
    await post('/api/start', 'marketplace=mp-1');
    await request(`${world.baseUrl}/api/callback?admin_consent=False&error=access_denied`);
  });

  run.it(
    'refused by the abuse guards: a rate-limited callback and Storage not answering, both with a real code and cookie, and a cross-site rotate',
    async () => {
      const pending = await signInUntilCallback(world, 'MP-00001');
      const again = () => request(pending.callback.toString(), { headers: { cookie: pending.cookie } });
      // One callback a minute: the garbage one takes it, the real one is refused (429).
      const one = { capacity: 1, refillEveryMs: 60_000 };
      resetSignInBounds({ bounds: { callback: { perClient: one, overall: one, maxClients: 10 } } });
      await request(`${world.baseUrl}/api/callback?state=y`);
      expect((await again()).status).toBe(429);
      // The single-use record cannot be written (503).
      resetSignInBounds(unboundedSignIns);
      expect(await withStorageDown(async () => (await again()).status)).toBe(503);
      expect((await post('/api/rotate', undefined, { 'sec-fetch-site': 'cross-site' })).status).toBe(403);
      // Neither refusal spent the code: the same callback completes now.
      expect((await again()).status).toBe(200);
      harvestVault();
    },
  );

  run.it('invalid settings: the message names the setting, never its value', async () => {
    const saved = process.env.TRANSACTION_COOKIE_KEY;
    process.env.TRANSACTION_COOKIE_KEY = shortKeyCanary;
    resetSettingsCache();
    try {
      const r = await request(`${world.baseUrl}/api/start`);
      // An outage the operator must fix: 503, never the value of the bad setting.
      expect(r.status).toBe(503);
      expect(world.logs.some((l) => l.message.includes('TRANSACTION_COOKIE_KEY'))).toBe(true);
    } finally {
      process.env.TRANSACTION_COOKIE_KEY = saved;
      resetSettingsCache();
    }
  });

  run.it('a secret pasted where its name belongs (the file, the settings) is refused and never quoted', async () => {
    // The file: the entry is refused; its sign-in says "misconfigured", rotation and status name the field only.
    expect((await post('/api/start', `marketplace=${pastedMarketplace}`)).status).toBe(503);
    expect((await request(`${world.baseUrl}/api/status?format=json`)).status).toBe(200);
    expect((await request(`${world.baseUrl}/api/status`)).status).toBe(200);
    expect((await post('/api/rotate')).status).toBe(200);
    // The settings: CPV_CLIENT_SECRET_NAME and CONNECT_API_KEY_SECRET_NAME holding a secret.
    for (const [name, value] of [
      ['CPV_CLIENT_SECRET_NAME', pastedSecrets.lowercase],
      ['CONNECT_API_KEY_SECRET_NAME', pastedSecrets.dashed],
    ] as const) {
      const saved = { credential: process.env.CPV_CREDENTIAL, value: process.env[name] };
      process.env.CPV_CREDENTIAL = 'secret';
      process.env[name] = value;
      resetSettingsCache();
      try {
        expect((await request(`${world.baseUrl}/api/start`)).status).toBe(503);
        expect((await post('/api/rotate')).status).toBe(503);
        await world.host.invokeTimer('rotate').catch((err: unknown) => recordException('timer, settings with a pasted secret', err));
        expect(world.logs.some((l) => l.message.includes(`${name}: looks like a secret`))).toBe(true);
      } finally {
        for (const [key, was] of [
          ['CPV_CREDENTIAL', saved.credential],
          [name, saved.value],
        ] as const) {
          if (was === undefined) delete process.env[key];
          else process.env[key] = was;
        }
        resetSettingsCache();
      }
    }
  });

  run.it('exceptions from the identity port name the failure, never the token, code or secret', async () => {
    const token = [...canaries.refreshToken][0] ?? '';
    const code = [...canaries.code][0] ?? '';
    world.simulator.faults.apply({ kind: 'refreshTokenRevoked', refreshToken: token });
    const app: AppCredentials = {
      authorityHost: world.simulator.url,
      tenantId: tenants.csp,
      clientId: cspClientId,
      credential: { kind: 'secret', secret: secrets.csp },
    };
    await redeemRefreshToken(app, token).then(
      () => exceptions.push('no exception for a revoked token'),
      (err: unknown) => recordException('redeemRefreshToken', err),
    );
    await redeemCode(app, { code, codeVerifier: [...canaries.verifier][0] ?? '', redirectUri: world.callbackUrl, nonce: 'n' }).then(
      () => exceptions.push('no exception for a spent code'),
      (err: unknown) => recordException('redeemCode', err),
    );
    await redeemRefreshToken({ ...app, credential: { kind: 'secret', secret: `${secrets.csp}-wrong` } }, token).catch((err: unknown) =>
      recordException('redeemRefreshToken wrong secret', err),
    );
    world.simulator.faults.clear();
    expect(exceptions.length).toBeGreaterThanOrEqual(3);
  });
});

describe('telemetry the Functions host writes (docs/SECURITY.md 12)', () => {
  run.it(
    "request telemetry keeps the callback's query string (the authorization code) out: host.json pins enableQueryStringTracing off, and nothing exports the front end's HTTP logs",
    () => {
      const repo = join(__dirname, '..', '..');
      const host = JSON.parse(readFileSync(join(repo, 'host.json'), 'utf8')) as { logging?: { applicationInsights?: Record<string, unknown> } };
      // Off by default in the host; written out so that no later edit turns it on by accident.
      expect(host.logging?.applicationInsights?.enableQueryStringTracing).toBe(false);
      // App Service's HTTP logs record the query string (CsUriQuery); no diagnostic setting may export them.
      const bicep = readdirSync(join(repo, 'infra'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.bicep'));
      expect(bicep.length).toBeGreaterThan(3);
      expect(bicep.filter((f) => /AppServiceHTTPLogs|enableQueryStringTracing/i.test(readFileSync(join(repo, 'infra', f), 'utf8')))).toEqual([]);
    },
  );
});

describe('the search', () => {
  /**
   * A leak may be partial (a prefix in a log line, a value cut by a page): every 24-character
   * fragment of every canary is searched for, as is and URL-encoded. Fragments two canaries share
   * (the JWE header every cookie starts with) identify nothing and are left out.
   */
  const fragmentLength = 24;
  function fragmentOwners(): Map<string, { kind: string; value: string }> {
    const owners = new Map<string, { kind: string; value: string } | null>();
    for (const [kind, values] of Object.entries(canaries)) {
      for (const value of values) {
        if (!value) continue;
        for (const form of new Set([value, encodeURIComponent(value)])) {
          const windows =
            form.length <= fragmentLength
              ? [form]
              : Array.from({ length: form.length - fragmentLength + 1 }, (_, i) => form.slice(i, i + fragmentLength));
          for (const w of windows) {
            const seen = owners.get(w);
            owners.set(w, seen === undefined || (seen !== null && seen.value === value) ? { kind, value } : null);
          }
        }
      }
    }
    return new Map([...owners].filter((e): e is [string, { kind: string; value: string }] => e[1] !== null));
  }

  run.it('found every kind of canary (the run really produced tokens, codes, verifiers and cookies)', () => {
    harvestVault();
    const counts = Object.fromEntries(Object.entries(canaries).map(([k, v]) => [k, v.size]));
    expect(counts.refreshToken).toBeGreaterThanOrEqual(5);
    expect(counts.code).toBeGreaterThanOrEqual(8);
    expect(counts.verifier).toBeGreaterThanOrEqual(8);
    expect(counts.cookie).toBeGreaterThanOrEqual(8);
    expect(counts.verifier).toBe(counts.cookie);
    expect(counts.finishedRecord).toBeGreaterThanOrEqual(1);
    expect(counts.apiKey).toBe(1);
    expect(counts.assertion).toBeGreaterThanOrEqual(1);
    expect(counts.privateKey).toBe(1);
    expect(counts.certificate).toBe(1);
    // The CPV app and the certificate app really signed in with them.
    expect(world.simulator.stats.clientAuthentications.federated).toBeGreaterThanOrEqual(2);
    expect(world.simulator.stats.clientAuthentications.certificate).toBeGreaterThanOrEqual(2);
    // The push really used the key.
    expect(world.connect?.stats.writes).toBeGreaterThanOrEqual(2);
    // A token needed a person, and its marketplace's admin was told.
    expect(world.email?.outbox().length).toBeGreaterThanOrEqual(1);
  });

  run.it('no message to a contact carries a correlation, trace, request, run or operation id the run produced (docs/SECURITY.md 35)', () => {
    const ids = new Set<string>();
    for (const l of world.logs) {
      try {
        for (const [key, value] of Object.entries(JSON.parse(l.message) as Record<string, unknown>))
          if (/correlation|trace|request|invocation|runId|operationId/i.test(key) && typeof value === 'string' && value.length >= 8) ids.add(value);
      } catch {
        // not a structured line
      }
    }
    expect(ids.size).toBeGreaterThan(5);
    const messages = world.email?.outbox() ?? [];
    expect(messages.length).toBeGreaterThanOrEqual(1);
    for (const m of messages) {
      expect([...ids].filter((id) => `${m.subject}\n${m.text}`.includes(id))).toEqual([]);
      // The one link carries the marketplace ID only.
      expect((m.text.match(/https?:\/\/\S+/g) ?? []).map((u) => [...new URL(u).searchParams.keys()])).toEqual([['marketplace']]);
    }
  });

  run.it('zero hits in logs, console, responses, redirect URLs, exception messages and Key Vault tags', () => {
    const haystacks: Output[] = [
      ...outputs,
      ...world.logs.map((l, i) => ({ where: `log ${i} (${l.functionName} ${l.level})`, text: l.message, allowed: new Set<string>() })),
      ...consoleLines.map((text, i) => ({ where: `console ${i}`, text, allowed: new Set<string>() })),
      ...exceptions.map((text, i) => ({ where: `exception ${i}`, text, allowed: new Set<string>() })),
      ...(world.email?.outbox() ?? []).map((m, i) => ({
        where: `message ${i} to ${m.to.join(', ')}`,
        text: [m.from, ...m.to, m.subject, m.text].join('\n'),
        allowed: new Set<string>(),
      })),
      ...(world.vault?.secretNames() ?? []).flatMap((name) =>
        (world.vault?.versions(name) ?? []).map((v) => ({
          where: `tags of ${name}/${v.version}`,
          text: `${v.contentType ?? ''} ${JSON.stringify(v.tags ?? {})}`,
          allowed: new Set<string>(),
        })),
      ),
    ];
    const owners = fragmentOwners();
    const shortest = Math.min(...[...owners.keys()].map((k) => k.length));
    const hits = new Set<string>();
    for (const h of haystacks) {
      for (let i = 0; i + shortest <= h.text.length; i++) {
        for (const len of shortest === fragmentLength ? [fragmentLength] : [shortest, fragmentLength]) {
          const owner = owners.get(h.text.slice(i, i + len));
          if (owner && !h.allowed.has(owner.value)) hits.add(`${owner.kind} in ${h.where}`);
        }
      }
    }
    if (run.complete())
      writeFigures('canary', {
        test: 'test/security/canary.test.ts',
        canaries: Object.fromEntries(Object.entries(canaries).map(([k, v]) => [k, v.size])),
        outputsSearched: {
          responses: outputs.filter((o) => o.where.endsWith(' body')).length,
          logLines: world.logs.length,
          consoleLines: consoleLines.length,
          exceptions: exceptions.length,
        },
        // The number of distinct fragments depends on the random values (URL-encoding lengthens
        // some, shared fragments drop out), so the published figure is the window searched for.
        fragmentLength,
        hits: hits.size,
      });
    expect([...hits]).toEqual([]);
  });
});
