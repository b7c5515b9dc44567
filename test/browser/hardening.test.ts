/**
 * docs/SECURITY.md in a real browser ("Browser checks in Chromium"): what only a browser can
 * show — the CSP really lets the copy button work and refuses anything else, no request leaves the app
 * and the authority, the pages cannot be framed, cross-site form posts are refused while the page's
 * own post (Origin: null under Referrer-Policy: no-referrer) passes, the transaction cookie's
 * attributes as the browser stored them, and Back / reload never shows a token again.
 */
import { chromium, type Browser, type Page, type Response } from 'playwright-core';
import {
  allowedOrigins,
  chromiumArgs,
  chromiumPath,
  escapeAttribute,
  eventually,
  foreignRequests,
  generate,
  isAuthorizeUrl,
  isCallbackUrl,
  desktop,
  launchBrowser,
  openSession,
  phone,
  shownToken,
  signInAtSimulator,
  startOtherSite,
  startSignIn,
  submitAndLoad,
  submitMarketplace,
  type OtherSite,
  type Session,
} from '../support/browser';
import { startWorld, unboundedSignIns, type World } from '../support/world';

/** Each sign-in's cookie: this prefix and the key of its state (shared/signIn/cookie.ts). */
const cookiePrefix = '__Host-ms-auth-tx-';

