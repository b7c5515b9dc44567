/**
 * The interactive flow (design.md "Generate"): begin at POST /api/start, complete at
 * GET /api/callback. Pure of Functions types; the handlers map outcomes to responses.
 */
import type { ConnectPush, SyncOutcome } from './connect';
import { adminConsentUrl, authorizeUrl, issuerOf } from './entra';
import { AppError } from './errors';
import { redeemCodeLazy } from './identityLazy';
import { events } from './events';
import { logEvent, type Logger } from './log';
import { findMarketplace, type Marketplace, type MarketplaceConfig } from './marketplaces';
import { parseMarketplaceId } from './marketplaceId';
import type { Settings } from './settings';
import { putNewTokenVersion } from './secrets/newVersion';
import type { SecretStore, StoredToken } from './secrets/store';
import {
  newTransaction,
  openTransaction,
  pkceChallenge,
  readTransactionCookie,
  sealTransaction,
  stateMatches,
  transactionCookieName,
  transactionKey,
  transactionMaxAgeSeconds,
  type Transaction,
} from './transaction';
import type { CookieSpec } from './web';

/** Microsoft's inactivity limit for refresh tokens: a token unused this long is dead. */
export const refreshTokenLifetimeDays = 90;
const dayMs = 24 * 3600 * 1000;

export function connectParameterName(settings: Settings): string {
  return `refresh_token_${settings.SERVICE_ENVIRONMENT}`;
}

/** The `__Host-` cookie (security.md 2): Secure, HttpOnly, SameSite=Lax, Path=/, no Domain, short-lived. */
export function transactionCookie(value: string): CookieSpec {
  return { name: transactionCookieName, value, path: '/', secure: true, httpOnly: true, sameSite: 'Lax', maxAge: transactionMaxAgeSeconds };
}
export function clearedTransactionCookie(): CookieSpec {
  return { name: transactionCookieName, value: '', path: '/', secure: true, httpOnly: true, sameSite: 'Lax', maxAge: 0 };
}

export type BeginResult =
  | { kind: 'invalid-id'; reason: string; value: string }
  | { kind: 'redirect'; location: string; cookie: CookieSpec; marketplace: Marketplace };

function cpvClientId(settings: Settings, marketplace: string): string {
  if (!settings.CPV_CLIENT_ID) {
    throw new AppError('marketplace_misconfigured', `Marketplace ${marketplace} is CPV but CPV_CLIENT_ID is not set`, { details: { marketplace, field: 'CPV_CLIENT_ID' } });
  }
  return settings.CPV_CLIENT_ID;
}

/** POST /api/start: validates the ID, looks it up, seals a transaction and points at Entra. */
export async function beginSignIn(settings: Settings, config: MarketplaceConfig, input: unknown, now = Date.now()): Promise<BeginResult> {
  const id = parseMarketplaceId(input);
  if (!id.ok) return { kind: 'invalid-id', reason: id.reason, value: typeof input === 'string' ? input.slice(0, 64) : '' };
  const marketplace = findMarketplace(config, id.id, settings.SERVICE_ENVIRONMENT, settings.CALLBACK_URL);
  const clientId = marketplace.model === 'CPV' ? cpvClientId(settings, marketplace.id) : marketplace.clientId;
  const tx = newTransaction(marketplace.id, settings.SERVICE_ENVIRONMENT, now);
  const sealed = await sealTransaction(tx, transactionKey(settings.TRANSACTION_COOKIE_KEY));
  const location = authorizeUrl({
    authorityHost: settings.AUTHORITY_HOST,
    tenantId: marketplace.tenantId,
    clientId,
    redirectUri: settings.CALLBACK_URL,
    state: tx.state,
    nonce: tx.nonce,
    codeChallenge: pkceChallenge(tx.verifier),
  });
  return { kind: 'redirect', location, cookie: transactionCookie(sealed), marketplace };
}

export type CompleteResult =
  | {
      kind: 'token';
      marketplace: Marketplace;
      token: StoredToken;
      parameterName: string;
      /** The Connect push of this token; absent when the push is off or the marketplace has no Connect products. */
      connect?: SyncOutcome;
    }
  | { kind: 'consent-needed'; marketplace: Marketplace; adminConsentUrl: string }
  | { kind: 'consent-granted' };

