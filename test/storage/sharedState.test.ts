/**
 * Shared state across instances, on Azure's Storage emulator (Azurite) through the real Storage
 * SDKs: one writer per token (blob leases), the single-use record of each sign-in, what rotation
 * keeps about each token (changed with ETags), and run records. "Another instance" is a second set
 * of SDK clients and leases with nothing in common but the storage account.
 */
import { blobLeases } from '../../shared/storage/blobLeases';
import { leaseSeconds, TokenLocks } from '../../shared/storage/lease';
import { storageTables } from '../../shared/storage/tables';
import { latestRuns, purgeRuns, recordRun, runRecordsTable, type RunRecord } from '../../shared/storage/runRecords';
import { readTokenRecord, readTokenRecords, tokenRecordsTable, updateTokenRecord } from '../../shared/storage/tokenRecords';
import { markStateUsed, purgeUsedStates, usedStatesTable } from '../../shared/storage/usedStates';
import type { StorageConnection } from '../../shared/storage/connection';
import { emptyStorage, expireLease, sharedAzurite } from '../support/storage';

jest.setTimeout(30_000);

let connection: StorageConnection;
const noCredential = () => {
  throw new Error('a connection string needs no credential');
};
/** What one instance has: its own clients and leases. */
function instance(renewEveryMs?: number) {
  return {
    locks: new TokenLocks(blobLeases(connection, noCredential), renewEveryMs ? { renewEveryMs } : {}),
    table: storageTables(connection, noCredential),
  };
}

beforeAll(async () => {
  const azurite = await sharedAzurite();
  await emptyStorage(azurite.connectionString);
  connection = { kind: 'connection-string', connectionString: azurite.connectionString };
});

describe('one writer per token (blob leases)', () => {
  test('a lease is held by one instance at a time; released, the other instance takes it', async () => {
    const [a, b] = [instance(), instance()];
    const held = await a.locks.tryAcquire('test', 'MP-10001');
    expect(held?.held).toBe(true);
    expect(await b.locks.tryAcquire('test', 'MP-10001')).toBeUndefined();
    // Another token, another environment: independent.
    const other = await b.locks.tryAcquire('production', 'MP-10001');
    expect(other).toBeDefined();
    await other?.release();
    await held?.release();
    expect(held?.held).toBe(false);
    const taken = await b.locks.tryAcquire('test', 'MP-10001');
    expect(taken?.held).toBe(true);
    await taken?.release();
  });

  test('acquireWithin waits for the holder to finish, and gives up after its bound', async () => {
    const [a, b] = [instance(), instance()];
    const first = await a.locks.tryAcquire('test', 'MP-10002');
    expect(await b.locks.acquireWithin('test', 'MP-10002', 300)).toBeUndefined();
    setTimeout(() => void first?.release(), 300);
    const second = await b.locks.acquireWithin('test', 'MP-10002', 5_000);
    expect(second?.held).toBe(true);
    await second?.release();
  });

  test(`a holder that died blocks the token until its lease lapses (at most ${leaseSeconds} s), then another instance takes it`, async () => {
    const [dying, other] = [instance(), instance()];
    const held = await dying.locks.tryAcquire('test', 'MP-10003');
    expect(held).toBeDefined();
    dying.locks.abandonAll();
    expect(await other.locks.tryAcquire('test', 'MP-10003')).toBeUndefined();
    // As when its 15 s without renewal have passed.
    await expireLease(connection.kind === 'connection-string' ? connection.connectionString : '', 'test/MP-10003');
    const taken = await other.locks.tryAcquire('test', 'MP-10003');
    expect(taken?.held).toBe(true);
    await taken?.release();
  });

  test('a holder whose lease was taken over learns it at its next renewal, and must not write any more', async () => {
    const [slow, other] = [instance(50), instance()];
    const held = await slow.locks.tryAcquire('test', 'MP-10004');
    await expireLease(connection.kind === 'connection-string' ? connection.connectionString : '', 'test/MP-10004');
    const thief = await other.locks.tryAcquire('test', 'MP-10004');
    expect(thief).toBeDefined();
    for (let i = 0; i < 100 && held?.held; i++) await new Promise((r) => setTimeout(r, 20));
    expect(held?.held).toBe(false);
    expect(() => held?.assertHeld()).toThrow(expect.objectContaining({ code: 'lease_lost' }));
    await held?.release();
    // Releasing a lease that is not ours any more leaves the new holder's alone.
    expect(thief?.held).toBe(true);
    expect(await instance().locks.tryAcquire('test', 'MP-10004')).toBeUndefined();
    await thief?.release();
  });

  test('a held lease is renewed on a timer, well before its 15 s can lapse, until it is released', async () => {
    const blobs = blobLeases(connection, noCredential);
    let renewals = 0;
    const locks = new TokenLocks({ ...blobs, renew: async (name, id) => (renewals++, blobs.renew(name, id)) }, { renewEveryMs: 100 });
    const held = await locks.tryAcquire('test', 'MP-10005');
    await new Promise((r) => setTimeout(r, 450));
    expect(renewals).toBeGreaterThanOrEqual(3);
    expect(held?.held).toBe(true);
    expect(await instance().locks.tryAcquire('test', 'MP-10005')).toBeUndefined();
    await held?.release();
    const after = renewals;
    await new Promise((r) => setTimeout(r, 250));
    expect(renewals).toBe(after);
  });
});

