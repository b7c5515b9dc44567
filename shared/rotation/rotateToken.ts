/**
 * One token's rotation, in this order: read → redeem → write a new version → read back and
 * compare → only then count it as rotated (docs/SECURITY.md 15). Entra does not revoke a refresh
 * token when it is redeemed, so until the new version is safely stored the old one stays a valid
 * fallback; a crash at any step leaves a valid token readable.
 */
import type { ProductSyncState } from '../connect/tag';
import { AppError, ensureAppError } from '../errors';
import { events } from '../events';
import { appCredentialsFor, appIdentityOf, type AppCredentials } from '../identity/credentials';
import { expiryAfterUse } from '../identity/lifetime';
import type { TokenGrant } from '../identity/msal';
import { TokenRequestError, type TokenFailure } from '../identity/tokenFailure';
import { logEvent, type Logger } from '../log';
import type { MarketplaceConfig } from '../marketplaces/config';
import { lookupMarketplace, type Marketplace } from '../marketplaces/marketplace';
import type { SlidingWindowLimiter } from '../pacing';
import { withRetries, type Sleep } from '../retry';
import { putNewTokenVersion } from '../secrets/newVersion';
import type { SecretStore, StoredToken, StoredTokenInfo, TokenTags } from '../secrets/store';
import type { Settings } from '../settings';
import { claim, release } from './inFlight';
import type { TokenResult } from './outcomes';

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
  afterRotate?: (marketplace: Marketplace, token: StoredToken, run: RunContext) => Promise<ProductSyncState | undefined>;
  /** The `connect` tag a new version is written with (every product pending until pushed), so a crash before the push leaves it to the retry step. */
  connectPendingTag?: (marketplace: Marketplace) => string | undefined;
}

/** The state one run shares between its tokens. */
export interface RunState {
  deps: RotationDeps;
  runId: string;
  now: () => number;
  timeLeft: () => number;
  concurrency: number;
  /** Redeem and store attempts per token within the run (transient failures). */
  attempts: number;
  /** Tokens used more recently than this are left alone unless forced. */
  minAgeMs: number;
  force: boolean;
  limiter: SlidingWindowLimiter;
  /** Applications (or missing secrets) found broken in this run: their other tokens are not tried. */
  blockedApps: Set<string>;
  /** Client secrets read once per run. */
  readSecret: (name: string) => Promise<string | undefined>;
}

/** When a token was last issued or rotated: its 90-day clock started then. */
export function lastActivity(t: StoredTokenInfo): number {
  return Date.parse(t.tags.rotatedAt ?? t.tags.issuedAt) || t.createdOn.getTime();
}

function failureOf(err: unknown): TokenFailure {
  return err instanceof TokenRequestError ? err.failure : { class: 'transient', reason: 'unknown' };
}

/** Rotates one listed token; never throws, every failure is a result. */
export async function rotateToken(run: RunState, info: StoredTokenInfo): Promise<TokenResult> {
  const { deps } = run;
  const environment = deps.settings.SERVICE_ENVIRONMENT;
  const mp = info.marketplace;
  if (info.tags.status === 'needs-reauth') return { marketplace: mp, outcome: 'skipped', reason: 'needs-reauth' };
  if (!run.force && run.now() - lastActivity(info) < run.minAgeMs) return { marketplace: mp, outcome: 'skipped', reason: 'recently-rotated' };
  if (!claim(environment, mp)) return { marketplace: mp, outcome: 'skipped', reason: 'in-progress' };
  try {
    const found = lookupMarketplace(deps.config, mp, environment);
    if (found.kind !== 'found') {
      logEvent(deps.logger, 'warn', events.rotationTokenFailed, { runId: run.runId, marketplace: mp, class: 'not-configured' });
      return { marketplace: mp, outcome: 'skipped', reason: 'not-configured' };
    }
    return await rotateClaimed(run, info, found.marketplace);
  } catch (err) {
    // Reads that kept failing: nothing was redeemed or written, so nothing changed.
    const e = ensureAppError(err);
    logEvent(deps.logger, 'warn', events.rotationTokenFailed, { runId: run.runId, marketplace: mp, class: 'store', code: e.code });
    return { marketplace: mp, outcome: 'transient', reason: e.code };
  } finally {
    release(environment, mp);
  }
}

