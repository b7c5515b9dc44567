/** What a rotation run reports: per token, and the run's summary. */
import type { ProductSyncState } from '../connect/tag';
import type { Environment } from '../settings';

/** What started a run: the timer, a person (POST /api/rotate), or Key Vault's SecretNearExpiry for one token. */
export type RotationTrigger = 'timer' | 'manual' | 'near-expiry';

export type RotationOutcome =
  /** New version written and read back. */
  | 'rotated'
  /** Redeem failed transiently (network, 5xx, 429): nothing changed; the next run tries again. */
  | 'transient'
  /** invalid_grant family: marked needs-reauth, alerted; a person must generate a new token. */
  | 'needs-reauth'
  /** invalid_client: the app's secret is wrong or expired; no token marked. */
  | 'invalid-client'
  /** The marketplace's configured tenant is not the token's (unknown, mistyped, changed): operator alerted as configuration; no token marked. */
  | 'misconfigured'
  /** Redeemed, but the new version could not be stored or verified; the old version stays valid. */
  | 'store-failed'
  /** The secret under its name is not a token this service can use (written by hand, latest version disabled): a person must look. */
  | 'needs-attention'
  /** Not attempted: already needs a person, rotated recently or by an overlapping run, not configured. */
  | 'skipped'
  /** Not reached before the run's time budget ran out; the next run starts with these. */
  | 'not-reached';

export const rotationOutcomes: readonly RotationOutcome[] = [
  'rotated',
  'transient',
  'needs-reauth',
  'invalid-client',
  'misconfigured',
  'store-failed',
  'needs-attention',
  'skipped',
  'not-reached',
];

export interface TokenResult {
  marketplace: string;
  outcome: RotationOutcome;
  reason?: string;
  aadsts?: number;
  /** Connect push of this run for the token (rotated, or a pending push retried): the worst product state. */
  connect?: ProductSyncState;
}

/** What a run did for Connect: pushes after rotation, and retries of pending pushes. */
export interface ConnectRunCounts {
  /** Tokens pushed after their rotation, by worst product state. */
  afterRotate: Record<ProductSyncState, number>;
  /** Tokens not rotated in this run whose pending push was retried, by worst product state after it. */
  retried: Record<ProductSyncState, number>;
}

export interface RotationSummary {
  runId: string;
  trigger: RotationTrigger;
  environment: Environment;
  startedAt: string;
  durationMs: number;
  total: number;
  counts: Record<RotationOutcome, number>;
  stoppedByTimeBudget: boolean;
  /** Why tokens were skipped, by reason (e.g. `recently-rotated`: the 12-hour rule). */
  skippedReasons: Record<string, number>;
  results: TokenResult[];
  /** Present when the Connect push is on. */
  connect?: ConnectRunCounts;
}

/** Outcomes that mean a token did not get the rotation it was due (what the run's `failed` counts). */
export const failedOutcomes: readonly RotationOutcome[] = [
  'transient',
  'needs-reauth',
  'invalid-client',
  'misconfigured',
  'store-failed',
  'needs-attention',
];

export function countOutcomes(results: readonly TokenResult[]): Record<RotationOutcome, number> {
  const counts = Object.fromEntries(rotationOutcomes.map((o) => [o, 0])) as Record<RotationOutcome, number>;
  for (const r of results) counts[r.outcome]++;
  return counts;
}
