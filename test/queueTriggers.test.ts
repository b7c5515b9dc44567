/**
 * The local host's queue triggers, on real Storage queues (Azurite): a message handed over as the
 * Functions host hands it to a Node.js function (decoded as host.json's messageEncoding says, a
 * JSON message parsed), redelivered after a failure once its visibility timeout passes, and moved
 * to `{name}-poison` on its last failed delivery; host.json read as the host reads it; the admin
 * API that runs a non-HTTP function.
 */
import { join } from 'node:path';
import type { InvocationContext } from '@azure/functions';
import { QueueClient } from '@azure/storage-queue';
import type { Registration } from '../local/functionsCore';
import { startHost, type LocalHost } from '../local/host';
import { queueOptionsOf, type QueueHostOptions } from '../local/queueTriggers';
import { emptyStorage, sharedAzurite } from './support/storage';

jest.setTimeout(30_000);

const b64 = (text: string) => Buffer.from(text).toString('base64');

test("host.json's queue settings are read as the Functions host reads them", () => {
  expect(queueOptionsOf(join(__dirname, '..', 'host.json'))).toEqual({
    messageEncoding: 'none',
    maxDequeueCount: 5,
    visibilityTimeoutMs: 5 * 60_000,
    batchSize: 1,
    maxPollingIntervalMs: expect.any(Number),
  });
});

