/**
 * One token's rotation (docs/SECURITY.md 15, 24, 25), in this order:
 *
 *   read the current version → redeem it → write the new version as `pending` → disable every
 *   version but these two → prove the new one at Partner Center → promote it to `active` →
 *   read it back and compare → only then count it as rotated (and push it to Connect).
 *
 * Entra does not revoke a refresh token when it is redeemed, so until the new version is proven,
 * promoted and read back, the current one stays valid and current; a crash at any step leaves a
 * proven token readable. A new version Partner Center has not accepted is never shown, pushed
 * or counted.
 */
import type { ProductSyncState } from '../connect/tag';
import { AppError, ensureAppError } from '../errors';
import { events } from '../events';
import { AppCredentialError } from '../identity/credentialError';
import { appCredentialsFor, appIdentityOf, type AppCredentials } from '../identity/credentials';
import { expiryAfterUse } from '../identity/lifetime';
import type { TokenGrant } from '../identity/msal';
import { TokenRequestError, type TokenFailure } from '../identity/tokenFailure';
import { logEvent, type Logger } from '../log';
import type { MarketplaceConfig } from '../marketplaces/config';
import { queueNeedsPerson } from '../notify/needsPerson';
import { lookupMarketplace, redemptionFingerprint, type Marketplace } from '../marketplaces/marketplace';
import type { SlidingWindowLimiter } from '../pacing';
import { PartnerCenterError } from '../partnerCenter/partnerCenterError';
import type { PartnerProfile } from '../partnerCenter/verify';
import { withRetries, type Sleep } from '../retry';
import { readCurrentToken, type TokenState } from '../secrets/currentToken';
import { putNewTokenVersion } from '../secrets/newVersion';
import { retireVersions, versionsToRetire } from '../secrets/retire';
import type { ListedToken, SecretStore, StoredToken, TokenTags } from '../secrets/store';
import type { Settings } from '../settings';
import type { Lease } from '../storage/lease';
import type { SharedState } from '../storage/open';
import { tokenRecordsTable, updateTokenRecord, type TokenRecord } from '../storage/tokenRecords';
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
  /** The app's own storage account: each token's lease, and the per-token state rotation keeps. */
  shared: SharedState;
  logger: Logger;
  redeem: (app: AppCredentials, refreshToken: string) => Promise<TokenGrant>;
  /** Proves a new token with the access token of its redemption (Partner Center). */
  verify: (accessToken: string, marketplace: Marketplace) => Promise<PartnerProfile>;
  now?: () => number;
  sleep?: Sleep;
  writeLimiter?: SlidingWindowLimiter;
  /**
   * Called after a token is rotated and proven (Connect push). Its failures never undo the
   * rotation. May return the worst Connect product state, which the run's summary counts.
   */
  afterRotate?: (marketplace: Marketplace, token: StoredToken, run: RunContext) => Promise<ProductSyncState | undefined>;
  /** The `connect` tag a new version is promoted with (every product pending until pushed), so a crash before the push leaves it to the retry step. */
  connectPendingTag?: (marketplace: Marketplace) => string | undefined;
}

/** The state one run shares between its tokens. */
export interface RunState {
  deps: RotationDeps;
  runId: string;
  now: () => number;
  timeLeft: () => number;
  concurrency: number;
  /** Attempts per step within the run (transient failures). */
  attempts: number;
  /** Tokens used more recently than this are left alone unless forced. */
  minAgeMs: number;
  force: boolean;
  limiter: SlidingWindowLimiter;
  /** Applications (or missing secrets) found broken in this run: their other tokens are not tried. */
  blockedApps: Set<string>;
  /** Client secrets read once per run. */
  readSecret: (name: string) => Promise<string | undefined>;
  /** Every token's state (parked, refusals), read once for the run. */
  tokenRecords: Map<string, TokenRecord>;
}

/** When a token was last issued or rotated: its 90-day clock started then. */
export function lastActivity(t: Pick<ListedToken, 'tags' | 'createdOn'>): number {
  return Date.parse(t.tags.rotatedAt ?? t.tags.issuedAt) || t.createdOn.getTime();
}