async function rotateClaimed(run: RunState, info: StoredTokenInfo, marketplace: Marketplace): Promise<TokenResult> {
  const { deps, runId } = run;
  const { settings, store, logger } = deps;
  const environment = settings.SERVICE_ENVIRONMENT;
  const mp = info.marketplace;
  const retries = { attempts: run.attempts, timeLeft: run.timeLeft, ...(deps.sleep ? { sleep: deps.sleep } : {}) };
  const onRetry = (step: string) => (attempt: number, waitMs: number) => logEvent(logger, 'warn', events.rotationRetry, { runId, step, attempt, waitMs: Math.round(waitMs) });

  // 1. Read the latest version; if another run rotated it since we listed, leave it.
  const current = await withRetries(() => store.getToken(mp, environment), { ...retries, onRetry: onRetry('read') });
  if (!current) return { marketplace: mp, outcome: 'skipped', reason: 'missing' };
  if (current.version !== info.version) return { marketplace: mp, outcome: 'skipped', reason: 'rotated-by-another-run' };

  const creds = await credentialsFor(run, marketplace);
  if ('outcome' in creds) return creds;
  const { app, appKey } = creds;

  // 2. Redeem.
  let grant: TokenGrant;
  try {
    grant = await withRetries(() => deps.redeem(app, current.value), { ...retries, onRetry: onRetry('redeem') });
  } catch (err) {
    return redeemFailed(run, current, marketplace, appKey, failureOf(err));
  }

  // 3. Write the new version and 4. read it back.
  const at = new Date(run.now());
  const tags: TokenTags = { ...current.tags, rotatedAt: at.toISOString(), status: 'active' };
  delete tags.lastError;
  delete tags.lastErrorAt;
  // The `connect` tag speaks for its own version: the new one has not been pushed yet.
  delete tags.connect;
  const pendingTag = deps.connectPendingTag?.(marketplace);
  if (pendingTag) tags.connect = pendingTag;
  let stored: StoredToken;
  try {
    const input = { marketplace: mp, environment, value: grant.refreshToken, tags, expiresOn: expiryAfterUse(at.getTime()) };
    // A write that failed or timed out may still have landed: putNewTokenVersion looks before
    // writing again, so one run never adds two versions for one token.
    const written = await putNewTokenVersion(store, input, {
      ...retries,
      previousVersion: current.version,
      beforeWrite: () => run.limiter.acquire(),
      onRetry: onRetry('write'),
    });
    // Read back and compare before counting it as done (docs/SECURITY.md 15).
    const back = await withRetries(() => store.getToken(mp, environment), { ...retries, onRetry: onRetry('read-back') });
    if (!back || back.value !== grant.refreshToken) {
      throw new AppError('secret_store_failed', 'Read-back of the new version did not return it', { marketplace: mp });
    }
    stored = { ...written, value: grant.refreshToken };
  } catch (err) {
    const e = ensureAppError(err);
    logEvent(logger, 'error', events.rotationTokenFailed, { runId, marketplace: mp, class: 'store', ...e.diagnosis(), code: e.code });
    return { marketplace: mp, outcome: 'store-failed', reason: e.code };
  }
  const result: TokenResult = { marketplace: mp, outcome: 'rotated' };
  if (deps.afterRotate) {
    const state = await deps.afterRotate(marketplace, stored, { runId, timeLeft: run.timeLeft, concurrency: run.concurrency }).catch((err: unknown) => {
      logEvent(logger, 'error', events.connectSyncFailed, { runId, marketplace: mp, code: ensureAppError(err).code });
      return 'failed' as const;
    });
    if (state) result.connect = state;
  }
  return result;
}

