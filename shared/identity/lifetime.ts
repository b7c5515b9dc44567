/** Microsoft's inactivity limit for refresh tokens: a token unused this long is dead. */
export const refreshTokenLifetimeDays = 90;
export const dayMs = 24 * 3600 * 1000;

/** When a token used (issued or redeemed) at `usedAt` dies if nobody uses it again. */
export function expiryAfterUse(usedAt: number): Date {
  return new Date(usedAt + refreshTokenLifetimeDays * dayMs);
}