let browser: Browser;
let world: World;
let session: Session;
beforeAll(async () => {
  browser = await launchBrowser();
  world = await startWorld({ store: 'file', signInBounds: unboundedSignIns });
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

function isStartPost(world: World) {
  return (r: Response) => r.url() === world.startUrl && r.request().method() === 'POST';
}

async function heading(page: Page): Promise<string> {
  return page.getByRole('heading', { level: 1 }).innerText();
}

describe('Content-Security-Policy on the token page', () => {
  it('lets the nonce script copy the token, refuses a script without the nonce, and logs no other violation', async () => {
    const { page } = session;
    await page.goto(world.startUrl);
    await startSignIn(page, world, 'MP-00001');
    const [callback] = await Promise.all([page.waitForResponse((r) => isCallbackUrl(world)(new URL(r.url()))), signInAtSimulator(page, world)]);
    const csp = (await callback.allHeaders())['content-security-policy'] ?? '';
    expect(csp).toMatch(/script-src 'nonce-[A-Za-z0-9+/=]+'(;|$)/);
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval/);
    expect(csp).toContain("frame-ancestors 'none'");

    const token = await shownToken(page);
    expect(token).toBe((await world.store.getToken('MP-00001', 'test'))?.value);
    await page.getByRole('button', { name: 'Copy' }).click();
    await page.getByRole('status').filter({ hasText: 'Copied' }).waitFor();
    expect(await page.evaluate<string>('navigator.clipboard.readText()')).toBe(token);
    expect(session.cspViolations).toEqual([]);
    expect(session.pageErrors).toEqual([]);

    // The policy is enforced, not merely sent: an injected inline script (no nonce) does not run,
    // and an image from elsewhere is not fetched.
    const ran = await page.evaluate<unknown>(`(() => {
      const s = document.createElement('script');
      s.textContent = 'window.__injected = true';
      document.body.appendChild(s);
      const img = document.createElement('img');
      img.src = 'https://example.invalid/x.png';
      document.body.appendChild(img);
      return window.__injected === true;
    })()`);
    expect(ran).toBe(false);
    expect(
      await eventually(
        () => session.cspViolations.length,
        (n) => n >= 2,
      ),
    ).toBeGreaterThanOrEqual(2);
    expect(session.cspViolations.join('\n')).toMatch(/script-src/);
    expect(session.cspViolations.join('\n')).toMatch(/img-src|default-src/);
    // Chromium reports the image request, refused before it left the browser.
    const image = await eventually(
      () => session.requests.find((r) => r.url.includes('example.invalid')),
      (r) => r?.failure !== undefined,
    );
    expect(image?.failure).toMatch(/csp/i);
  });
});

describe('requests', () => {
  it('every journey talks only to the app and the authority', async () => {
    const { page } = session;
    // CSP marketplace: token.
    await generate(page, world, 'MP-00001');
    await shownToken(page);
    // CPV marketplace: Microsoft's consent prompt cancelled → approval page → admin consent → try again → token.
    await page.goto(world.startUrl);
    await startSignIn(page, world, 'MP-00002');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await Promise.all([page.waitForURL(isCallbackUrl(world), { waitUntil: 'load' }), page.getByRole('button', { name: 'Cancel' }).click()]);
    expect(await heading(page)).toBe('An administrator must approve access first');
    await Promise.all([
      page.waitForURL((u) => u.origin === world.simulator.url),
      page.getByRole('link', { name: 'Approve access as an administrator' }).click(),
    ]);
    await Promise.all([page.waitForURL(isCallbackUrl(world)), page.getByRole('button', { name: 'Accept' }).click()]);
    expect(await heading(page)).toBe('Access approved');
    await Promise.all([page.waitForURL(`${world.startUrl}?marketplace=MP-00002`), page.getByRole('link', { name: 'Try again' }).click()]);
    await startSignIn(page, world, 'MP-00002');
    await signInAtSimulator(page, world);
    expect(await shownToken(page)).toBe((await world.store.getToken('MP-00002', 'test'))?.value);
    // Unknown and malformed marketplaces, the status page, a page that does not exist.
    for (const id of ['MP-99999', 'mp-12']) {
      await page.goto(world.startUrl);
      await submitAndLoad(page, world, id);
    }
    await page.goto(`${world.baseUrl}/api/status`);
    await page.goto(`${world.baseUrl}/api/callback?error=access_denied&state=x`);

    expect(foreignRequests(session, allowedOrigins(world))).toEqual([]);
    const origins = new Set(session.requests.map((r) => new URL(r.url).origin));
    expect([...origins].sort()).toEqual([new URL(world.baseUrl).origin, world.simulator.url].sort());
    // Nothing but documents: the pages load no scripts, styles, fonts or images from anywhere, but
    // for the token page's mark, an empty stylesheet of the app's own (docs/SECURITY.md 30).
    const mark = `${world.startUrl}?shown=1`;
    expect(session.requests.filter((r) => !r.navigation && !r.url.endsWith('/favicon.ico') && r.url !== mark)).toEqual([]);
    expect(session.requests.filter((r) => r.url === mark).map((r) => r.failure ?? 'loaded')).toEqual(['loaded', 'loaded']);
    expect(session.cspViolations).toEqual([]);
    expect(session.pageErrors).toEqual([]);
  });
});

describe('framing', () => {
  let other: OtherSite;
  beforeAll(async () => {
    const frames = ['/api/start', '/api/callback', '/api/status']
      .map((path) => `<iframe title="${path}" src="${escapeAttribute(`${world.baseUrl}${path}`)}" width="600" height="300"></iframe>`)
      .join('\n');
    other = await startOtherSite({ '/frame.html': `<!doctype html><title>framing</title>\n${frames}` });
  });
  afterAll(async () => {
    await other?.close();
  });

  it.each(['cross-site', 'same-site'] as const)('a %s page cannot frame the start, callback or status page', async (kind) => {
    const { page } = session;
    const base = kind === 'cross-site' ? other.crossSiteUrl : other.sameSiteUrl;
    const appResponses: Response[] = [];
    page.on('response', (r) => {
      if (r.url().startsWith(world.baseUrl)) appResponses.push(r);
    });
    await page.goto(`${base}/frame.html`, { waitUntil: 'load' });
    // The app did answer each frame's request (so the refusal is the browser's, by the headers)…
    expect(
      await eventually(
        () => appResponses.length,
        (n) => n >= 3,
      ),
    ).toBe(3);
    for (const r of appResponses) {
      const h = await r.allHeaders();
      expect(h['x-frame-options']).toBe('DENY');
      expect(h['content-security-policy']).toContain("frame-ancestors 'none'");
    }
    // …and no frame shows the app's page.
    const children = page.frames().filter((f) => f !== page.mainFrame());
    expect(children).toHaveLength(3);
    for (const frame of children) {
      expect(frame.url()).not.toContain(world.baseUrl);
      const text = await frame.evaluate<string>('document.body ? document.body.innerText : ""').catch(() => '');
      expect(text).not.toMatch(/Marketplace ID|Generate Refresh Token|Refresh tokens|Sign-in session/);
    }
    const refusals = await eventually(
      () => session.cspViolations.filter((v) => /frame/i.test(v)),
      (v) => v.length >= 3,
    );
    expect(refusals.length).toBeGreaterThanOrEqual(3);
  });
});

describe('form posts to /api/start', () => {
  let other: OtherSite;
  beforeAll(async () => {
    const form = `<!doctype html><title>crafted</title>
<form id="f" method="post" action="${escapeAttribute(world.startUrl)}"><input name="marketplace" value="MP-00001"></form>
<script>document.getElementById('f').submit();</script>`;
    other = await startOtherSite({ '/post.html': form });
  });
  afterAll(async () => {
    await other?.close();
  });

  it("the page's own post (Origin: null, Sec-Fetch-Site: same-origin under no-referrer) is accepted", async () => {
    const { page } = session;
    const landing = await page.goto(world.startUrl);
    expect((await landing?.allHeaders())?.['referrer-policy']).toBe('no-referrer');
    const [response] = await Promise.all([page.waitForResponse(isStartPost(world)), submitMarketplace(page, 'MP-00001')]);
    const sent = await response.request().allHeaders();
    expect(sent.origin).toBe('null');
    expect(sent['sec-fetch-site']).toBe('same-origin');
    expect(sent.referer).toBeUndefined();
    expect(response.status()).toBe(303);
    await page.waitForURL(isAuthorizeUrl(world));
  });

  it.each([
    ['cross-site', 'http://127.0.0.1'],
    ['same-site', 'http://localhost'],
  ] as const)('a %s page auto-submitting the form is refused with 403: no cookie, no sign-in', async (fetchSite, host) => {
    const { page } = session;
    const base = fetchSite === 'cross-site' ? other.crossSiteUrl : other.sameSiteUrl;
    expect(base.startsWith(host)).toBe(true);
    const [response] = await Promise.all([page.waitForResponse(isStartPost(world)), page.goto(`${base}/post.html`)]);
    const sent = await response.request().allHeaders();
    expect(sent['sec-fetch-site']).toBe(fetchSite);
    expect(response.status()).toBe(403);
    expect((await response.allHeaders())['set-cookie']).toBeUndefined();
    await page.waitForURL(world.startUrl);
    await page.waitForLoadState('load');
    expect(await heading(page)).toBe('Request refused');
    expect(await session.context.cookies(world.baseUrl)).toEqual([]);
    expect(session.requests.some((r) => r.url.startsWith(world.simulator.url))).toBe(false);
  });
});

describe('the transaction cookie', () => {
  it(`is ${cookiePrefix}<key of its state>, HttpOnly, Secure, SameSite=Lax, Path=/, host-only, 10 minutes; the callback replaces it with the record that it finished`, async () => {
    const { page, context } = session;
    await page.goto(world.startUrl);
    expect(await context.cookies(world.baseUrl)).toEqual([]);
    const before = Date.now() / 1000;
    await startSignIn(page, world, 'MP-00001');
    const cookies = await context.cookies(world.baseUrl);
    expect(cookies.map((c) => c.name)).toEqual([expect.stringMatching(/^__Host-ms-auth-tx-[A-Za-z0-9_-]{16}$/)]);
    const [cookie] = cookies;
    expect(cookie).toMatchObject({ domain: 'localhost', path: '/', httpOnly: true, secure: true, sameSite: 'Lax' });
    expect(cookie?.expires).toBeGreaterThan(before + 590);
    expect(cookie?.expires).toBeLessThan(before + 620);

    await signInAtSimulator(page, world);
    await shownToken(page);
    // Under the same name, now the small sealed record that the sign-in finished (an hour), and the
    // token page's meaningless mark (docs/SECURITY.md 30); script can read neither.
    const left = await context.cookies(world.baseUrl);
    expect(left.map((c) => c.name).sort()).toEqual(['__Host-ms-auth-shown', cookie?.name].sort());
    const finished = left.find((c) => c.name === cookie?.name);
    expect(finished).toMatchObject({ path: '/', httpOnly: true, secure: true, sameSite: 'Lax' });
    expect(finished?.value).not.toBe(cookie?.value);
    expect(finished?.expires).toBeGreaterThan(before + 3590);
    expect(left.find((c) => c.name === '__Host-ms-auth-shown')).toMatchObject({ path: '/', httpOnly: true, secure: true, sameSite: 'Strict' });
    expect(await page.evaluate<string>('document.cookie')).toBe('');
  });
});

describe('after the token page', () => {
  it('Back then Forward, and reload, never show the token again: the same browser is told the sign-in finished (back/forward cache on)', async () => {
    const { page } = session;
    const callbacks: Response[] = [];
    page.on('response', (r) => {
      if (isCallbackUrl(world)(new URL(r.url()))) callbacks.push(r);
    });
    await generate(page, world, 'MP-00001');
    const token = await shownToken(page);
    const callbackUrl = page.url();
    expect(callbacks).toHaveLength(1);
    expect((await callbacks[0]?.allHeaders())?.['cache-control']).toBe('no-store');

    // A restore from the back/forward cache fires no load event: wait for the commit.
    await page.goBack({ waitUntil: 'commit' });
    await page.waitForFunction('document.readyState === "complete"');
    expect(page.url()).not.toBe(callbackUrl);
    expect(await page.content()).not.toContain(token);

    await page.goForward({ waitUntil: 'load' });
    expect(page.url()).toBe(callbackUrl);
    // Not restored from the back/forward cache (its mark changed a cookie while it was shown:
    // Chromium stores no-store pages, but restores none after that), so the server was asked again
    // and said the sign-in already finished, without the token. The pagehide script would have
    // taken the token off the page anyway.
    expect(callbacks.map((r) => r.status())).toEqual([200, 200]);
    expect(await heading(page)).toBe('This sign-in already finished');
    expect(await page.content()).not.toContain(token);

    await page.reload({ waitUntil: 'load' });
    expect(callbacks.at(-1)?.status()).toBe(200);
    expect(await heading(page)).toBe('This sign-in already finished');
    expect(await page.content()).not.toContain(token);

    // The store still holds the token from the one real sign-in; coming back changed nothing.
    expect((await world.store.getToken('MP-00001', 'test'))?.value).toBe(token);
    expect(foreignRequests(session, allowedOrigins(world))).toEqual([]);
  });

  it("the back/forward cache is on in these tests, as in a person's browser: a plain page is restored from it", async () => {
    const { page } = session;
    await page.goto(world.startUrl);
    await page.evaluate('window.marker = 42');
    await page.goto(`${world.startUrl}?marketplace=MP-00001`);
    await page.goBack({ waitUntil: 'commit' });
    await page.waitForFunction('document.readyState === "complete"');
    // Only a page restored from the cache still has the script state it had when it was left.
    expect(await page.evaluate('window.marker')).toBe(42);
  });
});

describe('after the token page, with JavaScript off (docs/SECURITY.md 30)', () => {
  let away: OtherSite;
  beforeAll(async () => {
    away = await startOtherSite({ '/away.html': '<!doctype html><title>elsewhere</title><p>Another site.</p>' });
  });
  afterAll(async () => {
    await away?.close();
  });

  /** A person's browser with script off: the back/forward cache stays on (launchBrowser). */
  async function withoutScript(viewport: { width: number; height: number }, body: (page: Page) => Promise<void>): Promise<void> {
    const context = await browser.newContext({ javaScriptEnabled: false, viewport, locale: 'en-US', ignoreHTTPSErrors: true });
    context.setDefaultTimeout(10_000);
    try {
      await body(await context.newPage());
    } finally {
      await context.close();
    }
  }

  it.each([
    ['desktop', desktop],
    ['phone', phone],
  ] as const)('Back from another site asks the server again and shows no token (%s width)', async (_name, viewport) => {
    await withoutScript(viewport, async (page) => {
      const callbacks: Response[] = [];
      page.on('response', (r) => {
        if (isCallbackUrl(world)(new URL(r.url()))) callbacks.push(r);
      });
      await generate(page, world, 'MP-00001');
      const token = await shownToken(page);
      expect(token.length).toBeGreaterThan(20);
      await page.goto(`${away.crossSiteUrl}/away.html`);
      await page.goBack({ waitUntil: 'commit' });
      await page.waitForLoadState('load');
      // Not restored from the cache: the callback was asked again, and said the sign-in already finished (no token).
      expect(callbacks.map((r) => r.status())).toEqual([200, 200]);
      expect(await heading(page)).toBe('This sign-in already finished');
      expect(await page.content()).not.toContain(token);
    });
  });

  it('the cache is on for these pages all the same: a no-store page without the mark (the start form) is restored from it', async () => {
    await withoutScript(desktop, async (page) => {
      const starts: string[] = [];
      page.on('request', (r) => {
        if (r.url().startsWith(world.startUrl)) starts.push(r.url());
      });
      await page.goto(`${world.startUrl}?marketplace=MP-00001`);
      await page.goto(`${away.crossSiteUrl}/away.html`);
      // A restore fires no load event; a navigation that asked the server would have requested before committing.
      await page.goBack({ waitUntil: 'commit' });
      expect(page.url()).toBe(`${world.startUrl}?marketplace=MP-00001`);
      expect(starts).toHaveLength(1);
    });
  });
});

describe('form posts to /api/rotate (local mode asks no function key)', () => {
  let other: OtherSite;
  beforeAll(async () => {
    const form = `<!doctype html><title>crafted</title>
<form id="f" method="post" action="${escapeAttribute(`${world.baseUrl}/api/rotate?marketplace=MP-00001`)}"></form>
<script>document.getElementById('f').submit();</script>`;
    other = await startOtherSite({ '/rotate.html': form });
  });
  afterAll(async () => {
    await other?.close();
  });

  it.each(['cross-site', 'same-site'] as const)(
    'a %s page auto-submitting a rotation is refused with a JSON 403: nothing is rotated',
    async (fetchSite) => {
      const { page } = session;
      await generate(page, world, 'MP-00001');
      const token = await shownToken(page);
      const refreshes = world.simulator.stats.tokenCalls.refresh_token;
      const base = fetchSite === 'cross-site' ? other.crossSiteUrl : other.sameSiteUrl;
      const [response] = await Promise.all([
        page.waitForResponse((r) => r.url().startsWith(`${world.baseUrl}/api/rotate`)),
        page.goto(`${base}/rotate.html`),
      ]);
      expect((await response.request().allHeaders())['sec-fetch-site']).toBe(fetchSite);
      expect(response.status()).toBe(403);
      expect(JSON.parse(await response.text())).toMatchObject({ error: 'cross_site_request' });
      expect(world.simulator.stats.tokenCalls.refresh_token).toBe(refreshes);
      expect((await world.store.getToken('MP-00001', 'test'))?.value).toBe(token);
    },
  );
});

describe("the local host's own answers", () => {
  it("an unknown address gets the service's page: language, title, heading, reference, and nothing the CSP refuses", async () => {
    const { page } = session;
    const response = await page.goto(`${world.baseUrl}/api/no-such-page`);
    expect(response?.status()).toBe(404);
    expect(await page.evaluate<string>('document.documentElement.lang')).toBe('en');
    expect(await page.title()).toMatch(/^Page not found · /);
    expect(await heading(page)).toBe('Page not found');
    expect(await page.locator('#correlation-id').innerText()).toBe((await response?.allHeaders())?.['x-correlation-id']);
    expect(session.cspViolations).toEqual([]);
  });
});

describe('DNS rebinding (local mode)', () => {
  let rebinding: Browser;
  beforeAll(async () => {
    // A name the attacker controls, now resolving to this machine: the browser treats the local
    // service as that name's origin, so its own same-origin checks no longer help.
    rebinding = await chromium.launch({
      executablePath: chromiumPath,
      args: [...chromiumArgs, '--host-resolver-rules=MAP rebound.test 127.0.0.1'],
      headless: true,
      timeout: 20_000,
    });
  });
  afterAll(async () => {
    await rebinding?.close();
  });

  it('a page on a rebound name can neither read the status nor start a rotation: the host refuses its Host (421)', async () => {
    // The attacker's page has no CSP of ours (it was served by the attacker before the name moved).
    const context = await rebinding.newContext({ bypassCSP: true });
    try {
      const page = await context.newPage();
      const origin = `http://rebound.test:${new URL(world.baseUrl).port}`;
      const landing = await page.goto(`${origin}/api/status`);
      expect(landing?.status()).toBe(421);
      expect(await heading(page)).toBe('Wrong address');
      const calls = world.simulator.stats.tokenCalls.total;
      const answers = await page.evaluate(async () => {
        const status = await fetch('/api/status?format=json');
        const rotate = await fetch('/api/rotate', { method: 'POST' });
        return { status: status.status, rotate: rotate.status, body: await status.text() };
      });
      expect({ status: answers.status, rotate: answers.rotate }).toEqual({ status: 421, rotate: 421 });
      expect(answers.body).not.toMatch(/"tokens"|MP-0000/);
      expect(world.simulator.stats.tokenCalls.total).toBe(calls);
    } finally {
      await context.close();
    }
  });
});
