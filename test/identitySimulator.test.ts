/**
 * The identity simulator speaks Entra ID v2 well enough for the real msal-node: codes with PKCE, rotating
 * refresh tokens, admin consent, and every failure the service must classify, with Entra's error shapes.
 * Run through scripts/with-local-tls.mjs (it provides the certificate and makes Node trust it).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InteractionRequiredAuthError, ServerError } from '@azure/msal-node';
import { createLocalJWKSet, createRemoteJWKSet, jwtVerify } from 'jose';
import {
  PARTNER_CENTER_SCOPE,
  startIdentitySimulator,
  type AccountKind,
  type IdentitySimulator,
  type SimulatedClient,
} from '../local/identitySimulator';
import * as drive from './localStandIns';
import { claimsOf, msalError, pkce, REDIRECT, SCOPES, tlsFromEnv } from './localStandIns';

const TENANT = '3f1a7c2e-9b4d-4e6f-8a1b-2c3d4e5f6a7b';
const OTHER_TENANT = '9e8d7c6b-5a49-4382-b1a0-f9e8d7c6b5a4';
const THIRD_TENANT = '5b4a3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d';
const GRAPH_SCOPE = 'https://graph.microsoft.com/User.Read';

/** A distributor's own app (CSP model). */
const csp = {
  clientId: '11111111-2222-4333-8444-555555555555',
  clientSecret: 'csp-secret~value',
  redirectUris: [REDIRECT],
  multiTenant: false,
} satisfies SimulatedClient;
/** The service's multi-tenant app (CPV model); TENANT has consented, OTHER_TENANT has not. */
const cpv = {
  clientId: '66666666-7777-4888-9999-aaaaaaaaaaaa',
  displayName: 'Contoso Connector',
  clientSecret: 'cpv-secret~value',
  redirectUris: [REDIRECT],
  multiTenant: true,
} satisfies SimulatedClient;

/** The shared builder, with this file's CSP app and tenant as defaults. */
function authorizeUrl(sim: IdentitySimulator, p: Partial<drive.AuthorizeParams>): string {
  return drive.authorizeUrl(sim, { ...p, client: p.client ?? csp, tenant: p.tenant ?? TENANT });
}

async function signIn(sim: IdentitySimulator, url: string, choices: drive.SignInChoices = {}): Promise<URL> {
  return drive.signIn(sim, url, choices);
}

function newCca(sim: IdentitySimulator, client: SimulatedClient = csp, tenant = TENANT, secret = client.clientSecret) {
  return drive.newCca(sim, client, tenant, { clientSecret: secret });
}

async function redeemCode(
  sim: IdentitySimulator,
  client: SimulatedClient = csp,
  tenant = TENANT,
  choices: drive.SignInChoices = {},
  extra?: Record<string, string>,
) {
  return drive.redeemCode(sim, { client, tenant, choices, ...(extra ? { extra } : {}) });
}

async function refresh(sim: IdentitySimulator, refreshToken: string, client: SimulatedClient = csp, tenant = TENANT) {
  return drive.refresh(sim, refreshToken, client, tenant);
}

