/**
 * Responses as plain objects shaped like @azure/functions' HttpResponseInit, so the domain never
 * imports Functions types. Every response carries the headers of docs/SECURITY.md 9–11.
 */
import { randomBytes } from 'node:crypto';
import type { Settings } from '../settings';
import type { Html } from './html';

export interface CookieSpec {
  name: string;
  value: string;
  path?: string;
  secure?: boolean;
  httpOnly?: boolean;
  sameSite?: 'Strict' | 'Lax' | 'None';
  maxAge?: number;
}

export interface WebResponse {
  status: number;
  headers: Record<string, string>;
  body?: string;
  cookies?: CookieSpec[];
}

/** Where pages may send forms (and the redirects after them): this site and the Entra authority. */
export interface SiteContext {
  /** Origin of the Entra authority (form-action; redirects after POST /api/start go there). */
  authorityOrigin?: string;
  /** HSTS only when the site is served over https. */
  https: boolean;
}

/** Where this deployment's pages may send forms, and whether it is served over https. */
export function siteOf(settings: Settings | undefined): SiteContext {
  if (!settings) return { https: true };
  return { authorityOrigin: new URL(settings.AUTHORITY_HOST).origin, https: new URL(settings.CALLBACK_URL).protocol === 'https:' };
}

export function newNonce(): string {
  return randomBytes(16).toString('base64');
}

function baseHeaders(site: SiteContext): Record<string, string> {
  const headers: Record<string, string> = {
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    // MUST (docs/SECURITY.md 10): nothing this service answers may be cached; the token page least of all.
    'Cache-Control': 'no-store',
    Pragma: 'no-cache',
    'X-Frame-Options': 'DENY',
    'Cross-Origin-Opener-Policy': 'same-origin',
    'Cross-Origin-Resource-Policy': 'same-origin',
    'Permissions-Policy': 'camera=(), microphone=(), geolocation=(), payment=()',
  };
  if (site.https) headers['Strict-Transport-Security'] = 'max-age=31536000; includeSubDomains';
  return headers;
}

export function contentSecurityPolicy(nonce: string, site: SiteContext): string {
  const formAction = ["'self'", site.authorityOrigin].filter(Boolean).join(' ');
  return [
    "default-src 'none'",
    `style-src 'self' 'nonce-${nonce}'`,
    `script-src 'nonce-${nonce}'`,
    `form-action ${formAction}`,
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join('; ');
}

export function htmlResponse(
  status: number,
  site: SiteContext,
  render: (nonce: string) => Html,
  extra?: { headers?: Record<string, string>; cookies?: CookieSpec[] },
): WebResponse {
  const nonce = newNonce();
  return {
    status,
    headers: {
      ...baseHeaders(site),
      'Content-Type': 'text/html; charset=utf-8',
      'Content-Security-Policy': contentSecurityPolicy(nonce, site),
      ...extra?.headers,
    },
    body: render(nonce).text,
    ...(extra?.cookies ? { cookies: extra.cookies } : {}),
  };
}

export function jsonResponse(status: number, site: SiteContext, body: unknown, extra?: { headers?: Record<string, string> }): WebResponse {
  return {
    status,
    headers: {
      ...baseHeaders(site),
      'Content-Type': 'application/json; charset=utf-8',
      'Content-Security-Policy': "default-src 'none'; frame-ancestors 'none'",
      ...extra?.headers,
    },
    body: JSON.stringify(body),
  };
}

/** 303 so the browser follows with GET. The target is always built by the service, never taken from input. */
export function redirectResponse(location: string, site: SiteContext, cookies?: CookieSpec[]): WebResponse {
  return {
    status: 303,
    headers: { ...baseHeaders(site), Location: location, 'Content-Security-Policy': "default-src 'none'; frame-ancestors 'none'" },
    ...(cookies ? { cookies } : {}),
  };
}

/**
 * Keeps the token page out of Chromium's back/forward cache without script (docs/SECURITY.md 30).
 * Chromium now stores pages sent with `Cache-Control: no-store`, but never restores one after an
 * HttpOnly cookie of its site changed while it was shown or cached (the not-restored reason
 * CacheControlNoStoreHTTPOnlyCookieModified, content/browser/renderer_host/back_forward_cache_impl.cc).
 * Cookies set by the page's own response do not count: the change must come after it committed.
 * So the token page loads this as a stylesheet (allowed by `style-src 'self'`, before the token is
 * painted), and the answer changes a cookie that means nothing else: a fresh random value each time.
 */
export const shownMarkQuery = 'shown';
export const shownMarkCookie = '__Host-ms-auth-shown';

export function shownMarkResponse(site: SiteContext): WebResponse {
  return {
    status: 200,
    headers: {
      ...baseHeaders(site),
      'Content-Type': 'text/css; charset=utf-8',
      'Content-Security-Policy': "default-src 'none'; frame-ancestors 'none'",
    },
    body: '',
    cookies: [
      {
        name: shownMarkCookie,
        value: randomBytes(12).toString('base64url'),
        path: '/',
        secure: true,
        httpOnly: true,
        sameSite: 'Strict',
        maxAge: 600,
      },
    ],
  };
}
