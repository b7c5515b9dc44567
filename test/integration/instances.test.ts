/**
 * Many instances, one truth (docs/SECURITY.md 2, 19, 33): two more instances of the service, each
 * a Node process of its own serving the real function files, against one storage account (Azurite),
 * one Key Vault (the fake), one Entra (the simulator), one Partner Center and one Connect. What
 * they share is only what Azure would share. Races are arranged with the simulator's latency on
 * its token endpoint, each in both orders; afterwards the token tells one story:
 *
 * - the newest sign-in's token is current, proven, and what Connect holds;
 * - at most two versions are enabled, and those are the current one and its fallback (none orphaned);
 * - nothing is left pending, and `TokenGenerated` names the version that is current;
 * - a replayed callback is refused on the other instance, without a call to Entra.
 */
import { BlobServiceClient } from '@azure/storage-blob';
import { readCurrentToken } from '../../shared/secrets/currentToken';
import { tokenContentType, tokenSecretName, type TokenTags } from '../../shared/secrets/store';
import { tokenTagsToRecord } from '../../shared/secrets/tags';
import { leaseContainerName } from '../../shared/storage/blobLeases';
import { tokenLeaseName } from '../../shared/storage/lease';
import { cspClientId, tenants } from '../fixtures/config';
import { request, tokenFromPage, type Step } from '../support/flow';
import { eventsIn } from '../support/events';
import { startInstance, type Instance } from '../support/instances';
import { signInUntilCallback } from '../security/support/probe';
import { startWorld, unboundedSignIns, type World } from '../support/world';

jest.setTimeout(120_000);

const mp = 'MP-00001';
const product = 'PRD-100-000-001';
const DAY = 86_400_000;

let world: World;
let b: Instance;
let c: Instance;

beforeAll(async () => {
  world = await startWorld({
    store: 'keyvault',
    connect: { products: { [mp]: [product] } },
    signInBounds: unboundedSignIns,
    queueVisibilityTimeoutMs: 1_000,
  });
  [b, c] = await Promise.all([startInstance(), startInstance()]);
});
afterAll(async () => {
  await Promise.all([b?.stop(), c?.stop()]);
  await world?.close();
});
afterEach(() => world.simulator.faults.clear());

const vault = () => {
  if (!world.vault) throw new Error('no vault');
  return world.vault;
};
const versions = () => vault().versions(tokenSecretName(mp, 'test'));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The callback a browser would follow, served by `instance`. */
function callbackOn(instance: Instance, pending: { callback: URL; cookie: string }): Promise<Step> {
  const url = new URL(`${pending.callback.pathname}${pending.callback.search}`, instance.url);
  return request(url.toString(), { headers: { cookie: pending.cookie } });
}

async function rotateOn(instance: Instance): Promise<{ outcome?: string; reason?: string }> {
  const r = await request(`${instance.url}/api/rotate?marketplace=${mp}`, { method: 'POST' });
  expect(r.status).toBe(200);
  return (JSON.parse(r.body) as { results: { outcome: string; reason?: string }[] }).results[0] ?? {};
}

/** Every `TokenGenerated` of every instance, in no particular order. */
const generated = () => [world, b, c].flatMap((i) => eventsOf(i, 'TokenGenerated'));
function eventsOf(i: World | Instance, name: string): Record<string, unknown>[] {
  return eventsIn(i.logs, name);
}

/** What must hold after any interleaving; `shown` is the token the last person to finish was shown, if a sign-in won. */
async function expectOneTruth(shown?: string): Promise<void> {
  const state = await readCurrentToken(world.store, mp, 'test');
  expect(state?.staged).toBeUndefined();
  const current = state?.current;
  expect(current?.tags).toMatchObject({ status: 'active', verifiedAt: expect.any(String) });
  const enabled = versions()
    .filter((v) => v.enabled)
    .map((v) => v.version);
  expect(enabled.length).toBeLessThanOrEqual(2);
  expect(enabled.every((v) => v === current?.version || v === current?.tags.fallback)).toBe(true);
  expect(world.connect?.value(product, 'refresh_token_test', mp)).toBe(current?.value);
  if (shown !== undefined) {
    expect(current?.value).toBe(shown);
    const latest = generated()
      .sort((x, y) => String(x.time ?? '').localeCompare(String(y.time ?? '')))
      .map((e) => e.version);
    expect(latest).toContain(current?.version);
  }
}

/**
 * A token stored days ago, due for the timer, with `exp` `daysLeft` from now: a new proven version
 * whose fallback is the latest one, every older version disabled, as rotation leaves a token.
 */
async function seedOldToken(daysLeft = 80): Promise<void> {
  const issued = new Date(Date.now() - (90 - daysLeft) * DAY).toISOString();
  const previous = versions().at(-1)?.version;
  for (const v of versions())
    if (v.enabled && v.version !== previous) await world.store.disableTokenVersion({ marketplace: mp, environment: 'test', version: v.version });
  const tags: TokenTags = {
    marketplace: mp,
    environment: 'test',
    model: 'CSP',
    tenant: tenants.csp,
    issuedAt: issued,
    verifiedAt: issued,
    status: 'active',
  };
  vault().seed(tokenSecretName(mp, 'test'), world.simulator.issueRefreshTokenFor({ clientId: cspClientId, tenant: tenants.csp }), {
    contentType: tokenContentType,
    tags: tokenTagsToRecord(previous ? { ...tags, fallback: previous } : tags),
    expiresOn: new Date(Date.now() + daysLeft * DAY),
  });
}

