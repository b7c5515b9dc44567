/**
 * Generating a refresh token end to end, through the real handlers served by the local host,
 * the real msal-node against the identity simulator and the real SecretClient against the
 * Key Vault fake (issue: generate a refresh token end to end).
 */
import type { Registration } from '../../local/functionsCore';
import { startHost } from '../../local/host';
import { cpvClientId, tenants } from '../fixtures/config';
import { authorizeParameters } from '../../shared/signIn/entraUrls';
import { stateKey } from '../../shared/signIn/transaction';
import { CookieJar, cookieHeader, postStart, request, signIn, submitForm, tokenFromPage } from '../support/flow';
import { startWorld, unboundedSignIns, type World } from '../support/world';

describe.each(['keyvault', 'file'] as const)('generate a refresh token (%s store)', (store) => {
  let world: World;
  beforeAll(async () => {
    // More sign-ins from 127.0.0.1 than the production bounds let through in a minute (those are proven in test/security).
    world = await startWorld({ store, signInBounds: unboundedSignIns });
  });
  afterAll(async () => {
    await world.close();
  });

  it('CSP: shows the token once, with the parameter to paste it into, and stores the same token', async () => {
    const { start, authorizeUrl, callback, callbackUrl } = await signIn(world, 'MP-00001');
    // The transaction cookie, named after its state: __Host-, Secure, HttpOnly, SameSite=Lax, Path=/, 10 minutes.
    const name = `__Host-ms-auth-tx-${stateKey(new URL(callbackUrl).searchParams.get('state') ?? '')}`;
    expect(start.setCookies).toHaveLength(1);
    expect(start.setCookies[0]).toMatch(new RegExp(`^${name}=[A-Za-z0-9_.-]+; Path=/; Max-Age=600; Secure; HttpOnly; SameSite=Lax$`));
    const authorize = new URL(authorizeUrl);
    expect(authorize.pathname).toBe(`/${tenants.csp}/oauth2/v2.0/authorize`);
    expect(authorize.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authorize.searchParams.get('redirect_uri')).toBe(world.callbackUrl);

    expect(callback.status).toBe(200);
    expect(callback.headers.get('cache-control')).toBe('no-store');
    expect(callback.body).toContain('<code id="parameter-name">refresh_token_test</code>');
    const token = tokenFromPage(callback.body);
    expect(token).toMatch(/^1\.A/);
    // The transaction is spent: its cookie now holds the small sealed record that it finished, for an hour.
    expect(callback.setCookies).toEqual([
      expect.stringMatching(new RegExp(`^${name}=[A-Za-z0-9_.-]+; Path=/; Max-Age=3600; Secure; HttpOnly; SameSite=Lax$`)),
    ]);

    const stored = await world.store.getToken('MP-00001', 'test');
    expect(stored?.value).toBe(token);
    expect(stored?.tags).toMatchObject({ marketplace: 'MP-00001', environment: 'test', model: 'CSP', tenant: tenants.csp, status: 'active' });
    const days = ((stored?.expiresOn?.getTime() ?? 0) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(89.9);
    expect(days).toBeLessThanOrEqual(90);
    expect(world.logs.some((l) => l.message.includes('"event":"TokenGenerated"') && l.message.includes('MP-00001'))).toBe(true);
  });

  it('Reload after success: the same browser is told the sign-in finished and when (200, no token, no token call); another browser is refused', async () => {
    const { callback, callbackUrl } = await signIn(world, 'MP-00001');
    const token = tokenFromPage(callback.body) ?? '';
    expect(token.length).toBeGreaterThan(20);
    const calls = world.simulator.stats.tokenCalls.total;
    const stored = (await world.store.getToken('MP-00001', 'test'))?.version;
    const again = await request(callbackUrl, { headers: { cookie: cookieHeader(callback.setCookies) } });
    expect(again.status).toBe(200);
    expect(again.headers.get('cache-control')).toBe('no-store');
    expect(again.body).toContain('<h1>This sign-in already finished</h1>');
    expect(again.body).toMatch(/The token for marketplace <span class="nowrap">MP-00001<\/span> was stored at <time class="utc" datetime="\d{4}-/);
    expect(again.body).not.toContain(token);
    expect(again.setCookies).toEqual([]);
    expect(world.simulator.stats.tokenCalls.total).toBe(calls);
    expect((await world.store.getToken('MP-00001', 'test'))?.version).toBe(stored);
    // The finished record holds nothing secret: not the state, not the token.
    const record = /=([^;]+)/.exec(callback.setCookies[0] ?? '')?.[1] ?? '';
    expect(record.length).toBeLessThan(400);
    const elsewhere = await request(callbackUrl);
    expect(elsewhere.status).toBe(400);
    expect(elsewhere.body).toContain('<h1>Sign-in session not found</h1>');
  });

  it.each([
    ['in the order they started', [0, 1]],
    ['in the other order', [1, 0]],
  ])('two sign-ins in one browser (two tabs) both finish, %s', async (_order, order) => {
    const jar = new CookieJar();
    const tabs: { callbackUrl: string; marketplace: string }[] = [];
    for (const marketplace of ['MP-00001', 'MP-00001']) {
      const start = await postStart(world, marketplace, { cookie: jar.header() });
      jar.take(start.setCookies);
      const authorize = await request(start.location ?? '');
      const signedIn = await submitForm(start.location ?? '', authorize.body, 'Sign in');
      tabs.push({ callbackUrl: signedIn.location ?? '', marketplace });
    }
    expect(jar.names()).toHaveLength(2);
    for (const i of order) {
      const tab = tabs[i]!;
      const r = await request(tab.callbackUrl, { headers: { cookie: jar.header() } });
      jar.take(r.setCookies);
      expect({ status: r.status, heading: /<h1>(.*?)<\/h1>/.exec(r.body)?.[1]?.replace(/<[^>]+>/g, '') }).toEqual({
        status: 200,
        heading: `Refresh token for ${tab.marketplace}`,
      });
      expect(tokenFromPage(r.body)).toBe((await world.store.getToken(tab.marketplace, 'test'))?.value);
    }
  });

  /** Start → Microsoft's sign-in page → Sign in with these choices: the page or redirect that follows. */
  async function signInAt(marketplace: string, choices: Record<string, string> = {}) {
    const start = await postStart(world, marketplace);
    const authorize = await request(start.location ?? '');
    const step = await submitForm(start.location ?? '', authorize.body, 'Sign in', choices);
    return { start, authorizeUrl: start.location ?? '', step, cookie: cookieHeader(start.setCookies) };
  }

  it("CPV, tenant not yet consented: an administrator sees Microsoft's consent prompt, approves right there, and gets the token", async () => {
    world.simulator.revokeConsent(cpvClientId, tenants.cpv);
    const { authorizeUrl, step, cookie } = await signInAt('MP-00002');
    // Entra's own prompt, on Entra's side: the service hears nothing until the administrator answers.
    expect(step.status).toBe(200);
    expect(step.body).toContain('Consent on behalf of your organization');
    const approved = await submitForm(authorizeUrl, step.body, 'Accept', { forOrganization: 'on' });
    expect(approved.status).toBe(303);
    const callback = await request(approved.location ?? '', { headers: { cookie } });
    expect(callback.status).toBe(200);
    expect(tokenFromPage(callback.body)).toBe((await world.store.getToken('MP-00002', 'test'))?.value);
    expect(world.simulator.stats.interactiveConsent).toMatchObject({ grantedForOrganization: 1 });
  });

  it('CPV: a person who may not approve stays on Microsoft\'s "Need admin approval"; going back leads to the approval page, and after Accept, "Try again" works', async () => {
    world.simulator.revokeConsent(cpvClientId, tenants.cpv);
    const callbacksBefore = world.logs.filter((l) => l.functionName === 'callback').length;
    const { authorizeUrl, step, cookie } = await signInAt('MP-00002', { account: 'adminAgentNotDirectoryAdmin' });
    expect(step.status).toBe(200);
    expect(step.body).toContain('<h1>Need admin approval</h1>');
    expect(step.body).toContain('AADSTS90094');
    expect(step.location).toBeUndefined();
    expect(world.logs.filter((l) => l.functionName === 'callback').length).toBe(callbacksBefore);

    // If they go back without consent, Entra says access_denied: the service's approval page.
    const back = await submitForm(authorizeUrl, step.body);
    expect(new URL(back.location ?? '').searchParams.get('error')).toBe('access_denied');
    const first = await request(back.location ?? '', { headers: { cookie } });
    expect(first.status).toBe(403);
    expect(first.body).toContain('An administrator must approve access first');
    expect(first.body).toContain('id="consent-declined"');
    const link = /<a class="button" id="admin-consent" href="([^"]+)"/.exec(first.body)?.[1]?.replace(/&amp;/g, '&');
    const consentUrl = new URL(link ?? '');
    expect(consentUrl.origin).toBe(world.simulator.url);
    expect(consentUrl.pathname).toBe(`/${tenants.cpv}/v2.0/adminconsent`);
    // The link asks for every scope the sign-in will need, with a state bound to this browser.
    expect(consentUrl.searchParams.get('scope')?.split(' ')).toEqual(
      expect.arrayContaining(['https://api.partnercenter.microsoft.com/user_impersonation', 'offline_access']),
    );
    // An approval link for another person's browser: no state, the tenant left to the administrator's sign-in.
    const shareable = new URL(/id="approval-link" value="([^"]+)"/.exec(first.body)?.[1]?.replace(/&amp;/g, '&') ?? '');
    expect(shareable.pathname).toBe('/organizations/v2.0/adminconsent');
    expect(shareable.searchParams.has('state')).toBe(false);
    // The sign-in's transaction is spent; the approval has a transaction of its own, named after its own state.
    const consentCookie = cookieHeader(first.setCookies);
    expect(consentCookie).toBe(
      `__Host-ms-auth-tx-${stateKey(consentUrl.searchParams.get('state') ?? '')}=${/=([^;]+)/.exec(first.setCookies[1] ?? '')?.[1]}`,
    );
    expect(first.setCookies[0]).toMatch(/^__Host-ms-auth-tx-[A-Za-z0-9_-]{16}=; Path=\/; Max-Age=0;/);

    const consentPage = await request(consentUrl.toString());
    const accepted = await submitForm(consentUrl.toString(), consentPage.body, 'Accept');
    expect(accepted.location).toMatch(/admin_consent=True/);
    expect(new URL(accepted.location ?? '').searchParams.get('state')).toBe(consentUrl.searchParams.get('state'));
    // Another browser (no cookie) cannot be told that access was approved.
    const elsewhere = await request(accepted.location ?? '');
    expect(elsewhere.status).toBe(400);
    expect(elsewhere.body).not.toContain('Access approved');
    const approved = await request(accepted.location ?? '', { headers: { cookie: consentCookie } });
    expect(approved.status).toBe(200);
    expect(approved.body).toContain('Now try again');
    // "Try again" keeps the marketplace ID filled in.
    const again = /<a class="button" id="try-again" href="([^"]+)"/.exec(approved.body)?.[1]?.replace(/&amp;/g, '&');
    expect(again).toBe('start?marketplace=MP-00002');
    const prefilled = await request(new URL(again ?? '', world.startUrl).toString());
    expect(prefilled.body).toContain('value="MP-00002"');
    // The approval is single-use: the same return again is not an approval.
    expect((await request(accepted.location ?? '', { headers: { cookie: consentCookie } })).status).toBe(400);

    // The same account, now that the tenant consented, gets its token.
    const second = await signIn(world, 'MP-00002', { signInChoices: { account: 'adminAgentNotDirectoryAdmin' } });
    expect(second.callback.status).toBe(200);
    expect((await world.store.getToken('MP-00002', 'test'))?.value).toBe(tokenFromPage(second.callback.body));
  });

  it('CPV: a cancelled prompt and an administrator who declines both get pages bound to this browser, never "approved"', async () => {
    world.simulator.revokeConsent(cpvClientId, tenants.cpv);
    const { authorizeUrl, step, cookie } = await signInAt('MP-00002');
    const cancelled = await submitForm(authorizeUrl, step.body, 'Cancel');
    const first = await request(cancelled.location ?? '', { headers: { cookie } });
    expect(first.status).toBe(403);
    expect(first.body).toContain('id="consent-declined"');
    const link = /id="admin-consent" href="([^"]+)"/.exec(first.body)?.[1]?.replace(/&amp;/g, '&') ?? '';
    const consentPage = await request(link);
    const declined = await submitForm(link, consentPage.body, 'Cancel');
    // As the admin-consent documentation shows a refusal: admin_consent=True with an error.
    expect(Object.fromEntries(new URL(declined.location ?? '').searchParams)).toMatchObject({ admin_consent: 'True', error: 'consent_required' });
    const back = await request(declined.location ?? '', { headers: { cookie: cookieHeader(first.setCookies) } });
    expect(back.status).toBe(403);
    expect(back.body).toContain('<h1>Approval was declined</h1>');
    expect(back.body).toContain('Ask an administrator of the partner tenant');
    expect(back.body).not.toContain('Access approved');
  });

  it("CPV: the copied approval link, completed in an administrator's own browser, is never reported as an approval", async () => {
    const start = await request(world.startUrl);
    const link = /id="approval-link" value="([^"]+)"/.exec(start.body)?.[1]?.replace(/&amp;/g, '&') ?? '';
    expect(new URL(link).searchParams.get('client_id')).toBe(cpvClientId);
    const page = await request(link);
    const accepted = await submitForm(link, page.body, 'Accept', { tenant: tenants.cpv });
    expect(accepted.location).toMatch(/admin_consent=True/);
    expect(world.simulator.hasConsent(cpvClientId, tenants.cpv)).toBe(true);
    const back = await request(accepted.location ?? '');
    expect(back.status).toBe(400);
    expect(back.body).toContain('Approval could not be confirmed here');
    expect(back.body).toContain('tell the person who asked you to generate the token again');
  });

  it('unknown marketplace: the troubleshooting answer, and nothing is stored', async () => {
    const r = await postStart(world, 'MP-99999');
    expect(r.status).toBe(404);
    expect(r.setCookies).toEqual([]);
    expect(r.body).toContain('The marketplace ID was not found in the configuration file');
    expect(r.body).toContain('Microsoft Direct Billed partner');
    expect(r.body).toContain('CloudBlue PdM for Microsoft products');
    expect(await world.store.getToken('MP-99999', 'test')).toBeUndefined();
  });

  it('malformed ID: the form again, with a clear message and status 400', async () => {
    const r = await postStart(world, 'mp-1');
    expect(r.status).toBe(400);
    expect(r.body).toContain('MP- followed by 5 to 8 digits');
    expect(r.body).toContain('value="mp-1"');
    expect(r.setCookies).toEqual([]);
  });

  it('the callback served by another instance still works (the transaction lives in the cookie, not in memory)', async () => {
    const start = await postStart(world, 'MP-00001');
    const authorize = await request(start.location ?? '');
    const signedIn = await submitForm(start.location ?? '', authorize.body, 'Sign in');
    // A second instance: a fresh copy of every module (its own memory) behind its own host.
    let registrations: Registration[] = [];
    jest.isolateModules(() => {
      // Booted like local mode boots an instance: its own secret store, then the functions.
      const { provideLocalSecretStore } = require('../../shared/secrets/open') as typeof import('../../shared/secrets/open');
      const { FileSecretStore } = require('../../local/fileSecretStore') as typeof import('../../local/fileSecretStore');
      provideLocalSecretStore((dir) => new FileSecretStore(dir));
      require('../../functions/callback');
      registrations = (require('../../local/functionsCore') as typeof import('../../local/functionsCore')).listRegistrations();
    });
    expect(registrations.map((r) => r.name)).toEqual(['callback']);
    const other = await startHost({ port: 0, registrations, log: () => undefined });
    try {
      const url = new URL(signedIn.location ?? '');
      const callback = await request(`${other.url}${url.pathname}${url.search}`, { headers: { cookie: cookieHeader(start.setCookies) } });
      expect(callback.status).toBe(200);
      expect(tokenFromPage(callback.body)).toBe((await world.store.getToken('MP-00001', 'test'))?.value);
    } finally {
      await other.close();
    }
  });
});

