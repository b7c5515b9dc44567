/**
 * Marketplaces being rotated by this process right now, so overlapping runs (the timer and a
 * manual rotation) never work on the same token at once (docs/SECURITY.md 19).
 */
const inFlight = new Set<string>();

const keyOf = (environment: string, marketplace: string) => `${environment}/${marketplace}`;

/** Claims a token for this run; false when another run of this process has it. */
export function claim(environment: string, marketplace: string): boolean {
  const key = keyOf(environment, marketplace);
  if (inFlight.has(key)) return false;
  inFlight.add(key);
  return true;
}

export function release(environment: string, marketplace: string): void {
  inFlight.delete(keyOf(environment, marketplace));
}

export function isClaimed(environment: string, marketplace: string): boolean {
  return inFlight.has(keyOf(environment, marketplace));
}