describe('the local host with a queue function', () => {
  let host: LocalHost | undefined;
  let connectionString: string;
  const logs: { level: string; functionName: string; message: string }[] = [];
  const received: { content: unknown; metadata: Record<string, unknown>; functionName: string }[] = [];
  const registration: Registration = {
    name: 'queueEcho',
    trigger: { type: 'queueTrigger', direction: 'in', name: 'queueEntry', queueName: '%ECHO_QUEUE%', connection: 'AzureWebJobsStorage' },
    handler: async (...args: unknown[]) => {
      const [content, context] = args as [unknown, InvocationContext];
      received.push({ content, metadata: { ...context.triggerMetadata }, functionName: context.functionName });
      if (typeof content === 'object' && content !== null && 'fail' in content) throw new Error('failing on purpose: secret-ish detail');
      if (typeof content === 'string' && content.startsWith('fail-once') && context.triggerMetadata?.dequeueCount === 1) throw new Error('once');
    },
  };
  const timer: Registration = {
    name: 'tick',
    trigger: { type: 'timerTrigger', direction: 'in', name: 'timer', schedule: '0 0 3 * * *' },
    handler: async (...args: unknown[]) => {
      const [, context] = args as [unknown, InvocationContext];
      received.push({ content: 'tick', metadata: {}, functionName: context.functionName });
    },
  };

  async function start(queues: Partial<QueueHostOptions> = {}): Promise<LocalHost> {
    await host?.close();
    await emptyStorage(connectionString);
    received.length = 0;
    logs.length = 0;
    host = await startHost({
      port: 0,
      registrations: [registration, timer],
      env: { ECHO_QUEUE: 'echo', AzureWebJobsStorage: connectionString },
      log: (l) => logs.push(l),
      queues: { messageEncoding: 'none', maxDequeueCount: 5, visibilityTimeoutMs: 0, batchSize: 1, maxPollingIntervalMs: 200, ...queues },
    });
    return host;
  }

  beforeAll(async () => {
    connectionString = (await sharedAzurite()).connectionString;
  });
  afterAll(async () => {
    await host?.close();
  });

  test('runs the function for each message of the queue its app setting names, JSON parsed and anything else as text, with the trigger metadata', async () => {
    const h = await start();
    const sender = new QueueClient(connectionString, 'echo');
    await sender.createIfNotExists();
    const sent = await sender.sendMessage(JSON.stringify({ hello: 'world' }));
    await sender.sendMessage('[1,2]');
    await sender.sendMessage(b64('{"n":3}'));
    await h.queuesIdle();
    expect(received.map((r) => r.content)).toEqual([{ hello: 'world' }, [1, 2], b64('{"n":3}')]);
    expect(received[0]).toMatchObject({
      functionName: 'queueEcho',
      metadata: { id: sent.messageId, dequeueCount: 1, insertionTime: sent.insertedOn.toISOString(), popReceipt: expect.any(String) },
    });
    expect(await h.peekQueue('echo')).toEqual([]);
  });

  test('with messageEncoding base64 (the Functions default), decodes each message first, and a message that is not base64 fails', async () => {
    const h = await start({ messageEncoding: 'base64', maxDequeueCount: 1 });
    await h.enqueue('echo', b64('{"n":1}'));
    await h.enqueue('echo', 'not base64!');
    await h.queuesIdle();
    expect(received.map((r) => r.content)).toEqual([{ n: 1 }]);
    expect(await h.peekQueue('echo-poison')).toEqual(['not base64!']);
  });

  test('a failed message comes back once its visibility timeout has passed, without holding back a newer one', async () => {
    const h = await start({ visibilityTimeoutMs: 1_000 });
    const started = Date.now();
    await h.enqueue('echo', 'fail-once');
    for (let i = 0; i < 100 && received.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    await h.enqueue('echo', 'new');
    await h.queuesIdle();
    expect(received.map((r) => `${String(r.content)}#${String(r.metadata.dequeueCount)}`)).toEqual(['fail-once#1', 'new#1', 'fail-once#2']);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
  });

  test("a message whose fifth delivery fails moves to {name}-poison unchanged; the log says so as the Functions host does, never the message's content", async () => {
    const h = await start();
    const text = JSON.stringify({ fail: true, marker: 'canary-content' });
    await h.enqueue('echo', text);
    await h.queuesIdle();
    expect(received.map((r) => r.metadata.dequeueCount)).toEqual([1, 2, 3, 4, 5]);
    expect(await h.peekQueue('echo')).toEqual([]);
    expect(await h.peekQueue('echo-poison')).toEqual([text]);
    const hostLines = logs.filter((l) => l.functionName === 'host').map((l) => l.message);
    expect(hostLines.filter((m) => m.startsWith("Message has reached MaxDequeueCount of 5. Moving message to queue 'echo-poison'."))).toHaveLength(1);
    expect(hostLines.filter((m) => m.includes('will be delivered again'))).toHaveLength(4);
    expect(hostLines.join('\n')).not.toMatch(/canary-content|secret-ish/);
  });

  test('POST /admin/functions/{name} runs a timer or a queue function now; only JSON, only same-site, only non-HTTP functions', async () => {
    const h = await start();
    const post = (path: string, body: string, headers: Record<string, string> = { 'content-type': 'application/json' }) =>
      fetch(`${h.url}${path}`, { method: 'POST', headers, body });
    expect((await post('/admin/functions/tick', '{}')).status).toBe(202);
    expect((await post('/admin/functions/queueEcho', JSON.stringify({ input: '{"via":"admin"}' }))).status).toBe(202);
    for (let i = 0; i < 100 && received.length < 2; i++) await new Promise((r) => setTimeout(r, 20));
    expect(received.map((r) => [r.functionName, r.content])).toEqual([
      ['tick', 'tick'],
      ['queueEcho', { via: 'admin' }],
    ]);
    const json = { 'content-type': 'application/json' };
    const refused: [string, Response, number][] = [
      ['cross-site', await post('/admin/functions/tick', '{}', { ...json, 'sec-fetch-site': 'cross-site' }), 403],
      ['a foreign Origin', await post('/admin/functions/tick', '{}', { ...json, origin: 'https://evil.example' }), 403],
      ['a form', await post('/admin/functions/tick', 'a=1', { 'content-type': 'application/x-www-form-urlencoded' }), 415],
      ['GET', await fetch(`${h.url}/admin/functions/tick`), 405],
      ['an unknown function', await post('/admin/functions/nope', '{}'), 404],
    ];
    expect(refused.map(([what, r]) => [what, r.status])).toEqual(refused.map(([what, , status]) => [what, status]));
    expect(received).toHaveLength(2);
  });
});
