/**
 * At most two enabled versions per token (docs/SECURITY.md 25): the current, proven one and one
 * other — its fallback, or the new version that will replace it. Older versions are still live
 * credentials at Entra for up to 90 days, so as soon as a new version is written beside a proven
 * current one, every other version is disabled — never deleted.
 */
import { withRetries, type RetryOptions } from '../retry';
import { SecretStoreError } from './storeErrors';
import type { SecretStore, StoredToken } from './store';
import { versionList } from './tags';

/**
 * The versions that must not stay enabled once a new version replaces `current`: its own
 * fallback, the ones an earlier promotion failed to disable, and a staged version that was
 * never promoted.
 */
export function versionsToRetire(current: StoredToken | undefined, staged: StoredToken | undefined): string[] {
  const versions = versionList(current?.tags.fallback, current?.tags.retire, staged?.version, staged?.tags.retire);
  return versions.filter((v) => v !== current?.version);
}

/** Disables each version; returns the ones that could not be disabled (kept in the `retire` tag for the next promotion). */
export async function retireVersions(
  store: SecretStore,
  token: Pick<StoredToken, 'marketplace' | 'environment'>,
  versions: readonly string[],
  o: Omit<RetryOptions, 'isTransient'> & { beforeWrite?: () => Promise<void> },
): Promise<string[]> {
  const failed: string[] = [];
  for (const version of versions) {
    try {
      await withRetries(async () => {
        await o.beforeWrite?.();
        await store.disableTokenVersion({ marketplace: token.marketplace, environment: token.environment, version });
      }, o);
    } catch (err) {
      // A version that is not there has nothing left to disable.
      if (err instanceof SecretStoreError && err.failure.statusCode === 404) continue;
      failed.push(version);
    }
  }
  return failed;
}