export interface CallbackDeps {
  settings: Settings;
  config: MarketplaceConfig;
  openStore: () => Promise<SecretStore>;
  logger: Logger;
  correlationId: string;
  now?: number;
  /** The Connect push (connect.ts) for this invocation's store; undefined when it is off. */
  connect?: (store: SecretStore) => ConnectPush | undefined;
}

/**
 * States seen by this instance in the last ten minutes. The cookie is cleared on first use, so a
 * second callback in the same browser already fails; this also refuses a replay that carries a
 * copied cookie to the same instance. Entra refuses a reused code in any case.
 */
const usedStates = new Map<string, number>();
function markStateUsed(state: string, now: number): boolean {
  for (const [s, at] of usedStates) if (now - at > transactionMaxAgeSeconds * 1000) usedStates.delete(s);
  if (usedStates.has(state)) return false;
  if (usedStates.size < 10_000) usedStates.set(state, now);
  return true;
}

/** Codes Entra sends when the CPV app has not been consented in the partner tenant. */
function isConsentError(error: string, description: string | null): boolean {
  if (error === 'consent_required') return true;
  // Look for the AADSTS code only; the description itself is never shown or logged.
  return /\bAADSTS(65001|90094|90099)\b/.test(description ?? '');
}

const codePattern = /^[\x21-\x7e]{1,4096}$/;

/** How long the callback keeps retrying the Connect push before showing the page. */
const generatePushBudgetMs = 15_000;

async function openAndCheck(deps: CallbackDeps, query: URLSearchParams, cookieHeader: string | null, now: number): Promise<Transaction> {
  const cookie = readTransactionCookie(cookieHeader);
  if (cookie.duplicated) throw new AppError('transaction_invalid', 'More than one transaction cookie');
  const opened = await openTransaction(cookie.value, transactionKey(deps.settings.TRANSACTION_COOKIE_KEY), now);
  if (!opened.ok) throw new AppError(`transaction_${opened.reason}`, `Transaction cookie ${opened.reason}`);
  const tx = opened.transaction;
  if (tx.environment !== deps.settings.SERVICE_ENVIRONMENT) throw new AppError('transaction_invalid', 'Transaction of another environment');
  if (!stateMatches(tx, query.get('state'))) throw new AppError('state_mismatch', 'state does not match the transaction', { details: { marketplace: tx.marketplace } });
  if (!markStateUsed(tx.state, now)) throw new AppError('transaction_invalid', 'state already used', { details: { marketplace: tx.marketplace } });
  return tx;
}

async function clientCredentials(deps: CallbackDeps, store: SecretStore, marketplace: Marketplace): Promise<{ clientId: string; clientSecret: string }> {
  const clientId = marketplace.model === 'CPV' ? cpvClientId(deps.settings, marketplace.id) : marketplace.clientId;
  const secretName = marketplace.model === 'CPV' ? deps.settings.CPV_CLIENT_SECRET_NAME : marketplace.clientSecretName;
  const clientSecret = secretName ? await store.getSecret(secretName) : undefined;
  if (!clientSecret) {
    throw new AppError('marketplace_misconfigured', `Client secret ${secretName ?? '(unset)'} for marketplace ${marketplace.id} is not in the secret store`, {
      details: { marketplace: marketplace.id, field: marketplace.model === 'CPV' ? 'CPV_CLIENT_SECRET_NAME' : `partner_client_secret_${deps.settings.SERVICE_ENVIRONMENT}` },
    });
  }
  return { clientId, clientSecret };
}

