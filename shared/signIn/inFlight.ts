/**
 * The sign-ins one browser holds, and their bound. Every sign-in in flight has its own cookie
 * (cookie.ts), so a distributor with several marketplaces can sign in for them in several tabs at
 * once and finish in any order (docs/SECURITY.md 36). The bound keeps the cookies of a browser few
 * and small (RFC 6265 section 6.1 promises 50 per domain; the Cookie header stays under 4 KB): at
 * most `maxSignInsInFlight` transactions in flight, the oldest set aside when another starts, its
 * key remembered so that its return says exactly what happened; at most `maxFinishedKept`
 * finished records.
 */
import type { CookieSpec } from '../web/responses';
import { clearedCookie, evictedCookie, transactionCookieName, type SignInCookies } from './cookie';
import { evictedKeysKept, maxFinishedKept, maxSignInsInFlight } from './browserBounds';
import { openRecord } from './transaction';

/** Records opened per request: twice what a browser holds. More can only be a crafted request; the rest are neither counted nor cleared. */
const maxRecordsOpened = 2 * (maxSignInsInFlight + maxFinishedKept);

interface Held {
  key: string;
  kind: 'transaction' | 'finished' | 'unreadable';
  /** When it was started (a transaction) or finished (a finished record). */
  at: number;
}

/** Opens every record the browser sent, once each; several values under one name, or one that does not open, are unreadable. */
async function heldBy(cookies: SignInCookies, sealingKey: Uint8Array, now: number): Promise<Held[]> {
  const held: Held[] = [];
  for (const [key, values] of [...cookies.records].slice(0, maxRecordsOpened)) {
    const opened = values.length === 1 ? await openRecord(values[0], sealingKey, now) : undefined;
    if (!opened?.ok) held.push({ key, kind: 'unreadable', at: 0 });
    else if (opened.kind === 'transaction') held.push({ key, kind: 'transaction', at: opened.transaction.createdAt });
    else held.push({ key, kind: 'finished', at: opened.finished.finishedAt });
  }
  return held;
}

/**
 * The cookies to send along with a new transaction (`adding`): the oldest transactions in flight
 * set aside so that at most `maxSignInsInFlight` remain with the new one, their keys added to the
 * record of set-aside ones, and unreadable cookies of ours cleared (worthless, and they take room).
 * `leaving`: a transaction this same response spends (the sign-in that led to an approval page).
 */
export async function makeRoomFor(
  cookies: SignInCookies,
  sealingKey: Uint8Array,
  o: { adding: string; leaving?: string; now: number },
): Promise<CookieSpec[]> {
  const held = (await heldBy(cookies, sealingKey, o.now)).filter((h) => h.key !== o.adding && h.key !== o.leaving);
  const unreadable = held.filter((h) => h.kind === 'unreadable');
  const inFlight = held.filter((h) => h.kind === 'transaction').sort((a, b) => a.at - b.at);
  const setAside = inFlight.slice(0, Math.max(0, inFlight.length + 1 - maxSignInsInFlight));
  const out = [...unreadable, ...setAside].map((h) => clearedCookie(transactionCookieName(h.key)));
  if (setAside.length > 0) {
    const remembered = [...cookies.evicted.filter((k) => !setAside.some((h) => h.key === k)), ...setAside.map((h) => h.key)];
    out.push(evictedCookie(remembered.slice(-evictedKeysKept)));
  }
  return out;
}

/** The cookies to send along with a new finished record (`adding`): the oldest finished records beyond `maxFinishedKept` cleared. */
export async function keepFinished(cookies: SignInCookies, sealingKey: Uint8Array, o: { adding: string; now: number }): Promise<CookieSpec[]> {
  const finished = (await heldBy(cookies, sealingKey, o.now)).filter((h) => h.kind === 'finished' && h.key !== o.adding).sort((a, b) => a.at - b.at);
  return finished.slice(0, Math.max(0, finished.length + 1 - maxFinishedKept)).map((h) => clearedCookie(transactionCookieName(h.key)));
}
