/**
 * A rotation run (docs/SECURITY.md 15–23): every stored refresh token of the environment is
 * redeemed for a new one before Microsoft's 90-day inactivity limit, oldest first, within a time
 * budget, with bounded concurrency and paced writes; one token's failure never stops another's.
 */
import { randomUUID } from 'node:crypto';
import type { RetryCounts } from '../connect/retryPending';
import type { ProductSyncState } from '../connect/tag';
import { AppError, ensureAppError } from '../errors';
import { events } from '../events';
import { logEvent } from '../log';
import { forEachBounded, keyVaultWrites } from '../pacing';
import type { ListedToken, TokenListing } from '../secrets/store';
import { recordRun as writeRunRecord, runRecordsTable } from '../storage/runRecords';
import { readTokenRecords, tokenRecordsTable, type TokenRecord } from '../storage/tokenRecords';
import type { RunPass } from '../notify/deliver';
import { countOutcomes, failedOutcomes, type ConnectRunCounts, type RotationSummary, type RotationTrigger, type TokenResult } from './outcomes';
import { lastActivity, rotateToken, type RotationDeps, type RunContext, type RunState } from './rotateToken';

export interface RotationOptions {
  trigger: RotationTrigger;
  /** Rotate only this marketplace. */
  marketplace?: string;
  /** Rotate even tokens rotated within minAgeHours (manual "rotate now"). */
  force?: boolean;
  /** Tokens rotated more recently than this are left alone (a timer firing twice is harmless). */
  minAgeHours?: number;
  concurrency?: number;
  timeBudgetMs?: number;
  /** Redeem attempts per token for transient failures within one run. */
  attempts?: number;
}

export interface RunDeps extends RotationDeps {
  /** After the rotation pass: retries pending Connect pushes of tokens the pass did not rotate. */
  retryPendingSync?: (tokens: ListedToken[], run: RunContext) => Promise<RetryCounts>;
  /** Last: tells the marketplaces' contacts what needs a person (shared/notify/deliver.ts). Never fails the run. */
  tellContacts?: (pass: RunPass, run: RunContext & { now: () => number }) => Promise<unknown>;
}