async function postToken(sim: IdentitySimulator, form: Record<string, string>, headers: Record<string, string> = {}, tenant = TENANT) {
  const res = await fetch(`${sim.authority(tenant)}/oauth2/v2.0/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(form),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

/** The access token of a redemption, verified with the simulator's JWKS (as Partner Center would). */
async function verifiedAccessToken(sim: IdentitySimulator, accessToken: string) {
  const { payload } = await jwtVerify(accessToken, createLocalJWKSet(sim.jwks() as Parameters<typeof createLocalJWKSet>[0]), {
    audience: 'https://api.partnercenter.microsoft.com',
  });
  return payload;
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

    const instance = await (
      await fetch(`${sim.url}/common/discovery/instance?api-version=1.1&authorization_endpoint=${encodeURIComponent(config.authorization_endpoint!)}`)
    ).json();
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
    const { payload, protectedHeader } = await jwtVerify(
      result.idToken,
      createRemoteJWKSet(new URL(`${sim.authority(TENANT)}/discovery/v2.0/keys`)),
      {
        issuer: `${sim.url}/${TENANT}/v2.0`,
        audience: csp.clientId,
      },
    );
    expect(protectedHeader.alg).toBe('RS256');
    expect(payload).toMatchObject({
      tid: TENANT,
      nonce: 'nonce-456',
      ver: '2.0',
      oid: sim.accountFor(TENANT).oid,
      preferred_username: sim.accountFor(TENANT).username,
    });
  });

  it('binds the nonce to the code: msal-node rejects an id token whose nonce is not the one it sent', async () => {
    const { verifier, challenge } = pkce();
    const code = (await signIn(sim, authorizeUrl(sim, { challenge, nonce: 'the-real-nonce' }))).searchParams.get('code')!;
    const err = await msalError(
      newCca(sim).acquireTokenByCode({ code, scopes: SCOPES, redirectUri: REDIRECT, codeVerifier: verifier, nonce: 'another-nonce' }),
    );
    expect(err.errorCode).toBe('nonce_mismatch');
  });

  it('shows an accessible sign-in page under a strict CSP that names the simulator, tenant and accounts', async () => {
    const res = await fetch(authorizeUrl(sim, { state: '"><script>alert(1)</script>' }));
    const html = await res.text();
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('content-security-policy')).toMatch(/default-src 'none'.*form-action 'self' http:\/\/localhost:7071/);
    expect(html).toContain('Local Microsoft identity simulator');
    expect(html).toContain(TENANT);
    for (const a of sim.accountsOf(TENANT)) expect(html).toContain(a.username);
    expect(html).not.toContain('<script>');
  });

  it('offers the Account select (Admin agent by default) and the Sign in without MFA checkbox (unchecked)', async () => {
    const html = await (await fetch(authorizeUrl(sim, {}))).text();
    expect(html).toMatch(/<label for="account">Account<\/label>\s*<select id="account" name="account">/);
    const options = [...html.matchAll(/<option value="([^"]+)"( selected)?>([^<]+)<\/option>/g)].map((m) => ({
      value: m[1],
      selected: Boolean(m[2]),
      label: m[3],
    }));
    expect(options).toEqual([
      { value: 'adminAgent', selected: true, label: 'Admin agent' },
      { value: 'noPartnerCenterRole', selected: false, label: 'User without a Partner Center role' },
      { value: 'guest', selected: false, label: 'Guest user' },
      { value: 'guestAdminAgent', selected: false, label: 'Guest admin agent' },
      { value: 'adminAgentNotDirectoryAdmin', selected: false, label: 'Admin agent, not a directory admin' },
    ]);
    const checkbox = /<input type="checkbox" id="withoutMfa"[^>]*>/.exec(html)?.[0];
    expect(checkbox).toBeDefined();
    expect(checkbox).not.toContain('checked');
    expect(html).toContain('<label for="withoutMfa">Sign in without MFA</label>');
    expect(html).toMatch(/<button[^>]*>Sign in<\/button>/);
  });

  it('refuses a wrong code verifier, a reused code and a different redirect URI', async () => {
    const { verifier, challenge } = pkce();
    const code = (await signIn(sim, authorizeUrl(sim, { challenge }))).searchParams.get('code')!;
    const wrongVerifier = await msalError(
      newCca(sim).acquireTokenByCode({ code, scopes: SCOPES, redirectUri: REDIRECT, codeVerifier: pkce().verifier, nonce: 'nonce-456' }),
    );
    expect(wrongVerifier).toBeInstanceOf(ServerError);
    expect(wrongVerifier).toMatchObject({ errorCode: 'invalid_grant', errorNo: 501481 });

    const wrongRedirect = await msalError(
      newCca(sim).acquireTokenByCode({
        code,
        scopes: SCOPES,
        redirectUri: 'http://localhost:7071/other',
        codeVerifier: verifier,
        nonce: 'nonce-456',
      }),
    );
    expect(wrongRedirect).toMatchObject({ errorCode: 'invalid_grant', errorNo: 500112 });

    await newCca(sim).acquireTokenByCode({ code, scopes: SCOPES, redirectUri: REDIRECT, codeVerifier: verifier, nonce: 'nonce-456' });
    const reused = await msalError(
      newCca(sim).acquireTokenByCode({ code, scopes: SCOPES, redirectUri: REDIRECT, codeVerifier: verifier, nonce: 'nonce-456' }),
    );
    expect(reused).toMatchObject({ errorCode: 'invalid_grant', errorNo: 54005 });
    expect(reused.errorMessage).toContain('AADSTS54005');
  });

  it('lets an authorization code live ten minutes', async () => {
    const { verifier, challenge } = pkce();
    const code = (await signIn(sim, authorizeUrl(sim, { challenge }))).searchParams.get('code')!;
    sim.clock.advanceMs(10 * 60 * 1000 + 1000);
    const err = await msalError(
      newCca(sim).acquireTokenByCode({ code, scopes: SCOPES, redirectUri: REDIRECT, codeVerifier: verifier, nonce: 'nonce-456' }),
    );
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

  it.each(['amr_values', 'resource'])(
    'refuses the v1 parameter %s on the v2 authorize endpoint with AADSTS901002, back to the client before any sign-in',
    async (name) => {
      const res = await fetch(authorizeUrl(sim, { extra: { [name]: name === 'resource' ? 'https://api.partnercenter.microsoft.com' : 'mfa' } }), {
        redirect: 'manual',
      });
      // Whether Entra redirects or shows its own page is not documented; the simulator redirects (docs/STAND-INS.md).
      expect(res.status).toBe(302);
      const back = new URL(res.headers.get('location')!);
      expect(back.origin + back.pathname).toBe(REDIRECT);
      expect(back.searchParams.get('error')).toBe('invalid_request');
      expect(back.searchParams.get('error_description')).toMatch(new RegExp(`^AADSTS901002: The '${name}' request parameter is not supported\\.`));
      expect(back.searchParams.get('state')).toBe('state-123');
      expect(back.searchParams.has('code')).toBe(false);
      expect(sim.stats.unsupportedParameters).toEqual({ [name]: 1 });
      expect(sim.stats.codesIssued).toBe(0);
    },
  );

  it('takes prompt=login (shown on the page) and counts sign-ins by prompt', async () => {
    const page = await (await fetch(authorizeUrl(sim, { extra: { prompt: 'login' } }))).text();
    expect(page).toContain('login (credentials asked again, no single sign-on)');
    await redeemCode(sim, csp, TENANT, {}, { prompt: 'login' });
    await redeemCode(sim);
    expect(sim.stats.signIns.byPrompt).toEqual({ login: 1, select_account: 1 });
  });

  it('answers a tenant id no directory has with AADSTS90002, on its own page and at the token endpoint', async () => {
    const rt = sim.issueRefreshTokenFor({ clientId: csp.clientId, tenant: TENANT });
    sim.faults.apply({ kind: 'tenantNotFound', tenant: THIRD_TENANT });
    const page = await fetch(authorizeUrl(sim, { tenant: THIRD_TENANT }), { redirect: 'manual' });
    expect(page.status).toBe(400);
    expect(page.headers.get('location')).toBeNull();
    expect(await page.text()).toContain(`AADSTS90002: Tenant &#39;${THIRD_TENANT}&#39; not found`);
    const err = await msalError(refresh(sim, rt, csp, THIRD_TENANT));
    expect(err).toMatchObject({ errorCode: 'invalid_request', errorNo: 90002 });
  });

  it("refuses a refresh token redeemed at another tenant's endpoint with invalid_grant AADSTS7000012", async () => {
    const rt = sim.issueRefreshTokenFor({ clientId: csp.clientId, tenant: TENANT });
    const err = await msalError(refresh(sim, rt, csp, OTHER_TENANT));
    expect(err).toMatchObject({ errorCode: 'invalid_grant', errorNo: 7000012 });
    expect(err.errorMessage).toContain('The grant was obtained for a different tenant.');
    await refresh(sim, rt); // at its own tenant it still works
    // A multi-tenant app the other tenant never consented to is not there at all: AADSTS700016 comes first.
    const cpvToken = sim.issueRefreshTokenFor({ clientId: cpv.clientId, tenant: TENANT });
    expect(await msalError(refresh(sim, cpvToken, cpv, OTHER_TENANT))).toMatchObject({ errorCode: 'unauthorized_client', errorNo: 700016 });
  });

  it('issues tokens of another tenant when the tenant override is on (once)', async () => {
    sim.faults.apply({ kind: 'idTokenTenantOverride', tenant: OTHER_TENANT });
    const { result } = await redeemCode(sim);
    expect(result.tenantId).toBe(OTHER_TENANT);
    expect((result.idTokenClaims as { tid: string }).tid).toBe(OTHER_TENANT);
    expect((await redeemCode(sim)).result.tenantId).toBe(TENANT);
  });
});