function failureOf(err: unknown): TokenFailure {
  return err instanceof TokenRequestError ? err.failure : { class: 'transient', reason: 'unknown' };
}

/** Rotates one listed token; never throws, every failure is a result. */
export async function rotateToken(run: RunState, listed: ListedToken): Promise<TokenResult> {
  const { deps } = run;
  const environment = deps.settings.SERVICE_ENVIRONMENT;
  const mp = listed.marketplace;
  // Parked for a person, unless its entry in the configuration changed since (a fixed tenant, a
  // new application): then it is tried again, once, as any token (docs/SECURITY.md 34).
  if (listed.tags.status === 'needs-reauth' && !entryChangedSinceParked(run, mp))
    return { marketplace: mp, outcome: 'skipped', reason: 'needs-reauth' };
  // A pending latest version means the last attempt was not finished: due now, whatever its age.
  if (!run.force && listed.tags.status !== 'pending' && run.now() - lastActivity(listed) < run.minAgeMs)
    return { marketplace: mp, outcome: 'skipped', reason: 'recently-rotated' };
  // One writer per token across every instance and trigger (docs/SECURITY.md 33): another run, a
  // sign-in or the near-expiry trigger holding the lease has it; this run leaves it to them.
  let lease: Lease | undefined;
  try {
    lease = await deps.shared.locks.tryAcquire(environment, mp);
  } catch (err) {
    const e = ensureAppError(err);
    logEvent(deps.logger, 'warn', events.rotationTokenFailed, { runId: run.runId, marketplace: mp, class: 'storage', step: 'lease', code: e.code });
    return { marketplace: mp, outcome: 'transient', reason: 'lease-unavailable' };
  }
  if (!lease) return { marketplace: mp, outcome: 'skipped', reason: 'in-progress' };
  try {
    const found = lookupMarketplace(deps.config, mp, environment);
    if (found.kind !== 'found') {
      // MUST (docs/SECURITY.md 31): a token no entry can rotate dies unseen in 90 days. It needs
      // the operator (a removed or mistyped entry, a look-alike ID): counted as failed, alerted.
      logEvent(deps.logger, 'error', events.tokenNotConfigured, {
        runId: run.runId,
        marketplace: mp,
        environment,
        reason: found.kind === 'invalid' ? 'entry-invalid' : 'not-in-file',
        field: found.kind === 'invalid' ? found.field : undefined,
      });
      return { marketplace: mp, outcome: 'needs-attention', reason: 'not-configured' };
    }
    return await rotateClaimed(run, listed, found.marketplace, lease);
  } catch (err) {
    // Reads that kept failing, or the lease lost before a write: nothing was written that
    // changes which version is current, so nothing changed.
    const e = ensureAppError(err);
    logEvent(deps.logger, 'warn', events.rotationTokenFailed, {
      runId: run.runId,
      marketplace: mp,
      class: e.code === 'lease_lost' ? 'lease' : 'store',
      code: e.code,
    });
    return { marketplace: mp, outcome: 'transient', reason: e.code };
  } finally {
    await lease.release();
  }
}

