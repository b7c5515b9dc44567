/**
 * The message a marketplace's contacts get: short, in plain words, with one link back to this
 * environment's start page, the marketplace ID filled in.
 *
 * MUST (docs/SECURITY.md 35): nothing in it but what is written here — the marketplace's ID and
 * name, the environment, dates, the cause in words and the link. Never a token, a code, a
 * secret, a correlation id or any other identifier; the link carries only the marketplace ID.
 * A message that asked for more would be indistinguishable from phishing.
 */
import { connectParameterOf } from '../connect/parameter';
import type { Marketplace } from '../marketplaces/marketplace';
import type { Settings } from '../settings';
import { startPath } from '../web/pages/layout';
import { personCause, thresholdOf } from './reasons';

export interface Message {
  subject: string;
  text: string;
}

/**
 * This environment's start page, from the configured callback URL (its sibling under /api/),
 * never from a request's Host headers (docs/SECURITY.md 4); only the marketplace ID is added.
 */
export function startLinkFor(settings: Pick<Settings, 'CALLBACK_URL'>, marketplace: string): string {
  const url = new URL(startPath, settings.CALLBACK_URL);
  url.searchParams.set('marketplace', marketplace);
  return url.toString();
}

/** `2026-11-27`: a date a person reads, in UTC like every time the service shows. */
const day = (iso: string) => iso.slice(0, 10);

export interface MessageInput {
  marketplace: Marketplace;
  /** A reason of shared/notify/reasons.ts. */
  reason: string;
  /** needs-person: the cause; expires-in-N: the token's expiry (ISO). */
  about: string;
  /** The token's last rotation or issue (ISO), for the expiry reasons. */
  lastRenewed?: string;
  /** Why the token is parked, when it is: an expiry message says it too. */
  parkedCause?: string;
  /** Whether the service puts a new token into Connect itself (the push is on and the marketplace names products). */
  pushesToConnect: boolean;
  startLink: string;
}

export function messageFor(m: MessageInput): Message {
  const { marketplace } = m;
  const who = `marketplace ${marketplace.id}${marketplace.name ? ` (${marketplace.name})` : ''}`;
  const where = `in the ${marketplace.environment} environment`;
  const after = m.pushesToConnect
    ? 'The service stores the new token and puts it into Connect itself.'
    : `Then copy the token the page shows into the Connect parameter ${connectParameterOf(marketplace.environment)} of ${marketplace.id}.`;
  const footer = [
    `You receive this message because you are named as a contact of ${marketplace.id} for its Microsoft refresh token. It contains no token, password or code, and the link asks for none: Microsoft's own sign-in page asks for your account.`,
    'This address is not read. If anything is unclear, contact your CloudBlue representative.',
  ];
  const threshold = thresholdOf(m.reason);
  if (threshold === undefined) {
    const cause = personCause(m.about, marketplace.model);
    return {
      subject: `Action needed: sign in again for ${marketplace.id} (${marketplace.environment})`,
      text: [
        'Hello,',
        `The Microsoft refresh token that CloudBlue Connect uses for ${who} ${where} no longer works, and only a person can replace it. Until then Connect cannot call Partner Center for this marketplace.`,
        `Why: ${cause.what}`,
        `What to do: ${cause.todo} ${after}`,
        m.startLink,
        ...footer,
      ].join('\n\n'),
    };
  }
  const parked = m.parkedCause ? personCause(m.parkedCause, marketplace.model) : undefined;
  return {
    subject: `Action needed within ${threshold} day${threshold === 1 ? '' : 's'}: the Microsoft token of ${marketplace.id} (${marketplace.environment}) expires on ${day(m.about)}`,
    text: [
      'Hello,',
      `The Microsoft refresh token that CloudBlue Connect uses for ${who} ${where} has not been renewed${m.lastRenewed ? ` since ${day(m.lastRenewed)}` : ''}. Microsoft stops accepting it on ${day(m.about)}, within ${threshold} day${threshold === 1 ? '' : 's'}; after that Connect cannot call Partner Center for this marketplace.`,
      parked ? `Why it is not renewed: ${parked.what}` : 'The service renews the token by itself, but its recent attempts did not succeed.',
      `What to do: ${parked ? parked.todo : 'Generate a new token now: open the link below and sign in with an administrator account of your partner tenant that uses multi-factor authentication.'} ${after}`,
      m.startLink,
      ...footer,
    ].join('\n\n'),
  };
}
