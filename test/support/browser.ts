/**
 * Chromium for the browser tests (playwright-core driving Debian's `chromium`): one browser per test
 * file, a fresh context per test, and a record of everything the page did that a test may want to
 * assert on — console messages, CSP violations, page errors, and every request URL.
 *
 * Chromium is not bundled: `.ci/run` installs it (`apt-get install -y chromium`). When it is
 * missing the tests fail with that instruction; they are never skipped.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page, type Request, type Response } from 'playwright-core';
import type { World } from './world';

export const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export const chromiumArgs = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Desktop and phone widths used for the tests and the README screenshots. */
export const desktop = { width: 1280, height: 800 };
export const phone = { width: 390, height: 844 };

export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(chromiumPath)) {
    throw new Error(
      `Chromium was not found at ${chromiumPath}. The browser tests need it: run \`apt-get update && apt-get install -y chromium\` ` +
        '(.ci/run does this on a fresh machine), or set CHROMIUM_PATH to a Chromium binary.',
    );
  }
  // Playwright turns Chromium's back/forward cache off by default; a person's browser has it on,
  // and it is what could show a token again after Back.
  return chromium.launch({
    executablePath: chromiumPath,
    args: chromiumArgs,
    headless: true,
    timeout: 20_000,
    ignoreDefaultArgs: ['--disable-back-forward-cache'],
  });
}

export interface ConsoleLine {
  type: string;
  text: string;
  url: string;
}

export interface RequestLine {
  method: string;
  url: string;
  navigation: boolean;
  /** Why the browser did not complete it (for example net::ERR_BLOCKED_BY_CSP), if it did not. */
  failure?: string;
}

export interface Session {
  context: BrowserContext;
  page: Page;
  console: ConsoleLine[];
  /** Console lines and `securitypolicyviolation` events that say a CSP refused something. */
  cspViolations: string[];
  /** Uncaught exceptions in any page. */
  pageErrors: string[];
  /** Every request any page of the context made, in order. */
  requests: RequestLine[];
  close(): Promise<void>;
}

/**
 * Reports every `securitypolicyviolation` event to the console with a recognisable prefix. Injected by
 * the DevTools protocol, so the pages' own CSP does not apply to it (and it adds nothing to the pages).
 */
const violationReporter = `
document.addEventListener('securitypolicyviolation', function (e) {
  console.error('securitypolicyviolation: ' + e.violatedDirective + ' blocked ' + (e.blockedURI || '(inline)') + ' on ' + e.documentURI);
}, true);
`;

export function isCspViolation(text: string): boolean {
  return /Refused to|securitypolicyviolation|Content Security Policy/i.test(text);
}

export async function openSession(
  browser: Browser,
  options: { viewport?: { width: number; height: number }; clipboardOrigin?: string; timezoneId?: string; javaScriptEnabled?: boolean } = {},
): Promise<Session> {
  const context = await browser.newContext({
    ignoreHTTPSErrors: true,
    viewport: options.viewport ?? desktop,
    deviceScaleFactor: 1,
    locale: 'en-US',
    colorScheme: 'light',
    reducedMotion: 'reduce',
    // The clock of a person somewhere: UTC unless a test says otherwise, so pages that add local time add none.
    timezoneId: options.timezoneId ?? 'UTC',
    ...(options.javaScriptEnabled === false ? { javaScriptEnabled: false } : {}),
  });
  if (options.clipboardOrigin) await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: options.clipboardOrigin });
  await context.addInitScript({ content: violationReporter });
  context.setDefaultTimeout(10_000);
  context.setDefaultNavigationTimeout(10_000);

  const session: Session = {
    context,
    page: undefined as unknown as Page,
    console: [],
    cspViolations: [],
    pageErrors: [],
    requests: [],
    close: () => context.close(),
  };
  const lines = new Map<Request, RequestLine>();
  context.on('request', (r) => {
    const line: RequestLine = { method: r.method(), url: r.url(), navigation: r.isNavigationRequest() };
    lines.set(r, line);
    session.requests.push(line);
  });
  context.on('requestfailed', (r) => {
    const line = lines.get(r);
    if (line) line.failure = r.failure()?.errorText ?? 'failed';
  });
  context.on('console', (m) => {
    const line = { type: m.type(), text: m.text(), url: m.location().url };
    session.console.push(line);
    if (isCspViolation(line.text)) session.cspViolations.push(`${line.text} (${line.url})`);
  });
  context.on('weberror', (e) => session.pageErrors.push(e.error().message));
  session.page = await context.newPage();
  return session;
}

/** Polls `probe` until `accept` holds for its value (for events the browser reports asynchronously, such as console lines); returns the last value. */
export async function eventually<T>(probe: () => T | Promise<T>, accept: (value: T) => boolean, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = await probe();
  while (!accept(value) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 25));
    value = await probe();
  }
  return value;
}

