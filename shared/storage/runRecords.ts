/**
 * The record each rotation run leaves for the status page, one entity per run in a table every
 * instance shares (no Key Vault write per run). Runs over the whole environment (the timer, a
 * manual rotation of all) and runs for one marketplace (SecretNearExpiry, a manual rotation of
 * one) are kept in partitions of their own, so a flood of near-expiry events never hides the
 * timer's last run. Newest first: the row key counts down with time.
 */
import type { Environment } from '../settings';
import type { EntityTable } from './tables';

export const runRecordsTable = 'rotationruns';

/** Runs older than this are purged by the timer: the status page shows the latest, the logs keep the history. */
const keepMs = 90 * 24 * 3600 * 1000;

export interface RunRecord {
  runId: string;
  trigger: string;
  /** Set for a run over one marketplace. */
  marketplace?: string;
  startedAt: string;
  durationMs: number;
  total: number;
  rotated: number;
  failed: number;
  needsReauth: number;
  needsAttention: number;
  transient: number;
  invalidClient: number;
  storeFailed: number;
  notReached: number;
  /** Why tokens were skipped, e.g. `{ "recently-rotated": 3 }`. */
  skipped: Record<string, number>;
}

const partitionOf = (environment: Environment, single: boolean) => `${environment}-${single ? 'marketplace' : 'all'}`;
/** Counts down with time, so a partition lists newest first. */
const rowKeyOf = (startedAt: string, runId: string) => `${String(1e15 - Date.parse(startedAt)).padStart(16, '0')}-${runId}`;

const counters = [
  'durationMs',
  'total',
  'rotated',
  'failed',
  'needsReauth',
  'needsAttention',
  'transient',
  'invalidClient',
  'storeFailed',
  'notReached',
] as const;

export async function recordRun(table: EntityTable, environment: Environment, run: RunRecord): Promise<void> {
  const { skipped, marketplace, ...rest } = run;
  await table.replace(partitionOf(environment, marketplace !== undefined), rowKeyOf(run.startedAt, run.runId), {
    ...rest,
    ...(marketplace ? { marketplace } : {}),
    skipped: JSON.stringify(skipped),
  });
}

function runOf(properties: Record<string, string | number | boolean>): RunRecord {
  const n = (key: string) => (typeof properties[key] === 'number' ? (properties[key] as number) : 0);
  let skipped: Record<string, number> = {};
  try {
    const parsed = JSON.parse(String(properties.skipped ?? '{}')) as unknown;
    if (parsed && typeof parsed === 'object') skipped = parsed as Record<string, number>;
  } catch {
    // A record this version cannot read shows no skip reasons rather than none of the run.
  }
  const record: RunRecord = {
    runId: String(properties.runId ?? ''),
    trigger: String(properties.trigger ?? ''),
    startedAt: String(properties.startedAt ?? ''),
    skipped,
    ...(Object.fromEntries(counters.map((key) => [key, n(key)])) as Pick<RunRecord, (typeof counters)[number]>),
  };
  if (typeof properties.marketplace === 'string') record.marketplace = properties.marketplace;
  return record;
}

/** The last run over the whole environment, and the last few over one marketplace. */
export async function latestRuns(table: EntityTable, environment: Environment, singles = 5): Promise<{ all?: RunRecord; single: RunRecord[] }> {
  const [all, single] = await Promise.all([
    table.list(partitionOf(environment, false), { top: 1 }),
    table.list(partitionOf(environment, true), { top: singles }),
  ]);
  const last = all[0];
  return { ...(last ? { all: runOf(last.properties) } : {}), single: single.map((e) => runOf(e.properties)) };
}

/** Deletes run records older than 90 days; returns how many. */
export async function purgeRuns(table: EntityTable, environment: Environment, now: number): Promise<number> {
  let purged = 0;
  for (const single of [false, true]) {
    const old = await table.list(partitionOf(environment, single), { olderThan: new Date(now - keepMs) });
    for (const row of old) await table.delete(row.partitionKey, row.rowKey);
    purged += old.length;
  }
  return purged;
}