describe('interactive consent (CPV): what Entra does when the tenant has not consented', () => {
  afterEach(() => sim.revokeConsent(cpv.clientId, OTHER_TENANT));

  it.each(['adminAgentNotDirectoryAdmin', 'noPartnerCenterRole', 'guestAdminAgent'] as AccountKind[])(
    'keeps %s (no directory admin) on "Need admin approval" (AADSTS90094): nothing goes back to the app',
    async (account) => {
      const step = await drive.signInStep(sim, authorizeUrl(sim, { client: cpv, tenant: OTHER_TENANT }), { account });
      expect(step.status).toBe(200);
      expect(step.location).toBeUndefined();
      expect(step.html).toContain('<h1>Need admin approval</h1>');
      // Named as Entra names the app in AADSTS90094's message: by its display name, never its client ID.
      expect(step.html).toContain(`${cpv.displayName} needs permission to access resources in your organization that only an admin can grant.`);
      expect(step.html).toContain('AADSTS90094');
      expect(step.html).toContain(sim.accountFor(OTHER_TENANT, account).username);
      expect(sim.stats.interactiveConsent).toMatchObject({ needAdminApproval: 1, prompted: 0 });
      expect(sim.stats.codesIssued).toBe(0);
      expect(sim.hasConsent(cpv.clientId, OTHER_TENANT)).toBe(false);

      // The way back without consent (an assumption of the simulator, docs/STAND-INS.md) answers like a cancel.
      const back = await drive.submitPage(sim, step.html);
      expect(back.status).toBe(303);
      expect(Object.fromEntries(back.location!.searchParams)).toMatchObject({ error: 'access_denied', error_subcode: 'cancel', state: 'state-123' });
      expect(back.location!.searchParams.get('error_description')).toMatch(/^AADSTS65004: User declined to consent to access the app\./);
    },
  );

  it('shows a directory administrator the consent prompt; Accept "on behalf of your organization" lets every account in', async () => {
    const step = await drive.signInStep(sim, authorizeUrl(sim, { client: cpv, tenant: OTHER_TENANT }));
    expect(step.status).toBe(200);
    expect(step.html).toContain('<h1>Permissions requested</h1>');
    const box = /<input type="checkbox" id="forOrganization"[^>]*>/.exec(step.html)?.[0];
    expect(box).toBeDefined();
    expect(box).not.toContain('checked');
    expect(step.html).toContain('<label for="forOrganization">Consent on behalf of your organization</label>');
    expect(step.html).toMatch(/<button[^>]*value="accept"[^>]*>Accept<\/button>/);

    const accepted = await drive.submitPage(sim, step.html, { decision: 'accept', forOrganization: 'on' });
    expect(accepted.status).toBe(303);
    expect(accepted.location!.searchParams.get('code')).toBeTruthy();
    expect(accepted.location!.searchParams.get('state')).toBe('state-123');
    expect(sim.hasConsent(cpv.clientId, OTHER_TENANT, PARTNER_CENTER_SCOPE)).toBe(true);
    expect(sim.stats.interactiveConsent).toMatchObject({ prompted: 1, grantedForOrganization: 1 });
    // Now an account that may not consent signs in straight through.
    const { result, refreshToken } = await redeemCode(sim, cpv, OTHER_TENANT, { account: 'adminAgentNotDirectoryAdmin' });
    expect(result.tenantId).toBe(OTHER_TENANT);
    await refresh(sim, refreshToken, cpv, OTHER_TENANT);
  });

  it("names the app, its publisher and each permission as Entra's prompt does: no client ID or scope URI outside the simulator's own request details", async () => {
    const step = await drive.signInStep(sim, authorizeUrl(sim, { client: cpv, tenant: OTHER_TENANT }));
    const shown = step.html.replace(/<details class="tech">[\s\S]*?<\/details>/, '').replace(/<style>[\s\S]*?<\/style>/, '');
    expect(shown).toContain('<span class="app-name">Contoso Connector</span><span class="publisher">unverified</span>');
    expect(shown).toContain('This application is not published by Microsoft.');
    const permissions = [...shown.matchAll(/<summary>([^<]+)<\/summary>/g)].map((m) => m[1]);
    expect(permissions).toEqual(
      expect.arrayContaining(['Access Partner Center PPE', 'Maintain access to data you have given it access to', 'Sign you in']),
    );
    // What a person reads (text, not the form's action address).
    const text = shown.replace(/<[^>]+>/g, ' ');
    expect(text).not.toContain(cpv.clientId);
    expect(text).not.toMatch(/https:\/\/api\.partnercenter\.microsoft\.com|offline_access|user_impersonation/);
    // The identifiers are still there for whoever rehearses, folded away.
    expect(step.html).toMatch(
      /<details class="tech"><summary>Request details \(shown by this simulator only\)<\/summary>[\s\S]*66666666-7777-4888-9999-aaaaaaaaaaaa/,
    );
  });

  it('shows a verified publisher by name, and the admin-consent page says "Accept for your organization" with the admin-consent names', async () => {
    const verified = {
      ...cpv,
      clientId: 'aaaaaaaa-7777-4888-9999-aaaaaaaaaaaa',
      displayName: 'Fabrikam Connector',
      verifiedPublisher: 'Fabrikam, Inc.',
    };
    sim.registerClient(verified);
    const url = new URL(`${sim.url}/${OTHER_TENANT}/v2.0/adminconsent`);
    url.search = new URLSearchParams({
      client_id: verified.clientId,
      redirect_uri: REDIRECT,
      scope: `${PARTNER_CENTER_SCOPE} offline_access openid profile`,
    }).toString();
    const html = await (await fetch(url)).text();
    expect(html).toContain('<h1>Permissions requested<br><span class="lead">Accept for your organization</span></h1>');
    expect(html).toContain(
      '<span class="app-name">Fabrikam Connector</span><span class="publisher">Fabrikam, Inc. <span aria-label="verified publisher">(verified)</span></span>',
    );
    expect([...html.matchAll(/<summary>([^<]+)<\/summary>/g)].map((m) => m[1])).toEqual(
      expect.arrayContaining(['Access Partner Center PPE', 'Sign users in', 'View users&#39; basic profile']),
    );
  });

  it('without that box the consent covers the administrator alone: their refresh tokens work, other accounts still need approval', async () => {
    const { verifier, challenge } = pkce();
    const step = await drive.signInStep(sim, authorizeUrl(sim, { client: cpv, tenant: OTHER_TENANT, challenge }));
    const accepted = await drive.submitPage(sim, step.html, { decision: 'accept' });
    const code = accepted.location!.searchParams.get('code')!;
    const cca = drive.newCca(sim, cpv, OTHER_TENANT);
    const result = await cca.acquireTokenByCode({ code, scopes: SCOPES, redirectUri: REDIRECT, codeVerifier: verifier, nonce: 'nonce-456' });
    await refresh(sim, drive.refreshTokenOf(cca, result), cpv, OTHER_TENANT);
    expect(sim.stats.interactiveConsent).toMatchObject({ grantedForUser: 1, grantedForOrganization: 0 });
    expect(sim.hasConsent(cpv.clientId, OTHER_TENANT)).toBe(false);
    const other = await drive.signInStep(sim, authorizeUrl(sim, { client: cpv, tenant: OTHER_TENANT }), { account: 'adminAgentNotDirectoryAdmin' });
    expect(other.html).toContain('Need admin approval');
    const minted = sim.issueRefreshTokenFor({ clientId: cpv.clientId, tenant: OTHER_TENANT, account: 'adminAgentNotDirectoryAdmin' });
    expect(await msalError(refresh(sim, minted, cpv, OTHER_TENANT))).toMatchObject({ errorNo: 65001 });
  });

  it('sends a cancelled prompt back as access_denied (AADSTS65004); consent_required only ever answers prompt=none', async () => {
    const step = await drive.signInStep(sim, authorizeUrl(sim, { client: cpv, tenant: OTHER_TENANT }));
    const cancelled = await drive.submitPage(sim, step.html, { decision: 'cancel' });
    expect(Object.fromEntries(cancelled.location!.searchParams)).toMatchObject({
      error: 'access_denied',
      error_subcode: 'cancel',
      state: 'state-123',
    });
    expect(cancelled.location!.searchParams.get('error_description')).toMatch(/^AADSTS65004/);
    expect(sim.hasConsent(cpv.clientId, OTHER_TENANT)).toBe(false);
    // Without a session a silent request cannot even find the user: login_required, before any consent question.
    const silent = await fetch(authorizeUrl(sim, { client: cpv, tenant: OTHER_TENANT, extra: { prompt: 'none' } }), { redirect: 'manual' });
    expect(new URL(silent.headers.get('location')!).searchParams.get('error')).toBe('login_required');
  });
});

