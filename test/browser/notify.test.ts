/**
 * What a marketplace's admin gets, clicked through in Chromium (back/forward cache on): the message in the
 * Communication Services Email stand-in's outbox page (photographed for the README and docs/DEPLOY.md), its one
 * link opening this environment's start page with the marketplace ID filled in, ready for Generate Refresh Token;
 * and a start link whose ID is not a marketplace ID shows the empty form, not an error page.
 */
import type { Browser } from 'playwright-core';
import { tokenContentType, tokenSecretName, type TokenTags } from '../../shared/secrets/store';
import { tokenTagsToRecord } from '../../shared/secrets/tags';
import { cpvClientId, cpvEntry, cspEntry } from '../fixtures/config';
import { foreignRequests, isAuthorizeUrl, launchBrowser, lowContrastText, openSession, screenshot, type Session } from '../support/browser';
import { startWorld, type World } from '../support/world';

jest.setTimeout(60_000);

const DAY = 86_400_000;
const needsPerson = 'MP-00051';
const expiring = 'MP-00052';
const tenantOf = (n: number) => `7e117e11-0000-4000-8000-0000000000${n}`;

let browser: Browser;
let world: World;
let session: Session;

function seed(marketplace: string, tenant: string, model: 'CPV' | 'CSP', daysLeft: number): void {
  const renewed = new Date(Date.now() + (daysLeft - 90) * DAY).toISOString();
  const tags: TokenTags = { marketplace, environment: 'test', model, tenant, issuedAt: renewed, verifiedAt: renewed, status: 'active' };
  world.vault!.seed(tokenSecretName(marketplace, 'test'), world.simulator.issueRefreshTokenFor({ clientId: cpvClientId, tenant }), {
    contentType: tokenContentType,
    tags: tokenTagsToRecord(tags),
    expiresOn: new Date(Date.now() + daysLeft * DAY),
  });
}

beforeAll(async () => {
  browser = await launchBrowser();
  world = await startWorld({
    store: 'keyvault',
    marketplaces: (callbackUrl) => [
      cpvEntry(needsPerson, tenantOf(51), { name: 'Contoso Distribution' }),
      cspEntry(expiring, callbackUrl, tenantOf(52), {
        name: 'Fabrikam Cloud',
        partner_client_secret_test: 'missing-secret',
        partner_client_secret_production: 'missing-secret',
      }),
    ],
    email: { contacts: { [needsPerson]: ['admin@contoso.example.com', 'it@contoso.example.com'], [expiring]: ['admin@fabrikam.example.com'] } },
  });
  world.simulator.grantConsent(cpvClientId, tenantOf(51));
  seed(needsPerson, tenantOf(51), 'CPV', 60);
  seed(expiring, tenantOf(52), 'CSP', 6.5);
  // Contoso's admin enforced MFA after the token was issued: Partner Center refuses it.
  world.partnerCenter.setFault({ kind: 'mfaMissing', tenant: tenantOf(51) });
  for (let i = 0; i < 5 && world.email!.outbox().length < 2; i++)
    expect((await fetch(`${world.baseUrl}/api/rotate`, { method: 'POST' })).status).toBe(200);
});
afterAll(async () => {
  await world?.close();
  await browser?.close();
});
beforeEach(async () => {
  session = await openSession(browser);
});
afterEach(async () => {
  await session?.close();
});

test("the outbox page shows what each admin got; the message's link opens the start page with the marketplace ID filled in, and Generate Refresh Token goes on to Microsoft", async () => {
  const { page } = session;
  await page.goto(`${world.email!.url}/_local/outbox.html`);
  await expect(page.getByRole('heading', { level: 1 }).innerText()).resolves.toMatch(/Outbox: messages to marketplace contacts \(2\)/);
  await expect(page.getByRole('heading', { name: `Action needed: sign in again for ${needsPerson} (test)` }).count()).resolves.toBe(1);
  await expect(page.getByText(/multi-factor authentication \(MFA\)/).count()).resolves.toBe(1);
  await expect(
    page.getByRole('heading', { name: new RegExp(`^Action needed within 7 days: the Microsoft token of ${expiring} \\(test\\)`) }).count(),
  ).resolves.toBe(1);
  await screenshot(page, 'outbox');
  expect(await lowContrastText(page)).toEqual([]);
  expect(session.cspViolations).toEqual([]);

  // The admin clicks the link in Contoso's message.
  const article = page.locator('article', { hasText: needsPerson });
  const link = article.getByRole('link');
  expect(await link.getAttribute('href')).toBe(`${world.startUrl}?marketplace=${needsPerson}`);
  await link.click();
  await page.waitForURL((url) => url.pathname === '/api/start');
  await expect(page.getByLabel('Marketplace ID').inputValue()).resolves.toBe(needsPerson);
  await expect(page.getByRole('alert').count()).resolves.toBe(0);
  // Nothing else to type: Generate Refresh Token goes on to Microsoft's sign-in for that marketplace's tenant.
  await page.getByRole('button', { name: 'Generate Refresh Token' }).click();
  await page.waitForURL((url) => isAuthorizeUrl(world)(url) && url.pathname.startsWith(`/${tenantOf(51)}/`));
  expect(session.pageErrors).toEqual([]);
  expect(foreignRequests(session, [world.baseUrl, world.simulator.url, world.email!.url])).toEqual([]);
});

test('a start link whose marketplace ID is not valid shows the empty form, without an error', async () => {
  const { page } = session;
  for (const value of ['<script>alert(1)</script>', 'MP-1', `${needsPerson}&x=1`, 'javascript:alert(1)']) {
    const response = await page.goto(`${world.startUrl}?marketplace=${encodeURIComponent(value)}`);
    expect(response?.status()).toBe(200);
    await expect(page.getByLabel('Marketplace ID').inputValue()).resolves.toBe('');
    await expect(page.getByRole('alert').count()).resolves.toBe(0);
  }
  expect(session.cspViolations).toEqual([]);
});
