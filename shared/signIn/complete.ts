/**
 * GET /api/callback: checks the transaction, redeems the code, checks the id token, stores the
 * refresh token and pushes it to Connect. Pure of Functions types; the handler maps outcomes to
 * responses.
 */
import { connectParameterOf } from '../connect/parameter';
import type { ConnectPush, SyncOutcome } from '../connect/push';
import { AppError } from '../errors';
import { events } from '../events';
import { issuerOf } from '../identity/authority';
import { appCredentialsFor, appIdentityOf } from '../identity/credentials';
import { redeemCodeLazy } from '../identity/lazy';
import { expiryAfterUse } from '../identity/lifetime';
import { logEvent, type Logger } from '../log';
import type { MarketplaceConfig } from '../marketplaces/config';
import { findMarketplace, type Marketplace } from '../marketplaces/marketplace';
import { putTokenForPerson } from '../secrets/newVersion';
import type { SecretStore, StoredToken } from '../secrets/store';
import type { Settings } from '../settings';
import { readTransactionCookie } from './cookie';
import { adminConsentUrl } from './entraUrls';
import { markStateUsed } from './replayGuard';
import { openTransaction, stateMatches, transactionKey, type Transaction } from './transaction';

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
  /** The Connect push for this invocation's store; undefined when it is off. */
  connect?: (store: SecretStore) => ConnectPush | undefined;
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
  if (!stateMatches(tx, query.get('state'))) throw new AppError('state_mismatch', 'state does not match the transaction', { marketplace: tx.marketplace });
  if (!markStateUsed(tx.state, now)) throw new AppError('transaction_invalid', 'state already used', { marketplace: tx.marketplace });
  return tx;
}

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
        adminConsentUrl: adminConsentUrl({ authorityHost: settings.AUTHORITY_HOST, tenantId: marketplace.tenantId, clientId: appIdentityOf(settings, marketplace).clientId, redirectUri: settings.CALLBACK_URL }),
      };
    }
    const known = /^[a-z_]{1,64}$/.test(error) ? error : 'other';
    throw new AppError('authorization_denied', `Entra returned error ${known}`, { marketplace: marketplace.id });
  }

  const code = query.get('code');
  if (code === null || !codePattern.test(code)) throw new AppError('transaction_invalid', 'Missing or malformed authorization code', { marketplace: marketplace.id });

  const store = await deps.openStore();
  const app = await appCredentialsFor(settings, marketplace, (name) => store.getSecret(name));
  const grant = await redeemCodeLazy(app, { code, codeVerifier: tx.verifier, redirectUri: settings.CALLBACK_URL, nonce: tx.nonce });

  const idToken = grant.idToken ?? {};
  // MUST: the nonce binds the id token to this transaction (replayed id token).
  if (idToken.nonce !== tx.nonce) throw new AppError('transaction_invalid', 'id token nonce does not match', { marketplace: marketplace.id });
  // MUST (docs/SECURITY.md 7): only an account of the configured partner tenant may set this marketplace's token.
  const tid = (idToken.tid ?? '').toLowerCase();
  if (tid !== marketplace.tenantId) throw new AppError('tenant_mismatch', 'id token tenant differs from the configured partner tenant', { marketplace: marketplace.id });
  // MUST: the issuer is the configured authority's, for that tenant (mix-up).
  if (idToken.iss !== issuerOf(settings.AUTHORITY_HOST, idToken.tid ?? '')) throw new AppError('transaction_invalid', 'id token issuer is not the configured authority', { marketplace: marketplace.id });

  const issuedAt = new Date(now);
  const push = deps.connect?.(store);
  // Written as pending for every Connect product, so if this invocation dies before the push,
  // the next rotation run pushes it.
  const pendingTag = push?.pendingTag(marketplace);
  let stored: StoredToken;
  try {
    stored = await putTokenForPerson(store, {
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
      expiresOn: expiryAfterUse(now),
    });
  } catch (cause) {
    throw cause instanceof AppError ? cause : new AppError('secret_store_failed', 'Could not store the token', { cause, marketplace: marketplace.id });
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
  return { kind: 'token', marketplace, token: stored, parameterName: connectParameterOf(settings.SERVICE_ENVIRONMENT), ...(connect ? { connect } : {}) };
}
