/**
 * Why a marketplace's contacts are told, in one list (docs/SECURITY.md 35):
 *
 *   - `needs-person`: rotation parked the token because only a person can fix it (the cause in
 *     plain words below, with what to do about it);
 *   - `expires-in-14`, `-7`, `-3`, `-1`: the token has not been rotated and its 90-day life ends
 *     within that many days; one message as each threshold is crossed, so at most four per life.
 *
 * At most one message per marketplace and reason in any 24 hours, on every instance together:
 * the record of who was told lives in the token's entity of the shared table
 * (shared/storage/tokenRecords.ts) and is written before a message is sent.
 */
import { dayMs } from '../identity/lifetime';
import type { Marketplace } from '../marketplaces/marketplace';

/** Days before a token's end at which its contacts are told, largest first. */
export const expiryThresholds = [14, 7, 3, 1] as const;
export type ExpiryThreshold = (typeof expiryThresholds)[number];

export type NotifyReason = 'needs-person' | `expires-in-${ExpiryThreshold}`;
export const notifyReasons: readonly NotifyReason[] = ['needs-person', ...expiryThresholds.map((t) => `expires-in-${t}` as const)];

/** No marketplace hears twice about one reason within this: "once a day", on every instance. */
export const oncePerMs = dayMs;

export const expiryReason = (threshold: ExpiryThreshold): NotifyReason => `expires-in-${threshold}`;

/** The threshold an `expires-in-N` reason names; undefined for any other reason. */
export function thresholdOf(reason: string): ExpiryThreshold | undefined {
  const n = Number(/^expires-in-(\d+)$/.exec(reason)?.[1]);
  return expiryThresholds.find((t) => t === n);
}

/**
 * The smallest threshold at least as large as the time left: the last one crossed. Undefined
 * with more than 14 days left, or once the life has ended (a dead token is `needs-person`'s).
 */
export function thresholdCrossed(msLeft: number): ExpiryThreshold | undefined {
  if (msLeft <= 0) return undefined;
  return [...expiryThresholds].reverse().find((t) => msLeft <= t * dayMs);
}

/** A cause of `needs-person` in a distributor admin's words: what happened, and what to do. */
export interface PersonCause {
  what: string;
  todo: string;
}

const signInAgain = 'Generate a new token: open the link below and sign in with an administrator account of your partner tenant.';

/**
 * What the causes rotation names (shared/identity/tokenFailure.ts, Partner Center's
 * `partner-center-…`) mean to the person who must act. An unknown cause (Microsoft adds codes)
 * still tells them to sign in again.
 */
const causes: Record<string, PersonCause> = {
  mfa: {
    what: 'Microsoft requires multi-factor authentication (MFA) for this access, and the token was obtained without it.',
    todo: 'Generate a new token: open the link below and sign in with an administrator account of your partner tenant that uses MFA.',
  },
  'no-role': {
    what: 'The account that generated the token has no role in Partner Center (Admin Agent), so Partner Center refuses it.',
    todo: 'Generate a new token with an account that holds the Admin Agent role in Partner Center, or have your Partner Center administrator assign that role first.',
  },
  consent: {
    what: "Your tenant's approval of the application that connects Connect to Partner Center was withdrawn.",
    todo: 'An administrator of your Microsoft Entra tenant must approve the application again: open the link below and follow the page, which offers the approval when it is needed.',
  },
  revoked: {
    what: "Microsoft revoked the token: the account's password was changed or reset, its sessions were revoked, or the account was disabled or deleted.",
    todo: `${signInAgain} If the account was disabled or deleted, use another administrator account.`,
  },
  expired: {
    what: 'The token expired: it was not used for 90 days, or the account had to sign in again under a policy of your tenant.',
    todo: signInAgain,
  },
  'sign-in-frequency': {
    what: 'A sign-in frequency policy of your tenant requires the account to sign in again.',
    todo: signInAgain,
  },
  'conditional-access': {
    what: 'A Conditional Access policy of your tenant blocks the access this token relies on.',
    todo: 'Ask your Microsoft Entra administrator which policy blocks it (the sign-in logs name it) and to allow the sign-in, then generate a new token with the link below.',
  },
  unauthorized: {
    what: 'Partner Center no longer accepts the token (the account was disabled, its password changed, or the token revoked).',
    todo: signInAgain,
  },
  'access-denied': {
    what: 'Your tenant no longer allows the application to call Partner Center on your behalf.',
    todo: 'An administrator of your Microsoft Entra tenant must allow the application again, then generate a new token with the link below.',
  },
};
causes['invalid-grant'] = { what: 'Microsoft no longer accepts the token (expired, revoked, or the account changed).', todo: signInAgain };
causes.scope = causes['access-denied']!;
causes.resource = causes['access-denied']!;

const unknownCause: PersonCause = { what: 'Microsoft refused the token, and only a new sign-in can replace it.', todo: signInAgain };

/** The plain words for a cause rotation named; `partner-center-mfa` and `mfa` read alike. */
export function personCause(cause: string, model: Marketplace['model']): PersonCause {
  const key = cause.replace(/^partner-center-/, '');
  const found = causes[key] ?? unknownCause;
  // A CSP marketplace uses the distributor's own app: its approval is the distributor's own business.
  if (key === 'consent' && model === 'CSP')
    return {
      what: "Your tenant's approval of your own Entra application was withdrawn.",
      todo: 'Approve your application again in Microsoft Entra, then generate a new token with the link below.',
    };
  return found;
}