describe('storing a freshly issued token where a person is waiting', () => {
  let world: World;
  beforeAll(async () => {
    world = await startWorld({ store: 'keyvault' });
  });
  afterAll(async () => {
    await world.close();
  });
  afterEach(() => world.vault?.faults.clear());

  const versions = () => world.vault?.versions('refresh-token-test-MP-00001') ?? [];

  it('a transient Key Vault failure is retried once: the token is shown and stored, as one version', async () => {
    const before = versions().length;
    world.vault?.faults.unavailable('write', 1);
    const { callback } = await signIn(world, 'MP-00001');
    expect(callback.status).toBe(200);
    expect(versions().length - before).toBe(1);
    expect((await world.store.getToken('MP-00001', 'test'))?.value).toBe(tokenFromPage(callback.body));
  });

  it('a write that failed after it landed is not written again', async () => {
    const before = versions().length;
    world.vault?.faults.error('write', 1, { afterCommit: true });
    const { callback } = await signIn(world, 'MP-00001');
    expect(callback.status).toBe(200);
    expect(versions().length - before).toBe(1);
  });

  it('a vault that keeps failing: no token is shown, the page says it could not be stored (503)', async () => {
    const before = versions().length;
    world.vault?.faults.unavailable('write', 5);
    const { callback } = await signIn(world, 'MP-00001');
    expect(callback.status).toBe(503);
    expect(callback.body).toContain('The token could not be stored');
    expect(tokenFromPage(callback.body)).toBeUndefined();
    expect(versions().length).toBe(before);
  });
});

