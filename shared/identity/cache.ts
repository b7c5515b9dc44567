/** Reads the refresh token out of msal-node's token cache: msal-node never returns it directly. */
import { AppError } from '../errors';

interface CachedRefreshToken {
  home_account_id?: string;
  client_id?: string;
  secret?: string;
}

/**
 * Takes the refresh token that this request produced out of this client's cache: the entry of
 * the result's account and of our client id, and exactly one. A refresh answer without an id
 * token leaves msal-node without an account; the cache is this request's own (a fresh client per
 * request), so our client id's only entry is then this request's token.
 */
export function refreshTokenFromCache(serializedCache: string, homeAccountId: string | undefined, clientId: string): string {
  const cache = JSON.parse(serializedCache) as { RefreshToken?: Record<string, CachedRefreshToken> };
  const matches = Object.values(cache.RefreshToken ?? {}).filter(
    (entry) =>
      (homeAccountId === undefined || entry.home_account_id === homeAccountId) &&
      entry.client_id === clientId &&
      typeof entry.secret === 'string' &&
      entry.secret.length > 0,
  );
  if (matches.length !== 1 || !matches[0]?.secret) {
    throw new AppError(
      'refresh_token_missing',
      `Entra returned no refresh token for this account (${matches.length} matching cache entries); was offline_access granted?`,
    );
  }
  return matches[0].secret;
}
