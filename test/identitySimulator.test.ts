/**
 * The identity simulator speaks Entra ID v2 well enough for the real msal-node: codes with PKCE, rotating
 * refresh tokens, admin consent, and every failure the service must classify, with Entra's error shapes.
 * Run through scripts/with-local-tls.mjs (it provides the certificate and makes Node trust it).
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuthError, ConfidentialClientApplication, InteractionRequiredAuthError, ServerError, type AuthenticationResult } from '@azure/msal-node';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { PARTNER_CENTER_SCOPE, startIdentitySimulator, type IdentitySimulator, type SimulatedClient, type SimulatorOptions } from '../local/identitySimulator';

const TENANT = '3f1a7c2e-9b4d-4e6f-8a1b-2c3d4e5f6a7b';
const OTHER_TENANT = '9e8d7c6b-5a49-4382-b1a0-f9e8d7c6b5a4';
const REDIRECT = 'http://localhost:7071/api/callback';
const SCOPES = [PARTNER_CENTER_SCOPE];

/** A distributor's own app (CSP model). */
const csp: SimulatedClient = { clientId: '11111111-2222-4333-8444-555555555555', clientSecret: 'csp-secret~value', redirectUris: [REDIRECT], multiTenant: false };
/** The service's multi-tenant app (CPV model); TENANT has consented, OTHER_TENANT has not. */
const cpv: SimulatedClient = { clientId: '66666666-7777-4888-9999-aaaaaaaaaaaa', clientSecret: 'cpv-secret~value', redirectUris: [REDIRECT], multiTenant: true };

function tlsFromEnv(): SimulatorOptions['tls'] {
  const cert = process.env.LOCAL_TLS_CERT;
  const key = process.env.LOCAL_TLS_KEY;
  if (!cert || !key) throw new Error('Run the tests with: node scripts/with-local-tls.mjs npx jest');
  return { cert: readFileSync(cert, 'utf8'), key: readFileSync(key, 'utf8') };
}

function pkce() {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

function authorizeUrl(sim: IdentitySimulator, p: { tenant?: string; client?: SimulatedClient; redirectUri?: string; challenge?: string | null; state?: string; nonce?: string }): string {
  const q = new URLSearchParams({
    client_id: (p.client ?? csp).clientId,
    response_type: 'code',
    redirect_uri: p.redirectUri ?? REDIRECT,
    scope: `${PARTNER_CENTER_SCOPE} offline_access openid profile`,
    state: p.state ?? 'state-123',
    nonce: p.nonce ?? 'nonce-456',
    response_mode: 'query',
    prompt: 'select_account',
    client_info: '1',
  });
  if (p.challenge !== null) {
    q.set('code_challenge', p.challenge ?? pkce().challenge);
    q.set('code_challenge_method', 'S256');
  }
  return `${sim.authority(p.tenant ?? TENANT)}/oauth2/v2.0/authorize?${q}`;
}

/** Does what the browser does: open the sign-in page, press Sign in, return where it redirects to. */
async function signIn(sim: IdentitySimulator, url: string): Promise<URL> {
  const page = await fetch(url);
  expect(page.status).toBe(200);
  const html = await page.text();
  expect(html).toMatch(/<button[^>]*>Sign in<\/button>/);
  const action = /<form method="post" action="([^"]+)"/.exec(html)?.[1]?.replace(/&amp;/g, '&');
  const posted = await fetch(new URL(action!, sim.url), { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: '' });
  expect(posted.status).toBe(303);
  return new URL(posted.headers.get('location')!);
}

/** A fresh msal client per request, as the service does (a shared cache can hand over another partner's token). */
function newCca(sim: IdentitySimulator, client: SimulatedClient = csp, tenant = TENANT, secret = client.clientSecret) {
  return new ConfidentialClientApplication({
    auth: { clientId: client.clientId, clientSecret: secret, authority: sim.authority(tenant), knownAuthorities: [sim.host] },
  });
}