/** Origins of every http(s) request the session made that is not one of `allowed`; other schemes are reported whole. */
export function foreignRequests(session: Session, allowed: string[]): string[] {
  const origins = new Set(allowed.map((a) => new URL(a).origin));
  return session.requests
    .map((r) => r.url)
    .filter((u) => {
      if (u.startsWith('data:') || u === 'about:blank') return false;
      try {
        const url = new URL(u);
        return !(url.protocol === 'http:' || url.protocol === 'https:') || !origins.has(url.origin);
      } catch {
        return true;
      }
    });
}

/** The origins a journey may talk to: the app and the identity authority. */
export function allowedOrigins(world: World): string[] {
  return [world.baseUrl, world.simulator.url];
}

// ---------------------------------------------------------------------------------------------
// The journeys, as a person does them.

export function isAuthorizeUrl(world: World): (url: URL) => boolean {
  return (url) => url.origin === world.simulator.url && /\/oauth2\/v2\.0\/authorize$/.test(url.pathname);
}

export function isCallbackUrl(world: World): (url: URL) => boolean {
  return (url) => url.origin === new URL(world.baseUrl).origin && url.pathname === '/api/callback';
}

/** On the start page: types the ID into the "Marketplace ID" box and clicks "Generate Refresh Token". */
export async function submitMarketplace(page: Page, marketplace: string): Promise<void> {
  const box = page.getByLabel('Marketplace ID');
  await box.fill(marketplace);
  await page.getByRole('button', { name: 'Generate Refresh Token' }).click();
}

/**
 * Submits the start form (by clicking, or by `submit` — e.g. pressing Enter) when the answer stays on the
 * app (troubleshooting, validation, refusal) and waits until that answer's page has loaded. Returns the response.
 */
export async function submitAndLoad(page: Page, world: World, marketplace: string, submit?: () => Promise<void>): Promise<Response> {
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.url() === world.startUrl && r.request().method() === 'POST'),
    page.waitForEvent('load'),
    submit ? submit() : submitMarketplace(page, marketplace),
  ]);
  return response;
}

/** From the start page to the simulator's sign-in page. */
export async function startSignIn(page: Page, world: World, marketplace: string): Promise<void> {
  await Promise.all([page.waitForURL(isAuthorizeUrl(world)), submitMarketplace(page, marketplace)]);
  await page.getByRole('button', { name: 'Sign in' }).waitFor();
}

/** On the simulator's sign-in page: clicks "Sign in" and waits for the app's callback page. */
export async function signInAtSimulator(page: Page, world: World): Promise<void> {
  await Promise.all([page.waitForURL(isCallbackUrl(world), { waitUntil: 'load' }), page.getByRole('button', { name: 'Sign in' }).click()]);
}

/** Start page → Generate → Sign in → the callback's page (token, consent or error). */
export async function generate(page: Page, world: World, marketplace: string): Promise<void> {
  await page.goto(world.startUrl);
  await startSignIn(page, world, marketplace);
  await signInAtSimulator(page, world);
}

/** The value of the read-only text box labelled "Refresh token". */
export async function shownToken(page: Page): Promise<string> {
  return page.getByLabel('Refresh token').inputValue();
}

// ---------------------------------------------------------------------------------------------
// Screenshots for the README.

export const screenshotDir = resolve(__dirname, '../../docs/screenshots');
const scratchDir = resolve(__dirname, '../../.local/screenshots');

/**
 * Every run takes the screenshots (the pages must render); they replace the README's pictures
 * in docs/screenshots only with `UPDATE_SCREENSHOTS=1 npm test` (tokens and ids differ on every
 * run, so writing them always would leave the tree dirty), or when a picture is missing.
 */
