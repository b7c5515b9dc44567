/**
 * The three journeys of "generate a refresh token", clicked through in Chromium like a person would:
 * the start page's form, the identity simulator's Sign in and Accept buttons, the app's pages.
 * Each page is saved to docs/screenshots/ for the README (desktop 1280 px; start and token pages
 * also at phone width, 390 px). The simulator's tokens are fake, so the screenshots show them as they are.
 */
import type { Browser, Page } from 'playwright-core';
import { cpvClientId, tenants } from '../fixtures/config';
import {
  allowedOrigins,
  desktop,
  foreignRequests,
  generate,
  isAuthorizeUrl,
  isCallbackUrl,
  launchBrowser,
  lowContrastText,
  openSession,
  overflowsHorizontally,
  brokenWords,
  phone,
  screenshot,
  shownToken,
  signInAtSimulator,
  startSignIn,
  submitAndLoad,
  type Session,
} from '../support/browser';
import { startWorld, type World } from '../support/world';

let browser: Browser;
beforeAll(async () => {
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
});

/** Text below WCAG AA contrast on any page photographed in the current test. */
let lowContrast: string[] = [];
beforeEach(() => {
  lowContrast = [];
});

/** Saves the page for the README and checks that its text is readable (contrast). */
async function shoot(page: Page, name: string): Promise<void> {
  await screenshot(page, name);
  lowContrast.push(...(await lowContrastText(page)));
}

/** What every journey must leave behind: no CSP refusal, no script error, no request off the app and the authority, readable text. */
function expectCleanJourney(session: Session, world: World): void {
  expect(session.cspViolations).toEqual([]);
  expect(session.pageErrors).toEqual([]);
  expect(foreignRequests(session, allowedOrigins(world))).toEqual([]);
  expect(lowContrast).toEqual([]);
}