describe('the single-use record of each sign-in', () => {
  test('a state is used once, whichever instance sees it again', async () => {
    const [a, b] = [instance(), instance()];
    const now = Date.now();
    expect(await markStateUsed(a.table(usedStatesTable), 'test', 'state-1', 'MP-10001', now)).toBe(true);
    expect(await markStateUsed(b.table(usedStatesTable), 'test', 'state-1', 'MP-10001', now)).toBe(false);
    expect(await markStateUsed(a.table(usedStatesTable), 'test', 'state-1', 'MP-10001', now)).toBe(false);
    // The same state in the other environment's deployment is its own.
    expect(await markStateUsed(b.table(usedStatesTable), 'production', 'state-1', 'MP-10001', now)).toBe(true);
  });

  test('the state itself is not stored, only its hash', async () => {
    const a = instance();
    await markStateUsed(a.table(usedStatesTable), 'test', 'state-not-stored-CANARY', 'MP-10001', Date.now());
    const rows = await a.table(usedStatesTable).list('test');
    expect(JSON.stringify(rows)).not.toContain('state-not-stored-CANARY');
  });

  test('fails closed: when Storage does not answer, the state is refused with sign_in_busy, never let through', async () => {
    // A port nobody listens on: connections refused, as when the account is unreachable.
    const dead = storageTables({ kind: 'connection-string', connectionString: connectionStringOnPort(1) }, noCredential);
    await expect(markStateUsed(dead(usedStatesTable), 'test', 'state-2', 'MP-10001', Date.now())).rejects.toMatchObject({ code: 'sign_in_busy' });
    // Not recorded while Storage was down: the state is still good afterwards.
    expect(await markStateUsed(instance().table(usedStatesTable), 'test', 'state-2', 'MP-10001', Date.now())).toBe(true);
  });

  test('records older than a day are purged; younger ones stay', async () => {
    const a = instance();
    await markStateUsed(a.table(usedStatesTable), 'test', 'state-old', 'MP-10001', Date.now());
    expect(await purgeUsedStates(a.table(usedStatesTable), 'test', Date.now())).toBe(0);
    expect(await purgeUsedStates(a.table(usedStatesTable), 'test', Date.now() + 25 * 3600 * 1000)).toBeGreaterThan(0);
    expect(await markStateUsed(a.table(usedStatesTable), 'test', 'state-old', 'MP-10001', Date.now())).toBe(true);
  });
});

describe('what rotation keeps about each token', () => {
  test('two instances changing the same record at once both land (optimistic concurrency with ETags)', async () => {
    const [a, b] = [instance(), instance()];
    const since = new Date().toISOString();
    await Promise.all([
      updateTokenRecord(a.table(tokenRecordsTable), 'test', 'MP-10010', (r) => ({ ...r, parked: { reason: 'expired', since } })),
      updateTokenRecord(b.table(tokenRecordsTable), 'test', 'MP-10010', (r) => ({
        ...r,
        refusals: { count: (r.refusals?.count ?? 0) + 1, reason: 'pc-401', since },
      })),
    ]);
    expect(await readTokenRecord(a.table(tokenRecordsTable), 'test', 'MP-10010')).toEqual({
      marketplace: 'MP-10010',
      parked: { reason: 'expired', since },
      refusals: { count: 1, reason: 'pc-401', since },
    });
    const all = await readTokenRecords(b.table(tokenRecordsTable), 'test');
    expect(all.get('MP-10010')?.parked?.reason).toBe('expired');
    expect(await readTokenRecord(a.table(tokenRecordsTable), 'production', 'MP-10010')).toEqual({ marketplace: 'MP-10010' });
  });
});

describe('run records', () => {
  const run = (runId: string, startedAt: string, extra: Partial<RunRecord> = {}): RunRecord => ({
    runId,
    trigger: 'timer',
    startedAt,
    durationMs: 10,
    total: 3,
    rotated: 2,
    failed: 1,
    needsReauth: 1,
    needsAttention: 0,
    transient: 0,
    invalidClient: 0,
    storeFailed: 0,
    notReached: 0,
    skipped: { 'recently-rotated': 1 },
    ...extra,
  });

  test("the newest run over every token, apart from runs over one marketplace: a flood of those never hides the timer's", async () => {
    const table = instance().table(runRecordsTable);
    await recordRun(table, 'test', run('timer-1', '2026-12-01T03:00:00.000Z'));
    await recordRun(table, 'test', run('timer-2', '2026-12-02T03:00:00.000Z'));
    for (let i = 0; i < 7; i++)
      await recordRun(
        table,
        'test',
        run(`event-${i}`, `2026-12-02T0${4 + i}:00:00.000Z`, { trigger: 'near-expiry', marketplace: 'MP-10001', total: 1 }),
      );
    const latest = await latestRuns(table, 'test');
    expect(latest.all).toEqual(run('timer-2', '2026-12-02T03:00:00.000Z'));
    expect(latest.single.map((r) => r.runId)).toEqual(['event-6', 'event-5', 'event-4', 'event-3', 'event-2']);
    expect((await latestRuns(table, 'production')).all).toBeUndefined();
  });

  test('runs older than 90 days are purged by the timer', async () => {
    const table = instance().table(runRecordsTable);
    const later = Date.now() + 91 * 24 * 3600 * 1000;
    expect(await purgeRuns(table, 'test', later)).toBeGreaterThanOrEqual(9);
    expect(await latestRuns(table, 'test')).toEqual({ single: [] });
  });
});

function connectionStringOnPort(port: number): string {
  const live = connection.kind === 'connection-string' ? connection.connectionString : '';
  return live.replace(/(Blob|Queue|Table)Endpoint=http:\/\/127\.0\.0\.1:\d+/g, `$1Endpoint=http://127.0.0.1:${port}`);
}