describe('a sign-in and a rotation of the same token at once', () => {
  test('the rotation first, the sign-in during its redemption: the sign-in waits, then wins; the person is shown the token that is current and in Connect', async () => {
    await seedOldToken();
    const pending = await signInUntilCallback(world, mp);
    // The rotation's first redemption fails (503) and is retried, so it redeems for long enough
    // that the sign-in could finish in between: without one writer per token, the rotation would
    // then write and promote a token derived from the older version over the person's.
    world.simulator.faults.apply({ kind: 'latency', ms: 1_200 });
    world.simulator.faults.apply({ kind: 'transient', count: 1, status: 503 });
    const rotation = rotateOn(b);
    await sleep(300);
    const page = await callbackOn(c, pending);
    expect(await rotation).toMatchObject({ outcome: 'rotated' });
    expect(page.status).toBe(200);
    await expectOneTruth(tokenFromPage(page.body));
  });

  test('the sign-in first, the rotation during its redemption: the rotation leaves the token to it', async () => {
    await seedOldToken();
    const pending = await signInUntilCallback(world, mp);
    world.simulator.faults.apply({ kind: 'latency', ms: 1_200 });
    const page = callbackOn(b, pending);
    await sleep(300);
    expect(await rotateOn(c)).toMatchObject({ outcome: 'skipped', reason: 'in-progress' });
    const shown = await page;
    expect(shown.status).toBe(200);
    await expectOneTruth(tokenFromPage(shown.body));
  });
});

describe('two sign-ins for one marketplace at once', () => {
  test.each([
    ['the first on one instance, the second on the other', () => [b, c] as const],
    ['the other way round', () => [c, b] as const],
  ])('%s: both complete, the later one is current, the earlier one its fallback, nothing else enabled', async (_order, instances) => {
    const [first, second] = instances();
    const before = versions().length;
    const [p1, p2] = [await signInUntilCallback(world, mp), await signInUntilCallback(world, mp)];
    world.simulator.faults.apply({ kind: 'latency', ms: 800 });
    const page1 = callbackOn(first, p1);
    await sleep(250);
    const page2 = callbackOn(second, p2);
    const [shown1, shown2] = await Promise.all([page1, page2]);
    expect([shown1.status, shown2.status]).toEqual([200, 200]);
    expect(versions().length - before).toBe(2);
    await expectOneTruth(tokenFromPage(shown2.body));
    const state = await readCurrentToken(world.store, mp, 'test');
    const fallback = versions().find((v) => v.version === state?.current.tags.fallback);
    expect(fallback?.value).toBe(tokenFromPage(shown1.body));
  });
});

describe('the triggers of a rotation at once on different instances', () => {
  test.each([
    ['the timer first, then SecretNearExpiry and a manual rotation', 'timer'],
    ['a manual rotation first, then the timer and SecretNearExpiry', 'manual'],
  ])('%s: one new version, the others leave the token alone', async (_order, firstTrigger) => {
    await seedOldToken(20);
    const before = versions().length;
    world.simulator.faults.apply({ kind: 'latency', ms: 600 });
    const timer = () => request(`${b.url}/admin/functions/rotate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    const manual = () => rotateOn(c);
    const runs: Promise<unknown>[] = [];
    runs.push(firstTrigger === 'timer' ? timer() : manual());
    await sleep(100);
    runs.push(firstTrigger === 'timer' ? manual() : timer());
    // Key Vault's event for the same version, through the queue any instance may take it from.
    expect(
      vault()
        .emitNearExpiry()
        .map((e) => e.subject),
    ).toEqual([tokenSecretName(mp, 'test')]);
    await Promise.all(runs);
    await world.host.queuesIdle();
    // The timer's run goes on after the admin API's 202: wait until it has recorded itself.
    for (
      let i = 0;
      i < 200 && eventsOf(b, 'RotationRunCompleted').filter((e) => e.trigger === 'timer').length < (firstTrigger === 'timer' ? 1 : 2);
      i++
    )
      await sleep(50);
    world.simulator.faults.clear();
    expect(versions().length - before).toBe(1);
    await expectOneTruth();
  });
});

test('a callback replayed on the other instance is refused there, without a call to Entra', async () => {
  const pending = await signInUntilCallback(world, mp);
  expect((await callbackOn(b, pending)).status).toBe(200);
  const calls = world.simulator.stats.tokenCalls.total;
  const replay = await callbackOn(c, pending);
  expect(replay.status).toBe(400);
  expect(world.simulator.stats.tokenCalls.total).toBe(calls);
  await expectOneTruth();
});

test('kill -9 of the instance holding the lease mid-rotation: the other instance carries on once the lease lapses, and nothing is lost', async () => {
  await seedOldToken();
  const before = versions().at(-1);
  const lease = BlobServiceClient.fromConnectionString(world.storage.connectionString)
    .getContainerClient(leaseContainerName)
    .getBlobClient(tokenLeaseName('test', mp));
  const leaseState = async () => (await lease.getProperties().catch(() => undefined))?.leaseState;
  world.simulator.faults.apply({ kind: 'latency', ms: 60_000 });
  void rotateOn(b).catch(() => undefined);
  for (let i = 0; i < 200 && (await leaseState()) !== 'leased'; i++) await sleep(25);
  expect(await leaseState()).toBe('leased');
  await b.kill();
  world.simulator.faults.clear();
  // The dead instance's lease is still there: the token is left alone, not written twice.
  expect(await rotateOn(c)).toMatchObject({ outcome: 'skipped', reason: 'in-progress' });
  const died = Date.now();
  for (let i = 0; i < 400 && (await leaseState()) === 'leased'; i++) await sleep(100);
  expect(Date.now() - died).toBeLessThan(16_000);
  expect(await rotateOn(c)).toMatchObject({ outcome: 'rotated' });
  const state = await readCurrentToken(world.store, mp, 'test');
  expect(state?.current.tags.fallback).toBe(before?.version);
  await expectOneTruth();
});
