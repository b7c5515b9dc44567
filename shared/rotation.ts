/**
 * Rotation (design.md "Rotate", security.md 15–23): every stored refresh token of the environment
 * is redeemed for a new one before Microsoft's 90-day inactivity limit, and no token is ever lost.
 *
 * Per token, in this order: read → redeem → write a new version → read back and compare → only
 * then count it as rotated. Entra does not revoke a refresh token when it is redeemed, so until
 * the new version is safely stored the old one stays a valid fallback; a crash at any step leaves
 * a valid token readable.
 */
import { randomUUID } from 'node:crypto';
import type { TokenFailure } from './entra';
import { productHealth, type ProductHealth, type ProductSyncState, type RetryCounts } from './connect';
import { AppError, ensureAppError } from './errors';
import { events } from './events';
import type { AppCredentials, TokenGrant } from './identity';
import { logEvent, type Logger } from './log';
import { forEachBounded, keyVaultWrites, realSleep, type SlidingWindowLimiter, type Sleep } from './pacing';
import { forEnvironment, type Marketplace, type MarketplaceConfig } from './marketplaces';
import type { Settings } from './settings';
import { landedAlready, storeRetryAfterMs } from './secrets/newVersion';
import type { SecretStore, StoredToken, StoredTokenInfo, TokenTags } from './secrets/store';
import { refreshTokenLifetimeDays } from './signIn';

const dayMs = 24 * 3600 * 1000;

export type RotationOutcome =
  /** New version written and read back. */
  | 'rotated'
  /** Redeem failed transiently (network, 5xx, 429): nothing changed; the next run tries again. */
  | 'transient'
  /** invalid_grant family: marked needs-reauth, alerted; a person must generate a new token. */
  | 'needs-reauth'
  /** invalid_client: the app's secret is wrong or expired; no token marked. */
  | 'invalid-client'
  /** Redeemed, but the new version could not be stored or verified; the old version stays valid. */
  | 'store-failed'
  /** Not attempted: already needs a person, rotated recently or by an overlapping run, not configured. */
  | 'skipped'
  /** Not reached before the run's time budget ran out; the next run starts with these. */
  | 'not-reached';

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
  trigger: 'timer' | 'manual';
  environment: string;
  startedAt: string;
  durationMs: number;
  total: number;
  counts: Record<RotationOutcome, number>;
  stoppedByTimeBudget: boolean;
  results: TokenResult[];
  /** Present when the Connect push is on. */
  connect?: ConnectRunCounts;
}

/** What a rotation run hands to the Connect push along with a token. */
export interface RunContext {
  runId: string;
  timeLeft: () => number;
  concurrency: number;
}

export interface RotationDeps {
  settings: Settings;
  config: MarketplaceConfig;
  store: SecretStore;
  logger: Logger;
  redeem: (app: AppCredentials, refreshToken: string) => Promise<TokenGrant>;
  now?: () => number;
  sleep?: Sleep;
  writeLimiter?: SlidingWindowLimiter;
  /**
   * Called after a token is rotated and verified (Connect push). Its failures never undo the
   * rotation. May return the worst Connect product state, which the run's summary counts.
   */
  afterRotate?: (marketplace: Marketplace, token: StoredToken, run: RunContext) => Promise<ProductSyncState | void>;
  /** The `connect` tag a new version is written with (every product pending until pushed), so a crash before the push leaves it to the retry step. */
  connectPendingTag?: (marketplace: Marketplace) => string | undefined;
  /** After the rotation pass: retries pending Connect pushes of tokens the pass did not rotate. */
  retryPendingSync?: (tokens: StoredTokenInfo[], run: RunContext) => Promise<RetryCounts>;
}