const isMisconfigured = (err: unknown): err is AppError => err instanceof AppError && err.code === 'marketplace_misconfigured';

/**
 * The application and credential to redeem with, or the result for a token whose application
 * cannot be used in this run (a missing secret or setting: one operator alert per run).
 */
async function credentialsFor(run: RunState, marketplace: Marketplace): Promise<{ app: AppCredentials; appKey: string } | TokenResult> {
  const { settings, logger } = run.deps;
  const mp = marketplace.id;
  const missing = (name: string): TokenResult => {
    if (!run.blockedApps.has(`missing:${name}`)) {
      run.blockedApps.add(`missing:${name}`);
      logEvent(logger, 'error', events.invalidClient, { runId: run.runId, marketplace: mp, model: marketplace.model, reason: 'secret-missing', secretName: name });
    }
    return { marketplace: mp, outcome: 'invalid-client', reason: 'secret-missing' };
  };
  let identity;
  try {
    identity = appIdentityOf(settings, marketplace);
  } catch (err) {
    if (isMisconfigured(err)) return missing(err.field ?? 'CPV_CLIENT_ID');
    throw err;
  }
  if (run.blockedApps.has(`missing:${identity.secretName}`)) return { marketplace: mp, outcome: 'invalid-client', reason: 'secret-missing' };
  if (run.blockedApps.has(identity.clientId)) return { marketplace: mp, outcome: 'invalid-client', reason: 'app-blocked-in-run' };
  try {
    return { app: await appCredentialsFor(settings, marketplace, run.readSecret), appKey: identity.clientId };
  } catch (err) {
    if (isMisconfigured(err)) return missing(identity.secretName);
    throw err;
  }
}

async function redeemFailed(run: RunState, current: StoredToken, marketplace: Marketplace, appKey: string, failure: TokenFailure): Promise<TokenResult> {
  const { deps, runId } = run;
  const { logger, store } = deps;
  const mp = current.marketplace;
  const fields = { runId, marketplace: mp, model: marketplace.model, tenant: marketplace.tenantId, class: failure.class, reason: failure.reason, error: failure.error, aadsts: failure.aadsts, status: failure.status };
  const diagnosis = { reason: failure.reason, ...(failure.aadsts ? { aadsts: failure.aadsts } : {}) };
  if (failure.class === 'needs-reauth') {
    // Mark it so the status page, the alert and the next runs know a person must act; the
    // token value is untouched (it is dead at Microsoft anyway, and nothing deletes versions).
    const tags: TokenTags = { ...current.tags, status: 'needs-reauth', lastError: `needs-reauth:${failure.reason}`, lastErrorAt: new Date(run.now()).toISOString() };
    await withRetries(
      async () => {
        await run.limiter.acquire();
        await store.updateTokenTags(current, tags);
      },
      { attempts: run.attempts, timeLeft: run.timeLeft, ...(deps.sleep ? { sleep: deps.sleep } : {}) },
    ).catch((markErr: unknown) => {
      logEvent(logger, 'error', events.rotationTokenFailed, { runId, marketplace: mp, class: 'store', step: 'mark', code: ensureAppError(markErr).code });
    });
    logEvent(logger, 'error', events.tokenNeedsReauth, fields);
    return { marketplace: mp, outcome: 'needs-reauth', ...diagnosis };
  }
  if (failure.class === 'invalid-client') {
    // An operator problem (the app's credential): alert once per app, mark no token dead.
    if (!run.blockedApps.has(appKey)) {
      run.blockedApps.add(appKey);
      logEvent(logger, 'error', events.invalidClient, { ...fields, clientId: appKey });
    }
    return { marketplace: mp, outcome: 'invalid-client', ...diagnosis };
  }
  logEvent(logger, 'warn', events.rotationTokenFailed, fields);
  return { marketplace: mp, outcome: 'transient', ...diagnosis };
}
