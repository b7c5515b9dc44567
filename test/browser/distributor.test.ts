/**
 * The distributor's admin's journey, from their chair: a real Chromium with its back/forward cache
 * on, at desktop and phone width, against a world set up as local mode is (MP-00001's token is
 * written to a Connect stand-in, so the token page folds it away). Several sign-ins in several tabs,
 * what the start page says before anything is asked, Reload and Back after success, an ID typed as
 * a person types it, the not-found page's contact, words and IDs that never break, the token page
 * after Forward, local times beside UTC. The README's token screenshot is taken here: it is what
 * the first run shows.
 */
import type { Browser, Page, Response } from 'playwright-core';
import { resetSettingsCache } from '../../shared/settings';
import { cpvClientId, cspEntry, tenants } from '../fixtures/config';
import {
  allowedOrigins,
  brokenWords,
  desktop,
  foreignRequests,
  generate,
  idsAndAddresses,
  isAuthorizeUrl,
  isCallbackUrl,
  launchBrowser,
  lowContrastText,
  openSession,
  overflowsHorizontally,
  phone,
  screenshot,
  shownToken,
  signInAtSimulator,
  startSignIn,
  submitAndLoad,
  type Session,
} from '../support/browser';
import { startWorld, unboundedSignIns, type World } from '../support/world';

let browser: Browser;
let world: World;
let session: Session;

beforeAll(async () => {
  browser = await launchBrowser();
  world = await startWorld({
    store: 'file',
    signInBounds: unboundedSignIns,
    // A second CSP marketplace of the same distributor, whose Connect product the operator named.
    marketplaces: (callbackUrl) => [
      cspEntry('MP-00003', callbackUrl, tenants.csp, {
        partner_client_secret_test: 'partner-secret-MP-00001',
        partner_client_secret_production: 'partner-secret-MP-00001',
      }),
    ],
    // As local mode's sample: MP-00001's token goes to a Connect product (local/sample.ts).
    connect: {
      products: { 'MP-00001': ['PRD-000-000-001'], 'MP-00003': ['PRD-000-000-003'] },
      names: { 'PRD-000-000-001': 'Microsoft 365 (sample product)' },
    },
  });
});
afterAll(async () => {
  await browser?.close();
  await world?.close();
});
beforeEach(async () => {
  session = await openSession(browser, { clipboardOrigin: world.baseUrl });
});
afterEach(async () => {
  await session?.close();
});

async function heading(page: Page): Promise<string> {
  return page.getByRole('heading', { level: 1 }).innerText();
}

/** Every callback answer the page receives, in order. */
function callbacksOf(page: Page): Response[] {
  const seen: Response[] = [];
  page.on('response', (r) => {
    if (isCallbackUrl(world)(new URL(r.url()))) seen.push(r);
  });
  return seen;
}

/** The notices and warnings the page shows (the boxed paragraphs): what stacks up if a page is restored. */
async function notices(page: Page): Promise<string[]> {
  return page.locator('main .notice, main .warn').allInnerTexts();
}

describe('several sign-ins in several tabs of one browser', () => {
  it.each([
    ['the first one started finishes first', ['first', 'second']],
    ['the second one started finishes first', ['second', 'first']],
  ] as const)('both finish: %s', async (_order, order) => {
    const first = session.page;
    const second = await session.context.newPage();
    await first.goto(world.startUrl);
    await startSignIn(first, world, 'MP-00001');
    await second.goto(world.startUrl);
    await startSignIn(second, world, 'MP-00003');
    // Each has a cookie of its own: the second did not overwrite the first.
    const inFlight = (await session.context.cookies(world.baseUrl)).filter((c) => c.name.startsWith('__Host-ms-auth-tx-'));
    expect(inFlight).toHaveLength(2);

    const tabs = { first: { page: first, marketplace: 'MP-00001' }, second: { page: second, marketplace: 'MP-00003' } };
    for (const which of order) {
      const { page, marketplace } = tabs[which];
      await signInAtSimulator(page, world);
      expect(await heading(page)).toBe(`Refresh token for ${marketplace}`);
      expect(await shownToken(page)).toBe((await world.store.getToken(marketplace, 'test'))?.value);
    }
    expect(session.pageErrors).toEqual([]);
    expect(foreignRequests(session, allowedOrigins(world))).toEqual([]);
  });

  it('the Connect product is named as the operator named it, beside its ID; an unnamed one by its ID', async () => {
    const { page } = session;
    // As local mode's sample names it (local/sample.ts).
    await generate(page, world, 'MP-00001');
    expect(await page.locator('#next-step').innerText()).toMatch(
      /^Nothing to do: .* in Microsoft 365 \(sample product\) \(PRD-000-000-001\) in Connect/,
    );
    await generate(page, world, 'MP-00003');
    expect(await page.locator('#next-step').innerText()).toMatch(/ in product PRD-000-000-003 in Connect/);
  });
});