describe('admin consent endpoint (CPV)', () => {
  const consentUrl = (state: string) =>
    `${sim.authority(OTHER_TENANT)}/v2.0/adminconsent?client_id=${cpv.clientId}&redirect_uri=${encodeURIComponent(REDIRECT)}&state=${state}&scope=${encodeURIComponent(PARTNER_CENTER_SCOPE)}`;
  const post = (url: string, body: string) =>
    fetch(url, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });

  it('cancelled: the error response the admin-consent documentation shows; a non-administrator stays on "Need admin approval"; Accept consents', async () => {
    const page = await (await fetch(consentUrl('consent-1'))).text();
    expect(page).toMatch(/<button[^>]*>Accept<\/button>/);
    expect(page).toMatch(/<button[^>]*>Cancel<\/button>/);
    expect(page).toMatch(/<select id="account" name="account">/);

    const cancelled = new URL((await post(consentUrl('consent-1'), 'decision=cancel')).headers.get('location')!);
    expect(Object.fromEntries(cancelled.searchParams)).toMatchObject({ admin_consent: 'True', error: 'consent_required', state: 'consent-1' });
    expect(cancelled.searchParams.get('error_description')).toMatch(/^AADSTS65004: The resource owner or authorization server denied the request\./);

    const notAdmin = await post(consentUrl('consent-1'), 'decision=accept&account=adminAgentNotDirectoryAdmin');
    expect(notAdmin.status).toBe(200);
    expect(await notAdmin.text()).toContain('AADSTS90094');
    expect(sim.hasConsent(cpv.clientId, OTHER_TENANT)).toBe(false);

    const accept = await post(consentUrl('consent-1'), 'decision=accept');
    expect(accept.status).toBe(303);
    expect(Object.fromEntries(new URL(accept.headers.get('location')!).searchParams)).toEqual({
      admin_consent: 'True',
      tenant: OTHER_TENANT,
      state: 'consent-1',
      scope: PARTNER_CENTER_SCOPE,
    });
    expect(sim.stats.consentsGranted).toBe(1);
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

  it('runs the 90 days per token value: redeeming a token neither resets its own clock nor extends the newer one', async () => {
    const a = sim.issueRefreshTokenFor({ clientId: csp.clientId, tenant: TENANT });
    sim.clock.advanceDays(30);
    const b = (await refresh(sim, a)).refreshToken; // B has its own 90 days from day 30
    sim.clock.advanceDays(30);
    const c = (await refresh(sim, a)).refreshToken; // A, reused on day 60, still works and yields C
    sim.clock.advanceDays(31); // day 91: A is past its own 90 days although it was used on day 60
    expect(await msalError(refresh(sim, a))).toMatchObject({ errorCode: 'invalid_grant', errorNo: 700082 });
    await refresh(sim, b);
    sim.clock.advanceDays(30); // day 121: B (issued day 30) is dead; reusing A on day 60 did not extend it
    expect(await msalError(refresh(sim, b))).toMatchObject({ errorNo: 700082 });
    await refresh(sim, c); // C was issued on day 60
  });

  it.each([
    { kind: 'invalidScope', errorCode: 'invalid_scope', errorNo: 70011 },
    { kind: 'resourceNotFound', errorCode: 'invalid_resource', errorNo: 500011 },
    { kind: 'accessDenied', errorCode: 'access_denied', errorNo: 50105 },
  ] as const)('$kind → $errorCode AADSTS$errorNo at the token endpoint', async ({ kind, errorCode, errorNo }) => {
    const target = sim.issueRefreshTokenFor({ clientId: csp.clientId, tenant: TENANT });
    const bystander = sim.issueRefreshTokenFor({ clientId: csp.clientId, tenant: OTHER_TENANT });
    sim.faults.apply({ kind, tenant: TENANT });
    const err = await msalError(refresh(sim, target));
    expect(err).toBeInstanceOf(ServerError);
    expect(err).toMatchObject({ errorCode, errorNo });
    const raw = await postToken(sim, {
      grant_type: 'refresh_token',
      refresh_token: target,
      client_id: csp.clientId,
      client_secret: csp.clientSecret,
      scope: PARTNER_CENTER_SCOPE,
    });
    expect(raw.status).toBe(400);
    expect(raw.body).toMatchObject({ error: errorCode, error_codes: [errorNo] });
    await refresh(sim, bystander, csp, OTHER_TENANT);
  });

  it('sends the exact Entra error body', async () => {
    const rt = sim.issueRefreshTokenFor({ clientId: csp.clientId, tenant: TENANT });
    sim.faults.apply({ kind: 'refreshTokenExpired', refreshToken: rt });
    const correlationId = '0b0c0d0e-1f2a-4b3c-8d4e-5f6a7b8c9d0e';
    const res = await postToken(
      sim,
      { grant_type: 'refresh_token', refresh_token: rt, client_id: csp.clientId, client_secret: csp.clientSecret, scope: PARTNER_CENTER_SCOPE },
      { 'client-request-id': correlationId },
    );
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(res.headers.get('cache-control')).toContain('no-store');
    expect(res.body).toEqual({
      error: 'invalid_grant',
      error_description: expect.stringMatching(
        /^AADSTS700082: The refresh token has expired due to inactivity\..*\r\nTrace ID: [0-9a-f-]{36}\r\nCorrelation ID: 0b0c0d0e-1f2a-4b3c-8d4e-5f6a7b8c9d0e\r\nTimestamp: \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/,
      ),
      error_codes: [700082],
      timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/),
      trace_id: expect.any(String),
      correlation_id: correlationId,
      error_uri: 'https://login.microsoftonline.com/error?code=700082',
    });
  });
});

