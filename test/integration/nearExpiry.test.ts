/**
 * The second trigger of a rotation, end to end: Key Vault's SecretNearExpiry (the Key Vault
 * fake's, or local mode's scanner over the file store) → the near-expiry queue of the local host
 * → the real `secretNearExpiry` function → that marketplace rotated (a new version, proven at
 * Partner Center) and SecretNearExpiryReceived logged. Real msal-node against the identity
 * simulator, real SecretClient against the Key Vault fake.
 */
import { InvocationContext } from '@azure/functions';
import { FileSecretStore } from '../../local/fileSecretStore';
import { listRegistrations } from '../../local/functionsCore';
import { defaultTopic, nearExpiryEvent, type KeyVaultEventGridEvent } from '../../local/keyVaultFake/events';
import type { FakeSecretVersion } from '../../local/keyVaultFake/vault';
import { nearExpiryScanner } from '../../local/nearExpiryScanner';
import { QueueClient } from '@azure/storage-queue';
import { nearExpiryQueueName } from '../../shared/rotation/nearExpiryEvent';
import { tokenContentType, tokenSecretName, type TokenTags } from '../../shared/secrets/store';
import { tokenTagsToRecord } from '../../shared/secrets/tags';
import type { Environment } from '../../shared/settings';
import { cpvClientId, cpvEntry, tenants } from '../fixtures/config';
import { eventsIn } from '../support/events';
import { startWorld, type World } from '../support/world';

jest.setTimeout(60_000);

const DAY = 86_400_000;
const marketplaces = Array.from({ length: 9 }, (_, i) => `MP-0001${i + 1}`);

/** Tags of a proven token last used `daysAgo` days ago. */
function tagsOf(marketplace: string, daysAgo: number, environment: Environment = 'test'): TokenTags {
  const at = new Date(Date.now() - daysAgo * DAY).toISOString();
  return { marketplace, environment, model: 'CPV', tenant: tenants.cpv, issuedAt: at, verifiedAt: at, status: 'active' };
}

/** As Event Grid writes an event to a storage queue: its JSON, base64-encoded. */
const asEventGridWrites = (event: unknown) => Buffer.from(JSON.stringify(event)).toString('base64');
/** A message's text as another sender might write it: a string as it is, anything else as its JSON. */
const asText = (message: unknown) => (typeof message === 'string' ? message : JSON.stringify(message));

/** Every structured event a function logged, parsed. */
function logged(world: World, event: string): Record<string, unknown>[] {
  return eventsIn(world.logs, event);
}