async function rotateClaimed(run: RunState, listed: ListedToken, marketplace: Marketplace, lease: Lease): Promise<TokenResult> {
  const { deps, runId } = run;
  const { settings, store, logger } = deps;
  const environment = settings.SERVICE_ENVIRONMENT;
  const mp = listed.marketplace;
  const retries = { attempts: run.attempts, timeLeft: run.timeLeft, ...(deps.sleep ? { sleep: deps.sleep } : {}) };
  const onRetry = (step: string) => (attempt: number, waitMs: number) =>
    logEvent(logger, 'warn', events.rotationRetry, { runId, step, attempt, waitMs: Math.round(waitMs) });

  // 1. Read the current version; if another run wrote a version since we listed, leave it.
  const state = await withRetries(() => readCurrentToken(store, mp, environment), { ...retries, onRetry: onRetry('read') });
  if (!state) return { marketplace: mp, outcome: 'skipped', reason: 'missing' };
  const latest = state.staged ?? state.current;
  // The listing names no version: its creation time (whole seconds) and last-activity tag stand for it.
  if (latest.createdOn.getTime() !== listed.createdOn.getTime() || lastActivity(latest) !== lastActivity(listed)) {
    return { marketplace: mp, outcome: 'skipped', reason: 'rotated-by-another-run' };
  }
  const current = state.current;

  const creds = await credentialsFor(run, marketplace);
  if ('outcome' in creds) return creds;

  // 2. Redeem the current version.
  let grant: TokenGrant;
  try {
    grant = await withRetries(() => deps.redeem(creds.app, current.value), { ...retries, onRetry: onRetry('redeem') });
  } catch (err) {
    return redeemFailed(run, state, marketplace, creds.appKey, failureOf(err));
  }

  // 3. Write the new version, pending until Partner Center accepts it. It keeps the current
  // version as its fallback; a write that failed or timed out may still have landed, so
  // putNewTokenVersion looks before writing again (one run never adds two versions).
  const at = new Date(run.now());
  const pendingTags: TokenTags = { ...current.tags, rotatedAt: at.toISOString(), status: 'pending', fallback: current.version };
  for (const key of ['lastError', 'lastErrorAt', 'verifiedAt', 'retire', 'connect'] as const) delete pendingTags[key];
  let pending: StoredToken;
  try {
    // Every write that changes the token is made under the lease, checked just before it.
    lease.assertHeld();
    pending = await putNewTokenVersion(
      store,
      { marketplace: mp, environment, value: grant.refreshToken, tags: pendingTags, expiresOn: expiryAfterUse(at.getTime()) },
      // Creating a version is what Key Vault's 300 per 10 s counts: paced (docs/SECURITY.md 21).
      { ...retries, beforeWrite: () => run.limiter.acquire(), previousVersion: latest.version, onRetry: onRetry('write') },
    );
  } catch (err) {
    return storeFailed(run, mp, 'write', err);
  }

  // 4. Only the current version and the new one stay enabled.
  const notDisabled = await retireVersions(store, pending, versionsToRetire(current, state.staged), { ...retries, onRetry: onRetry('disable') });
  if (notDisabled.length > 0)
    logEvent(logger, 'warn', events.rotationTokenFailed, { runId, marketplace: mp, class: 'store', step: 'disable', versions: notDisabled.length });

  // 5. Prove it at Partner Center with the access token of the same redemption.
  let profile: PartnerProfile;
  try {
    profile = await withRetries(() => deps.verify(grant.accessToken, marketplace), { ...retries, onRetry: onRetry('verify') });
  } catch (err) {
    return verifyFailed(run, pending, marketplace, err, notDisabled);
  }

  // 6. Promote it, and 7. read it back before counting it as done.
  const promotedTags: TokenTags = { ...pending.tags, status: 'active', verifiedAt: new Date(run.now()).toISOString(), partner: profile.companyName };
  if (notDisabled.length > 0) promotedTags.retire = notDisabled.join(' ');
  const pendingConnect = deps.connectPendingTag?.(marketplace);
  if (pendingConnect) promotedTags.connect = pendingConnect;
  try {
    lease.assertHeld();
    await withRetries(() => store.updateTokenTags(pending, promotedTags), { ...retries, onRetry: onRetry('promote') });
    const back = await withRetries(() => store.getToken(mp, environment), { ...retries, onRetry: onRetry('read-back') });
    if (!back || back.version !== pending.version || back.value !== grant.refreshToken || back.tags.status !== 'active') {
      throw new AppError('secret_store_failed', 'Read-back of the promoted version did not return it', { marketplace: mp });
    }
  } catch (err) {
    return storeFailed(run, mp, 'promote', err);
  }
  const promoted: StoredToken = { ...pending, value: grant.refreshToken, tags: promotedTags };
  logEvent(logger, 'info', events.tokenVerified, {
    runId,
    marketplace: mp,
    trigger: 'rotate',
    partner: profile.companyName,
    msCorrelationId: profile.trace.correlationId,
  });

  await clearTokenRecord(run, mp);
  const result: TokenResult = { marketplace: mp, outcome: 'rotated' };
  // The push that makes this version current in Connect, still under the lease: never an older
  // token after a newer one.
  if (deps.afterRotate && lease.held) {
    const state = await deps
      .afterRotate(marketplace, promoted, { runId, timeLeft: run.timeLeft, concurrency: run.concurrency })
      .catch((err: unknown) => {
        logEvent(logger, 'error', events.connectSyncFailed, { runId, marketplace: mp, code: ensureAppError(err).code });
        return 'failed' as const;
      });
    if (state) result.connect = state;
  }
  return result;
}

