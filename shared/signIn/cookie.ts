/**
 * The `__Host-` cookies of the interactive flow (docs/SECURITY.md 2): Secure, HttpOnly,
 * SameSite=Lax, Path=/, no Domain, short-lived. One cookie per sign-in, named after its state's
 * key (`__Host-ms-auth-tx-<key>`): a sign-in in flight holds its sealed transaction there, a
 * finished one a small sealed record of what it stored (transaction.ts), so two tabs never
 * overwrite each other and the callback finds its own by the state Microsoft sends back. One more
 * cookie remembers the keys of transactions set aside by the bound (inFlight.ts), so their return
 * can say exactly that.
 *
 * Browsers keep at least 50 cookies of 4,096 bytes each per domain (RFC 6265 section 6.1, "Limits"):
 * the bounds of inFlight.ts keep this flow to at most a dozen cookies and the Cookie header under
 * 4 KB, far inside that and inside what servers accept in a request header.
 */
import type { CookieSpec } from '../web/responses';
import { finishedMaxAgeSeconds, stateKey, stateKeyPattern, transactionMaxAgeSeconds } from './transaction';

export const transactionCookiePrefix = '__Host-ms-auth-tx-';
export const evictedCookieName = '__Host-ms-auth-evicted';

const flowCookie = (name: string, value: string, maxAge: number): CookieSpec => ({
  name,
  value,
  path: '/',
  secure: true,
  httpOnly: true,
  sameSite: 'Lax',
  maxAge,
});

export function transactionCookieName(key: string): string {
  return `${transactionCookiePrefix}${key}`;
}

/** A sign-in (or consent) in flight: its sealed transaction, for ten minutes. */
export function transactionCookie(key: string, sealed: string): CookieSpec {
  return flowCookie(transactionCookieName(key), sealed, transactionMaxAgeSeconds);
}

/** A finished sign-in: the sealed record of what it stored replaces its transaction, for an hour. */
export function finishedCookie(key: string, sealed: string): CookieSpec {
  return flowCookie(transactionCookieName(key), sealed, finishedMaxAgeSeconds);
}

export function clearedCookie(name: string): CookieSpec {
  return flowCookie(name, '', 0);
}

/** The keys of transactions the bound set aside, newest last; they matter only while those transactions would have lived. */
export function evictedCookie(keys: string[]): CookieSpec {
  return flowCookie(evictedCookieName, keys.join('.'), transactionMaxAgeSeconds);
}

/**
 * The cookie a failed callback spends: the one named after the state it brought. Only called for
 * a callback that matched this browser's transaction (callback.ts), so it clears nothing else.
 */
export function spentTransactionCookie(state: string | null): CookieSpec[] {
  return state ? [clearedCookie(transactionCookieName(stateKey(state)))] : [];
}

export interface SignInCookies {
  /** By state key, every value sent under that key's name (more than one is a crafted request). */
  records: Map<string, string[]>;
  /** Keys of transactions set aside by the bound. */
  evicted: string[];
}

/**
 * Reads this flow's cookies from a Cookie header (whose size the HTTP server bounds). Names that
 * are not exactly ours (another prefix, a key of another shape) are ignored.
 */
export function readSignInCookies(cookieHeader: string | null | undefined): SignInCookies {
  const records = new Map<string, string[]>();
  let evicted: string[] = [];
  for (const part of (cookieHeader ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (name === evictedCookieName) {
      evicted = value.split('.').filter((k) => stateKeyPattern.test(k));
      continue;
    }
    if (!name.startsWith(transactionCookiePrefix)) continue;
    const key = name.slice(transactionCookiePrefix.length);
    if (!stateKeyPattern.test(key)) continue;
    records.set(key, [...(records.get(key) ?? []), value]);
  }
  return { records, evicted };
}