describe('a token counts only once Partner Center accepts it (Key Vault store, Connect push on)', () => {
  let world: World;
  beforeAll(async () => {
    world = await startWorld({ store: 'keyvault', connect: { products: { 'MP-00001': ['PRD-000-000-001'] } } });
  });
  afterAll(async () => {
    await world.close();
  });
  beforeEach(() => {
    world.partnerCenter.clearFaults();
  });

  it.each([
    ['a sign-in without MFA', { withoutMfa: 'on' }, 'mfa_required', 'Multi-factor authentication is required'],
    [
      'a user without a Partner Center role',
      { account: 'noPartnerCenterRole' },
      'partner_center_role_missing',
      'The account has no Partner Center role',
    ],
    ['a guest user without a role', { account: 'guest' }, 'partner_center_role_missing', 'The account has no Partner Center role'],
  ])('%s: refused with a page that says how to fix it; nothing stored, nothing pushed', async (_who, choices, code, title) => {
    const pushesBefore = world.connect?.stats.writes ?? 0;
    const { callback } = await signIn(world, 'MP-00001', { signInChoices: choices });
    expect(callback.status).toBe(403);
    expect(callback.body).toContain(`<h1>${title}</h1>`);
    expect(callback.body).toContain('No token was stored or sent to Connect.');
    expect(tokenFromPage(callback.body)).toBeUndefined();
    expect(await world.store.getToken('MP-00001', 'test')).toBeUndefined();
    expect(world.connect?.stats.writes ?? 0).toBe(pushesBefore);
    expect(world.logs.some((l) => l.message.includes(`"code":"${code}"`))).toBe(true);
  });

  it('Partner Center saying MFA is missing (401, 900421) is the authority even when the token claims MFA; its reference is on the page', async () => {
    world.partnerCenter.setFault({ kind: 'mfaMissing' });
    const { callback } = await signIn(world, 'MP-00001');
    expect(callback.status).toBe(403);
    expect(callback.body).toContain('<h1>Multi-factor authentication is required</h1>');
    expect(callback.body).toMatch(/For Microsoft support: Partner Center MS-CorrelationId <code>[0-9a-f-]{36}<\/code>/);
    expect(await world.store.getToken('MP-00001', 'test')).toBeUndefined();
  });

  it('Partner Center unavailable: 503 "did not answer", nothing stored', async () => {
    world.partnerCenter.setFault({ kind: 'serverError', status: 503, count: 5 });
    const { callback } = await signIn(world, 'MP-00001');
    expect(callback.status).toBe(503);
    expect(callback.body).toContain('<h1>Partner Center did not answer</h1>');
    expect(await world.store.getToken('MP-00001', 'test')).toBeUndefined();
  });

  it('an admin agent with MFA: verified, stored with who signed in and the partner; audited; a later sign-in by another account says so', async () => {
    const { callback } = await signIn(world, 'MP-00001');
    expect(callback.status).toBe(200);
    expect(callback.body).toMatch(/Verified with Partner Center: it works for <strong>[^<]+<\/strong>/);
    const first = await world.store.getToken('MP-00001', 'test');
    const admin = world.simulator.accountFor(tenants.csp, 'adminAgent');
    expect(first?.tags).toMatchObject({ status: 'active', signer: `${admin.oid} ${admin.upn}` });
    expect(first?.tags.verifiedAt).toBeDefined();
    expect(first?.tags.partner).toBe(world.partnerCenter.profileOf(tenants.csp).companyName);
    const audit = world.logs.map((l) => l.message).find((m) => m.includes('"event":"TokenGenerated"'));
    expect(JSON.parse(audit ?? '{}')).toMatchObject({ marketplace: 'MP-00001', signerId: admin.oid, signerName: admin.upn });
    expect(callback.body).not.toContain('id="replaced-signer"');

    // Another admin agent of the same tenant: allowed, and the page says whose token it replaced.
    world.partnerCenter.setRoles(tenants.csp, world.simulator.accountFor(tenants.csp, 'noPartnerCenterRole').oid, ['AdminAgent']);
    const second = await signIn(world, 'MP-00001', { signInChoices: { account: 'noPartnerCenterRole' } });
    expect(second.callback.status).toBe(200);
    expect(second.callback.body).toContain('id="replaced-signer"');
    expect(second.callback.body).toContain(admin.upn);
    // The new version is current, the first one its fallback; nothing older stays enabled.
    const latest = await world.store.getToken('MP-00001', 'test');
    expect(latest?.tags.fallback).toBe(first?.version);
  });
});