export interface RotationOptions {
  trigger: 'timer' | 'manual';
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

/** Marketplaces being rotated by this process right now, so overlapping runs do not double up. */
const inFlight = new Set<string>();

function lastActivity(t: StoredTokenInfo): number {
  return Date.parse(t.tags.rotatedAt ?? t.tags.issuedAt) || t.createdOn.getTime();
}

function failureOf(err: unknown): TokenFailure | undefined {
  return err instanceof AppError && 'failure' in err ? (err as AppError & { failure: TokenFailure }).failure : undefined;
}


export async function rotateAll(deps: RotationDeps, options: RotationOptions): Promise<RotationSummary> {
  const now = deps.now ?? Date.now;
  const sleep = deps.sleep ?? realSleep;
  const limiter = deps.writeLimiter ?? keyVaultWrites;
  const { settings, store, logger } = deps;
  const environment = settings.SERVICE_ENVIRONMENT;
  const runId = randomUUID();
  const started = now();
  const budgetMs = options.timeBudgetMs ?? settings.ROTATION_TIME_BUDGET_SECONDS * 1000;
  const deadline = started + budgetMs;
  const concurrency = options.concurrency ?? settings.ROTATION_CONCURRENCY;
  const attempts = options.attempts ?? 3;
  const minAgeMs = (options.minAgeHours ?? 12) * 3600 * 1000;
  const timeLeft = () => deadline - now();

  const results: TokenResult[] = [];
  const record = (r: TokenResult) => {
    results.push(r);
  };

  let listed: StoredTokenInfo[];
  try {
    listed = await store.listTokens(environment);
  } catch (err) {
    const e = ensureAppError(err);
    logEvent(logger, 'error', events.rotationRunFailed, { runId, trigger: options.trigger, environment, code: e.code, step: 'list' });
    throw e;
  }
  // Oldest first (security.md 20): a run cut short by its budget leaves the freshest for next time.
  const candidates = listed.filter((t) => !options.marketplace || t.marketplace === options.marketplace).sort((a, b) => lastActivity(a) - lastActivity(b));

  /** Applications found to have a bad secret in this run: their other tokens are not tried. */
  const blockedApps = new Set<string>();
  const secretCache = new Map<string, Promise<string | undefined>>();
  const clientSecret = (name: string) => {
    let p = secretCache.get(name);
    if (!p) {
      p = store.getSecret(name);
      secretCache.set(name, p);
    }
    return p;
  };

  async function credentialsFor(m: Marketplace): Promise<{ app: AppCredentials; appKey: string } | { missing: string }> {
    const clientId = m.model === 'CPV' ? settings.CPV_CLIENT_ID : m.clientId;
    const secretName = m.model === 'CPV' ? settings.CPV_CLIENT_SECRET_NAME : m.clientSecretName;
    if (!clientId || !secretName) return { missing: m.model === 'CPV' ? 'CPV_CLIENT_ID' : 'partner_client_id' };
    const secret = await clientSecret(secretName);
    if (!secret) return { missing: secretName };
    return { app: { authorityHost: settings.AUTHORITY_HOST, tenantId: m.tenantId, clientId, clientSecret: secret }, appKey: clientId };
  }

  async function withRetries<T>(step: string, fn: () => Promise<T>, isTransient: (err: unknown) => boolean, retryAfter: (err: unknown) => number | undefined): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        if (attempt >= attempts || !isTransient(err)) throw err;
        // Exponential backoff with jitter; the server's Retry-After wins when it is longer.
        const backoff = Math.min(8_000, 250 * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2);
        const wait = Math.max(backoff, retryAfter(err) ?? 0);
        if (wait >= timeLeft()) throw err;
        logEvent(logger, 'warn', events.rotationRetry, { runId, step, attempt, waitMs: Math.round(wait) });
        await sleep(wait);
      }
    }
  }

  async function writeAndVerify(current: StoredToken, value: string, tags: TokenTags, expiresOn: Date): Promise<StoredToken> {
    const input = { marketplace: current.marketplace, environment: current.environment, value, tags, expiresOn };
    let written: StoredToken | undefined;
    let tried = false;
    await withRetries(
      'write',
      async () => {
        // A write that failed or timed out may still have landed: look before writing again, so
        // one run never adds two versions for one token.
        if (tried) {
          written = await landedAlready(store, input, current.version);
          if (written) return;
        }
        tried = true;
        await limiter.acquire();
        written = await store.putToken(input);
      },
      () => true,
      storeRetryAfterMs,
    );
    const stored = written as StoredToken;
    // Read back and compare before counting it as done (security.md 15).
    const back = await withRetries('read-back', () => store.getToken(current.marketplace, current.environment), () => true, storeRetryAfterMs);
    if (!back || back.value !== value) {
      throw new AppError('secret_store_failed', 'Read-back of the new version did not return it', { details: { marketplace: current.marketplace } });
    }
    return { ...stored, value };
  }

  async function rotateOne(info: StoredTokenInfo): Promise<void> {
    const mp = info.marketplace;
    if (info.tags.status === 'needs-reauth') return record({ marketplace: mp, outcome: 'skipped', reason: 'needs-reauth' });
    if (!options.force && now() - lastActivity(info) < minAgeMs) return record({ marketplace: mp, outcome: 'skipped', reason: 'recently-rotated' });
    if (inFlight.has(`${environment}/${mp}`)) return record({ marketplace: mp, outcome: 'skipped', reason: 'in-progress' });
    const entry = deps.config.entries.get(mp.toUpperCase());
    if (!entry) {
      logEvent(logger, 'warn', events.rotationTokenFailed, { runId, marketplace: mp, class: 'not-configured' });
      return record({ marketplace: mp, outcome: 'skipped', reason: 'not-configured' });
    }
    const marketplace = forEnvironment(entry, environment);
    inFlight.add(`${environment}/${mp}`);
    try {
      // 1. Read the latest version; if another run rotated it since we listed, leave it.
      const current = await withRetries('read', () => store.getToken(mp, environment), () => true, storeRetryAfterMs);
      if (!current) return record({ marketplace: mp, outcome: 'skipped', reason: 'missing' });
      if (current.version !== info.version) return record({ marketplace: mp, outcome: 'skipped', reason: 'rotated-by-another-run' });

      const creds = await credentialsFor(marketplace);
      if ('missing' in creds) {
        // Like invalid_client: one operator alert per missing secret per run, not one per token.
        const key = `missing:${creds.missing}`;
        if (!blockedApps.has(key)) {
          blockedApps.add(key);
          logEvent(logger, 'error', events.invalidClient, { runId, marketplace: mp, model: marketplace.model, reason: 'secret-missing', secretName: creds.missing });
        }
        return record({ marketplace: mp, outcome: 'invalid-client', reason: 'secret-missing' });
      }
      if (blockedApps.has(creds.appKey)) return record({ marketplace: mp, outcome: 'invalid-client', reason: 'app-blocked-in-run' });

      // 2. Redeem.
      let grant: TokenGrant;
      try {
        grant = await withRetries('redeem', () => deps.redeem(creds.app, current.value), (err) => failureOf(err)?.class === 'transient', (err) => failureOf(err)?.retryAfterMs);
      } catch (err) {
        const failure = failureOf(err) ?? { class: 'transient' as const, reason: 'unknown' as const };
        const fields = { runId, marketplace: mp, model: marketplace.model, tenant: marketplace.tenantId, class: failure.class, reason: failure.reason, error: failure.error, aadsts: failure.aadsts, status: failure.status };
        if (failure.class === 'needs-reauth') {
          // Mark it so the status page, the alert and the next runs know a person must act; the
          // token value is untouched (it is dead at Microsoft anyway, and nothing deletes versions).
          const tags: TokenTags = { ...current.tags, status: 'needs-reauth', lastError: `needs-reauth:${failure.reason}`, lastErrorAt: new Date(now()).toISOString() };
          await limiter.acquire();
          await withRetries('mark', () => store.updateTokenTags(current, tags), () => true, storeRetryAfterMs).catch((markErr: unknown) => {
            logEvent(logger, 'error', events.rotationTokenFailed, { runId, marketplace: mp, class: 'store', step: 'mark', code: ensureAppError(markErr).code });
          });
          logEvent(logger, 'error', events.tokenNeedsReauth, fields);
          return record({ marketplace: mp, outcome: 'needs-reauth', reason: failure.reason, ...(failure.aadsts ? { aadsts: failure.aadsts } : {}) });
        }
        if (failure.class === 'invalid-client') {
          // An operator problem (the app's secret): alert once per app, mark no token dead.
          if (!blockedApps.has(creds.appKey)) {
            blockedApps.add(creds.appKey);
            logEvent(logger, 'error', events.invalidClient, { ...fields, clientId: creds.appKey });
          }
          return record({ marketplace: mp, outcome: 'invalid-client', reason: failure.reason, ...(failure.aadsts ? { aadsts: failure.aadsts } : {}) });
        }
        logEvent(logger, 'warn', events.rotationTokenFailed, fields);
        return record({ marketplace: mp, outcome: 'transient', reason: failure.reason, ...(failure.aadsts ? { aadsts: failure.aadsts } : {}) });
      }

      // 3. Write the new version and 4. read it back.
      const at = new Date(now());
      const tags: TokenTags = { ...current.tags, rotatedAt: at.toISOString(), status: 'active' };
      delete tags.lastError;
      delete tags.lastErrorAt;
      // The `connect` tag speaks for its own version: the new one has not been pushed yet.
      delete tags.connect;
      const pendingTag = deps.connectPendingTag?.(marketplace);
      if (pendingTag) tags.connect = pendingTag;
      let stored: StoredToken;
      try {
        stored = await writeAndVerify(current, grant.refreshToken, tags, new Date(at.getTime() + refreshTokenLifetimeDays * dayMs));
      } catch (err) {
        const e = ensureAppError(err);
        logEvent(logger, 'error', events.rotationTokenFailed, { runId, marketplace: mp, class: 'store', code: e.code, status: typeof e.details.statusCode === 'number' ? e.details.statusCode : undefined });
        return record({ marketplace: mp, outcome: 'store-failed', reason: e.code });
      }
      const result: TokenResult = { marketplace: mp, outcome: 'rotated' };
      record(result);
      if (deps.afterRotate) {
        const state = await deps.afterRotate(marketplace, stored, { runId, timeLeft, concurrency }).catch((err: unknown) => {
          logEvent(logger, 'error', events.connectSyncFailed, { runId, marketplace: mp, code: ensureAppError(err).code });
          return 'failed' as const;
        });
        if (state) result.connect = state;
      }
    } catch (err) {
      // Reads that kept failing: nothing was redeemed or written, so nothing changed.
      const e = ensureAppError(err);
      logEvent(logger, 'warn', events.rotationTokenFailed, { runId, marketplace: mp, class: 'store', code: e.code });
      record({ marketplace: mp, outcome: 'transient', reason: e.code });
    } finally {
      inFlight.delete(`${environment}/${mp}`);
    }
  }

  // Keep a margin so the last tokens started can finish their four steps inside the budget.
  const margin = Math.min(10_000, budgetMs / 10);
  const { started: startedCount } = await forEachBounded(candidates, concurrency, () => timeLeft() > margin, rotateOne);
  for (const t of candidates.slice(startedCount)) record({ marketplace: t.marketplace, outcome: 'not-reached' });

  // Connect: retry pending pushes of tokens this pass did not rotate, even those not due for
  // rotation, until Connect holds each token's current version. Within the same time budget.
  let connectRetry: RetryCounts | undefined;
  if (deps.retryPendingSync && timeLeft() > margin) {
    const rotated = new Set(results.filter((r) => r.outcome === 'rotated').map((r) => r.marketplace));
    const reached = candidates.slice(0, startedCount).filter((t) => !rotated.has(t.marketplace) && !inFlight.has(`${environment}/${t.marketplace}`));
    try {
      connectRetry = await deps.retryPendingSync(reached, { runId, timeLeft, concurrency });
      for (const r of connectRetry.results) {
        const entry = results.find((x) => x.marketplace === r.marketplace);
        if (entry) entry.connect = r.state;
      }
    } catch (err) {
      logEvent(logger, 'error', events.connectSyncFailed, { runId, step: 'retry', code: ensureAppError(err).code });
    }
  }

  const counts: Record<RotationOutcome, number> = { rotated: 0, transient: 0, 'needs-reauth': 0, 'invalid-client': 0, 'store-failed': 0, skipped: 0, 'not-reached': 0 };
  for (const r of results) counts[r.outcome]++;
  const summary: RotationSummary = {
    runId,
    trigger: options.trigger,
    environment,
    startedAt: new Date(started).toISOString(),
    durationMs: now() - started,
    total: candidates.length,
    counts,
    stoppedByTimeBudget: startedCount < candidates.length,
    results,
  };
  if (deps.afterRotate || deps.retryPendingSync) {
    const zero = (): Record<ProductSyncState, number> => ({ ok: 0, pending: 0, failed: 0 });
    const connect: ConnectRunCounts = { afterRotate: zero(), retried: zero() };
    for (const r of results) if (r.outcome === 'rotated' && r.connect) connect.afterRotate[r.connect]++;
    for (const r of connectRetry?.results ?? []) connect.retried[r.state]++;
    summary.connect = connect;
  }
  logEvent(logger, counts['store-failed'] + counts['invalid-client'] > 0 ? 'warn' : 'info', events.rotationRunCompleted, {
    runId,
    trigger: options.trigger,
    environment,
    total: summary.total,
    rotated: counts.rotated,
    transient: counts.transient,
    needsReauth: counts['needs-reauth'],
    invalidClient: counts['invalid-client'],
    storeFailed: counts['store-failed'],
    skipped: counts.skipped,
    notReached: counts['not-reached'],
    failed: counts.transient + counts['needs-reauth'] + counts['invalid-client'] + counts['store-failed'],
    stoppedByTimeBudget: summary.stoppedByTimeBudget,
    durationMs: summary.durationMs,
    connectSynced: summary.connect ? summary.connect.afterRotate.ok + summary.connect.retried.ok : undefined,
    connectPending: summary.connect ? summary.connect.afterRotate.pending + summary.connect.retried.pending : undefined,
    connectFailed: summary.connect ? summary.connect.afterRotate.failed + summary.connect.retried.failed : undefined,
  });
  return summary;
}

