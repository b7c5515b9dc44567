import { AppError } from '../errors';
import { transactionMaxAgeSeconds } from './transaction';

/**
 * States this instance has seen within a transaction's lifetime (ten minutes). The cookie is
 * cleared on first use, so a second callback in the same browser already fails; this also refuses
 * a replay that carries a copied cookie to the same instance. Entra refuses a reused code in any
 * case, but only after a token-endpoint call.
 *
 * MUST (docs/SECURITY.md 28): when the table is full, a new state is refused, never let through
 * unrecorded (else its replays would pass). The bound cannot be reached in normal operation: a
 * state is recorded only for a callback that passed the callback bound
 * (shared/guards/signInBounds.ts) and carried a genuine sealed transaction, and that bound lets at
 * most `signInBounds.callback.overall` through per instance, about 620 in ten minutes: a sixteenth
 * of the capacity. Only raising that bound far beyond it could fill the table, and then for at
 * most ten minutes, when the oldest states expire.
 */
export const replayGuardCapacity = 10_000;

export class ReplayGuard {
  /** State → first seen (epoch ms), in insertion order, which is time order: the oldest come first. */
  private readonly seen = new Map<string, number>();

  constructor(readonly capacity: number = replayGuardCapacity) {}

  /** True the first time a state is seen; false for a replay. Throws `sign_in_busy` when full. */
  markUsed(state: string, now: number): boolean {
    const lifetimeMs = transactionMaxAgeSeconds * 1000;
    for (const [s, at] of this.seen) {
      if (now - at <= lifetimeMs) break;
      this.seen.delete(s);
    }
    if (this.seen.has(state)) return false;
    if (this.seen.size >= this.capacity) {
      const oldest = this.seen.values().next().value ?? now;
      throw new AppError('sign_in_busy', 'Replay guard full: callback refused', {
        retry: { transient: true, retryAfterMs: Math.max(1_000, oldest + lifetimeMs - now) },
      });
    }
    this.seen.set(state, now);
    return true;
  }

  get size(): number {
    return this.seen.size;
  }
}

let guard = new ReplayGuard();

/** True the first time a state is seen; false for a replay. Throws `sign_in_busy` (503) when the guard is full. */
export function markStateUsed(state: string, now: number): boolean {
  return guard.markUsed(state, now);
}

/** A fresh guard, as a new instance starts with (tests choose the capacity). */
export function resetReplayGuard(capacity: number = replayGuardCapacity): void {
  guard = new ReplayGuard(capacity);
}