describe('SecretNearExpiry from Key Vault (the fake) through the queue', () => {
  let world: World;

  beforeAll(async () => {
    // A failed message comes back after a second, not host.json's five minutes, so a test can wait for the retry.
    world = await startWorld({
      store: 'keyvault',
      cpvConsented: true,
      marketplaces: marketplaces.map((id) => cpvEntry(id)),
      queueVisibilityTimeoutMs: 1_000,
    });
  });
  afterAll(async () => {
    await world?.close();
  });

  const vault = () => {
    if (!world.vault) throw new Error('no vault');
    return world.vault;
  };

  /** A token whose latest version was written `daysAgo` days ago, with `exp` 90 days after that. */
  function seedToken(marketplace: string, daysAgo: number): FakeSecretVersion {
    const tags = tagsOf(marketplace, daysAgo);
    return vault().seed(tokenSecretName(marketplace, 'test'), world.simulator.issueRefreshTokenFor({ clientId: cpvClientId, tenant: tenants.cpv }), {
      contentType: tokenContentType,
      tags: tokenTagsToRecord(tags),
      expiresOn: new Date(Date.parse(tags.issuedAt) + 90 * DAY),
    });
  }

  /** The event the fake would raise for a version, without raising it (so the test chooses how it travels). */
  const eventFor = (v: FakeSecretVersion): KeyVaultEventGridEvent =>
    nearExpiryEvent(v, { vaultUrl: vault().url, vaultName: 'kv-fake', topic: defaultTopic('kv-fake') }, Date.now());

  const versionsOf = (marketplace: string) => vault().versions(tokenSecretName(marketplace, 'test'));
  const allVersions = () =>
    vault()
      .secretNames()
      .flatMap((n) => vault().versions(n)).length;
  const received = (marketplace: string) => logged(world, 'SecretNearExpiryReceived').filter((e) => e.marketplace === marketplace);

  test('a token 65 days without rotation: the event goes through the queue and that marketplace alone is rotated, proven, and logged', async () => {
    const [mp, bystander] = ['MP-00011', 'MP-00012'];
    const near = seedToken(mp, 65);
    seedToken(bystander, 20);

    const raised = vault().emitNearExpiry();
    expect(raised.map((e) => e.subject)).toEqual([tokenSecretName(mp, 'test')]);
    await world.host.queuesIdle();

    // A new version, proven at Partner Center and current; the old one kept as its fallback.
    const versions = versionsOf(mp);
    expect(versions).toHaveLength(2);
    const current = await world.store.getToken(mp, 'test');
    expect(current?.version).toBe(versions[1]?.version);
    expect(current?.version).not.toBe(near.version);
    expect(current?.tags).toMatchObject({ status: 'active', fallback: near.version, verifiedAt: expect.any(String) });
    expect(Date.now() - Date.parse(current?.tags.rotatedAt ?? '')).toBeLessThan(60_000);
    expect((current?.expiresOn?.getTime() ?? 0) - Date.now()).toBeGreaterThan(89 * DAY);
    expect(logged(world, 'TokenVerified')).toEqual([expect.objectContaining({ marketplace: mp })]);

    // The event the portal alerts on: which marketplace, which version, what happened.
    expect(received(mp)).toEqual([
      expect.objectContaining({
        environment: 'test',
        version: near.version,
        expiresAt: new Date((near.exp ?? 0) * 1000).toISOString(),
        eventId: raised[0]?.id,
        // host.json's messageEncoding is `none`: the function gets Event Grid's base64 text and decodes it.
        form: 'base64',
        dequeueCount: 1,
        outcome: 'rotated',
      }),
    ]);
    expect(logged(world, 'RotationRunCompleted')).toEqual([expect.objectContaining({ trigger: 'near-expiry', total: 1, rotated: 1 })]);
    expect(versionsOf(bystander)).toHaveLength(1);

    // Key Vault raises the event once per version, and the new version is 90 days from expiry.
    expect(vault().emitNearExpiry()).toEqual([]);
    expect(await world.host.peekQueue(`${nearExpiryQueueName}-poison`)).toEqual([]);
  });

  test('the same event again (Event Grid and the queue deliver at least once): logged, not rotated again, because the trigger does not force', async () => {
    const mp = 'MP-00011';
    const [raised] = vault()
      .events()
      .filter((e) => e.subject === tokenSecretName(mp, 'test'));
    await world.host.enqueue(nearExpiryQueueName, asEventGridWrites(raised));
    await world.host.queuesIdle();
    expect(versionsOf(mp)).toHaveLength(2);
    expect(received(mp).at(-1)).toMatchObject({ outcome: 'skipped', reason: 'recently-rotated', dequeueCount: 1 });
  });

  test('the event as plain JSON text, written by another sender with its own storage client, rotates as well', async () => {
    const mp = 'MP-00013';
    const near = seedToken(mp, 61);
    // Older documentation says Event Grid writes the event as plain text: the function takes both.
    const sender = new QueueClient(world.storage.connectionString, nearExpiryQueueName);
    await sender.sendMessage(JSON.stringify(eventFor(near)));
    await world.host.queuesIdle();
    expect(versionsOf(mp)).toHaveLength(2);
    expect(received(mp)).toEqual([expect.objectContaining({ form: 'object', outcome: 'rotated', version: near.version })]);
  });

  test('the event as a JSON string, as a host that hands the text over would, rotates as well', async () => {
    const mp = 'MP-00014';
    const near = seedToken(mp, 62);
    const registration = listRegistrations().find((r) => r.name === 'secretNearExpiry');
    const lines: string[] = [];
    const context = new InvocationContext({
      invocationId: 'near-expiry-as-text',
      functionName: 'secretNearExpiry',
      logHandler: (_level, ...args) => lines.push(args.map(String).join(' ')),
      triggerMetadata: { dequeueCount: 1 },
    });
    await registration?.handler(JSON.stringify(eventFor(near)), context);
    expect(versionsOf(mp)).toHaveLength(2);
    const events = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((e) => e.event === 'SecretNearExpiryReceived');
    expect(events).toEqual([expect.objectContaining({ marketplace: mp, form: 'json', outcome: 'rotated', correlationId: 'near-expiry-as-text' })]);
  });

  test('malformed, foreign and other-environment messages are dropped with a log: nothing rotated, nothing retried', async () => {
    const mp = 'MP-00015';
    const near = seedToken(mp, 70);
    const valid = eventFor(near);
    const before = allVersions();
    const runsBefore = logged(world, 'RotationRunCompleted').length;
    const droppedBefore = logged(world, 'SecretNearExpiryDropped').length;
    const withName = (name: string) => ({ ...valid, subject: name, data: { ...valid.data, ObjectName: name } });
    const messages: [string, unknown][] = [
      ['unreadable', 'not an event at all'],
      ['unreadable', Buffer.from('<xml/>').toString('base64')],
      ['not-an-event', []],
      ['not-an-event', {}],
      ['not-an-event', { ...valid, data: { ...valid.data, ObjectName: tokenSecretName('MP-00016', 'test') } }],
      ['other-event-type', { ...valid, eventType: 'Microsoft.KeyVault.SecretNewVersionCreated' }],
      ['not-a-token-secret', withName('cpv-client-secret')],
      ['not-a-token-secret', withName('refresh-token-test-MP-1<script>')],
      ['not-a-token-secret', withName(`${tokenSecretName(mp, 'test')}-copy`)],
      ['other-environment', withName(tokenSecretName(mp, 'production'))],
    ];
    for (const [, message] of messages) await world.host.enqueue(nearExpiryQueueName, asText(message));
    await world.host.queuesIdle();

    const dropped = logged(world, 'SecretNearExpiryDropped').slice(droppedBefore);
    expect(dropped.map((d) => d.reason)).toEqual(messages.map(([reason]) => reason));
    expect(dropped.every((d) => d.dequeueCount === 1)).toBe(true);
    expect(dropped.at(-1)).toMatchObject({ environment: 'production', marketplace: mp, eventId: valid.id });
    expect(allVersions()).toBe(before);
    expect(logged(world, 'RotationRunCompleted')).toHaveLength(runsBefore);
    expect(received(mp)).toEqual([]);
    expect(await world.host.peekQueue(nearExpiryQueueName)).toEqual([]);
    expect(await world.host.peekQueue(`${nearExpiryQueueName}-poison`)).toEqual([]);
    // What a message brings is never quoted back into the logs.
    expect(world.logs.map((l) => l.message).join('\n')).not.toMatch(/<script>|not an event at all|-copy/);
  });

  test('a transient failure at Entra: the function throws, the queue delivers the event again after the visibility timeout, and that delivery rotates', async () => {
    const mp = 'MP-00016';
    const near = seedToken(mp, 66);
    try {
      world.simulator.faults.apply({ kind: 'transient', count: 100, status: 503 });
      const lines = () => world.logs;
      await world.host.enqueue(nearExpiryQueueName, asEventGridWrites(eventFor(near)));
      const failedOnce = (l: { functionName: string; message: string }) =>
        l.functionName === 'host' && l.message.startsWith(`queue ${nearExpiryQueueName}: delivery 1 `);
      for (let i = 0; i < 300 && !lines().some(failedOnce); i++) await new Promise((r) => setTimeout(r, 20));
      world.simulator.faults.clear();
      await world.host.queuesIdle();

      expect(
        lines()
          .filter(failedOnce)
          .map((l) => l.message),
      ).toEqual([expect.stringMatching(/failed \(AppError rotation_incomplete\); it will be delivered again$/)]);
      expect(versionsOf(mp)).toHaveLength(2);
      expect(received(mp).map((e) => [e.dequeueCount, e.outcome])).toEqual([
        [1, 'transient'],
        [2, 'rotated'],
      ]);
      expect(await world.host.peekQueue(`${nearExpiryQueueName}-poison`)).toEqual([]);
    } finally {
      world.simulator.faults.clear();
    }
  });

  test('a token that needs a person is marked and alerted once; the message is not retried', async () => {
    const mp = 'MP-00017';
    const near = seedToken(mp, 67);
    world.simulator.faults.apply({ kind: 'refreshTokenRevoked', refreshToken: near.value });
    await world.host.enqueue(nearExpiryQueueName, asEventGridWrites(eventFor(near)));
    await world.host.queuesIdle();
    world.simulator.faults.clear();

    expect(versionsOf(mp)).toHaveLength(1);
    expect((await world.store.getToken(mp, 'test'))?.tags.status).toBe('needs-reauth');
    expect(received(mp)).toEqual([expect.objectContaining({ outcome: 'needs-reauth', dequeueCount: 1 })]);
    expect(logged(world, 'TokenNeedsReauth').filter((e) => e.marketplace === mp)).toHaveLength(1);
    expect(await world.host.peekQueue(`${nearExpiryQueueName}-poison`)).toEqual([]);
  });
});

