/**
 * Which version of a marketplace's token counts. Rotation writes a new version beside the
 * current one and promotes it only once Partner Center accepts it, so the latest version is not
 * always the one in use: a version with a `fallback` and no `verifiedAt` is staged — pending, or
 * refused by Partner Center — and the version it names as its fallback is still current.
 */
import type { Environment } from '../settings';
import type { SecretStore, StoredToken, TokenTags } from './store';

export interface TokenState {
  /** The version in use: what Connect holds, rotation redeems and a new sign-in replaces. */
  current: StoredToken;
  /** A newer version Partner Center has not accepted; never shown, pushed or counted (docs/SECURITY.md 24). */
  staged?: StoredToken;
}

/** A version written beside a current one and not (yet) proven at Partner Center. */
export function isStaged(tags: TokenTags): boolean {
  return tags.fallback !== undefined && tags.verifiedAt === undefined;
}

export async function readCurrentToken(store: SecretStore, marketplace: string, environment: Environment): Promise<TokenState | undefined> {
  const latest = await store.getToken(marketplace, environment);
  if (!latest) return undefined;
  if (!isStaged(latest.tags) || !latest.tags.fallback) return { current: latest };
  const current = await store.getToken(marketplace, environment, latest.tags.fallback);
  // A staged version always names the current one; if that is gone, the staged one is all there is.
  return current ? { current, staged: latest } : { current: latest };
}