describe('access tokens for Partner Center and the sign-in choices', () => {
  it('issues a v1 access token for Partner Center, signed with the JWKS, with pwd + mfa in amr; the v2 id token carries no amr', async () => {
    const { result } = await redeemCode(sim);
    const admin = sim.accountFor(TENANT);
    const at = await verifiedAccessToken(sim, result.accessToken);
    expect(at).toMatchObject({
      ver: '1.0',
      aud: 'https://api.partnercenter.microsoft.com',
      iss: `https://sts.windows.net/${TENANT}/`,
      tid: TENANT,
      oid: admin.oid,
      upn: admin.upn,
      unique_name: admin.upn,
      name: admin.name,
      appid: csp.clientId,
      appidacr: '1',
      scp: 'user_impersonation',
      amr: ['pwd', 'mfa'],
      acct: 0,
    });
    expect(at.idp).toBeUndefined();
    expect((at.exp as number) - (at.iat as number)).toBe(3599);
    expect(at.nbf).toBe(at.iat);
    const id = claimsOf(result.idToken);
    expect(id.ver).toBe('2.0');
    expect(id).not.toHaveProperty('amr');
  });

  it("signed in without MFA the tokens lack mfa, and every refresh keeps the sign-in's amr", async () => {
    const without = await redeemCode(sim, csp, TENANT, { withoutMfa: true });
    expect(sim.stats.signIns).toMatchObject({ total: 1, withoutMfa: 1 });
    expect(claimsOf(without.result.accessToken).amr).toEqual(['fed']);
    const refreshed = await refresh(sim, without.refreshToken);
    expect(claimsOf(refreshed.result.accessToken).amr).toEqual(['fed']);
    expect(claimsOf((await refresh(sim, refreshed.refreshToken)).result.accessToken).amr).toEqual(['fed']);

    const withMfa = await redeemCode(sim);
    expect(sim.stats.signIns).toMatchObject({ total: 2, withoutMfa: 1 });
    expect(claimsOf((await refresh(sim, withMfa.refreshToken)).result.accessToken).amr).toEqual(['pwd', 'mfa']);
  });

  it('signs in the chosen account, each with a stable object id and user name per tenant', async () => {
    const seen = new Set<string>();
    const kinds: AccountKind[] = ['adminAgent', 'noPartnerCenterRole', 'guest', 'guestAdminAgent', 'adminAgentNotDirectoryAdmin'];
    for (const kind of kinds) {
      const account = sim.accountFor(TENANT, kind);
      expect(sim.accountFor(TENANT, kind)).toEqual(account);
      expect(sim.accountFor(OTHER_TENANT, kind).oid).not.toBe(account.oid);
      seen.add(account.oid);
      const { result } = await redeemCode(sim, csp, TENANT, { account: kind });
      expect(result.account?.homeAccountId).toBe(`${account.oid}.${TENANT}`);
      expect(result.account?.username).toBe(account.username);
      const at = claimsOf(result.accessToken);
      expect(at).toMatchObject({ oid: account.oid, upn: account.upn, tid: TENANT });
    }
    expect(seen.size).toBe(5);
    expect(sim.stats.signIns.byAccount).toEqual({
      adminAgent: 1,
      noPartnerCenterRole: 1,
      guest: 1,
      guestAdminAgent: 1,
      adminAgentNotDirectoryAdmin: 1,
    });
    // Who may consent for the organization, and who holds a Partner Center role, are separate facts.
    expect(sim.accountsOf(TENANT).map((a) => [a.kind, a.directoryAdmin, a.partnerCenterRoles])).toEqual([
      ['adminAgent', true, ['AdminAgent']],
      ['noPartnerCenterRole', false, []],
      ['guest', false, []],
      ['guestAdminAgent', false, ['AdminAgent']],
      ['adminAgentNotDirectoryAdmin', false, ['AdminAgent']],
    ]);
    expect(sim.accountFor(TENANT)).toEqual(sim.accountFor(TENANT, 'adminAgent'));
  });

  it('marks a guest as Entra does: #EXT# user name, acct 1 and the home tenant as idp', async () => {
    const guest = sim.accountFor(TENANT, 'guest');
    expect(guest.upn).toBe(`someone_contoso.com#EXT#@${TENANT.slice(0, 8)}.example`);
    const { result, refreshToken } = await redeemCode(sim, csp, TENANT, { account: 'guest' });
    const at = await verifiedAccessToken(sim, result.accessToken);
    expect(at).toMatchObject({
      acct: 1,
      upn: guest.upn,
      unique_name: 'someone@contoso.com',
      email: 'someone@contoso.com',
      idp: `https://sts.windows.net/${guest.homeTenant}/`,
    });
    expect(claimsOf(result.idToken)).toMatchObject({
      preferred_username: 'someone@contoso.com',
      idp: `https://sts.windows.net/${guest.homeTenant}/`,
    });
    // The refresh token carries the account: a refreshed token is still the guest's.
    expect(claimsOf((await refresh(sim, refreshToken)).result.accessToken)).toMatchObject({ oid: guest.oid, acct: 1 });
    // The guest admin agent is a guest from another organization too.
    const agent = sim.accountFor(TENANT, 'guestAdminAgent');
    expect(agent).toMatchObject({ guest: true, username: 'agent@fabrikam.com', upn: `agent_fabrikam.com#EXT#@${TENANT.slice(0, 8)}.example` });
    expect(agent.homeTenant).not.toBe(guest.homeTenant);
  });

  it('keeps v2 access tokens for other resources', async () => {
    const rt = sim.issueRefreshTokenFor({ clientId: csp.clientId, tenant: TENANT, scope: `${GRAPH_SCOPE} openid offline_access` });
    const res = await postToken(sim, {
      grant_type: 'refresh_token',
      refresh_token: rt,
      client_id: csp.clientId,
      client_secret: csp.clientSecret,
      scope: GRAPH_SCOPE,
    });
    const at = claimsOf(res.body.access_token as string);
    expect(at).toMatchObject({ ver: '2.0', aud: 'https://graph.microsoft.com', iss: `${sim.url}/${TENANT}/v2.0` });
    expect(at).not.toHaveProperty('amr');
  });

  it('mints refresh tokens for any account, with or without MFA', async () => {
    const rt = sim.issueRefreshTokenFor({ clientId: csp.clientId, tenant: TENANT, account: 'noPartnerCenterRole', withoutMfa: true });
    const at = claimsOf((await refresh(sim, rt)).result.accessToken);
    expect(at).toMatchObject({ oid: sim.accountFor(TENANT, 'noPartnerCenterRole').oid, amr: ['fed'], acct: 0 });
  });
});

