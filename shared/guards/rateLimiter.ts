/**
 * Requests per client address and overall, in this process's memory (docs/SECURITY.md 29). The
 * table of addresses is bounded and fails closed when full (docs/SECURITY.md 28): an address it
 * cannot record is refused, never let through unrecorded.
 */
import { drawn, fullBucket, isFull, msUntilFull, waitForToken, type Bucket, type BucketRate } from './tokenBucket';

export interface LimiterBounds {
  perClient: BucketRate;
  overall: BucketRate;
  /** Most client addresses remembered at once. */
  maxClients: number;
}

export type Admission = { admitted: true } | { admitted: false; limit: 'client' | 'overall' | 'table-full'; retryAfterMs: number };

export class ClientRateLimiter {
  /** Buckets by client key, in order of last admission (re-inserted on each), so the stalest come first. */
  private readonly clients = new Map<string, Bucket>();
  private overall: Bucket;

  constructor(
    readonly bounds: LimiterBounds,
    private readonly now: () => number = Date.now,
  ) {
    this.overall = fullBucket(bounds.overall, now());
  }

  /** Lets one request of `client` through, or says which bound refused it and for how long. A refusal changes nothing. */
  admit(client: string): Admission {
    const t = this.now();
    const { perClient, overall, maxClients } = this.bounds;
    this.forgetFull(t);
    const known = this.clients.get(client);
    if (!known && this.clients.size >= maxClients) {
      const stalest = this.clients.values().next().value as Bucket;
      return { admitted: false, limit: 'table-full', retryAfterMs: Math.max(1, msUntilFull(stalest, perClient, t)) };
    }
    const mine = known ?? fullBucket(perClient, t);
    const clientWait = waitForToken(mine, perClient, t);
    if (clientWait > 0) return { admitted: false, limit: 'client', retryAfterMs: clientWait };
    const overallWait = waitForToken(this.overall, overall, t);
    if (overallWait > 0) return { admitted: false, limit: 'overall', retryAfterMs: overallWait };
    this.overall = drawn(this.overall, overall, t);
    this.clients.delete(client);
    this.clients.set(client, drawn(mine, perClient, t));
    return { admitted: true };
  }

  /** How many client addresses are remembered now. */
  get size(): number {
    return this.clients.size;
  }

  /**
   * A full bucket says no more than an absent one, so it is dropped. Every bucket is full again
   * within capacity × refill of its last admission, and the stalest come first: after this, the
   * table holds only clients admitted within that time, at most what the overall bound let through.
   */
  private forgetFull(t: number): void {
    for (const [key, bucket] of this.clients) {
      if (!isFull(bucket, this.bounds.perClient, t)) break;
      this.clients.delete(key);
    }
  }
}
