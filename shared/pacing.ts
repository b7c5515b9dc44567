/**
 * Pacing: the one bounded worker pool, and a sliding-window rate limiter, so a rotation run stays
 * under Key Vault's 300 secret writes per 10 s (per vault) whatever its concurrency.
 */
import { realSleep, type Sleep } from './retry';

/** At most `limit` acquisitions in any `windowMs`; acquire() waits for a slot. */
export class SlidingWindowLimiter {
  private readonly stamps: number[] = [];
  constructor(
    readonly limit: number,
    readonly windowMs: number,
    private readonly now: () => number = Date.now,
    private readonly sleep: Sleep = realSleep,
  ) {}

  /** How long acquire() would wait now: 0 when a slot is free. */
  waitMs(): number {
    const t = this.now();
    const live = this.stamps.filter((s) => t - s < this.windowMs);
    return live.length < this.limit ? 0 : Math.max(1, this.windowMs - (t - (live[0] ?? t)));
  }

  async acquire(): Promise<void> {
    for (;;) {
      const t = this.now();
      while (this.stamps.length > 0 && t - (this.stamps[0] ?? 0) >= this.windowMs) this.stamps.shift();
      if (this.stamps.length < this.limit) {
        this.stamps.push(t);
        return;
      }
      await this.sleep(Math.max(1, this.windowMs - (t - (this.stamps[0] ?? t))));
    }
  }
}

/**
 * Key Vault allows 300 secret creations ("CREATE secret": every PUT is a new version) per 10 s
 * per vault; tag changes and reads share the separate budget of 4,000 "all other transactions".
 * One process paces its creations to 285, which leaves 15 per 10 s for sign-ins, the portal and
 * a deployment, and lets a rotation run at 0.95 of what the vault allows (docs/PERFORMANCE.md);
 * throttling answers (429) are handled as transient on top of this.
 */
export const keyVaultWrites = new SlidingWindowLimiter(285, 10_000);

/**
 * Runs `work` over `items` with at most `concurrency` at once, in order of the items;
 * `shouldStart` can stop taking new items (a time budget). Returns how many were started.
 */
export async function forEachBounded<T>(
  items: readonly T[],
  concurrency: number,
  work: (item: T, index: number) => Promise<void>,
  shouldStart: () => boolean = () => true,
): Promise<{ started: number }> {
  let next = 0;
  const worker = async () => {
    while (next < items.length && shouldStart()) {
      const index = next++;
      await work(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, worker));
  return { started: next };
}

/** `forEachBounded` that collects results in the order of the items. */
export async function mapBounded<T, R>(items: readonly T[], concurrency: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  await forEachBounded(items, concurrency, async (item, index) => {
    results[index] = await fn(item);
  });
  return results;
}
