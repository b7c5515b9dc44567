/**
 * Generating a refresh token end to end, through the real handlers served by the local host,
 * the real msal-node against the identity simulator and the real SecretClient against the
 * Key Vault fake (issue: generate a refresh token end to end).
 */
import type { Registration } from '../../local/functionsCore';
import { startHost } from '../../local/host';
import { tenants } from '../fixtures/config';
import { cookieHeader, postStart, request, signIn, submitForm, tokenFromPage } from '../support/flow';
import { startWorld, type World } from '../support/world';

describe.each(['keyvault', 'file'] as const)('generate a refresh token (%s store)', (store) => {
  let world: World;
  beforeAll(async () => {
    world = await startWorld({ store });
  });
  afterAll(async () => {
    await world.close();
  });

  it('CSP: shows the token once, with the parameter to paste it into, and stores the same token', async () => {
    const { start, authorizeUrl, callback } = await signIn(world, 'MP-00001');
    // The transaction cookie: __Host-, Secure, HttpOnly, SameSite=Lax, Path=/, 10 minutes.
    expect(start.setCookies).toHaveLength(1);
    expect(start.setCookies[0]).toMatch(/^__Host-ms-auth-tx=[A-Za-z0-9_.-]+; Path=\/; Max-Age=600; Secure; HttpOnly; SameSite=Lax$/);
    const authorize = new URL(authorizeUrl);
    expect(authorize.pathname).toBe(`/${tenants.csp}/oauth2/v2.0/authorize`);
    expect(authorize.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authorize.searchParams.get('redirect_uri')).toBe(world.callbackUrl);

    expect(callback.status).toBe(200);
    expect(callback.headers.get('cache-control')).toBe('no-store');
    expect(callback.body).toContain('<code id="parameter-name">refresh_token_test</code>');
    const token = tokenFromPage(callback.body);
    expect(token).toMatch(/^1\.A/);
    // The cookie is spent.
    expect(callback.setCookies.join()).toMatch(/__Host-ms-auth-tx=; Path=\/; Max-Age=0/);

    const stored = await world.store.getToken('MP-00001', 'test');
    expect(stored?.value).toBe(token);
    expect(stored?.tags).toMatchObject({ marketplace: 'MP-00001', environment: 'test', model: 'CSP', tenant: tenants.csp, status: 'active' });
    const days = ((stored?.expiresOn?.getTime() ?? 0) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(89.9);
    expect(days).toBeLessThanOrEqual(90);
    expect(world.logs.some((l) => l.message.includes('"event":"TokenGenerated"') && l.message.includes('MP-00001'))).toBe(true);
  });

  it('CPV without consent: says an administrator must approve, offers the admin-consent link, then works after Accept', async () => {
    const first = await signIn(world, 'MP-00002');
    expect(first.callback.status).toBe(403);
    expect(first.callback.body).toContain('An administrator must approve access first');
    const link = /<a class="button" id="admin-consent" href="([^"]+)"/.exec(first.callback.body)?.[1]?.replace(/&amp;/g, '&');
    expect(link).toBeDefined();
    const consentUrl = new URL(link ?? '');
    expect(consentUrl.origin).toBe(world.simulator.url);
    expect(consentUrl.pathname).toBe(`/${tenants.cpv}/v2.0/adminconsent`);
    expect(await world.store.getToken('MP-00002', 'test')).toBeUndefined();

    // The link asks for every scope the sign-in will need, with a state bound to this browser.
    expect(consentUrl.searchParams.get('scope')?.split(' ')).toEqual(
      expect.arrayContaining(['https://api.partnercenter.microsoft.com/user_impersonation', 'offline_access']),
    );
    const consentCookie = cookieHeader(first.callback.setCookies);
    expect(consentCookie).toMatch(/^__Host-ms-auth-tx=.+/);

    const consentPage = await request(consentUrl.toString());
    const accepted = await submitForm(consentUrl.toString(), consentPage.body, 'Accept');
    expect(accepted.location).toMatch(/admin_consent=True/);
    expect(new URL(accepted.location ?? '').searchParams.get('state')).toBe(consentUrl.searchParams.get('state'));
    // Another browser (no cookie) cannot be told that access was approved.
    const elsewhere = await request(accepted.location ?? '');
    expect(elsewhere.status).toBe(400);
    expect(elsewhere.body).not.toContain('Access approved');
    const back = await request(accepted.location ?? '', { headers: { cookie: consentCookie } });
    expect(back.status).toBe(200);
    expect(back.body).toContain('Now try again');
    // "Try again" keeps the marketplace ID filled in.
    const again = /<a class="button" id="try-again" href="([^"]+)"/.exec(back.body)?.[1]?.replace(/&amp;/g, '&');
    expect(again).toBe('start?marketplace=MP-00002');
    const prefilled = await request(new URL(again ?? '', world.startUrl).toString());
    expect(prefilled.body).toContain('value="MP-00002"');
    // The approval is single-use: the same return again is not an approval.
    expect((await request(accepted.location ?? '', { headers: { cookie: consentCookie } })).status).toBe(400);

    const second = await signIn(world, 'MP-00002');
    expect(second.callback.status).toBe(200);
    const token = tokenFromPage(second.callback.body);
    expect((await world.store.getToken('MP-00002', 'test'))?.value).toBe(token);
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