describe('what the first real sign-in meets: documented parameters, a retry with prompt=login, who signed in', () => {
  let world: World;
  beforeAll(async () => {
    world = await startWorld({ store: 'file', signInBounds: unboundedSignIns });
  });
  afterAll(async () => {
    await world.close();
  });

  it('sends Entra only parameters its v2 authorize endpoint documents: no amr_values, no resource', async () => {
    const start = await postStart(world, 'MP-00001');
    const sent = [...new URL(start.location ?? '').searchParams.keys()];
    expect(sent.sort()).toEqual([...authorizeParameters].sort());
    expect(new URL(start.location ?? '').searchParams.get('prompt')).toBe('select_account');
    expect(world.simulator.stats.unsupportedParameters).toEqual({});
  });

  it('after an MFA refusal, "Sign in again" posts prompt=login to the start page, which sends it to Entra instead of select_account', async () => {
    const refused = await signIn(world, 'MP-00001', { signInChoices: { withoutMfa: 'on' } });
    expect(refused.callback.status).toBe(403);
    expect(refused.callback.body).toContain('a Conditional Access policy that requires MFA, or the security defaults');
    const form = /<form method="post" action="start" id="sign-in-again">([\s\S]*?)<\/form>/.exec(refused.callback.body)?.[1] ?? '';
    const fields = Object.fromEntries([...form.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]+)">/g)].map((m) => [m[1], m[2]]));
    expect(fields).toEqual({ marketplace: 'MP-00001', prompt: 'login' });

    const again = await request(world.startUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin', origin: 'null' },
      body: new URLSearchParams(fields).toString(),
    });
    expect(again.status).toBe(303);
    const authorize = new URL(again.location ?? '');
    expect(authorize.searchParams.getAll('prompt')).toEqual(['login']);
    const page = await request(authorize.toString());
    const signedIn = await submitForm(authorize.toString(), page.body, 'Sign in');
    const callback = await request(signedIn.location ?? '', { headers: { cookie: cookieHeader(again.setCookies) } });
    expect(callback.status).toBe(200);
    expect(world.simulator.stats.signIns.byPrompt.login).toBe(1);
  });

  it('refuses any other prompt on the start form: 400, no cookie, nothing sent to Entra', async () => {
    const before = world.simulator.stats.signIns.total;
    for (const prompt of ['none', 'consent', 'select_account login', 'LOGIN']) {
      const r = await request(world.startUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin', origin: 'null' },
        body: new URLSearchParams({ marketplace: 'MP-00001', prompt }).toString(),
      });
      expect(r.status).toBe(400);
      expect(r.body).toContain('Sign-in option not offered');
      expect(r.setCookies).toEqual([]);
      expect(r.location).toBeUndefined();
    }
    expect(world.simulator.stats.signIns.total).toBe(before);
  });

  it('every refusal page names the account and tenant Microsoft signed in, never a token', async () => {
    const user = world.simulator.accountFor(tenants.csp, 'noPartnerCenterRole');
    const { callback } = await signIn(world, 'MP-00001', { signInChoices: { account: 'noPartnerCenterRole' } });
    expect(callback.status).toBe(403);
    expect(callback.body).toContain(
      `Signed in as <strong><span class="nowrap">${user.username}</span></strong> (tenant <code>${tenants.csp}</code>)`,
    );
    expect(callback.body).not.toMatch(/1\.A[A-Za-z0-9_-]{20,}/);
    const mfa = await signIn(world, 'MP-00001', { signInChoices: { withoutMfa: 'on' } });
    expect(mfa.callback.body).toContain(
      `Signed in as <strong><span class="nowrap">${world.simulator.accountFor(tenants.csp).username}</span></strong>`,
    );
  });

  it('a guest of the partner tenant who holds the Admin Agent role is accepted: Partner Center decides by role', async () => {
    const agent = world.simulator.accountFor(tenants.csp, 'guestAdminAgent');
    const { callback } = await signIn(world, 'MP-00001', { signInChoices: { account: 'guestAdminAgent' } });
    expect(callback.status).toBe(200);
    const stored = await world.store.getToken('MP-00001', 'test');
    expect(stored?.value).toBe(tokenFromPage(callback.body));
    expect(stored?.tags.signer).toBe(`${agent.oid} ${agent.username}`);
  });

  it("Entra sending the browser back with invalid_request (AADSTS901002) is the operator's alert, not the person's fault", async () => {
    const { callback } = await signIn(world, 'MP-00001', {
      callbackUrl: (u) => {
        u.searchParams.delete('code');
        u.searchParams.set('error', 'invalid_request');
        u.searchParams.set('error_description', "AADSTS901002: The 'amr_values' request parameter is not supported.\r\nTrace ID: x");
      },
    });
    expect(callback.status).toBe(502);
    expect(callback.body).toContain('<h1>Microsoft refused the sign-in request</h1>');
    expect(callback.body).toContain('(AADSTS901002)');
    expect(callback.body).not.toContain('amr_values');
    const alert = world.logs
      .map((l) => l.message)
      .find((m) => m.includes('"event":"ConfigurationInvalid"') && m.includes('authorize_request_refused'));
    expect(JSON.parse(alert ?? '{}')).toMatchObject({ code: 'authorize_request_refused', aadsts: 901002, error: 'invalid_request' });
  });
});
