/**
 * The bounds on sign-ins (docs/SECURITY.md 29): how many sign-ins may begin (POST /api/start that
 * would redirect to Microsoft) and how many callbacks may be served, per client address and for
 * everyone, in this instance's memory. A refused request gets 429 with Retry-After before anything
 * else happens, so it makes no token-endpoint call.
 *
 * Why these numbers: a person signs in once or twice, and a retry after a mistake costs one of
 * ten; once spent, one more comes back every 6 s, so nobody waits longer than that. The overall
 * bound (a burst of 20, then one a second) is far above what the service's admins need (a few
 * sign-ins a day) and far below what made Entra a target: without it, anyone could have the
 * service send some 200 token requests a second with the shared CPV app's credential.
 */
import { AppError } from '../errors';
import { clientKeyOf } from './clientAddress';
import { ClientRateLimiter, type LimiterBounds } from './rateLimiter';

const perClient = { capacity: 10, refillEveryMs: 6_000 };
const overall = { capacity: 20, refillEveryMs: 1_000 };

/**
 * The production bounds. `maxClients` is far above what can be live at once: an address is
 * forgotten once its bucket is full again (at most 60 s after its last admission), and the overall
 * bound admits at most 80 in any 60 s.
 */
export const signInBounds: Record<SignInStep, LimiterBounds> = {
  start: { perClient, overall, maxClients: 10_000 },
  callback: { perClient, overall, maxClients: 10_000 },
};

export type SignInStep = 'start' | 'callback';

const stepNames: Record<SignInStep, string> = { start: 'sign-in starts', callback: 'sign-in callbacks' };
const limitNames = { client: 'from this client', overall: 'overall', 'table-full': 'from new clients (client table full)' } as const;

function limitersFor(bounds: Record<SignInStep, LimiterBounds>, now: () => number): Record<SignInStep, ClientRateLimiter> {
  return { start: new ClientRateLimiter(bounds.start, now), callback: new ClientRateLimiter(bounds.callback, now) };
}

let limiters = limitersFor(signInBounds, Date.now);

/** Lets one request of this step through, or returns the `rate_limited` error (429) that refuses it. */
export function admitSignIn(step: SignInStep, headers: { get(name: string): string | null }): AppError | undefined {
  const admission = limiters[step].admit(clientKeyOf(headers));
  if (admission.admitted) return undefined;
  // The message names the bound, never the address (it is personal data, and not needed to act).
  return new AppError('rate_limited', `Too many ${stepNames[step]} ${limitNames[admission.limit]}`, {
    retry: { transient: true, retryAfterMs: admission.retryAfterMs },
  });
}

/** Fresh, empty bounds, as a new instance starts with; tests may choose other bounds and a clock. */
export function resetSignInBounds(o: { bounds?: Partial<Record<SignInStep, LimiterBounds>>; now?: () => number } = {}): void {
  limiters = limitersFor({ ...signInBounds, ...o.bounds }, o.now ?? Date.now);
}
