/** POST /api/start: validates the marketplace ID, looks it up, seals a transaction and points at Entra. */
import { appIdentityOf } from '../identity/credentials';
import type { MarketplaceConfig } from '../marketplaces/config';
import { parseMarketplaceId } from '../marketplaces/id';
import { findMarketplace, type Marketplace } from '../marketplaces/marketplace';
import type { Settings } from '../settings';
import type { CookieSpec } from '../web/responses';
import { readSignInCookies, transactionCookie } from './cookie';
import { authorizeUrl, type SignInPrompt } from './entraUrls';
import { makeRoomFor } from './inFlight';
import { newTransaction, pkceChallenge, sealTransaction, stateKey, transactionKey } from './transaction';

export type BeginResult =
  | { kind: 'invalid-id'; reason: string; value: string }
  /** `cookies`: the new transaction's, and those that make room for it in this browser (inFlight.ts). */
  | { kind: 'redirect'; location: string; cookies: CookieSpec[]; marketplace: Marketplace };

/**
 * The start form's optional `prompt` field: absent, or `login` (the "Sign in again" button after
 * Partner Center refused a token for the missing MFA claim). Anything else is refused, so no other
 * value ever reaches Entra.
 */
export function parseSignInPrompt(input: string | null): { ok: true; prompt?: SignInPrompt } | { ok: false } {
  if (input === null || input === '') return { ok: true };
  return input === 'login' ? { ok: true, prompt: 'login' } : { ok: false };
}

export async function beginSignIn(
  settings: Settings,
  config: MarketplaceConfig,
  input: unknown,
  now = Date.now(),
  options: { prompt?: SignInPrompt; cookieHeader?: string | null } = {},
): Promise<BeginResult> {
  const id = parseMarketplaceId(input);
  if (!id.ok) return { kind: 'invalid-id', reason: id.reason, value: typeof input === 'string' ? input.slice(0, 64) : '' };
  const marketplace = findMarketplace(config, id.id, settings.SERVICE_ENVIRONMENT);
  const { clientId } = appIdentityOf(settings, marketplace);
  const tx = newTransaction(marketplace.id, settings.SERVICE_ENVIRONMENT, now);
  const sealingKey = transactionKey(settings.TRANSACTION_COOKIE_KEY);
  const sealed = await sealTransaction(tx, sealingKey);
  const key = stateKey(tx.state);
  const room = await makeRoomFor(readSignInCookies(options.cookieHeader), sealingKey, { adding: key, now });
  const location = authorizeUrl({
    authorityHost: settings.AUTHORITY_HOST,
    tenantId: marketplace.tenantId,
    clientId,
    redirectUri: settings.CALLBACK_URL,
    state: tx.state,
    nonce: tx.nonce,
    codeChallenge: pkceChallenge(tx.verifier),
    ...(options.prompt ? { prompt: options.prompt } : {}),
  });
  return { kind: 'redirect', location, cookies: [transactionCookie(key, sealed), ...room], marketplace };
}