describe('journeys in the test environment', () => {
  let world: World;
  let session: Session;
  beforeAll(async () => {
    // The Key Vault fake behind the real SecretClient, as in Azure.
    world = await startWorld({ store: 'keyvault' });
  });
  afterAll(async () => {
    await world?.close();
  });
  beforeEach(async () => {
    session = await openSession(browser, { clipboardOrigin: world.baseUrl });
  });
  afterEach(async () => {
    await session?.close();
  });

  it('CSP marketplace MP-00001: sign in, see the token once, copy it; the store holds the same token', async () => {
    const { page } = session;
    await page.goto(world.startUrl);
    await expect(page.title()).resolves.toMatch(/Generate a refresh token/);
    await expect(page.getByRole('banner').innerText()).resolves.toMatch(/Test environment/);
    await expect(page.getByRole('heading', { level: 1 }).innerText()).resolves.toBe('Generate a Microsoft refresh token');
    await shoot(page, 'start');
    await page.setViewportSize(phone);
    expect(await overflowsHorizontally(page)).toBe(false);
    await shoot(page, 'start-phone');
    await page.setViewportSize(desktop);

    await startSignIn(page, world, 'MP-00001');
    const authorize = new URL(page.url());
    expect(authorize.pathname).toBe(`/${tenants.csp}/oauth2/v2.0/authorize`);
    await expect(page.getByRole('heading', { name: 'Sign in' }).isVisible()).resolves.toBe(true);
    await shoot(page, 'simulator-sign-in');

    await signInAtSimulator(page, world);
    await expect(page.getByRole('heading', { level: 1 }).innerText()).resolves.toBe('Refresh token for MP-00001');
    const box = page.getByLabel('Refresh token');
    expect(await box.getAttribute('readonly')).not.toBeNull();
    expect(await box.isEditable()).toBe(false);
    const token = await shownToken(page);
    expect(token).toMatch(/^1\.A/);
    const stored = await world.store.getToken('MP-00001', 'test');
    expect(stored?.value).toBe(token);
    await expect(page.locator('#parameter-name').innerText()).resolves.toBe('refresh_token_test');

    // Copy works under the page's CSP (the script runs by nonce) and says so.
    await page.getByRole('button', { name: 'Copy' }).click();
    await page.getByRole('status').filter({ hasText: 'Copied' }).waitFor();
    expect(await page.evaluate<string>('navigator.clipboard.readText()')).toBe(token);
    // Without a Connect product to write to, the token is shown with where to paste it (the first
    // run of local mode writes it to Connect instead: test/browser/distributor.test.ts).
    await shoot(page, 'token-paste');
    await page.setViewportSize(phone);
    expect(await overflowsHorizontally(page)).toBe(false);
    await shoot(page, 'token-paste-phone');

    // The token is shown on the page, never in an address.
    expect(session.requests.some((r) => r.url.includes(token))).toBe(false);
    expectCleanJourney(session, world);
  });

  it('start page: says beforehand that a partner administrator may have to approve, and copies the approval link', async () => {
    const { page } = session;
    await page.goto(world.startUrl);
    await expect(page.locator('#approval-note').innerText()).resolves.toMatch(/administrator of the partner tenant may have to approve/);
    const link = await page.getByLabel('Approval link for an administrator').inputValue();
    expect(new URL(link).pathname).toBe('/organizations/v2.0/adminconsent');
    await page.getByRole('button', { name: 'Copy approval link' }).click();
    await page.getByRole('status').filter({ hasText: 'Approval link copied' }).waitFor();
    expect(await page.evaluate<string>('navigator.clipboard.readText()')).toBe(link);
    expectCleanJourney(session, world);
  });

  it("CPV marketplace MP-00002, tenant not yet consented: the administrator approves on Microsoft's prompt and gets the token", async () => {
    world.simulator.revokeConsent(cpvClientId, tenants.cpv);
    const { page } = session;
    await page.goto(world.startUrl);
    await startSignIn(page, world, 'MP-00002');
    await page.getByRole('button', { name: 'Sign in' }).click();
    // Microsoft's own consent prompt: the service is not involved until the administrator answers.
    await page.getByRole('heading', { name: 'Permissions requested' }).waitFor();
    const forOrganization = page.getByLabel('Consent on behalf of your organization');
    expect(await forOrganization.isChecked()).toBe(false);
    await forOrganization.check();
    await shoot(page, 'simulator-consent-prompt');
    await Promise.all([page.waitForURL(isCallbackUrl(world), { waitUntil: 'load' }), page.getByRole('button', { name: 'Accept' }).click()]);
    await expect(page.getByRole('heading', { level: 1 }).innerText()).resolves.toBe('Refresh token for MP-00002');
    expect(await shownToken(page)).toBe((await world.store.getToken('MP-00002', 'test'))?.value);
    expect(world.simulator.hasConsent(cpvClientId, tenants.cpv)).toBe(true);
    expectCleanJourney(session, world);
  });

  it('CPV: an admin agent who is not a directory admin stays on Microsoft\'s "Need admin approval"; back on the approval page, an administrator approves; try again, token', async () => {
    world.simulator.revokeConsent(cpvClientId, tenants.cpv);
    const before = (await world.store.getToken('MP-00002', 'test'))?.version;
    const { page } = session;
    await page.goto(world.startUrl);
    await startSignIn(page, world, 'MP-00002');
    await page.getByLabel('Account').selectOption({ label: 'Admin agent, not a directory admin' });
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Need admin approval' }).waitFor();
    expect(new URL(page.url()).origin).toBe(world.simulator.url);
    await expect(page.locator('main').innerText()).resolves.toMatch(/AADSTS90094/);
    // Kept there: nothing reached the service's callback.
    expect(session.requests.some((r) => isCallbackUrl(world)(new URL(r.url)))).toBe(false);
    await shoot(page, 'need-admin-approval');

    await Promise.all([
      page.waitForURL(isCallbackUrl(world), { waitUntil: 'load' }),
      page.getByRole('button', { name: 'Return to the application without granting consent' }).click(),
    ]);
    await expect(page.getByRole('heading', { level: 1 }).innerText()).resolves.toBe('An administrator must approve access first');
    await expect(page.locator('main').innerText()).resolves.toMatch(/administrator of the partner tenant/);
    expect((await world.store.getToken('MP-00002', 'test'))?.version).toBe(before);
    await shoot(page, 'consent-needed');

    const link = page.getByRole('link', { name: 'Approve access as an administrator' });
    const href = new URL((await link.getAttribute('href')) ?? '');
    expect(href.origin).toBe(world.simulator.url);
    expect(href.pathname).toBe(`/${tenants.cpv}/v2.0/adminconsent`);
    await Promise.all([page.waitForURL((u) => u.origin === world.simulator.url && u.pathname.endsWith('/v2.0/adminconsent')), link.click()]);
    await page.getByRole('button', { name: 'Accept' }).waitFor();
    await shoot(page, 'simulator-consent');

    await Promise.all([page.waitForURL(isCallbackUrl(world)), page.getByRole('button', { name: 'Accept' }).click()]);
    expect(new URL(page.url()).searchParams.get('admin_consent')).toBe('True');
    await expect(page.getByRole('heading', { level: 1 }).innerText()).resolves.toBe('Access approved');
    await expect(page.locator('main').innerText()).resolves.toMatch(/try again/i);
    await shoot(page, 'consent-granted');

    await Promise.all([page.waitForURL(`${world.startUrl}?marketplace=MP-00002`), page.getByRole('link', { name: 'Try again' }).click()]);
    // The box keeps the marketplace ID: Generate is one click away.
    await expect(page.getByLabel('Marketplace ID').inputValue()).resolves.toBe('MP-00002');
    await Promise.all([page.waitForURL(isAuthorizeUrl(world)), page.getByRole('button', { name: 'Generate Refresh Token' }).click()]);
    expect(new URL(page.url()).pathname).toBe(`/${tenants.cpv}/oauth2/v2.0/authorize`);
    await page.getByLabel('Account').selectOption({ label: 'Admin agent, not a directory admin' });
    await signInAtSimulator(page, world);
    await expect(page.getByRole('heading', { level: 1 }).innerText()).resolves.toBe('Refresh token for MP-00002');
    const token = await shownToken(page);
    expect(token).toMatch(/^1\.A/);
    expect((await world.store.getToken('MP-00002', 'test'))?.value).toBe(token);
    await expect(page.locator('#parameter-name').innerText()).resolves.toBe('refresh_token_test');
    expectCleanJourney(session, world);
  });

  it('unknown marketplace MP-99999: the troubleshooting page, and no sign-in starts', async () => {
    const { page } = session;
    await page.goto(world.startUrl);
    const response = await submitAndLoad(page, world, 'MP-99999');
    expect(response.status()).toBe(404);
    await expect(page.getByRole('heading', { level: 1 }).innerText()).resolves.toBe('Marketplace not found');
    const text = await page.locator('main').innerText();
    expect(text).toContain('The marketplace ID was not found in the configuration file');
    expect(text).toContain('MP-99999');
    expect(text).toContain('Microsoft Direct Billed partner');
    expect(text).toContain('CloudBlue PdM for Microsoft products');
    expect(text).toContain('CSAM');
    await expect(page.locator('#correlation-id').innerText()).resolves.toMatch(/\S{8,}/);
    lowContrast.push(...(await lowContrastText(page)));

    expect(session.requests.some((r) => isAuthorizeUrl(world)(new URL(r.url)))).toBe(false);
    expect(await session.context.cookies(world.baseUrl)).toEqual([]);
    expect(await world.store.getToken('MP-99999', 'test')).toBeUndefined();
    expectCleanJourney(session, world);
  });

  it('malformed ID mp-12: the form again, with the message tied to the field and the field focused, and no reference', async () => {
    const { page } = session;
    await page.goto(world.startUrl);
    // By keyboard: the field, type, Enter.
    await page.getByLabel('Marketplace ID').focus();
    await page.keyboard.type('mp-12');
    const response = await submitAndLoad(page, world, 'mp-12', () => page.keyboard.press('Enter'));
    expect(response.status()).toBe(400);

    const field = page.getByLabel('Marketplace ID');
    await expect(field.inputValue()).resolves.toBe('mp-12');
    await expect(field.getAttribute('aria-invalid')).resolves.toBe('true');
    const alert = page.getByRole('alert');
    await expect(alert.innerText()).resolves.toMatch(/MP- followed by 5 to 8 digits/);
    const describedBy = ((await field.getAttribute('aria-describedby')) ?? '').split(/\s+/);
    expect(describedBy).toContain(await alert.getAttribute('id'));
    // A typing mistake, answered on the form: no support reference (docs/SECURITY.md 11).
    expect(await page.locator('#correlation-id').count()).toBe(0);
    await shoot(page, 'start-invalid');
    // After the round trip the keyboard user is put back on the field to correct it.
    expect(await page.evaluate<string | null>('document.activeElement && document.activeElement.id')).toBe(await field.getAttribute('id'));

    expect(session.requests.some((r) => r.url.startsWith(world.simulator.url))).toBe(false);
    expect(await session.context.cookies(world.baseUrl)).toEqual([]);
    expectCleanJourney(session, world);
  });

  it('the status page lists every token in the store (those made above)', async () => {
    const { page } = session;
    const response = await page.goto(`${world.baseUrl}/api/status`);
    expect(response?.status()).toBe(200);
    const stored = (await world.store.listTokens('test')).tokens.map((t) => t.marketplace).sort();
    await expect(page.getByRole('heading', { level: 1 }).innerText()).resolves.toBe(`Refresh tokens (${stored.length})`);
    const listed = await page.locator('#tokens tbody tr td:first-child').allInnerTexts();
    expect([...listed].sort()).toEqual(stored);
    expect(await brokenWords(page, 'th')).toEqual([]);
    await shoot(page, 'status');
    expectCleanJourney(session, world);
  });
});

