/**
 * Guards that keep state to refuse abuse (docs/SECURITY.md 28, 29). This file: the token bucket,
 * as pure functions over a two-number state, so a table of thousands of them stays small and
 * every answer can say exactly when to try again.
 */

/** `capacity` requests at once, then one more every `refillEveryMs`. */
export interface BucketRate {
  capacity: number;
  refillEveryMs: number;
}

/** Tokens left at `at` (epoch ms); fractional while refilling. */
export interface Bucket {
  tokens: number;
  at: number;
}

/** A bucket nobody has drawn from. */
export function fullBucket(rate: BucketRate, now: number): Bucket {
  return { tokens: rate.capacity, at: now };
}

/** The bucket as it stands at `now`: refilled for the time passed, never above capacity. */
export function refilled(bucket: Bucket, rate: BucketRate, now: number): Bucket {
  // A clock that steps back (a test, or NTP) refills nothing rather than draining the bucket.
  const elapsed = Math.max(0, now - bucket.at);
  return { tokens: Math.min(rate.capacity, bucket.tokens + elapsed / rate.refillEveryMs), at: Math.max(now, bucket.at) };
}

/** Milliseconds until the bucket holds a whole token again (0 when it does now). */
export function waitForToken(bucket: Bucket, rate: BucketRate, now: number): number {
  const b = refilled(bucket, rate, now);
  return b.tokens >= 1 ? 0 : Math.ceil((1 - b.tokens) * rate.refillEveryMs);
}

/** Whether the bucket is back to capacity: it then says no more than an absent one, and can be forgotten. */
export function isFull(bucket: Bucket, rate: BucketRate, now: number): boolean {
  return refilled(bucket, rate, now).tokens >= rate.capacity;
}

/** The bucket after one request was let through; call only when `waitForToken` said 0. */
export function drawn(bucket: Bucket, rate: BucketRate, now: number): Bucket {
  const b = refilled(bucket, rate, now);
  return { tokens: b.tokens - 1, at: b.at };
}

/** Milliseconds until the bucket is back to capacity. */
export function msUntilFull(bucket: Bucket, rate: BucketRate, now: number): number {
  const b = refilled(bucket, rate, now);
  return Math.ceil((rate.capacity - b.tokens) * rate.refillEveryMs);
}
