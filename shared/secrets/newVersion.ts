/**
 * Writing a new token version without ever writing it twice: a write that failed or timed out may
 * still have landed, so every retry looks first.
 */
import { isTransient, retryAfterOf } from '../errors';
import { withRetries, type RetryOptions, type Sleep } from '../retry';
import type { PutTokenInput, SecretStore, StoredToken } from './store';

/**
 * After a write that failed or timed out: did it land anyway? It did when the latest version
 * holds the value we tried to write (a freshly issued token is unique) and is not the version we
 * started from.
 */
export async function landedAlready(store: SecretStore, input: PutTokenInput, previousVersion: string | undefined): Promise<StoredToken | undefined> {
  const latest = await store.getToken(input.marketplace, input.environment).catch(() => undefined);
  return latest && latest.version !== previousVersion && latest.value === input.value ? latest : undefined;
}

export interface PutNewVersionOptions extends Omit<RetryOptions, 'isTransient'> {
  /** The version the token had before this write (undefined for a first token). */
  previousVersion?: string;
  /** Called before each write attempt (write pacing). */
  beforeWrite?: () => Promise<void>;
}

/** Writes a new version, retrying transient failures; after a failed attempt it looks before writing again. */
export async function putNewTokenVersion(store: SecretStore, input: PutTokenInput, o: PutNewVersionOptions): Promise<StoredToken> {
  return withRetries(
    async (attempt) => {
      if (attempt > 1) {
        const landed = await landedAlready(store, input, o.previousVersion);
        if (landed) return landed;
      }
      await o.beforeWrite?.();
      return store.putToken(input);
    },
    { retryAfterMs: retryAfterOf, ...o, isTransient },
  );
}

/**
 * Where a person is waiting (the callback): one retry after a transient failure, after a short
 * wait (at most 2 s, even if the vault asked for longer: a person will not wait a minute).
 */
export function putTokenForPerson(store: SecretStore, input: PutTokenInput, sleep?: Sleep): Promise<StoredToken> {
  return putNewTokenVersion(store, input, {
    attempts: 2,
    backoff: { baseMs: 1_000, maxMs: 1_000 },
    retryAfterMs: (err) => Math.min(retryAfterOf(err) ?? 0, 2_000),
    ...(sleep ? { sleep } : {}),
  });
}