/**
 * Changes a token's state in the shared table. A failure to record is logged and loses nothing
 * but the record: the token itself and its tags are already right.
 */
async function changeTokenRecord(run: RunState, marketplace: string, change: (state: TokenRecord) => TokenRecord): Promise<void> {
  const { deps } = run;
  try {
    const next = await updateTokenRecord(deps.shared.table(tokenRecordsTable), deps.settings.SERVICE_ENVIRONMENT, marketplace, change);
    run.tokenRecords.set(marketplace, next);
  } catch (err) {
    logEvent(deps.logger, 'warn', events.rotationTokenFailed, {
      runId: run.runId,
      marketplace,
      class: 'storage',
      step: 'token-state',
      code: ensureAppError(err).code,
    });
  }
}

/** After a proven rotation, nothing is parked or half-refused any more; written only when something was. */
async function clearTokenRecord(run: RunState, marketplace: string): Promise<void> {
  const state = run.tokenRecords.get(marketplace);
  if (state?.parked || state?.refusals) await changeTokenRecord(run, marketplace, (s) => ({ marketplace: s.marketplace }));
}

function storeFailed(run: RunState, marketplace: string, step: string, err: unknown): TokenResult {
  const e = ensureAppError(err);
  logEvent(run.deps.logger, 'error', events.rotationTokenFailed, {
    runId: run.runId,
    marketplace,
    class: 'store',
    step,
    ...e.diagnosis(),
    code: e.code,
  });
  return { marketplace, outcome: 'store-failed', reason: e.code };
}

const isMisconfigured = (err: unknown): err is AppError => err instanceof AppError && err.code === 'marketplace_misconfigured';

/**
 * The application and credential to redeem with, or the result for a token whose application
 * cannot be used in this run (a missing secret or setting: one operator alert per run).
 */
async function credentialsFor(run: RunState, marketplace: Marketplace): Promise<{ app: AppCredentials; appKey: string } | TokenResult> {
  const { settings, logger } = run.deps;
  const mp = marketplace.id;
  const missing = (name: string, reason = 'secret-missing'): TokenResult => {
    if (!run.blockedApps.has(`missing:${name}`)) {
      run.blockedApps.add(`missing:${name}`);
      logEvent(logger, 'error', events.invalidClient, {
        runId: run.runId,
        marketplace: mp,
        model: marketplace.model,
        reason,
        secretName: name,
      });
    }
    return { marketplace: mp, outcome: 'invalid-client', reason };
  };
  let identity;
  try {
    identity = appIdentityOf(settings, marketplace);
  } catch (err) {
    if (isMisconfigured(err)) return missing(err.field ?? 'CPV_CLIENT_ID');
    throw err;
  }
  const credentialName = identity.secretName ?? identity.field;
  if (run.blockedApps.has(`missing:${credentialName}`)) return { marketplace: mp, outcome: 'invalid-client', reason: 'secret-missing' };
  if (run.blockedApps.has(identity.clientId)) return { marketplace: mp, outcome: 'invalid-client', reason: 'app-blocked-in-run' };
  try {
    return { app: await appCredentialsFor(settings, marketplace, run.readSecret), appKey: identity.clientId };
  } catch (err) {
    if (isMisconfigured(err)) return missing(credentialName, err instanceof AppCredentialError ? err.problem : undefined);
    throw err;
  }
}