describe('consent per scope (CPV)', () => {
  afterEach(() => sim.revokeConsent(cpv.clientId, THIRD_TENANT));

  it('does not let a consent for one scope cover another', async () => {
    sim.grantConsent(cpv.clientId, THIRD_TENANT, [GRAPH_SCOPE]);
    expect(sim.hasConsent(cpv.clientId, THIRD_TENANT)).toBe(true);
    expect(sim.hasConsent(cpv.clientId, THIRD_TENANT, PARTNER_CENTER_SCOPE)).toBe(false);
    const prompt = await drive.signInStep(sim, authorizeUrl(sim, { client: cpv, tenant: THIRD_TENANT }));
    expect(prompt.html).toContain('Consent on behalf of your organization');
    const rt = sim.issueRefreshTokenFor({ clientId: cpv.clientId, tenant: THIRD_TENANT });
    expect(await msalError(refresh(sim, rt, cpv, THIRD_TENANT))).toMatchObject({
      errorCode: 'invalid_grant',
      subError: 'consent_required',
      errorNo: 65001,
    });

    // The admin consents to Partner Center's scope: now both are covered.
    const consentUrl = `${sim.authority(THIRD_TENANT)}/v2.0/adminconsent?client_id=${cpv.clientId}&redirect_uri=${encodeURIComponent(REDIRECT)}&state=s&scope=${encodeURIComponent(PARTNER_CENTER_SCOPE)}`;
    const accepted = await fetch(consentUrl, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'decision=accept',
    });
    expect(new URL(accepted.headers.get('location')!).searchParams.get('admin_consent')).toBe('True');
    expect(sim.hasConsent(cpv.clientId, THIRD_TENANT, `${PARTNER_CENTER_SCOPE} ${GRAPH_SCOPE}`)).toBe(true);
    await refresh(sim, rt, cpv, THIRD_TENANT);
    expect((await redeemCode(sim, cpv, THIRD_TENANT)).result.tenantId).toBe(THIRD_TENANT);
  });

  it('grants the configured permissions for a consent with .default or without scope', async () => {
    sim.grantConsent(cpv.clientId, THIRD_TENANT, ['https://api.partnercenter.microsoft.com/.default']);
    expect(sim.hasConsent(cpv.clientId, THIRD_TENANT, PARTNER_CENTER_SCOPE)).toBe(true);
    expect(sim.hasConsent(cpv.clientId, THIRD_TENANT, GRAPH_SCOPE)).toBe(false);
    sim.revokeConsent(cpv.clientId, THIRD_TENANT);
    sim.grantConsent(cpv.clientId, THIRD_TENANT);
    expect(sim.hasConsent(cpv.clientId, THIRD_TENANT, `${PARTNER_CENTER_SCOPE} offline_access openid`)).toBe(true);
  });
});

