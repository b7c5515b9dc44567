/**
 * The simulator's sign-in page in a real Chromium (playwright-core driving Debian's `chromium`): the labels
 * local mode's contract names — Account (Admin agent by default, User without a Partner Center role, Guest
 * user, Guest admin agent, Admin agent, not a directory admin), Sign in without MFA (unchecked), Sign in — work
 * as a person uses them, and the choices reach the tokens.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { startIdentitySimulator, type IdentitySimulator, type SimulatedClient } from '../local/identitySimulator';
import { authorizeUrl, claimsOf, newCca, pkce, SCOPES, tlsFromEnv } from './localStandIns';
import { launchBrowser } from './support/browser';

const TENANT = '3f1a7c2e-9b4d-4e6f-8a1b-2c3d4e5f6a7b';

let sim: IdentitySimulator;
let browser: Browser;
/** Stands for the app's callback: the browser's arrival there is the result. */
let callback: Server;
let redirectUri: string;
let csp: SimulatedClient;

beforeAll(async () => {
  callback = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('callback'));
  await new Promise<void>((resolve) => callback.listen(0, '127.0.0.1', resolve));
  redirectUri = `http://127.0.0.1:${(callback.address() as AddressInfo).port}/api/callback`;
  csp = { clientId: '11111111-2222-4333-8444-555555555555', clientSecret: 'csp-secret~value', redirectUris: [redirectUri], multiTenant: false };
  sim = await startIdentitySimulator({ tls: tlsFromEnv(), clients: [csp] });
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
  await sim?.close();
  await new Promise((resolve) => callback?.close(resolve));
});

it('lets a person choose the account and sign in without MFA, with the labels local mode promises', async () => {
  // The simulator's certificate is the loopback one; Chromium does not read NODE_EXTRA_CA_CERTS.
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const errors: string[] = [];
  try {
    const page = await context.newPage();
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    const { verifier, challenge } = pkce();
    await page.goto(authorizeUrl(sim, { client: csp, tenant: TENANT, redirectUri, challenge }));

    const account = page.getByLabel('Account', { exact: true });
    const withoutMfa = page.getByLabel('Sign in without MFA', { exact: true });
    expect(await account.inputValue()).toBe('adminAgent');
    expect(await account.locator('option').allInnerTexts()).toEqual([
      'Admin agent',
      'User without a Partner Center role',
      'Guest user',
      'Guest admin agent',
      'Admin agent, not a directory admin',
    ]);
    expect(await withoutMfa.isChecked()).toBe(false);

    await account.selectOption({ label: 'Guest user' });
    await withoutMfa.check();
    await Promise.all([page.waitForURL((u) => u.href.startsWith(redirectUri)), page.getByRole('button', { name: 'Sign in', exact: true }).click()]);
    const code = new URL(page.url()).searchParams.get('code')!;

    const result = await newCca(sim, csp, TENANT).acquireTokenByCode({
      code,
      scopes: SCOPES,
      redirectUri,
      codeVerifier: verifier,
      nonce: 'nonce-456',
    });
    const guest = sim.accountFor(TENANT, 'guest');
    expect(claimsOf(result.accessToken)).toMatchObject({ oid: guest.oid, upn: guest.upn, acct: 1, amr: ['fed'] });
    expect(sim.stats.signIns).toMatchObject({ withoutMfa: 1, byAccount: { guest: 1 } });
    expect(errors).toEqual([]);
  } finally {
    await context.close();
  }
});