/**
 * Marks the token as needing a person, so the status page, the alert and the next runs know;
 * the value is untouched. The latest version carries the mark, as it is what the listing shows.
 */
/**
 * Whether the entry a parked token was parked under has changed since. A token parked without a
 * record of its entry (by a version of the service that kept none, or when the record could not
 * be written) is tried once more, and parked again with the record if still refused: one token
 * call for each, rather than a token parked for good by an entry since fixed.
 */
function entryChangedSinceParked(run: RunState, marketplace: string): boolean {
  const parkedUnder = run.tokenRecords.get(marketplace)?.parked?.entry;
  if (!parkedUnder) return true;
  const found = lookupMarketplace(run.deps.config, marketplace, run.deps.settings.SERVICE_ENVIRONMENT);
  return found.kind === 'found' && redemptionFingerprint(found.marketplace) !== parkedUnder;
}

async function markNeedsReauth(run: RunState, token: StoredToken, reason: string, marketplace: Marketplace): Promise<void> {
  const since = new Date(run.now()).toISOString();
  const entry = redemptionFingerprint(marketplace);
  await changeTokenRecord(run, token.marketplace, (s) => ({ marketplace: s.marketplace, parked: { reason, since, entry } }));
  // The marketplace's contacts are told, once, with the cause in plain words (shared/notify).
  await queueNeedsPerson(run, token.marketplace, reason);
  const tags: TokenTags = {
    ...token.tags,
    status: 'needs-reauth',
    lastError: `needs-reauth:${reason}`,
    lastErrorAt: new Date(run.now()).toISOString(),
  };
  await withRetries(() => run.deps.store.updateTokenTags(token, tags), {
    attempts: run.attempts,
    timeLeft: run.timeLeft,
    ...(run.deps.sleep ? { sleep: run.deps.sleep } : {}),
  }).catch((markErr: unknown) => {
    logEvent(run.deps.logger, 'error', events.rotationTokenFailed, {
      runId: run.runId,
      marketplace: token.marketplace,
      class: 'store',
      step: 'mark',
      code: ensureAppError(markErr).code,
    });
  });
}

/** What a person reads in the alert for a failure signing in again does not cure. */
const todoOf: Partial<Record<string, string>> = {
  'conditional-access':
    "Blocked by a Conditional Access policy of the partner tenant (AADSTS53003): signing in again does not help; the partner's administrator must change the policy or exclude this account or application from it.",
};