describe('the start page', () => {
  it.each([
    ['desktop', desktop],
    ['phone', phone],
  ] as const)(
    'says what a sign-in needs before the button: the tenant account, MFA, Admin Agent, an administrator may have to approve (%s)',
    async (_name, viewport) => {
      const { page } = session;
      await page.setViewportSize(viewport);
      await page.goto(world.startUrl);
      const needs = page.locator('#requirements');
      const text = await needs.innerText();
      expect(text).toMatch(/account of your company's Microsoft partner tenant/);
      expect(text).toMatch(/multi-factor authentication \(MFA\)/);
      expect(text).toMatch(/Partner Center role Admin Agent/);
      expect(text).toMatch(/approval by an administrator of the partner tenant/);
      const list = await needs.boundingBox();
      const button = await page.getByRole('button', { name: 'Generate Refresh Token' }).boundingBox();
      expect((list?.y ?? 0) + (list?.height ?? 0)).toBeLessThanOrEqual(button?.y ?? 0);
      // The approval note and its Copy approval link are still there.
      expect(await page.locator('#approval-note').innerText()).toMatch(/administrator of the partner tenant may have to approve/);
      expect(await page.getByRole('button', { name: 'Copy approval link' }).count()).toBe(1);
      expect(await overflowsHorizontally(page)).toBe(false);
    },
  );

  it('takes an ID as a person types it: "  mp-00001 " starts the sign-in of MP-00001', async () => {
    const { page } = session;
    await page.goto(world.startUrl);
    await startSignIn(page, world, '  mp-00001 ');
    expect(new URL(page.url()).pathname).toBe(`/${tenants.csp}/oauth2/v2.0/authorize`);
    await signInAtSimulator(page, world);
    expect(await heading(page)).toBe('Refresh token for MP-00001');
  });

  it('answers a typing mistake on the form, without a support reference', async () => {
    const { page } = session;
    await page.goto(world.startUrl);
    const response = await submitAndLoad(page, world, 'MP-1234');
    expect(response.status()).toBe(400);
    expect(await page.getByRole('alert').innerText()).toMatch(/MP- followed by 5 to 8 digits/);
    expect(await page.locator('#correlation-id').count()).toBe(0);
    expect(await page.locator('main').innerText()).not.toMatch(/Reference/);
  });
});

describe('the not-found page', () => {
  afterEach(() => {
    delete process.env.SUPPORT_CONTACT;
    resetSettingsCache();
  });

  it.each([
    ['no contact configured', undefined, undefined],
    ['an e-mail address', 'support@distributor.example', 'mailto:support@distributor.example'],
    ['a support page', 'https://help.distributor.example/tokens', 'https://help.distributor.example/tokens'],
  ])("keeps CloudBlue's text, says what it means, and names whom to contact: %s", async (_name, contact, href) => {
    if (contact) process.env.SUPPORT_CONTACT = contact;
    resetSettingsCache();
    const { page } = session;
    await page.goto(world.startUrl);
    expect((await submitAndLoad(page, world, 'MP-99999')).status()).toBe(404);
    const note = await page.locator('#cloudblue-note').innerText();
    expect(note).toContain('The marketplace ID was not found in the configuration file of this service. (MP-99999)');
    expect(note).toContain('Microsoft Direct Billed partner (not in syndication)');
    expect(note).toContain('CloudBlue PdM for Microsoft products or to your CloudBlue CSAM');
    expect(await page.locator('#plain-words').innerText()).toMatch(/does not know marketplace MP-99999 yet/);
    const who = page.locator('#support-contact');
    if (href) expect(await who.getByRole('link').getAttribute('href')).toBe(href);
    else expect(await who.innerText()).toMatch(/the operator of this service \(whoever sent you its address\), or your CloudBlue contact/);
    if (!contact) await screenshot(page, 'not-found');
  });
});

describe('after success', () => {
  it('Reload: the same browser is told the sign-in finished, for which marketplace and when (200, no token)', async () => {
    const { page } = session;
    const callbacks = callbacksOf(page);
    await generate(page, world, 'MP-00001');
    const token = await shownToken(page);
    await page.reload({ waitUntil: 'load' });
    expect(callbacks.map((r) => r.status())).toEqual([200, 200]);
    expect(await heading(page)).toBe('This sign-in already finished');
    expect(await page.locator('#finished').innerText()).toMatch(/^The token for marketplace MP-00001 was stored at \d{4}-\d\d-\d\d \d\d:\d\d UTC\.$/);
    expect(await page.content()).not.toContain(token);
    expect(await notices(page)).toHaveLength(1);
    await screenshot(page, 'finished');
  });

  it('Back to the token page from the next page: told the sign-in finished, not refused, and no token', async () => {
    const { page } = session;
    const callbacks = callbacksOf(page);
    await generate(page, world, 'MP-00001');
    const token = await shownToken(page);
    await Promise.all([page.waitForURL(world.startUrl), page.getByRole('link', { name: 'Done' }).click()]);
    expect(await heading(page)).toBe('Generate a Microsoft refresh token');
    await page.goBack({ waitUntil: 'load' });
    expect(callbacks.map((r) => r.status())).toEqual([200, 200]);
    expect(await heading(page)).toBe('This sign-in already finished');
    expect(await page.content()).not.toContain(token);
  });

  it('another browser opening the same address still gets the refusal', async () => {
    const { page } = session;
    await generate(page, world, 'MP-00001');
    const callbackUrl = page.url();
    const other = await openSession(browser);
    try {
      const response = await other.page.goto(callbackUrl);
      expect(response?.status()).toBe(400);
      expect(await heading(other.page)).toBe('Sign-in session not found');
    } finally {
      await other.close();
    }
  });

  it('Back then Forward: one notice, not three, and none still saying the token is shown', async () => {
    const { page } = session;
    await generate(page, world, 'MP-00001');
    await page.goBack({ waitUntil: 'commit' });
    await page.waitForLoadState('load');
    await page.goForward({ waitUntil: 'load' });
    expect(await heading(page)).toBe('This sign-in already finished');
    const shown = await notices(page);
    expect(shown).toHaveLength(1);
    expect(shown.join(' ')).not.toMatch(/shown only here|shown once/);
  });

  it('if the page ever comes back from the cache, leaving it left one notice behind: the token and the words around it are gone', async () => {
    const { page } = session;
    await generate(page, world, 'MP-00001');
    // What the browser does before it puts a page into its back/forward cache.
    await page.evaluate("window.dispatchEvent(new PageTransitionEvent('pagehide', { persisted: true }))");
    const left = await notices(page);
    expect(left).toEqual([expect.stringMatching(/^The token is no longer shown: you left this page\./)]);
    expect(await page.getByLabel('Refresh token').count()).toBe(0);
    expect(await page.locator('main').innerText()).not.toMatch(/shown only here|Nothing to do/);
  });
});

describe('the token page', () => {
  it('as the first run shows it: written to Connect, nothing to do, the token under "Show the token" with Copy, Done and a link to Connect', async () => {
    const { page } = session;
    await generate(page, world, 'MP-00001');
    expect(await page.locator('#next-step').innerText()).toMatch(
      /^Nothing to do: the token was written to the parameter refresh_token_test of marketplace MP-00001/,
    );
    expect(await page.getByLabel('Refresh token').isVisible()).toBe(false);
    expect(await page.locator('main').innerText()).not.toMatch(/Key Vault/);
    await screenshot(page, 'token');
    await page.setViewportSize(phone);
    expect(await overflowsHorizontally(page)).toBe(false);
    await screenshot(page, 'token-phone');
    await page.setViewportSize(desktop);
    await page.getByText('Show the token').click();
    await page.getByRole('button', { name: 'Copy' }).click();
    await page.getByRole('status').filter({ hasText: 'Copied' }).waitFor();
    expect(await page.evaluate<string>('navigator.clipboard.readText()')).toBe((await world.store.getToken('MP-00001', 'test'))?.value);
    expect(await page.locator('#copy-lifetime').innerText()).toMatch(
      /works until it goes 90 days without being used .*; this service renews its own copy by itself\.$/,
    );
    await screenshot(page, 'token-shown');
    const connect = page.getByRole('link', { name: 'Open CloudBlue Connect' });
    expect(await connect.getAttribute('href')).toBe('https://connect.cloudblue.com/');
    await Promise.all([page.waitForURL(world.startUrl), page.getByRole('link', { name: 'Done' }).click()]);
    expect(await heading(page)).toBe('Generate a Microsoft refresh token');
    expect(foreignRequests(session, allowedOrigins(world))).toEqual([]);
    expect(await lowContrastText(page)).toEqual([]);
  });

  it('"Show the token" has the focus ring every other control has', async () => {
    const { page } = session;
    await generate(page, world, 'MP-00001');
    const ringOf = async (selector: string): Promise<string> => {
      for (let i = 0; i < 30; i++) {
        await page.keyboard.press('Tab');
        if (await page.evaluate<boolean>(`document.activeElement === document.querySelector(${JSON.stringify(selector)})`)) {
          return page.evaluate<string>(
            `(() => { const s = getComputedStyle(document.activeElement); return s.outlineStyle + ' ' + s.outlineWidth + ' ' + s.outlineColor; })()`,
          );
        }
      }
      return 'never focused';
    };
    const summary = await ringOf('#token-details summary');
    const done = await ringOf('#done');
    expect(summary).toBe('solid 3px rgb(245, 158, 11)');
    expect(summary).toBe(done);
  });
});

describe('words, IDs and addresses that never break', () => {
  /** The pages a distributor (and the operator, on the status page) reads, each reached as a person reaches it. */
  const pages: [string, (page: Page) => Promise<void>][] = [
    ['start, with a typing mistake', async (page) => void (await page.goto(world.startUrl), await submitAndLoad(page, world, 'MP-1234'))],
    ['marketplace not found', async (page) => void (await page.goto(world.startUrl), await submitAndLoad(page, world, 'MP-99999999'))],
    ['token, shown', async (page) => void (await generate(page, world, 'MP-00003'), await page.getByText('Show the token').click())],
    ['sign-in finished', async (page) => void (await generate(page, world, 'MP-00001'), await page.reload({ waitUntil: 'load' }))],
    [
      'multi-factor authentication refused (names who signed in)',
      async (page) => {
        await page.goto(world.startUrl);
        await startSignIn(page, world, 'MP-00001');
        await page.getByLabel('Sign in without MFA').check();
        await signInAtSimulator(page, world);
      },
    ],
    [
      'an administrator must approve',
      async (page) => {
        world.simulator.revokeConsent(cpvClientId, tenants.cpv);
        await page.goto(world.startUrl);
        await startSignIn(page, world, 'MP-00002');
        await page.getByRole('button', { name: 'Sign in' }).click();
        await Promise.all([page.waitForURL(isCallbackUrl(world), { waitUntil: 'load' }), page.getByRole('button', { name: 'Cancel' }).click()]);
      },
    ],
    ['status', async (page) => void (await generate(page, world, 'MP-00001'), await page.goto(`${world.baseUrl}/api/status`))],
  ];

  it.each([
    ['phone', phone],
    ['desktop', desktop],
  ] as const)(
    'at %s width, no page breaks an ID or an e-mail address, nor a heading or a control, and nothing scrolls sideways',
    async (_name, viewport) => {
      const { page } = session;
      await page.setViewportSize(viewport);
      const found: Record<string, string[]> = {};
      for (const [name, reach] of pages) {
        await reach(page);
        const broken = [
          ...(await brokenWords(page, 'body', idsAndAddresses)),
          ...(await brokenWords(page, 'h1, h2, th, label, button, summary, .banner')),
        ];
        if (await overflowsHorizontally(page)) broken.push('(the page scrolls sideways)');
        if (broken.length > 0) found[name] = broken;
      }
      expect(found).toEqual({});
    },
  );
});

describe('the status page', () => {
  it("shows the viewer's local time beside UTC where script runs, UTC alone where it does not; its footer lines up with its main section", async () => {
    await world.host.invokeTimer('rotate');
    const tokyo = await openSession(browser, { timezoneId: 'Asia/Tokyo' });
    try {
      const { page } = tokyo;
      await page.goto(`${world.baseUrl}/api/status`);
      const first = page.locator('#last-run time.utc').first();
      const iso = (await first.getAttribute('datetime')) ?? '';
      expect(await first.innerText()).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d UTC$/);
      const local = new Date(iso).toLocaleString('en-US', { dateStyle: 'medium', timeStyle: 'short', timeZone: 'Asia/Tokyo' });
      expect((await page.locator('#last-run .local-time').first().innerText()).trim()).toBe(`(${local} your time)`);
      expect(await page.locator('time.utc').count()).toBe(await page.locator('.local-time').count());
      expect(tokyo.cspViolations).toEqual([]);
      // The added times fit: nothing scrolls sideways, at desktop or phone width.
      expect(await overflowsHorizontally(page)).toBe(false);
      await page.setViewportSize(phone);
      expect(await overflowsHorizontally(page)).toBe(false);
      await page.setViewportSize(desktop);

      // The footer's text starts where the main section's does.
      const edges = await page.evaluate<number[]>(
        `(() => [document.querySelector('main'), document.querySelector('footer')].map((e) => e.getBoundingClientRect().left + parseFloat(getComputedStyle(e).paddingLeft)))()`,
      );
      expect(edges[0]).toBeCloseTo(edges[1] ?? 0, 0);
    } finally {
      await tokyo.close();
    }
    const noScript = await openSession(browser, { timezoneId: 'Asia/Tokyo', javaScriptEnabled: false });
    try {
      await noScript.page.goto(`${world.baseUrl}/api/status`);
      expect(await noScript.page.locator('#last-run time.utc').first().innerText()).toMatch(/ UTC$/);
      expect(await noScript.page.locator('.local-time').count()).toBe(0);
    } finally {
      await noScript.close();
    }
  });
});

describe('the identity simulator, as the admin will meet Entra', () => {
  it('names the app, its publisher and each permission on the consent prompt; no client ID or scope URI in sight', async () => {
    world.simulator.revokeConsent(cpvClientId, tenants.cpv);
    const { page } = session;
    await page.goto(world.startUrl);
    await startSignIn(page, world, 'MP-00002');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Permissions requested' }).waitFor();
    const text = await page.locator('main').innerText();
    expect(text).toContain('CloudBlue Connect (CPV, stand-in)');
    expect(text).toMatch(/unverified/);
    expect(text).toMatch(/Access Partner Center PPE/);
    expect(text).toMatch(/Maintain access to data you have given it access to/);
    expect(text).not.toMatch(/[0-9a-f]{8}-[0-9a-f]{4}-|https:\/\/api\.partnercenter|offline_access/);
    expect(await page.getByLabel('Consent on behalf of your organization').isChecked()).toBe(false);
    expect(new URL(page.url()).origin).toBe(world.simulator.url);
    expect(isAuthorizeUrl(world)(new URL(page.url()))).toBe(true);
  });
});
