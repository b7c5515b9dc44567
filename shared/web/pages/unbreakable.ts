/**
 * Identifiers and addresses a person reads and copies (`MP-12345`, `PRD-123-456-789`, an e-mail
 * address) never wrap inside: a line break after `MP-` reads as two things, and an address split
 * in the middle is copied wrong. Such values are wrapped in a `nowrap` span; the rest of the text
 * still wraps between words. Every value stays escaped (html.ts).
 */
import { html, type Html } from '../html';

/** Marketplace and product IDs, and e-mail addresses (a sign-in name). */
const unbreakablePattern = /MP-[0-9]{5,8}|PRD-[0-9]{3}-[0-9]{3}-[0-9]{3}|[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}/g;

/** One value that must not wrap inside. */
export function nowrap(value: string): Html {
  return html`<span class="nowrap">${value}</span>`;
}

/** Text in which every identifier and address is kept on one line. */
export function unbreakable(text: string): Html {
  const parts: (Html | string)[] = [];
  let last = 0;
  for (const m of text.matchAll(unbreakablePattern)) {
    parts.push(text.slice(last, m.index));
    parts.push(nowrap(m[0]));
    last = m.index + m[0].length;
  }
  parts.push(text.slice(last));
  return html`${parts}`;
}
