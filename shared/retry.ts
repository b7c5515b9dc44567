/**
 * The one retry model, used by the identity, Key Vault and Connect clients alike: which HTTP
 * answers are worth another try, how long a server asked us to wait, backoff with jitter, and a
 * bounded loop that never outlives its caller's time budget.
 */
import { isTransient, retryAfterOf } from './errors';

export type Sleep = (ms: number) => Promise<void>;
export const realSleep: Sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** No server gets to park one of our calls for longer than this, whatever its Retry-After says. */
export const maxRetryAfterMs = 3_600_000;

/**
 * HTTP statuses worth another try, for every service this one calls: request timeout, too
 * early, throttled, and server-side failures except "not implemented" and "version not
 * supported" (those will not change by waiting).
 */
export function isTransientStatus(status: number): boolean {
  return status === 408 || status === 425 || status === 429 || (status >= 500 && status !== 501 && status !== 505);
}

/** Retry-After (seconds or an HTTP date) in milliseconds, capped; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (value.trim() !== '' && Number.isFinite(seconds)) return Math.min(Math.max(0, seconds * 1000), maxRetryAfterMs);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.min(Math.max(0, date - now), maxRetryAfterMs);
}

/** The wait a response asks for: Azure's `retry-after-ms` / `x-ms-retry-after-ms` first, then `Retry-After`. */
export function retryAfterFromHeaders(get: (name: string) => string | null | undefined, now = Date.now()): number | undefined {
  for (const name of ['retry-after-ms', 'x-ms-retry-after-ms']) {
    const value = get(name);
    const ms = Number(value);
    if (value && Number.isFinite(ms)) return Math.min(Math.max(0, ms), maxRetryAfterMs);
  }
  return parseRetryAfter(get('retry-after'), now);
}

export interface Backoff {
  baseMs: number;
  maxMs: number;
}

/** Exponential backoff with jitter (50–100 % of the step), so retrying clients do not march in step. */
export function backoffDelay(attempt: number, backoff: Backoff, random: () => number = Math.random): number {
  return Math.min(backoff.maxMs, backoff.baseMs * 2 ** (attempt - 1)) * (0.5 + random() / 2);
}

export interface RetryOptions {
  /** Attempts in all, the first included. */
  attempts: number;
  backoff?: Backoff;
  /** Which failures to try again; default: those whose AppError says they are transient. */
  isTransient?: (err: unknown) => boolean;
  /** The server's requested wait; default: the AppError's `retry.retryAfterMs`. */
  retryAfterMs?: (err: unknown) => number | undefined;
  /** A wait longer than this gives up instead (the next run will try again). */
  maxWaitMs?: number;
  /** The caller's remaining budget; no wait may reach past it. */
  timeLeft?: () => number;
  sleep?: Sleep;
  /** Told before each wait (for a log line); never given the error's value. */
  onRetry?: (attempt: number, waitMs: number) => void;
}

const defaultBackoff: Backoff = { baseMs: 250, maxMs: 8_000 };

/**
 * Runs `fn` until it succeeds, fails for good, or runs out of attempts or time; then throws the
 * last error. The server's Retry-After wins over our backoff when it is longer.
 */
export async function withRetries<T>(fn: (attempt: number) => Promise<T>, o: RetryOptions): Promise<T> {
  const transient = o.isTransient ?? isTransient;
  const requested = o.retryAfterMs ?? retryAfterOf;
  const sleep = o.sleep ?? realSleep;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (attempt >= o.attempts || !transient(err)) throw err;
      const wait = Math.max(backoffDelay(attempt, o.backoff ?? defaultBackoff), requested(err) ?? 0);
      if ((o.maxWaitMs !== undefined && wait > o.maxWaitMs) || (o.timeLeft && wait >= o.timeLeft())) throw err;
      o.onRetry?.(attempt, wait);
      await sleep(wait);
    }
  }
}
