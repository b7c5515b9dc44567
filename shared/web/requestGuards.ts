/** Checks every request passes before a handler reads it: method, size, and cross-site posts. */

/** The methods registered on every HTTP route, so unknown ones reach the handler and get a 405 page. */
export const allMethods = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'] as const;

/**
 * What each HTTP function really accepts, by its registered name: the one list its handler serves,
 * its 405 answers name in `Allow`, and the local host names for a method no registration can
 * declare (PROPFIND, TRACE, …). HEAD is served where GET is harmless (the start form); the
 * callback's GET spends a sign-in and the status page needs its key, so HEAD is refused there.
 */
export const acceptedMethods = {
  start: ['GET', 'HEAD', 'POST'],
  callback: ['GET'],
  status: ['GET'],
  rotateNow: ['POST'],
} as const satisfies Record<string, readonly (typeof allMethods)[number][]>;

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
