/**
 * Pacing for rotation runs: a bounded worker pool and a sliding-window rate limiter, so a run
 * stays under Key Vault's 300 secret writes per 10 s (per vault) whatever its concurrency.
 */

export type Sleep = (ms: number) => Promise<void>;
export const realSleep: Sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** At most `limit` acquisitions in any `windowMs`; acquire() waits for a slot. */
export class SlidingWindowLimiter {
  private readonly stamps: number[] = [];
  constructor(
    readonly limit: number,
    readonly windowMs: number,
    private readonly now: () => number = Date.now,
    private readonly sleep: Sleep = realSleep,
  ) {}

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
 * Key Vault allows 300 secret writes per 10 s per vault. One process paces itself to 250 so
 * the portal, a deployment or a second instance still has room; throttling answers (429) are
 * handled as transient on top of this.
 */
export const keyVaultWrites = new SlidingWindowLimiter(250, 10_000);

/** Runs `work` over `items` with at most `concurrency` at once; `shouldStart` can stop taking new items. */
export async function forEachBounded<T>(items: readonly T[], concurrency: number, shouldStart: () => boolean, work: (item: T) => Promise<void>): Promise<{ started: number }> {
  let next = 0;
  const worker = async () => {
    while (next < items.length && shouldStart()) {
      const item = items[next++] as T;
      await work(item);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, worker));
  return { started: next };
}