describe('the app removed from one partner tenant', () => {
  it('answers unauthorized_client AADSTS700016 there only, and a new admin consent brings the app back', async () => {
    sim.grantConsent(cpv.clientId, THIRD_TENANT);
    const here = sim.issueRefreshTokenFor({ clientId: cpv.clientId, tenant: TENANT });
    const elsewhere = sim.issueRefreshTokenFor({ clientId: cpv.clientId, tenant: THIRD_TENANT });
    sim.faults.apply({ kind: 'appRemovedFromTenant', clientId: cpv.clientId, tenant: TENANT });
    try {
      const err = await msalError(refresh(sim, here, cpv, TENANT));
      expect(err).toBeInstanceOf(ServerError);
      expect(err).toMatchObject({ errorCode: 'unauthorized_client', errorNo: 700016 });
      expect(err.errorMessage).toContain(`was not found in the directory '${TENANT}'`);
      await refresh(sim, elsewhere, cpv, THIRD_TENANT); // the other partner tenants are not affected
      // Its consent went with it: a sign-in there asks for consent again.
      expect((await drive.signInStep(sim, authorizeUrl(sim, { client: cpv, tenant: TENANT }))).html).toContain('Permissions requested');
    } finally {
      sim.grantConsent(cpv.clientId, TENANT);
      sim.revokeConsent(cpv.clientId, THIRD_TENANT);
    }
    await refresh(sim, here, cpv, TENANT);
  });
});

describe("managed-identity tokens (the federated credential's assertion)", () => {
  it('mints what Entra issues to a managed identity: issuer of its home tenant, signed with the published keys', async () => {
    const principalId = '0f0e0d0c-0b0a-4908-8706-050403020100';
    const clientId = '1a2b3c4d-5e6f-4a0b-9c8d-7e6f5a4b3c2d';
    const minted = sim.mintManagedIdentityToken({ tenant: TENANT, principalId, clientId });
    const { payload, protectedHeader } = await jwtVerify(minted.accessToken, createRemoteJWKSet(new URL(sim.jwksUrl)), {
      issuer: sim.issuer(TENANT),
      audience: 'api://AzureADTokenExchange',
    });
    expect(protectedHeader.alg).toBe('RS256');
    expect(payload).toMatchObject({ sub: principalId, oid: principalId, azp: clientId, tid: TENANT, idtyp: 'app', ver: '2.0' });
    expect(payload).not.toHaveProperty('scp');
    expect(minted.expiresOn).toBe(payload.exp);
    expect(sim.stats.managedIdentityTokensMinted).toBe(1);
  });
});