export async function rotateAll(deps: RunDeps, options: RotationOptions): Promise<RotationSummary> {
  const now = deps.now ?? Date.now;
  const { settings, store, logger } = deps;
  const environment = settings.SERVICE_ENVIRONMENT;
  const runId = randomUUID();
  const started = now();
  const budgetMs = options.timeBudgetMs ?? settings.ROTATION_TIME_BUDGET_SECONDS * 1000;
  const deadline = started + budgetMs;
  const timeLeft = () => deadline - now();
  const secrets = new Map<string, Promise<string | undefined>>();
  // Every token's shared state in one query; without it the run goes on (it only adds to what
  // the tags say), and each token's own change reads its entity again before writing.
  const tokenRecords = await readTokenRecords(deps.shared.table(tokenRecordsTable), environment).catch((err: unknown) => {
    logEvent(logger, 'warn', events.rotationTokenFailed, { runId, class: 'storage', step: 'token-states', code: ensureAppError(err).code });
    return new Map<string, TokenRecord>();
  });
  const run: RunState = {
    deps,
    runId,
    now,
    timeLeft,
    concurrency: options.concurrency ?? settings.ROTATION_CONCURRENCY,
    attempts: options.attempts ?? 3,
    minAgeMs: (options.minAgeHours ?? 12) * 3600 * 1000,
    force: options.force === true,
    limiter: deps.writeLimiter ?? keyVaultWrites,
    blockedApps: new Set(),
    readSecret: (name) => {
      let secret = secrets.get(name);
      if (!secret) {
        secret = store.getSecret(name);
        secrets.set(name, secret);
      }
      return secret;
    },
    tokenRecords,
  };

  let listing: TokenListing;
  try {
    listing = await store.listTokens(environment);
  } catch (err) {
    const e = ensureAppError(err);
    logEvent(logger, 'error', events.rotationRunFailed, { runId, trigger: options.trigger, environment, code: e.code, step: 'list' });
    throw e;
  }
  const mine = (t: { marketplace: string }) => !options.marketplace || t.marketplace === options.marketplace;
  // Oldest first (docs/SECURITY.md 20): a run cut short by its budget leaves the freshest for next time.
  const candidates = listing.tokens.filter(mine).sort((a, b) => lastActivity(a) - lastActivity(b));
  const attention = listing.attention.filter(mine);
  if (options.marketplace && candidates.length === 0 && attention.length === 0) {
    throw new AppError('token_not_found', `No token is stored for marketplace ${options.marketplace} in this environment`, {
      marketplace: options.marketplace,
    });
  }

  const results: TokenResult[] = [];
  // Never hidden (docs/SECURITY.md 31): a secret under a token's name that the service cannot use.
  for (const a of attention) {
    logEvent(logger, 'error', events.tokenNeedsAttention, { runId, marketplace: a.marketplace, environment, reason: a.reason });
    results.push({ marketplace: a.marketplace, outcome: 'needs-attention', reason: a.reason });
  }
  // Keep a margin so the last tokens started can finish their four steps inside the budget.
  const margin = Math.min(10_000, budgetMs / 10);
  const { started: startedCount } = await forEachBounded(
    candidates,
    run.concurrency,
    async (info) => {
      results.push(await rotateToken(run, info));
    },
    () => timeLeft() > margin,
  );
  for (const t of candidates.slice(startedCount)) results.push({ marketplace: t.marketplace, outcome: 'not-reached' });

  // Connect: retry pending pushes of tokens this pass did not rotate, even those not due for
  // rotation, until Connect holds each token's current version. Within the same time budget.
  let connectRetry: RetryCounts | undefined;
  if (deps.retryPendingSync && timeLeft() > margin) {
    const rotated = new Set(results.filter((r) => r.outcome === 'rotated').map((r) => r.marketplace));
    const reached = candidates.slice(0, startedCount).filter((t) => !rotated.has(t.marketplace));
    try {
      connectRetry = await deps.retryPendingSync(reached, { runId, timeLeft, concurrency: run.concurrency });
      for (const r of connectRetry.results) {
        const entry = results.find((x) => x.marketplace === r.marketplace);
        if (entry) entry.connect = r.state;
      }
    } catch (err) {
      logEvent(logger, 'error', events.connectSyncFailed, { runId, step: 'retry', code: ensureAppError(err).code });
    }
  }

  // The marketplaces' contacts: tokens that need a person, tokens near the end of their life.
  // Within the same budget, from what the run already has (no further Key Vault call).
  if (deps.tellContacts && timeLeft() > 0) {
    const pass: RunPass = { tokens: candidates, outcomes: new Map(results.map((r) => [r.marketplace, r.outcome])), records: tokenRecords };
    await deps.tellContacts(pass, { runId, timeLeft, concurrency: run.concurrency, now }).catch((err: unknown) => {
      logEvent(logger, 'error', events.notificationFailed, { runId, step: 'deliver', code: ensureAppError(err).code });
    });
  }

  const counts = countOutcomes(results);
  const summary: RotationSummary = {
    runId,
    trigger: options.trigger,
    environment,
    startedAt: new Date(started).toISOString(),
    durationMs: now() - started,
    total: candidates.length + attention.length,
    counts,
    stoppedByTimeBudget: startedCount < candidates.length,
    skippedReasons: skippedReasonsOf(results),
    results,
  };
  if (deps.afterRotate || deps.retryPendingSync) {
    const zero = (): Record<ProductSyncState, number> => ({ ok: 0, pending: 0, failed: 0 });
    const connect: ConnectRunCounts = { afterRotate: zero(), retried: zero() };
    for (const r of results) if (r.outcome === 'rotated' && r.connect) connect.afterRotate[r.connect]++;
    for (const r of connectRetry?.results ?? []) connect.retried[r.state]++;
    summary.connect = connect;
  }
  const failed = failedOutcomes.reduce((n, o) => n + counts[o], 0);
  await recordRun(deps, summary, failed, options.marketplace);
  logEvent(logger, counts['store-failed'] + counts['invalid-client'] + counts['needs-attention'] > 0 ? 'warn' : 'info', events.rotationRunCompleted, {
    runId,
    trigger: options.trigger,
    environment,
    total: summary.total,
    rotated: counts.rotated,
    transient: counts.transient,
    needsReauth: counts['needs-reauth'],
    invalidClient: counts['invalid-client'],
    storeFailed: counts['store-failed'],
    needsAttention: counts['needs-attention'],
    skipped: counts.skipped,
    notReached: counts['not-reached'],
    failed,
    stoppedByTimeBudget: summary.stoppedByTimeBudget,
    durationMs: summary.durationMs,
    connectSynced: summary.connect ? summary.connect.afterRotate.ok + summary.connect.retried.ok : undefined,
    connectPending: summary.connect ? summary.connect.afterRotate.pending + summary.connect.retried.pending : undefined,
    connectFailed: summary.connect ? summary.connect.afterRotate.failed + summary.connect.retried.failed : undefined,
  });
  return summary;
}

function skippedReasonsOf(results: readonly TokenResult[]): Record<string, number> {
  const reasons: Record<string, number> = {};
  for (const r of results) if (r.outcome === 'skipped') reasons[r.reason ?? 'unknown'] = (reasons[r.reason ?? 'unknown'] ?? 0) + 1;
  return reasons;
}

/**
 * Leaves the run's summary where the status page finds it: one entity in the app's storage
 * account (runs over one marketplace apart from the others). A failure to record loses nothing
 * but the record.
 */
async function recordRun(deps: RunDeps, summary: RotationSummary, failed: number, marketplace: string | undefined): Promise<void> {
  const c = summary.counts;
  await writeRunRecord(deps.shared.table(runRecordsTable), summary.environment, {
    runId: summary.runId,
    trigger: summary.trigger,
    ...(marketplace ? { marketplace } : {}),
    startedAt: summary.startedAt,
    durationMs: summary.durationMs,
    total: summary.total,
    rotated: c.rotated,
    failed,
    needsReauth: c['needs-reauth'],
    needsAttention: c['needs-attention'],
    transient: c.transient,
    invalidClient: c['invalid-client'],
    storeFailed: c['store-failed'],
    notReached: c['not-reached'],
    skipped: summary.skippedReasons,
  }).catch((err: unknown) => {
    logEvent(deps.logger, 'warn', events.rotationTokenFailed, {
      runId: summary.runId,
      class: 'storage',
      step: 'record-run',
      code: ensureAppError(err).code,
    });
  });
}
