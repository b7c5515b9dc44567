/**
 * The single-use record of each sign-in's `state` (docs/SECURITY.md 2, 28), in a table every
 * instance shares: inserted once, so a replayed callback is refused whichever instance serves
 * it. The row key is a hash of the state, not the state. Expired rows are purged by the rotation
 * timer; a row only has to outlive its transaction (ten minutes).
 */
import { createHash } from 'node:crypto';
import { AppError } from '../errors';
import type { Environment } from '../settings';
import type { EntityTable } from './tables';

export const usedStatesTable = 'signinstates';

/** Rows older than this are purged: far past a transaction's ten minutes, so no replay can outlive its row. */
const keepMs = 24 * 3600 * 1000;

const keyOf = (state: string) => createHash('sha256').update(state).digest('base64url');

/**
 * True the first time a state is used; false for a replay. MUST (docs/SECURITY.md 28): when the
 * record cannot be written or read, the callback is refused (`sign_in_busy`), never let through
 * unrecorded.
 */
export async function markStateUsed(table: EntityTable, environment: Environment, state: string, marketplace: string, now: number): Promise<boolean> {
  try {
    const inserted = await table.insert(environment, keyOf(state), { marketplace, usedAt: new Date(now).toISOString() });
    return inserted === 'inserted';
  } catch (cause) {
    throw new AppError('sign_in_busy', 'The single-use record of this sign-in could not be written: callback refused', {
      cause,
      marketplace,
      retry: { transient: true, retryAfterMs: 5_000 },
    });
  }
}

/** Deletes records older than a day; returns how many. Failures are the caller's to log (nothing depends on a purge). */
export async function purgeUsedStates(table: EntityTable, environment: Environment, now: number): Promise<number> {
  const old = await table.list(environment, { olderThan: new Date(now - keepMs) });
  for (const row of old) await table.delete(row.partitionKey, row.rowKey);
  return old.length;
}