describe('journey in the production environment', () => {
  let world: World;
  let session: Session;
  beforeAll(async () => {
    world = await startWorld({ store: 'file', environment: 'production' });
  });
  afterAll(async () => {
    await world?.close();
  });
  beforeEach(async () => {
    session = await openSession(browser);
  });
  afterEach(async () => {
    await session?.close();
  });

  it('names the production environment in the banner and the refresh_token_production parameter', async () => {
    const { page } = session;
    await page.goto(world.startUrl);
    const banner = await page.getByRole('banner').innerText();
    expect(banner).toMatch(/Production environment/);
    expect(banner).toContain('refresh_token_production');
    expect(banner).not.toMatch(/Test environment/);
    await shoot(page, 'start-production');

    await startSignIn(page, world, 'MP-00001');
    await signInAtSimulator(page, world);
    await expect(page.getByRole('banner').innerText()).resolves.toMatch(/Production environment/);
    await expect(page.locator('#parameter-name').innerText()).resolves.toBe('refresh_token_production');
    const token = await shownToken(page);
    expect((await world.store.getToken('MP-00001', 'production'))?.value).toBe(token);
    expect(await world.store.getToken('MP-00001', 'test')).toBeUndefined();
    await shoot(page, 'token-production');
    expectCleanJourney(session, world);
  });
});

