/**
 * msal-node is loaded on first use only: the start page and status never pay for it (cold start).
 */
import type * as Identity from './identity';
import type { AppCredentials, TokenGrant } from './identity';

let identity: typeof Identity | undefined;
function load(): typeof Identity {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- deferred on purpose
  identity ??= require('./identity') as typeof Identity;
  return identity;
}

export async function redeemCodeLazy(app: AppCredentials, request: { code: string; codeVerifier: string; redirectUri: string; nonce: string }): Promise<TokenGrant> {
  return load().redeemCode(app, request);
}

export async function redeemRefreshTokenLazy(app: AppCredentials, refreshToken: string): Promise<TokenGrant> {
  return load().redeemRefreshToken(app, refreshToken);
}
