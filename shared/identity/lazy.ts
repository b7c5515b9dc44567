/**
 * msal-node is loaded on first use only: the start page and status never pay for it (cold start).
 */
import type { AppCredentials } from './credentials';
import type * as Msal from './msal';
import type { TokenGrant } from './msal';

let msal: typeof Msal | undefined;
function load(): typeof Msal {
  // A deferred require (not import()): this package compiles to CommonJS, where a real import()
  // would need a '.js' path that Jest cannot resolve.
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- deferred on purpose: msal-node costs cold start
  msal ??= require('./msal') as typeof Msal;
  return msal;
}

export async function redeemCodeLazy(app: AppCredentials, request: Parameters<typeof Msal.redeemCode>[1]): Promise<TokenGrant> {
  return load().redeemCode(app, request);
}

export async function redeemRefreshTokenLazy(app: AppCredentials, refreshToken: string): Promise<TokenGrant> {
  return load().redeemRefreshToken(app, refreshToken);
}