describe('what Partner Center refuses, as a person sees it', () => {
  let world: World;
  let session: Session;
  beforeAll(async () => {
    world = await startWorld({ store: 'file' });
  });
  afterAll(async () => {
    await world?.close();
  });
  beforeEach(async () => {
    session = await openSession(browser);
  });
  afterEach(async () => {
    await session?.close();
  });

  async function signInAs(page: Page, choice: { account?: string; withoutMfa?: boolean }): Promise<void> {
    await page.goto(world.startUrl);
    await startSignIn(page, world, 'MP-00001');
    if (choice.account) await page.getByLabel('Account').selectOption({ label: choice.account });
    if (choice.withoutMfa) await page.getByLabel('Sign in without MFA').check();
    await signInAtSimulator(page, world);
  }

  const refusals: [{ account?: string; withoutMfa?: boolean }, string, RegExp, string][] = [
    [
      { withoutMfa: true },
      'Multi-factor authentication is required',
      /a Conditional Access policy that requires MFA, or the security defaults/,
      'admin@',
    ],
    [{ account: 'User without a Partner Center role' }, 'The account has no Partner Center role', /Admin Agent role/, 'user@'],
    [{ account: 'Guest user' }, 'The account has no Partner Center role', /holds no Partner Center role/, 'someone@contoso.com'],
  ];
  it.each(refusals)('%j: a page that says what happened, what to do, and who signed in; nothing stored', async (choice, title, todo, who) => {
    const { page } = session;
    await signInAs(page, choice);
    expect(await page.getByRole('heading', { level: 1 }).innerText()).toBe(title);
    expect(await page.locator('main').innerText()).toMatch(todo);
    expect(await page.locator('#signed-in-as').innerText()).toMatch(new RegExp(`^Signed in as ${who}.* \\(tenant ${tenants.csp}\\)`));
    expect(await page.getByLabel('Refresh token').count()).toBe(0);
    expect(await world.store.getToken('MP-00001', 'test')).toBeUndefined();
    if (choice.withoutMfa) await shoot(page, 'mfa-required');
  });

  it('after an MFA refusal, "Sign in again" goes back to Microsoft with prompt=login instead of the account picker; with MFA, the token', async () => {
    const { page } = session;
    await signInAs(page, { withoutMfa: true });
    await Promise.all([page.waitForURL(isAuthorizeUrl(world)), page.getByRole('button', { name: 'Sign in again' }).click()]);
    const authorize = new URL(page.url());
    expect(authorize.searchParams.getAll('prompt')).toEqual(['login']);
    await expect(page.locator('main').innerText()).resolves.toMatch(/login \(credentials asked again/);
    await signInAtSimulator(page, world);
    await expect(page.getByRole('heading', { level: 1 }).innerText()).resolves.toBe('Refresh token for MP-00001');
    expect(await shownToken(page)).toBe((await world.store.getToken('MP-00001', 'test'))?.value);
    expect(world.simulator.stats.signIns.byPrompt.login).toBe(1);
  });

  it('a guest admin agent of the partner tenant is accepted: Partner Center decides by role', async () => {
    const { page } = session;
    await signInAs(page, { account: 'Guest admin agent' });
    await expect(page.locator('#verified').innerText()).resolves.toMatch(/Signed in as agent@fabrikam\.com/);
    expect(await shownToken(page)).toBe((await world.store.getToken('MP-00001', 'test'))?.value);
  });

  it('an admin agent with MFA: the token page says it was verified with Partner Center and names the partner', async () => {
    const { page } = session;
    await signInAs(page, {});
    const verified = await page.locator('#verified').innerText();
    expect(verified).toMatch(/Verified with Partner Center: it works for .+\. Signed in as admin@/);
    expect(await shownToken(page)).toBe((await world.store.getToken('MP-00001', 'test'))?.value);
  });
});

describe('pages an operator and a distributor meet when something is off', () => {
  let session: Session;
  beforeEach(async () => {
    session = await openSession(browser);
  });
  afterEach(async () => {
    await session?.close();
  });

  it('an unusable configuration file: the start page says the service is misconfigured (503), never "not found"', async () => {
    const world = await startWorld({ store: 'file', configText: '\ufeff{ "marketplaces": [ ' });
    try {
      const { page } = session;
      await page.goto(world.startUrl);
      const response = await submitAndLoad(page, world, 'MP-00001');
      expect(response.status()).toBe(503);
      expect(await page.getByRole('heading', { level: 1 }).innerText()).toBe('This service is not configured correctly');
      expect(await page.locator('main').innerText()).toMatch(/operator has been told/);
      expect(await page.locator('main').innerText()).not.toMatch(/not found in the configuration/);
      expect(await page.locator('#correlation-id').innerText()).toMatch(/\S/);
      expect(world.logs.some((l) => l.message.includes('"event":"ConfigurationInvalid"'))).toBe(true);
      await shoot(page, 'misconfigured');

      // The status page shows the problem first.
      await page.goto(`${world.baseUrl}/api/status`);
      await expect(page.locator('#configuration-problem').innerText()).resolves.toMatch(/cannot be used/);
    } finally {
      await world.close();
    }
  });

  it('the status page at 375 px: every token readable without scrolling sideways; last and next run', async () => {
    const world = await startWorld({ store: 'file' });
    try {
      const { page } = session;
      await generate(page, world, 'MP-00001');
      await world.host.invokeTimer('rotate');
      await page.setViewportSize({ width: 375, height: 812 });
      await page.goto(`${world.baseUrl}/api/status`);
      expect(await overflowsHorizontally(page)).toBe(false);
      await expect(page.locator('#last-run').innerText()).resolves.toMatch(/0 rotated, 0 failed/);
      await expect(page.locator('#last-run-skipped').innerText()).resolves.toMatch(/^1 generated or rotated less than 12 hours ago$/);
      await expect(page.locator('#next-run').innerText()).resolves.toMatch(/\d{4}-\d\d-\d\d \d\d:\d\d UTC/);
      // Each cell names what it is, since the table's header is out of sight at this width.
      await expect(page.locator('#tokens td[data-label="Expires"]').first().isVisible()).resolves.toBe(true);
      await expect(page.locator('#credentials td[data-label="Days left"]').first().isVisible()).resolves.toBe(true);
      // Fitting is not enough: no heading or value is broken in the middle of a word.
      expect(await brokenWords(page, '#tokens, #credentials')).toEqual([]);
      await shoot(page, 'status-phone');
    } finally {
      await world.close();
    }
  });

  it('Connect updated: nothing to do, the token behind "Show the token"', async () => {
    const world = await startWorld({ store: 'file', connect: { products: { 'MP-00001': ['PRD-000-000-001'] } } });
    try {
      const { page } = session;
      await generate(page, world, 'MP-00001');
      expect(await page.locator('#next-step').innerText()).toMatch(/^Nothing to do:/);
      expect(await page.getByLabel('Refresh token').isVisible()).toBe(false);
      await page.getByText('Show the token').click();
      expect(await page.getByLabel('Refresh token').isVisible()).toBe(true);
      expect(await shownToken(page)).toBe((await world.store.getToken('MP-00001', 'test'))?.value);
    } finally {
      await world.close();
    }
  });
});