function refreshTokenOf(cca: ConfidentialClientApplication, result: AuthenticationResult): string {
  const cache = JSON.parse(cca.getTokenCache().serialize()) as { RefreshToken: Record<string, { home_account_id: string; client_id: string; secret: string }> };
  const entry = Object.values(cache.RefreshToken).find((rt) => rt.home_account_id === result.account?.homeAccountId);
  if (!entry) throw new Error('no refresh token in the cache');
  return entry.secret;
}

async function redeemCode(sim: IdentitySimulator, client: SimulatedClient = csp, tenant = TENANT) {
  const { verifier, challenge } = pkce();
  const back = await signIn(sim, authorizeUrl(sim, { client, tenant, challenge }));
  const cca = newCca(sim, client, tenant);
  // msal-node 7 takes the expected nonce from the request (not the payload) and always checks it.
  const result = await cca.acquireTokenByCode(
    { code: back.searchParams.get('code')!, scopes: SCOPES, redirectUri: REDIRECT, codeVerifier: verifier, state: 'state-123', nonce: 'nonce-456' },
    { code: back.searchParams.get('code')!, state: back.searchParams.get('state')! },
  );
  return { result, refreshToken: refreshTokenOf(cca, result) };
}

async function refresh(sim: IdentitySimulator, refreshToken: string, client: SimulatedClient = csp, tenant = TENANT) {
  const cca = newCca(sim, client, tenant);
  // forceCache: without it a fresh client (no account in its cache) drops the rotated refresh token.
  const result = await cca.acquireTokenByRefreshToken({ refreshToken, scopes: SCOPES, forceCache: true });
  if (!result) throw new Error('no result');
  return { result, refreshToken: refreshTokenOf(cca, result) };
}

/** Awaits a failure and returns the msal error (its class and fields are what the service classifies). */
async function msalError(promise: Promise<unknown>): Promise<AuthError & { errorNo?: string | number; status?: number; claims?: string }> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof AuthError)) throw new Error(`expected an msal AuthError, got ${String(err)}`);
  return err;
}

