/**
 * The sign-in journey driven with plain HTTP, as a browser would: form POST, redirects, the
 * simulator's Sign in form, the callback with the transaction cookie.
 */
import type { World } from './world';

export interface Step {
  status: number;
  location?: string;
  body: string;
  setCookies: string[];
  headers: Headers;
}

export async function request(url: string, init: RequestInit = {}): Promise<Step> {
  const r = await fetch(url, { redirect: 'manual', ...init });
  const location = r.headers.get('location') ?? undefined;
  return { status: r.status, ...(location ? { location } : {}), body: await r.text(), setCookies: r.headers.getSetCookie(), headers: r.headers };
}

/** The Cookie header a browser sends after these Set-Cookie lines: the cookies set, not the ones deleted (`Max-Age=0`). */
export function cookieHeader(setCookies: string[]): string {
  return setCookies
    .filter((c) => !/;\s*Max-Age=0(;|$)/i.test(c))
    .map((c) => c.split(';')[0])
    .join('; ');
}

/** One browser's cookies for the app, as Set-Cookie lines leave them: set, replaced, deleted (`Max-Age=0`). */
export class CookieJar {
  private readonly cookies = new Map<string, string>();
  take(setCookies: string[]): this {
    for (const c of setCookies) {
      const pair = c.split(';')[0] ?? '';
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq);
      if (/;\s*Max-Age=0(;|$)/i.test(c)) this.cookies.delete(name);
      else this.cookies.set(name, pair.slice(eq + 1));
    }
    return this;
  }
  names(): string[] {
    return [...this.cookies.keys()];
  }
  header(): string {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }
}

export async function postStart(world: World, marketplace: string, headers: Record<string, string> = {}): Promise<Step> {
  return request(world.startUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin', origin: 'null', ...headers },
    body: new URLSearchParams({ marketplace }).toString(),
  });
}

/** Submits the first form of an HTML page (the simulator's Sign in / Accept pages). */
export async function submitForm(pageUrl: string, html: string, button?: string, extra: Record<string, string> = {}): Promise<Step> {
  const form = /<form[^>]*action="([^"]*)"[^>]*>([\s\S]*?)<\/form>/i.exec(html);
  if (!form) throw new Error(`no form on ${pageUrl}`);
  const action = new URL(decode(form[1] ?? ''), pageUrl).toString();
  const fields = new URLSearchParams();
  for (const m of (form[2] ?? '').matchAll(/<input[^>]*type="hidden"[^>]*>/gi)) {
    const name = /name="([^"]*)"/.exec(m[0])?.[1];
    const value = /value="([^"]*)"/.exec(m[0])?.[1] ?? '';
    if (name) fields.append(decode(name), decode(value));
  }
  for (const [name, value] of Object.entries(extra)) fields.set(name, value);
  if (button) {
    const b = new RegExp(`<button[^>]*name="([^"]*)"[^>]*value="([^"]*)"[^>]*>\\s*${button}\\s*<`, 'i').exec(form[2] ?? '');
    if (b?.[1]) fields.append(decode(b[1]), decode(b[2] ?? ''));
  }
  return request(action, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: fields.toString() });
}

function decode(s: string): string {
  return s
    .replace(/&amp;/g, '&')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>');
}

export interface SignInResult {
  start: Step;
  authorizeUrl: string;
  callbackUrl: string;
  cookie: string;
  callback: Step;
}

/** Start → authorize page → Sign in → callback. Returns every step so tests can tamper between them. */
export async function signIn(
  world: World,
  marketplace: string,
  tamper?: {
    callbackUrl?: (u: URL) => void;
    cookie?: (c: string) => string;
    signInChoices?: Record<string, string>;
    /**
     * A tenant that has not consented to the CPV app: what the administrator answers on Entra's
     * consent prompt (default Cancel, which comes back as access_denied); an account that may not
     * consent goes back from "Need admin approval" the same way.
     */
    consent?: 'cancel' | 'accept' | 'accept-for-organization';
  },
): Promise<SignInResult> {
  const start = await postStart(world, marketplace);
  if (start.status !== 303 || !start.location) throw new Error(`start answered ${start.status}`);
  const authorize = await request(start.location);
  if (authorize.status !== 200) throw new Error(`authorize answered ${authorize.status}`);
  // The simulator's sign-in choices, as its page names them: `account` (adminAgent, …), `withoutMfa=on`.
  let signedIn = await submitForm(start.location, authorize.body, 'Sign in', tamper?.signInChoices);
  if (!signedIn.location && signedIn.body.includes('Consent on behalf of your organization')) {
    const answer = tamper?.consent ?? 'cancel';
    signedIn = await submitForm(
      start.location,
      signedIn.body,
      answer === 'cancel' ? 'Cancel' : 'Accept',
      answer === 'accept-for-organization' ? { forOrganization: 'on' } : {},
    );
  } else if (!signedIn.location && signedIn.body.includes('Need admin approval')) {
    signedIn = await submitForm(start.location, signedIn.body);
  }
  if (!signedIn.location) throw new Error(`sign in answered ${signedIn.status}`);
  const callbackUrl = new URL(signedIn.location);
  tamper?.callbackUrl?.(callbackUrl);
  let cookie = cookieHeader(start.setCookies);
  if (tamper?.cookie) cookie = tamper.cookie(cookie);
  const callback = await request(callbackUrl.toString(), { headers: cookie ? { cookie } : {} });
  return { start, authorizeUrl: start.location, callbackUrl: callbackUrl.toString(), cookie, callback };
}

export function tokenFromPage(html: string): string | undefined {
  const m = /<textarea id="token"[^>]*>([^<]*)<\/textarea>/.exec(html);
  return m?.[1];
}