describe("local mode's near-expiry scanner over the file store", () => {
  let world: World;
  let files: FileSecretStore;

  beforeAll(async () => {
    world = await startWorld({ store: 'file', cpvConsented: true, marketplaces: marketplaces.map((id) => cpvEntry(id)) });
    files = new FileSecretStore(process.env.LOCAL_SECRET_STORE_DIR ?? '');
  });
  afterAll(async () => {
    await world?.close();
  });

  async function putToken(marketplace: string, daysAgo: number, environment: Environment = 'test') {
    const tags = tagsOf(marketplace, daysAgo, environment);
    return world.store.putToken({
      marketplace,
      environment,
      value: world.simulator.issueRefreshTokenFor({ clientId: cpvClientId, tenant: tenants.cpv }),
      tags,
      expiresOn: new Date(Date.parse(tags.issuedAt) + 90 * DAY),
    });
  }

  test('raises the same event for a token whose latest version expires within 30 days, and the function rotates that marketplace', async () => {
    const [mp, fresh, other] = ['MP-00018', 'MP-00019', 'MP-00011'];
    const near = await putToken(mp, 64);
    await putToken(fresh, 30);
    await putToken(other, 80, 'production');
    const scanner = nearExpiryScanner({ store: files, deliver: (event) => world.host.enqueue(nearExpiryQueueName, asEventGridWrites(event)) });

    const raised = await scanner.scan();
    // Every token named like one goes to the queue, as the subscription's subject filter lets it; the app decides.
    expect(raised.map((e) => e.subject).sort()).toEqual([tokenSecretName(other, 'production'), tokenSecretName(mp, 'test')]);
    expect(raised.find((e) => e.subject === tokenSecretName(mp, 'test'))).toMatchObject({
      eventType: 'Microsoft.KeyVault.SecretNearExpiry',
      data: {
        ObjectType: 'Secret',
        ObjectName: tokenSecretName(mp, 'test'),
        Version: near.version,
        EXP: Math.floor((near.expiresOn?.getTime() ?? 0) / 1000),
      },
    });
    await world.host.queuesIdle();

    const versions = await files.listVersions(tokenSecretName(mp, 'test'));
    expect(versions).toHaveLength(2);
    expect(await world.store.getToken(mp, 'test')).toMatchObject({
      version: versions[1]?.version,
      tags: { status: 'active', fallback: near.version },
    });
    expect(logged(world, 'SecretNearExpiryReceived')).toEqual([
      expect.objectContaining({ marketplace: mp, version: near.version, outcome: 'rotated' }),
    ]);
    // The production token is not this deployment's: dropped, untouched.
    expect(logged(world, 'SecretNearExpiryDropped')).toEqual([expect.objectContaining({ reason: 'other-environment', marketplace: other })]);
    expect(await files.listVersions(tokenSecretName(other, 'production'))).toHaveLength(1);
    expect(await files.listVersions(tokenSecretName(fresh, 'test'))).toHaveLength(1);

    // Once per version: the next scan finds nothing new (the rotated token is 90 days from expiry).
    expect(await scanner.scan()).toEqual([]);
  });

  test('started, it scans at once, and stops', async () => {
    const mp = 'MP-00015';
    await putToken(mp, 75);
    const raised: KeyVaultEventGridEvent[] = [];
    const scanner = nearExpiryScanner({
      store: files,
      deliver: (event) => {
        raised.push(event);
      },
      intervalMs: 60_000,
    });
    scanner.start();
    for (let i = 0; i < 100 && raised.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    scanner.stop();
    expect(raised.map((e) => e.subject)).toContain(tokenSecretName(mp, 'test'));
  });
});