async function postToken(sim: IdentitySimulator, form: Record<string, string>, headers: Record<string, string> = {}) {
  const res = await fetch(`${sim.authority(TENANT)}/oauth2/v2.0/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(form),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

let sim: IdentitySimulator;
beforeAll(async () => {
  sim = await startIdentitySimulator({ tls: tlsFromEnv(), clients: [csp, cpv], consentedTenants: [{ clientId: cpv.clientId, tenant: TENANT }] });
});
afterAll(() => sim.close());
beforeEach(() => sim.reset());

describe('discovery', () => {
  it('publishes OpenID configuration, instance discovery and keys on https://localhost:PORT', async () => {
    expect(sim.url).toMatch(/^https:\/\/localhost:\d+$/);
    const config = (await (await fetch(`${sim.authority(TENANT)}/v2.0/.well-known/openid-configuration`)).json()) as Record<string, string>;
    expect(config).toMatchObject({
      issuer: `${sim.url}/${TENANT}/v2.0`,
      authorization_endpoint: `${sim.url}/${TENANT}/oauth2/v2.0/authorize`,
      token_endpoint: `${sim.url}/${TENANT}/oauth2/v2.0/token`,
      jwks_uri: `${sim.url}/${TENANT}/discovery/v2.0/keys`,
      end_session_endpoint: `${sim.url}/${TENANT}/oauth2/v2.0/logout`,
    });
    const common = (await (await fetch(`${sim.url}/common/v2.0/.well-known/openid-configuration`)).json()) as Record<string, string>;
    expect(common.issuer).toBe(`${sim.url}/{tenantid}/v2.0`);

    const instance = await (await fetch(`${sim.url}/common/discovery/instance?api-version=1.1&authorization_endpoint=${encodeURIComponent(config.authorization_endpoint!)}`)).json();
    expect(instance).toEqual({
      tenant_discovery_endpoint: `${sim.url}/${TENANT}/v2.0/.well-known/openid-configuration`,
      'api-version': '1.1',
      metadata: [{ preferred_network: sim.host, preferred_cache: sim.host, aliases: [sim.host] }],
    });
    const keys = (await (await fetch(config.jwks_uri!)).json()) as { keys: { kty: string; kid: string }[] };
    expect(keys.keys[0]).toMatchObject({ kty: 'RSA', use: 'sig' });
  });

  it('answers an unknown tenant as Entra does and an unknown path with 404', async () => {
    const bad = await fetch(`${sim.url}/contoso/v2.0/.well-known/openid-configuration`);
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: 'invalid_request', error_codes: [90002] });
    expect((await fetch(`${sim.url}/nothing/here`)).status).toBe(404);
  });
});

describe('sign-in and code redemption with the real msal-node', () => {
  it('redeems a PKCE code, rotates the refresh token, and keeps the old one valid', async () => {
    const { result, refreshToken } = await redeemCode(sim);
    const user = sim.accountFor(TENANT);
    expect(result.tenantId).toBe(TENANT);
    expect(result.account?.homeAccountId).toBe(`${user.oid}.${TENANT}`);
    expect(result.account?.username).toBe(user.username);
    expect(refreshToken.startsWith('1.A')).toBe(true);

    const second = await refresh(sim, refreshToken);
    expect(second.refreshToken).not.toBe(refreshToken);
    // Microsoft does not revoke a refresh token when it is redeemed: the old one is the fallback.
    const again = await refresh(sim, refreshToken);
    expect(again.refreshToken).not.toBe(second.refreshToken);
    expect(sim.stats).toMatchObject({ tokenCalls: { authorization_code: 1, refresh_token: 2, total: 3 }, codesIssued: 1, refreshTokensIssued: 3 });
  });

  it('signs the id token with a key from the JWKS, for this client, with the nonce of the request', async () => {
    const { result } = await redeemCode(sim);
    const { payload, protectedHeader } = await jwtVerify(result.idToken, createRemoteJWKSet(new URL(`${sim.authority(TENANT)}/discovery/v2.0/keys`)), {
      issuer: `${sim.url}/${TENANT}/v2.0`,
      audience: csp.clientId,
    });
    expect(protectedHeader.alg).toBe('RS256');
    expect(payload).toMatchObject({ tid: TENANT, nonce: 'nonce-456', ver: '2.0', oid: sim.accountFor(TENANT).oid, preferred_username: sim.accountFor(TENANT).username });
  });

  it('binds the nonce to the code: msal-node rejects an id token whose nonce is not the one it sent', async () => {
    const { verifier, challenge } = pkce();
    const code = (await signIn(sim, authorizeUrl(sim, { challenge, nonce: 'the-real-nonce' }))).searchParams.get('code')!;
    const err = await msalError(newCca(sim).acquireTokenByCode({ code, scopes: SCOPES, redirectUri: REDIRECT, codeVerifier: verifier, nonce: 'another-nonce' }));
    expect(err.errorCode).toBe('nonce_mismatch');
  });

  it('shows an accessible sign-in page under a strict CSP that names the simulator, tenant and account', async () => {
    const res = await fetch(authorizeUrl(sim, { state: '"><script>alert(1)</script>' }));
    const html = await res.text();
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('content-security-policy')).toMatch(/default-src 'none'.*form-action 'self' http:\/\/localhost:7071/);
    expect(html).toContain('Local Microsoft identity simulator');
    expect(html).toContain(TENANT);
    expect(html).toContain(`admin@${TENANT.slice(0, 8)}.example`);
    expect(html).not.toContain('<script>');
  });

  it('refuses a wrong code verifier, a reused code and a different redirect URI', async () => {
    const { verifier, challenge } = pkce();
    const code = (await signIn(sim, authorizeUrl(sim, { challenge }))).searchParams.get('code')!;
    const wrongVerifier = await msalError(newCca(sim).acquireTokenByCode({ code, scopes: SCOPES, redirectUri: REDIRECT, codeVerifier: pkce().verifier, nonce: 'nonce-456' }));
    expect(wrongVerifier).toBeInstanceOf(ServerError);
    expect(wrongVerifier).toMatchObject({ errorCode: 'invalid_grant', errorNo: 501481 });

    const wrongRedirect = await msalError(newCca(sim).acquireTokenByCode({ code, scopes: SCOPES, redirectUri: 'http://localhost:7071/other', codeVerifier: verifier, nonce: 'nonce-456' }));
    expect(wrongRedirect).toMatchObject({ errorCode: 'invalid_grant', errorNo: 500112 });

    await newCca(sim).acquireTokenByCode({ code, scopes: SCOPES, redirectUri: REDIRECT, codeVerifier: verifier, nonce: 'nonce-456' });
    const reused = await msalError(newCca(sim).acquireTokenByCode({ code, scopes: SCOPES, redirectUri: REDIRECT, codeVerifier: verifier, nonce: 'nonce-456' }));
    expect(reused).toMatchObject({ errorCode: 'invalid_grant', errorNo: 54005 });
    expect(reused.errorMessage).toContain('AADSTS54005');
  });

  it('lets an authorization code live ten minutes', async () => {
    const { verifier, challenge } = pkce();
    const code = (await signIn(sim, authorizeUrl(sim, { challenge }))).searchParams.get('code')!;
    sim.clock.advanceMs(10 * 60 * 1000 + 1000);
    const err = await msalError(newCca(sim).acquireTokenByCode({ code, scopes: SCOPES, redirectUri: REDIRECT, codeVerifier: verifier, nonce: 'nonce-456' }));
    expect(err).toMatchObject({ errorCode: 'invalid_grant', errorNo: 70008 });
  });

  it('never redirects to an unregistered URI or for an unknown client, and sends PKCE errors back to the client', async () => {
    const unregistered = await fetch(authorizeUrl(sim, { redirectUri: 'https://evil.example/cb' }), { redirect: 'manual' });
    expect(unregistered.status).toBe(400);
    expect(unregistered.headers.get('location')).toBeNull();
    expect(await unregistered.text()).toContain('AADSTS50011');

    const unknown = await fetch(authorizeUrl(sim, { client: { ...csp, clientId: '00000000-0000-4000-8000-000000000000' } }), { redirect: 'manual' });
    expect(unknown.status).toBe(400);
    expect(await unknown.text()).toContain('AADSTS700016');

    const noPkce = await fetch(authorizeUrl(sim, { challenge: null }), { redirect: 'manual' });
    expect(noPkce.status).toBe(302);
    const back = new URL(noPkce.headers.get('location')!);
    expect(back.origin + back.pathname).toBe(REDIRECT);
    expect(back.searchParams.get('error')).toBe('invalid_request');
    expect(back.searchParams.get('state')).toBe('state-123');
  });

  it('issues tokens of another tenant when the tenant override is on (once)', async () => {
    sim.faults.apply({ kind: 'idTokenTenantOverride', tenant: OTHER_TENANT });
    const { result } = await redeemCode(sim);
    expect(result.tenantId).toBe(OTHER_TENANT);
    expect((result.idTokenClaims as { tid: string }).tid).toBe(OTHER_TENANT);
    expect((await redeemCode(sim)).result.tenantId).toBe(TENANT);
  });
});

describe('admin consent (CPV)', () => {
  it('sends an unconsented multi-tenant sign-in back with consent_required, and lets it through after Accept', async () => {
    const back = await signIn(sim, authorizeUrl(sim, { client: cpv, tenant: OTHER_TENANT }));
    expect(back.searchParams.get('error')).toBe('consent_required');
    expect(back.searchParams.get('error_description')).toMatch(/^AADSTS65001: The user or administrator has not consented to use the application/);
    expect(back.searchParams.get('state')).toBe('state-123');

    const consentUrl = `${sim.authority(OTHER_TENANT)}/v2.0/adminconsent?client_id=${cpv.clientId}&redirect_uri=${encodeURIComponent(REDIRECT)}&state=consent-1&scope=${encodeURIComponent(PARTNER_CENTER_SCOPE)}`;
    const page = await (await fetch(consentUrl)).text();
    expect(page).toMatch(/<button[^>]*>Accept<\/button>/);
    expect(page).toMatch(/<button[^>]*>Cancel<\/button>/);

    const cancel = await fetch(consentUrl, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'decision=cancel' });
    const cancelled = new URL(cancel.headers.get('location')!);
    expect(Object.fromEntries(cancelled.searchParams)).toMatchObject({ error: 'access_denied', admin_consent: 'False', state: 'consent-1' });
    expect(cancelled.searchParams.get('error_description')).toMatch(/^AADSTS65004/);

    const accept = await fetch(consentUrl, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'decision=accept' });
    expect(accept.status).toBe(303);
    expect(Object.fromEntries(new URL(accept.headers.get('location')!).searchParams)).toEqual({ admin_consent: 'True', tenant: OTHER_TENANT, state: 'consent-1', scope: PARTNER_CENTER_SCOPE });

    const { result } = await redeemCode(sim, cpv, OTHER_TENANT);
    expect(result.tenantId).toBe(OTHER_TENANT);
    sim.revokeConsent(cpv.clientId, OTHER_TENANT);
  });

  it('refuses the refresh of a multi-tenant client whose consent was revoked with AADSTS65001', async () => {
    const rt = sim.issueRefreshTokenFor({ clientId: cpv.clientId, tenant: TENANT });
    sim.revokeConsent(cpv.clientId, TENANT);
    try {
      const err = await msalError(refresh(sim, rt, cpv));
      expect(err).toBeInstanceOf(InteractionRequiredAuthError);
      expect(err).toMatchObject({ errorCode: 'invalid_grant', subError: 'consent_required', errorNo: 65001 });
    } finally {
      sim.grantConsent(cpv.clientId, TENANT);
    }
    await refresh(sim, rt, cpv);
  });
});

describe('refresh-token faults, with the error fields msal-node exposes', () => {
  const cases = [
    { kind: 'refreshTokenExpired', errorNo: 700082, subError: '', interactionRequired: false },
    { kind: 'refreshTokenRevoked', errorNo: 50173, subError: '', interactionRequired: false },
    { kind: 'signInFrequency', errorNo: 70043, subError: '', interactionRequired: false },
    { kind: 'mfaRequired', errorNo: 50076, subError: 'basic_action', interactionRequired: true },
    { kind: 'conditionalAccessBlocked', errorNo: 53003, subError: 'message_only', interactionRequired: true },
  ] as const;

  it.each(cases)('$kind → invalid_grant AADSTS$errorNo', async ({ kind, errorNo, subError, interactionRequired }) => {
    const target = sim.issueRefreshTokenFor({ clientId: csp.clientId, tenant: TENANT });
    const bystander = sim.issueRefreshTokenFor({ clientId: csp.clientId, tenant: OTHER_TENANT });
    sim.faults.apply({ kind, refreshToken: target });
    const err = await msalError(refresh(sim, target));
    expect(err).toBeInstanceOf(interactionRequired ? InteractionRequiredAuthError : ServerError);
    expect(err).toMatchObject({ errorCode: 'invalid_grant', subError, errorNo });
    expect(err.errorMessage).toContain(`AADSTS${errorNo}:`);
    await refresh(sim, bystander, csp, OTHER_TENANT); // other tokens are untouched
  });

  it('applies a fault to every token of a tenant, and the consent-required fault gives AADSTS65001', async () => {
    const a = sim.issueRefreshTokenFor({ clientId: csp.clientId, tenant: TENANT });
    const b = sim.issueRefreshTokenFor({ clientId: csp.clientId, tenant: TENANT });
    sim.faults.apply({ kind: 'refreshTokenRevoked', tenant: TENANT });
    for (const rt of [a, b]) expect(await msalError(refresh(sim, rt))).toMatchObject({ errorNo: 50173 });
    // A new sign-in is not affected by an earlier revocation.
    await refresh(sim, sim.issueRefreshTokenFor({ clientId: csp.clientId, tenant: TENANT }));

    sim.faults.apply({ kind: 'consentRequired', tenant: TENANT });
    const c = sim.issueRefreshTokenFor({ clientId: csp.clientId, tenant: TENANT });
    expect(await msalError(refresh(sim, c))).toMatchObject({ errorCode: 'invalid_grant', subError: 'consent_required', errorNo: 65001 });
  });

  it('expires a refresh token after 90 days without use, counting from its last use', async () => {
    const used = sim.issueRefreshTokenFor({ clientId: csp.clientId, tenant: TENANT });
    const idle = sim.issueRefreshTokenFor({ clientId: csp.clientId, tenant: TENANT });
    sim.clock.advanceDays(60);
    await refresh(sim, used);
    sim.clock.advanceDays(31);
    await refresh(sim, used);
    expect(await msalError(refresh(sim, idle))).toMatchObject({ errorCode: 'invalid_grant', errorNo: 700082 });
  });

  it('sends the exact Entra error body', async () => {
    const rt = sim.issueRefreshTokenFor({ clientId: csp.clientId, tenant: TENANT });
    sim.faults.apply({ kind: 'refreshTokenExpired', refreshToken: rt });
    const correlationId = '0b0c0d0e-1f2a-4b3c-8d4e-5f6a7b8c9d0e';
    const res = await postToken(sim, { grant_type: 'refresh_token', refresh_token: rt, client_id: csp.clientId, client_secret: csp.clientSecret, scope: PARTNER_CENTER_SCOPE }, { 'client-request-id': correlationId });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(res.headers.get('cache-control')).toContain('no-store');
    expect(res.body).toEqual({
      error: 'invalid_grant',
      error_description: expect.stringMatching(/^AADSTS700082: The refresh token has expired due to inactivity\..*\r\nTrace ID: [0-9a-f-]{36}\r\nCorrelation ID: 0b0c0d0e-1f2a-4b3c-8d4e-5f6a7b8c9d0e\r\nTimestamp: \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/),
      error_codes: [700082],
      timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/),
      trace_id: expect.any(String),
      correlation_id: correlationId,
      error_uri: 'https://login.microsoftonline.com/error?code=700082',
    });
  });
});

describe('client and transient faults', () => {
  it('answers invalid_client 401 for a wrong secret, and for the invalid/expired secret switches', async () => {
    const rt = sim.issueRefreshTokenFor({ clientId: csp.clientId, tenant: TENANT });
    const wrong = await msalError(newCca(sim, csp, TENANT, 'not-the-secret').acquireTokenByRefreshToken({ refreshToken: rt, scopes: SCOPES, forceCache: true }));
    expect(wrong).toBeInstanceOf(ServerError);
    expect(wrong).toMatchObject({ errorCode: 'invalid_client', errorNo: 7000215 });

    sim.faults.apply({ kind: 'invalidClient', clientId: csp.clientId, reason: 'expiredSecret' });
    expect(await msalError(refresh(sim, rt))).toMatchObject({ errorCode: 'invalid_client', errorNo: 7000222 });
    const raw = await postToken(sim, { grant_type: 'refresh_token', refresh_token: rt, client_id: csp.clientId, client_secret: csp.clientSecret });
    expect(raw.status).toBe(401);
  });

  it('accepts HTTP Basic client authentication', async () => {
    const rt = sim.issueRefreshTokenFor({ clientId: csp.clientId, tenant: TENANT });
    const basic = Buffer.from(`${encodeURIComponent(csp.clientId)}:${encodeURIComponent(csp.clientSecret)}`).toString('base64');
    const res = await postToken(sim, { grant_type: 'refresh_token', refresh_token: rt, scope: `${PARTNER_CENTER_SCOPE} offline_access openid` }, { authorization: `Basic ${basic}` });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ token_type: 'Bearer', expires_in: 3599, scope: PARTNER_CENTER_SCOPE, refresh_token: expect.stringMatching(/^1\.A/) });
  });

  it('fails the next calls with 503, 429 + Retry-After, or a dropped connection, then recovers', async () => {
    const rt = sim.issueRefreshTokenFor({ clientId: csp.clientId, tenant: TENANT });
    sim.faults.apply([
      { kind: 'transient', count: 1, status: 503 },
      { kind: 'transient', count: 1, status: 429, retryAfterSeconds: 7 },
      { kind: 'networkFailure', count: 1 },
    ]);
    const unavailable = await msalError(refresh(sim, rt));
    expect(unavailable).toBeInstanceOf(ServerError);
    expect(unavailable).toMatchObject({ errorCode: 'temporarily_unavailable', errorNo: 90033 });

    const throttled = await postToken(sim, { grant_type: 'refresh_token', refresh_token: rt, client_id: csp.clientId, client_secret: csp.clientSecret });
    expect(throttled.status).toBe(429);
    expect(throttled.headers.get('retry-after')).toBe('7');

    const dropped = await msalError(refresh(sim, rt));
    expect(dropped.errorCode).toBe('network_error');

    await refresh(sim, rt);
    expect(sim.stats.tokenErrors).toEqual({ temporarily_unavailable: 2 });
  });

  it('adds latency to token calls', async () => {
    const rt = sim.issueRefreshTokenFor({ clientId: csp.clientId, tenant: TENANT });
    sim.faults.apply({ kind: 'latency', ms: 150 });
    const started = Date.now();
    await refresh(sim, rt);
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
  });
});

describe('HTTP control API', () => {
  const post = (path: string, body: unknown, type = 'application/json') =>
    fetch(`${sim.url}/_simulator/${path}`, { method: 'POST', headers: { 'content-type': type }, body: JSON.stringify(body) });

  it('drives faults, consents, the clock and minted tokens from another process', async () => {
    const minted = await post('refresh-tokens', { clientId: csp.clientId, tenant: TENANT });
    expect(minted.status).toBe(201);
    const { refresh_token: rt } = (await minted.json()) as { refresh_token: string };

    expect((await post('faults', { kind: 'refreshTokenRevoked', refreshToken: rt })).status).toBe(204);
    expect(await msalError(refresh(sim, rt))).toMatchObject({ errorNo: 50173 });

    const stats = (await (await fetch(`${sim.url}/_simulator/stats`)).json()) as { tokenCalls: { refresh_token: number } };
    expect(stats.tokenCalls.refresh_token).toBe(1);

    expect((await post('consents', { clientId: cpv.clientId, tenant: OTHER_TENANT })).status).toBe(204);
    expect(sim.hasConsent(cpv.clientId, OTHER_TENANT)).toBe(true);
    expect((await post('consents', { clientId: cpv.clientId, tenant: OTHER_TENANT, granted: false })).status).toBe(204);

    const before = sim.clock.now();
    await post('clock', { advanceDays: 1 });
    expect(sim.clock.now() - before).toBeGreaterThanOrEqual(24 * 3600 * 1000);

    expect((await post('reset', {})).status).toBe(204);
    expect(sim.stats.tokenCalls.total).toBe(0);
  });

  it('refuses non-JSON (no cross-site form can flip a switch), bad faults and oversized bodies', async () => {
    expect((await post('faults', { kind: 'latency', ms: 5 }, 'text/plain')).status).toBe(415);
    expect((await post('faults', { kind: 'nonsense' })).status).toBe(400);
    expect((await post('faults', { kind: 'mfaRequired' })).status).toBe(400);
    expect((await post('faults', { kind: 'latency', ms: 'x'.repeat(70_000) })).status).toBe(413);
  });
});

describe('persistence (local mode)', () => {
  it('keeps refresh tokens, consents and the signing key across a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'idsim-'));
    const stateFile = join(dir, 'state.json');
    try {
      const first = await startIdentitySimulator({ tls: tlsFromEnv(), clients: [csp, cpv], stateFile });
      first.grantConsent(cpv.clientId, OTHER_TENANT);
      const rt = first.issueRefreshTokenFor({ clientId: cpv.clientId, tenant: OTHER_TENANT });
      const kid = ((await (await fetch(`${first.authority(TENANT)}/discovery/v2.0/keys`)).json()) as { keys: { kid: string }[] }).keys[0]!.kid;
      await first.close();
      // The state file stores token hashes, never a usable token.
      expect(readFileSync(stateFile, 'utf8')).not.toContain(rt);

      const second = await startIdentitySimulator({ tls: tlsFromEnv(), clients: [csp, cpv], stateFile });
      try {
        const keys = (await (await fetch(`${second.authority(TENANT)}/discovery/v2.0/keys`)).json()) as { keys: { kid: string }[] };
        expect(keys.keys[0]!.kid).toBe(kid);
        expect(second.hasConsent(cpv.clientId, OTHER_TENANT)).toBe(true);
        await refresh(second, rt, cpv, OTHER_TENANT);
      } finally {
        await second.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
