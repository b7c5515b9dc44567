/**
 * The `__Host-` cookie that carries the sealed transaction between POST /api/start and the
 * callback (docs/SECURITY.md 2): Secure, HttpOnly, SameSite=Lax, Path=/, no Domain, short-lived.
 */
import type { CookieSpec } from '../web/responses';
import { transactionMaxAgeSeconds } from './transaction';

export const transactionCookieName = '__Host-ms-auth-tx';

export function transactionCookie(value: string): CookieSpec {
  return { name: transactionCookieName, value, path: '/', secure: true, httpOnly: true, sameSite: 'Lax', maxAge: transactionMaxAgeSeconds };
}

export function clearedTransactionCookie(): CookieSpec {
  return { name: transactionCookieName, value: '', path: '/', secure: true, httpOnly: true, sameSite: 'Lax', maxAge: 0 };
}

/**
 * Reads our cookie from a Cookie header. More than one copy (cookie tossing from a sibling
 * domain cannot set `__Host-`, but be strict anyway) counts as invalid.
 */
export function readTransactionCookie(cookieHeader: string | null | undefined): { value?: string; duplicated: boolean } {
  if (!cookieHeader) return { duplicated: false };
  const values: string[] = [];
  for (const part of cookieHeader.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === transactionCookieName) values.push(part.slice(eq + 1).trim());
  }
  return values.length === 1 ? { value: values[0], duplicated: false } : { duplicated: values.length > 1 };
}
