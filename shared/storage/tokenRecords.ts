/**
 * Per-token state that is not a secret and does not fit the token's tags (all 15 are in use):
 * why and since when rotation parked a token, and refusals in a row that are not yet final. One
 * entity per marketplace and environment, in a table every instance shares, changed with
 * optimistic concurrency (ETags) so two writers never lose each other's change.
 */
import { AppError } from '../errors';
import type { Environment } from '../settings';
import type { EntityProperties, EntityTable } from './tables';

export const tokenRecordsTable = 'tokenrecords';

export interface TokenRecord {
  marketplace: string;
  /** Rotation stopped trying: a person must sign in again (the reason, since when, the configuration entry it was parked under). */
  parked?: { reason: string; since: string; entry?: string };
  /** Refusals in a row that may need a person but are not final yet: how many, the last reason, since when. */
  refusals?: { count: number; reason: string; since: string };
}

function stateOf(marketplace: string, p: EntityProperties): TokenRecord {
  const s = (key: string) => (typeof p[key] === 'string' ? (p[key] as string) : undefined);
  const state: TokenRecord = { marketplace };
  const parkedReason = s('parkedReason');
  const parkedSince = s('parkedSince');
  if (parkedReason && parkedSince) {
    const entry = s('parkedEntry');
    state.parked = { reason: parkedReason, since: parkedSince, ...(entry ? { entry } : {}) };
  }
  const count = typeof p.refusals === 'number' ? p.refusals : 0;
  const refusalReason = s('refusalReason');
  const refusalSince = s('refusalSince');
  if (count > 0 && refusalReason && refusalSince) state.refusals = { count, reason: refusalReason, since: refusalSince };
  return state;
}

function propertiesOf(state: TokenRecord): EntityProperties {
  const p: EntityProperties = {};
  if (state.parked) {
    p.parkedReason = state.parked.reason;
    p.parkedSince = state.parked.since;
    if (state.parked.entry) p.parkedEntry = state.parked.entry;
  }
  if (state.refusals) {
    p.refusals = state.refusals.count;
    p.refusalReason = state.refusals.reason;
    p.refusalSince = state.refusals.since;
  }
  return p;
}

/** Every token's state of an environment, by marketplace: one query (a page per 1,000 tokens), for a whole run or the status page. */
export async function readTokenRecords(table: EntityTable, environment: Environment): Promise<Map<string, TokenRecord>> {
  const rows = await table.list(environment);
  return new Map(rows.map((row) => [row.rowKey, stateOf(row.rowKey, row.properties)]));
}

export async function readTokenRecord(table: EntityTable, environment: Environment, marketplace: string): Promise<TokenRecord> {
  const row = await table.get(environment, marketplace);
  return row ? stateOf(marketplace, row.properties) : { marketplace };
}

/**
 * Applies `change` to the stored state and writes it back only if nobody wrote in between
 * (else reads again and re-applies). Returns the state as written.
 */
export async function updateTokenRecord(
  table: EntityTable,
  environment: Environment,
  marketplace: string,
  change: (state: TokenRecord) => TokenRecord,
): Promise<TokenRecord> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const row = await table.get(environment, marketplace);
    const next = change(row ? stateOf(marketplace, row.properties) : { marketplace });
    const written = await table.replace(environment, marketplace, propertiesOf(next), row ? row.etag : null);
    if (written === 'written') return next;
  }
  throw new AppError('storage_failed', `The state of ${marketplace} kept changing under this write`, { marketplace, retry: { transient: true } });
}