async function redeemFailed(run: RunState, state: TokenState, marketplace: Marketplace, appKey: string, failure: TokenFailure): Promise<TokenResult> {
  const { deps, runId } = run;
  const { logger } = deps;
  const mp = marketplace.id;
  // A configured tenant that is not the one the token was issued in (the `tenant` tag, checked
  // against the id token when it was generated) is the operator's file, not the token: a typo, or
  // an entry changed since. Entra's answer then depends on what that other tenant is (AADSTS90002
  // unknown, 7000012 another tenant's grant, 700016 the app is not there, or a consent error);
  // whichever comes back, no person can fix it by signing in again, so no token is parked.
  const tenantChanged = (state.current.tags.tenant ?? '').toLowerCase() !== marketplace.tenantId;
  // AADSTS700016 for the CPV app in its own tenant: it is gone from this one partner tenant
  // (removed, consent withdrawn). That tenant's administrator must approve it again; the other
  // CPV marketplaces and the app itself are fine.
  const appGoneFromTenant = failure.reason === 'app-not-in-tenant' && marketplace.model === 'CPV';
  const misconfigured = failure.class === 'configuration' || (tenantChanged && failure.class !== 'transient');
  const effective: TokenFailure = misconfigured
    ? { ...failure, class: 'configuration' }
    : appGoneFromTenant
      ? { ...failure, class: 'needs-reauth', reason: 'consent' }
      : failure;
  const fields = {
    runId,
    marketplace: mp,
    model: marketplace.model,
    tenant: marketplace.tenantId,
    class: effective.class,
    reason: effective.reason,
    error: effective.error,
    aadsts: effective.aadsts,
    status: effective.status,
    entraTraceId: effective.traceId,
    entraCorrelationId: effective.correlationId,
  };
  const diagnosis = { reason: effective.reason, ...(effective.aadsts ? { aadsts: effective.aadsts } : {}) };
  if (effective.class === 'configuration') {
    logEvent(logger, 'error', events.configurationInvalid, {
      ...fields,
      field: `partner_tenant_id_${marketplace.environment}`,
      tokenTenant: state.current.tags.tenant,
      todo: 'Check partner_tenant_id in the marketplace configuration file against the partner tenant the token was generated in; no token was marked.',
    });
    return { marketplace: mp, outcome: 'misconfigured', ...diagnosis };
  }
  if (effective.class === 'needs-reauth') {
    await markNeedsReauth(run, state.staged ?? state.current, effective.reason, marketplace);
    logEvent(logger, 'error', events.tokenNeedsReauth, { ...fields, todo: todoOf[effective.reason] });
    return { marketplace: mp, outcome: 'needs-reauth', ...diagnosis };
  }
  if (effective.class === 'invalid-client') {
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

/** How long after a first ambiguous refusal another one confirms it. */
const refusalConfirmedAfterMs = 3_600_000;

/**
 * Partner Center did not accept the new version. Transient: it stays pending and the current one
 * stays current; the next run rotates again. A refusal a person must answer (no MFA claim, no
 * Partner Center role): the token needs a person, and the previous version stays the fallback.
 */
async function verifyFailed(
  run: RunState,
  pending: StoredToken,
  marketplace: Marketplace,
  err: unknown,
  notDisabled: string[],
): Promise<TokenResult> {
  const { logger } = run.deps;
  const e = err instanceof PartnerCenterError ? err : new PartnerCenterError('network', {}, { cause: err });
  const fields = {
    runId: run.runId,
    marketplace: marketplace.id,
    model: marketplace.model,
    tenant: marketplace.tenantId,
    step: 'verify',
    ...e.diagnosis(),
  };
  if (e.needsPerson && e.reason === 'unauthorized') {
    // A 401 without Partner Center's MFA code (900421) says only that this token was not
    // accepted this time; Partner Center documents no other cause a person must fix. One such
    // answer parks nothing: the new version stays pending, the current one current, and the next
    // run tries again. A refusal again at least an hour after the first (a later timer run, not
    // the queue's redelivery minutes later) confirms it and parks the token (docs/SECURITY.md 34).
    const earlier = run.tokenRecords.get(marketplace.id)?.refusals;
    const sameKind = earlier?.reason === 'partner-center-unauthorized';
    const confirmed = sameKind && run.now() - Date.parse(earlier.since) >= refusalConfirmedAfterMs;
    if (!confirmed) {
      const count = sameKind ? earlier.count + 1 : 1;
      const since = sameKind ? earlier.since : new Date(run.now()).toISOString();
      await changeTokenRecord(run, marketplace.id, (s) => ({ ...s, refusals: { count, reason: 'partner-center-unauthorized', since } }));
      logEvent(logger, 'warn', events.rotationTokenFailed, { ...fields, class: 'unconfirmed', refusals: count });
      return { marketplace: marketplace.id, outcome: 'transient', reason: 'partner-center-unauthorized-unconfirmed' };
    }
  }
  if (e.needsPerson) {
    const reason = `partner-center-${e.reason}`;
    await markNeedsReauth(
      run,
      notDisabled.length > 0 ? { ...pending, tags: { ...pending.tags, retire: notDisabled.join(' ') } } : pending,
      reason,
      marketplace,
    );
    logEvent(logger, 'error', events.tokenNeedsReauth, { ...fields, class: 'needs-reauth', reason });
    return { marketplace: marketplace.id, outcome: 'needs-reauth', reason };
  }
  logEvent(logger, 'warn', events.rotationTokenFailed, { ...fields, class: 'transient' });
  return { marketplace: marketplace.id, outcome: 'transient', reason: `partner-center-${e.reason}` };
}