export async function screenshot(page: Page, name: string): Promise<string> {
  const committed = join(screenshotDir, `${name}.png`);
  const dir = process.env.UPDATE_SCREENSHOTS === '1' || !existsSync(committed) ? screenshotDir : scratchDir;
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${name}.png`);
  await page.screenshot({ path, fullPage: true, animations: 'disabled', caret: 'hide' });
  return path;
}

/** Whether the page scrolls sideways at the current viewport width (it must not, at phone width). */
export async function overflowsHorizontally(page: Page): Promise<boolean> {
  return page.evaluate<boolean>('document.documentElement.scrollWidth > document.documentElement.clientWidth');
}

/**
 * Words inside `selector` that the layout broke across lines ("Marketplac" / "e", "MP-" / "99999"): a
 * table squeezed into a phone's width fits without scrolling, yet nobody can read it. A word is a
 * run of non-space characters, or (with `idsAndAddresses`) each marketplace ID, product ID and
 * e-mail address, wherever it stands in the text; it is broken when its text range has client
 * rectangles on two lines. Text inside form controls is not laid out as text and is not looked at.
 */
const brokenWordsProbe = `((selector, pattern) => {
  const broken = [];
  const words = new RegExp(pattern, 'g');
  for (const root of document.querySelectorAll(selector)) {
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      if (!node.parentElement || node.parentElement.closest('textarea, script, style')) continue;
      for (const m of node.textContent.matchAll(words)) {
        const range = document.createRange();
        range.setStart(node, m.index);
        range.setEnd(node, m.index + m[0].length);
        const tops = new Set(Array.from(range.getClientRects(), (r) => Math.round(r.top)));
        if (tops.size > 1) broken.push(m[0]);
      }
    }
  }
  return broken;
})`;

/** Marketplace and product IDs and e-mail addresses: what a person reads and copies, so what must never wrap inside. */
export const idsAndAddresses = String.raw`MP-[0-9]{5,8}|PRD-[0-9]{3}-[0-9]{3}-[0-9]{3}|[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}`;

export async function brokenWords(page: Page, selector: string, pattern = String.raw`\S+`): Promise<string[]> {
  return page.evaluate<string[]>(`${brokenWordsProbe}(${JSON.stringify(selector)}, ${JSON.stringify(pattern)})`);
}

/**
 * Text on the page whose contrast with its background is below WCAG 2.2 AA (4.5:1, or 3:1 for large
 * text). The background is the composite of every ancestor's background colour over a white canvas.
 * Evaluated in the page; returns one line per offending element.
 */
const contrastProbe = `(() => {
  function parse(c) {
    var m = /rgba?\\(([^)]+)\\)/.exec(c);
    if (!m) return [0, 0, 0, 0];
    var p = m[1].split(/[ ,\\/]+/).filter(Boolean).map(Number);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
  }
  function over(top, base) {
    var a = top[3];
    return [top[0] * a + base[0] * (1 - a), top[1] * a + base[1] * (1 - a), top[2] * a + base[2] * (1 - a), 1];
  }
  function lum(c) {
    var v = [c[0], c[1], c[2]].map(function (x) { x /= 255; return x <= 0.03928 ? x / 12.92 : Math.pow((x + 0.055) / 1.055, 2.4); });
    return 0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2];
  }
  function background(el) {
    var chain = [];
    for (var e = el; e; e = e.parentElement) chain.push(parse(getComputedStyle(e).backgroundColor));
    var bg = [255, 255, 255, 1];
    for (var i = chain.length - 1; i >= 0; i--) bg = over(chain[i], bg);
    return bg;
  }
  var out = [];
  document.querySelectorAll('body *').forEach(function (el) {
    var own = Array.prototype.some.call(el.childNodes, function (n) { return n.nodeType === 3 && n.textContent.trim() !== ''; });
    if (!own) return;
    var st = getComputedStyle(el);
    if (st.visibility === 'hidden' || st.display === 'none' || el.getClientRects().length === 0) return;
    var bg = background(el);
    var fg = over(parse(st.color), bg);
    var l1 = lum(fg), l2 = lum(bg);
    var ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
    var size = parseFloat(st.fontSize), bold = Number(st.fontWeight) >= 700;
    var need = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
    if (ratio < need) out.push(el.tagName.toLowerCase() + (el.className ? '.' + String(el.className).replace(/ /g, '.') : '') + ' "' + el.textContent.trim().slice(0, 40) + '": ' + ratio.toFixed(2) + ':1 (needs ' + need + ':1; ' + st.color + ' on rgb(' + bg.slice(0, 3).map(Math.round).join(', ') + '))');
  });
  return out;
})()`;

export async function lowContrastText(page: Page): Promise<string[]> {
  const found = await page.evaluate<string[]>(contrastProbe);
  return found.map((line) => `${new URL(page.url()).pathname}: ${line}`);
}

// ---------------------------------------------------------------------------------------------
// Another site, for framing and cross-site form tests.

export interface OtherSite {
  port: number;
  /** http://127.0.0.1:PORT — a different site from http://localhost:APP. */
  crossSiteUrl: string;
  /** http://localhost:PORT — the same site as the app (a site ignores the port), but another origin. */
  sameSiteUrl: string;
  /** Requests this server received (method and path). */
  hits: string[];
  close(): Promise<void>;
}

/** Serves fixed HTML pages by path, on loopback, with no security headers at all (as an attacker's page would). */
export async function startOtherSite(pages: Record<string, string>): Promise<OtherSite> {
  const hits: string[] = [];
  const server: Server = createServer((req, res) => {
    hits.push(`${req.method ?? 'GET'} ${req.url ?? '/'}`);
    const body = pages[(req.url ?? '/').split('?')[0] ?? '/'];
    if (body === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(body);
  });
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolveListen());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    port,
    crossSiteUrl: `http://127.0.0.1:${port}`,
    sameSiteUrl: `http://localhost:${port}`,
    hits,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

export function escapeAttribute(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
}
