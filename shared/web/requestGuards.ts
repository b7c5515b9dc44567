/** Checks every request passes before a handler reads it: method, size, and cross-site posts. */

/** The methods registered on every HTTP route, so unknown ones reach the handler and get a 405 page. */
export const allMethods = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'] as const;

/** Request bodies above this are refused before they are read (docs/SECURITY.md 11). */
export const maxFormBodyBytes = 2048;

/**
 * Cross-site POST check (docs/SECURITY.md 6). Browsers send Sec-Fetch-Site; under
 * `Referrer-Policy: no-referrer` Chromium's own same-origin form POST says `Origin: null` with
 * `Sec-Fetch-Site: same-origin`, so Sec-Fetch-Site decides when present, Origin otherwise.
 */
export function isCrossSitePost(headers: { get(name: string): string | null }, siteOrigin: string): boolean {
  const fetchSite = headers.get('sec-fetch-site');
  if (fetchSite !== null) return fetchSite !== 'same-origin';
  const origin = headers.get('origin');
  if (origin !== null) return origin !== siteOrigin;
  // Neither header: not a browser made this request, so it is not a forged cross-site one.
  return false;
}