/** GET /api/callback. */
export async function completeSignIn(deps: CallbackDeps, query: URLSearchParams, cookieHeader: string | null): Promise<CompleteResult> {
  const { settings } = deps;
  const now = deps.now ?? Date.now();

  // Return from the admin-consent endpoint: it grants nothing to this browser, it only says "try again".
  const adminConsent = query.get('admin_consent');
  if (adminConsent !== null) {
    if (adminConsent === 'True' && !query.has('error')) return { kind: 'consent-granted' };
    throw new AppError('authorization_denied', 'Admin consent was not granted');
  }

  const tx = await openAndCheck(deps, query, cookieHeader, now);
  const marketplace = findMarketplace(deps.config, tx.marketplace, settings.SERVICE_ENVIRONMENT, settings.CALLBACK_URL);

  const error = query.get('error');
  if (error !== null) {
    if (marketplace.model === 'CPV' && isConsentError(error, query.get('error_description'))) {
      logEvent(deps.logger, 'info', events.consentRequired, { marketplace: marketplace.id, tenant: marketplace.tenantId, correlationId: deps.correlationId });
      return {
        kind: 'consent-needed',
        marketplace,
        adminConsentUrl: adminConsentUrl({ authorityHost: settings.AUTHORITY_HOST, tenantId: marketplace.tenantId, clientId: cpvClientId(settings, marketplace.id), redirectUri: settings.CALLBACK_URL }),
      };
    }
    const known = /^[a-z_]{1,64}$/.test(error) ? error : 'other';
    throw new AppError('authorization_denied', `Entra returned error ${known}`, { details: { marketplace: marketplace.id, error: known } });
  }

  const code = query.get('code');
  if (code === null || !codePattern.test(code)) throw new AppError('transaction_invalid', 'Missing or malformed authorization code', { details: { marketplace: marketplace.id } });

  const store = await deps.openStore();
  const app = await clientCredentials(deps, store, marketplace);
  const grant = await redeemCodeLazy(
    { authorityHost: settings.AUTHORITY_HOST, tenantId: marketplace.tenantId, clientId: app.clientId, clientSecret: app.clientSecret },
    { code, codeVerifier: tx.verifier, redirectUri: settings.CALLBACK_URL, nonce: tx.nonce },
  );

  const idToken = grant.idToken ?? {};
  // MUST: the nonce binds the id token to this transaction (replayed id token).
  if (idToken.nonce !== tx.nonce) throw new AppError('transaction_invalid', 'id token nonce does not match', { details: { marketplace: marketplace.id } });
  // MUST (security.md 7): only an account of the configured partner tenant may set this marketplace's token.
  const tid = (idToken.tid ?? '').toLowerCase();
  if (tid !== marketplace.tenantId) throw new AppError('tenant_mismatch', 'id token tenant differs from the configured partner tenant', { details: { marketplace: marketplace.id } });
  // MUST: the issuer is the configured authority's, for that tenant (mix-up).
  if (idToken.iss !== issuerOf(settings.AUTHORITY_HOST, idToken.tid ?? '')) throw new AppError('transaction_invalid', 'id token issuer is not the configured authority', { details: { marketplace: marketplace.id } });

  const issuedAt = new Date(now);
  const push = deps.connect?.(store);
  // Written as pending for every Connect product, so if this invocation dies before the push,
  // the next rotation run pushes it.
  const pendingTag = push?.pendingTag(marketplace);
  let stored: StoredToken;
  try {
    stored = await putNewTokenVersion(store, {
      marketplace: marketplace.id,
      environment: settings.SERVICE_ENVIRONMENT,
      value: grant.refreshToken,
      tags: {
        marketplace: marketplace.id,
        environment: settings.SERVICE_ENVIRONMENT,
        model: marketplace.model,
        tenant: marketplace.tenantId,
        issuedAt: issuedAt.toISOString(),
        status: 'active',
        ...(pendingTag ? { connect: pendingTag } : {}),
      },
      expiresOn: new Date(now + refreshTokenLifetimeDays * dayMs),
    });
  } catch (cause) {
    throw cause instanceof AppError ? cause : new AppError('secret_store_failed', 'Could not store the token', { cause, details: { marketplace: marketplace.id } });
  }
  logEvent(deps.logger, 'info', events.tokenGenerated, {
    marketplace: marketplace.id,
    environment: settings.SERVICE_ENVIRONMENT,
    model: marketplace.model,
    tenant: marketplace.tenantId,
    version: stored.version,
    correlationId: deps.correlationId,
  });
  // The token is safely stored before Connect hears of it; whatever Connect answers, the page
  // still shows the token (and says where to paste it if Connect was not updated).
  // A person is waiting: retries stop after ~15 s and the rest is left to the next rotation run.
  const pushDeadline = Date.now() + generatePushBudgetMs;
  const connect = push ? await push.sync(marketplace, stored, { trigger: 'generate', correlationId: deps.correlationId, timeLeft: () => pushDeadline - Date.now() }) : undefined;
  return { kind: 'token', marketplace, token: stored, parameterName: connectParameterName(settings), ...(connect ? { connect } : {}) };
}
