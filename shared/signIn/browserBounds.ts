/**
 * How many sign-ins one browser holds: in a file of its own, so the error pages can say the
 * number without loading the sign-in code (the start page's cold start).
 */

/** Sign-ins (and administrator approvals) one browser may have in flight at once. */
export const maxSignInsInFlight = 5;
/** Finished sign-ins one browser remembers (for Reload and Back after success). */
export const maxFinishedKept = 5;
/** Keys of set-aside transactions remembered: enough for every transaction that could have been set aside in ten minutes by a person. */
export const evictedKeysKept = 8;