/** One row of the status page (design.md "Watch"). */
export interface TokenHealth {
  marketplace: string;
  model: string;
  status: string;
  tenant: string;
  issuedAt: string;
  rotatedAt?: string;
  expiresAt?: string;
  daysLeft?: number;
  lastError?: string;
  lastErrorAt?: string;
  /** Per configured Connect product: whether Connect holds this (the latest) version. Only when the push is on. */
  connect?: ProductHealth[];
}

/**
 * Every token of the environment, fewest days left first. `connectProducts` (given when the
 * Connect push is on) names each marketplace's configured products.
 */
export async function tokenHealth(
  store: SecretStore,
  environment: Settings['SERVICE_ENVIRONMENT'],
  now = Date.now(),
  connectProducts?: (marketplace: string) => string[],
): Promise<TokenHealth[]> {
  const tokens = await store.listTokens(environment);
  return tokens
    .map((t) => {
      const h: TokenHealth = { marketplace: t.marketplace, model: t.tags.model, status: t.tags.status, tenant: t.tags.tenant, issuedAt: t.tags.issuedAt };
      if (t.tags.rotatedAt) h.rotatedAt = t.tags.rotatedAt;
      if (t.expiresOn) {
        h.expiresAt = t.expiresOn.toISOString();
        h.daysLeft = Math.floor((t.expiresOn.getTime() - now) / dayMs);
      }
      if (t.tags.lastError) h.lastError = t.tags.lastError;
      if (t.tags.lastErrorAt) h.lastErrorAt = t.tags.lastErrorAt;
      const products = connectProducts?.(t.marketplace) ?? [];
      if (products.length > 0) h.connect = productHealth(t.tags.connect, products);
      return h;
    })
    .sort((a, b) => (a.daysLeft ?? Infinity) - (b.daysLeft ?? Infinity) || a.marketplace.localeCompare(b.marketplace));
}