describe('client and transient faults', () => {
  it('answers invalid_client 401 for a wrong secret, and for the invalid/expired secret switches', async () => {
    const rt = sim.issueRefreshTokenFor({ clientId: csp.clientId, tenant: TENANT });
    const wrong = await msalError(
      newCca(sim, csp, TENANT, 'not-the-secret').acquireTokenByRefreshToken({ refreshToken: rt, scopes: SCOPES, forceCache: true }),
    );
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
    const res = await postToken(
      sim,
      { grant_type: 'refresh_token', refresh_token: rt, scope: `${PARTNER_CENTER_SCOPE} offline_access openid` },
      { authorization: `Basic ${basic}` },
    );
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      token_type: 'Bearer',
      expires_in: 3599,
      scope: PARTNER_CENTER_SCOPE,
      refresh_token: expect.stringMatching(/^1\.A/),
    });
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

    const throttled = await postToken(sim, {
      grant_type: 'refresh_token',
      refresh_token: rt,
      client_id: csp.clientId,
      client_secret: csp.clientSecret,
    });
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

  it('takes the newer faults, account choices, scoped consents and managed-identity tokens over HTTP', async () => {
    expect(
      (
        await post('faults', [
          { kind: 'invalidScope', tenant: OTHER_TENANT },
          { kind: 'invalidClient', clientId: cpv.clientId, reason: 'noMatchingFederatedCredential' },
        ])
      ).status,
    ).toBe(204);
    const other = sim.issueRefreshTokenFor({ clientId: csp.clientId, tenant: OTHER_TENANT });
    expect(await msalError(refresh(sim, other, csp, OTHER_TENANT))).toMatchObject({ errorCode: 'invalid_scope' });
    expect(await msalError(refresh(sim, sim.issueRefreshTokenFor({ clientId: cpv.clientId, tenant: TENANT }), cpv))).toMatchObject({
      errorCode: 'invalid_client',
      errorNo: 700213,
    });
    sim.faults.clear();

    const minted = await post('refresh-tokens', { clientId: csp.clientId, tenant: TENANT, account: 'guest', withoutMfa: true });
    const { refresh_token: rt } = (await minted.json()) as { refresh_token: string };
    expect(claimsOf((await refresh(sim, rt)).result.accessToken)).toMatchObject({ acct: 1, amr: ['fed'] });

    expect((await post('consents', { clientId: cpv.clientId, tenant: THIRD_TENANT, scopes: [GRAPH_SCOPE] })).status).toBe(204);
    expect(sim.hasConsent(cpv.clientId, THIRD_TENANT, GRAPH_SCOPE)).toBe(true);
    expect(sim.hasConsent(cpv.clientId, THIRD_TENANT, PARTNER_CENTER_SCOPE)).toBe(false);
    sim.revokeConsent(cpv.clientId, THIRD_TENANT);

    const mi = await post('managed-identity-tokens', { tenant: TENANT, principalId: 'p-1', clientId: 'c-1' });
    expect(mi.status).toBe(201);
    const body = (await mi.json()) as { access_token: string; expires_on: number };
    expect(claimsOf(body.access_token)).toMatchObject({ iss: sim.issuer(TENANT), sub: 'p-1', aud: 'api://AzureADTokenExchange' });

    expect((await post('faults', { kind: 'appRemovedFromTenant', tenant: TENANT })).status).toBe(400);

    expect((await post('faults', { kind: 'tenantNotFound', tenant: THIRD_TENANT })).status).toBe(204);
    const lost = sim.issueRefreshTokenFor({ clientId: csp.clientId, tenant: TENANT });
    expect(await msalError(refresh(sim, lost, csp, THIRD_TENANT))).toMatchObject({ errorCode: 'invalid_request', errorNo: 90002 });
    expect((await post('faults', { kind: 'federatedCredentialPropagating', clientId: cpv.clientId, count: 0 })).status).toBe(400);
    expect((await post('refresh-tokens', { clientId: csp.clientId, tenant: TENANT, account: 'guestAdminAgent' })).status).toBe(201);
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
      // An administrator of THIRD_TENANT consents for themself alone, on the prompt.
      const { verifier, challenge } = pkce();
      const prompt = await drive.signInStep(first, drive.authorizeUrl(first, { client: cpv, tenant: THIRD_TENANT, challenge }));
      const code = (await drive.submitPage(first, prompt.html, { decision: 'accept' })).location!.searchParams.get('code')!;
      const cca = drive.newCca(first, cpv, THIRD_TENANT);
      const own = drive.refreshTokenOf(
        cca,
        await cca.acquireTokenByCode({ code, scopes: SCOPES, redirectUri: REDIRECT, codeVerifier: verifier, nonce: 'nonce-456' }),
      );
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
        // The administrator's own consent survived too: their token still refreshes, the tenant still has no consent.
        await refresh(second, own, cpv, THIRD_TENANT);
        expect(second.hasConsent(cpv.clientId, THIRD_TENANT)).toBe(false);
      } finally {
        await second.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('loads the state file of the previous version: consents without scopes, tokens without account or amr', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'idsim-'));
    const stateFile = join(dir, 'state.json');
    try {
      const first = await startIdentitySimulator({ tls: tlsFromEnv(), clients: [csp, cpv], stateFile });
      first.grantConsent(cpv.clientId, OTHER_TENANT);
      const rt = first.issueRefreshTokenFor({ clientId: cpv.clientId, tenant: OTHER_TENANT });
      await first.close();
      const old = JSON.parse(readFileSync(stateFile, 'utf8')) as {
        consents: Record<string, unknown>[];
        refreshTokens: Record<string, Record<string, unknown>>;
      };
      for (const c of old.consents) delete c.scopes;
      delete (old as { userConsents?: unknown }).userConsents;
      for (const r of Object.values(old.refreshTokens)) for (const k of ['account', 'amr', 'mfaRequested']) delete r[k];
      writeFileSync(stateFile, JSON.stringify(old));

      const second = await startIdentitySimulator({ tls: tlsFromEnv(), clients: [csp, cpv], stateFile });
      try {
        expect(second.hasConsent(cpv.clientId, OTHER_TENANT, PARTNER_CENTER_SCOPE)).toBe(true);
        const at = claimsOf((await refresh(second, rt, cpv, OTHER_TENANT)).result.accessToken);
        expect(at).toMatchObject({ oid: second.accountFor(OTHER_TENANT).oid, amr: ['pwd', 'mfa'] });
      } finally {
        await second.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
