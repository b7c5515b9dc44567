import { transactionMaxAgeSeconds } from './transaction';

/**
 * States seen by this instance in the last ten minutes. The cookie is cleared on first use, so a
 * second callback in the same browser already fails; this also refuses a replay that carries a
 * copied cookie to the same instance. Entra refuses a reused code in any case.
 */
const usedStates = new Map<string, number>();

/** True the first time a state is seen; false for a replay. */
export function markStateUsed(state: string, now: number): boolean {
  for (const [s, at] of usedStates) if (now - at > transactionMaxAgeSeconds * 1000) usedStates.delete(s);
  if (usedStates.has(state)) return false;
  if (usedStates.size < 10_000) usedStates.set(state, now);
  return true;
}
