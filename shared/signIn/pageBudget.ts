/**
 * What a person waits for at the callback, in one place. Everything the callback does after
 * Microsoft sends the browser back fits in `callbackBudgetMs`:
 *
 *   wait for the token's lease (≤ leaseWaitMs) → redeem the code → check the id token → prove
 *   the token at Partner Center → store it as current → push it to Connect (until the budget).
 *
 * Redemption, proof and storage take about a second each; a rotation of the same token holds
 * the lease for a few seconds at most; the Connect push gets what is left and leaves the rest
 * pending for the next rotation run's retry step (docs/ROTATION.md).
 */

/** The longest the callback takes before it shows its page. */
export const callbackBudgetMs = 15_000;

/**
 * How long a sign-in waits for another writer of the same token (a rotation in progress, a sign-in
 * in another tab) before it gives up without spending its code. A rotation holds a token's lease
 * for a redemption, a Key Vault write and a Partner Center call: a few seconds.
 */
export const leaseWaitMs = 5_000;
