import { ensureAppError } from '../errors';
import type { PutTokenInput, SecretStore, StoredToken } from './store';

/**
 * After a write that failed or timed out: did it land anyway? It did when the latest version
 * holds the value we tried to write (a freshly issued token is unique) and is not the version we
 * started from. Callers look before writing again, so one attempt never leaves two versions.
 */
export async function landedAlready(store: SecretStore, input: PutTokenInput, previousVersion: string | undefined): Promise<StoredToken | undefined> {
  const latest = await store.getToken(input.marketplace, input.environment).catch(() => undefined);
  return latest && latest.version !== previousVersion && latest.value === input.value ? latest : undefined;
}

/** Whether a secret-store failure is worth another try (429, 5xx, network, timeout). */
export function isTransientStoreError(err: unknown): boolean {
  return ensureAppError(err).details.transient === true;
}

export function storeRetryAfterMs(err: unknown): number | undefined {
  const e = ensureAppError(err);
  return typeof e.details.retryAfterMs === 'number' ? e.details.retryAfterMs : undefined;
}

/**
 * Writes a freshly issued token where a person is waiting (the callback): one retry after a
 * transient failure, looking first whether the failed write landed. Rotation has its own loop
 * with a time budget and write pacing, around the same look-first rule.
 */
export async function putNewTokenVersion(
  store: SecretStore,
  input: PutTokenInput,
  o: { retryDelayMs?: number; sleep?: (ms: number) => Promise<void> } = {},
): Promise<StoredToken> {
  try {
    return await store.putToken(input);
  } catch (err) {
    if (!isTransientStoreError(err)) throw err;
    await (o.sleep ?? ((ms) => new Promise<void>((r) => setTimeout(r, ms))))(Math.min(storeRetryAfterMs(err) ?? o.retryDelayMs ?? 500, 2_000));
    return (await landedAlready(store, input, undefined)) ?? (await store.putToken(input));
  }
}
