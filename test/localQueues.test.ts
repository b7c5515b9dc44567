/**
 * The local host's storage queues: messages handed over as the Functions host hands them to a
 * Node.js function, one at a time, redelivered after a failure and moved to `{name}-poison`
 * after five; and the JSON-only route other processes enqueue through.
 */
import type { InvocationContext } from '@azure/functions';
import type { Registration } from '../local/functionsCore';
import { startHost, type LocalHost } from '../local/host';
import { LocalQueues, type DeliveryFailure, type QueueTriggerMetadata } from '../local/queues';

describe('local queues', () => {
  test('hand a JSON message over parsed and any other message as its text, with the trigger metadata, one at a time', async () => {
    const queues = new LocalQueues();
    const seen: { content: unknown; metadata: QueueTriggerMetadata }[] = [];
    let running = 0;
    let most = 0;
    queues.consume('events', async (content, metadata) => {
      running++;
      most = Math.max(most, running);
      await new Promise((r) => setTimeout(r, 5));
      seen.push({ content, metadata });
      running--;
    });
    const first = queues.enqueue('events', { subject: 'a' });
    queues.enqueue('events', JSON.stringify({ subject: 'b' }));
    queues.enqueue('events', 'eyJzdWJqZWN0IjoiYyJ9');
    queues.enqueue('events', '[1,2]');
    // Nothing runs inside enqueue: delivery starts on a later turn, as from a real queue.
    expect(seen).toEqual([]);
    await queues.idle();
    expect(seen.map((s) => s.content)).toEqual([{ subject: 'a' }, { subject: 'b' }, 'eyJzdWJqZWN0IjoiYyJ9', [1, 2]]);
    expect(seen[0]?.metadata).toMatchObject({ id: first.id, dequeueCount: 1, insertionTime: first.insertionTime.toISOString() });
    expect(most).toBe(1);
    expect(queues.peek('events')).toEqual([]);
    queues.close();
  });

  test('deliver a failed message again, and after five failed deliveries move it to the poison queue unchanged', async () => {
    const failures: DeliveryFailure[] = [];
    const queues = new LocalQueues({ onFailure: (f) => failures.push(f) });
    const counts: number[] = [];
    queues.consume('work', async (content, metadata) => {
      counts.push(metadata.dequeueCount);
      if (content !== 'fine') throw new Error('boom');
    });
    queues.enqueue('work', 'doomed');
    queues.enqueue('work', 'fine');
    await queues.idle();
    expect(counts.filter((c) => c > 1)).toEqual([2, 3, 4, 5]);
    expect(queues.peek('work')).toEqual([]);
    expect(queues.peek('work-poison').map((m) => ({ text: m.text, dequeueCount: m.dequeueCount }))).toEqual([{ text: 'doomed', dequeueCount: 0 }]);
    expect(failures.map((f) => f.movedTo)).toEqual(['work', 'work', 'work', 'work', 'work-poison']);
    queues.close();
  });

  test('wait out the visibility timeout before a retry, without holding back a new message', async () => {
    const queues = new LocalQueues({ visibilityTimeoutMs: 300, maxDequeueCount: 2 });
    const order: string[] = [];
    queues.consume('slow', async (content, metadata) => {
      order.push(`${String(content)}#${metadata.dequeueCount}`);
      if (content === 'retry-me' && metadata.dequeueCount === 1) throw new Error('once');
    });
    const started = Date.now();
    queues.enqueue('slow', 'retry-me');
    await new Promise((r) => setTimeout(r, 50));
    queues.enqueue('slow', 'new');
    await queues.idle();
    expect(order).toEqual(['retry-me#1', 'new#1', 'retry-me#2']);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    queues.close();
  });

  test('refuse what Azure Storage refuses: a bad queue name, a message over 64 KiB', () => {
    const queues = new LocalQueues();
    for (const name of ['', 'ab', 'Upper', 'two--dashes', '-edge', 'edge-', 'a/b', 'x'.repeat(64)])
      expect(() => queues.enqueue(name, 'm')).toThrow(/queue name/);
    expect(() => queues.enqueue('fine-name', 'x'.repeat(64 * 1024 + 1))).toThrow(/at most/);
    expect(queues.enqueue('fine-name', 'x'.repeat(64 * 1024)).text).toHaveLength(64 * 1024);
    queues.close();
  });
});

describe('the local host with a queue function', () => {
  let host: LocalHost;
  const logs: { level: string; functionName: string; message: string }[] = [];
  const received: { content: unknown; dequeueCount: unknown; functionName: string }[] = [];
  const registration: Registration = {
    name: 'queueEcho',
    trigger: { type: 'queueTrigger', direction: 'in', name: 'queueEntry', queueName: '%ECHO_QUEUE%', connection: 'AzureWebJobsStorage' },
    handler: async (...args: unknown[]) => {
      const [content, context] = args as [unknown, InvocationContext];
      received.push({ content, dequeueCount: context.triggerMetadata?.dequeueCount, functionName: context.functionName });
      if (typeof content === 'object' && content !== null && 'fail' in content) throw new Error('failing on purpose: secret-ish detail');
    },
  };

  beforeAll(async () => {
    host = await startHost({ port: 0, registrations: [registration], env: { ECHO_QUEUE: 'echo' }, log: (l) => logs.push(l) });
  });
  afterAll(async () => {
    await host.close();
  });
  beforeEach(() => {
    received.length = 0;
  });

  const post = (path: string, body: string, headers: Record<string, string> = { 'content-type': 'application/json' }) =>
    fetch(`${host.url}${path}`, { method: 'POST', headers, body });

  test('runs the function for each message enqueued, with a real InvocationContext (queue name from the app setting)', async () => {
    host.enqueue('echo', { hello: 'world' });
    await host.queuesIdle();
    expect(received).toEqual([{ content: { hello: 'world' }, dequeueCount: 1, functionName: 'queueEcho' }]);
  });

  test('POST /_local/queues/{name} takes JSON: an object as the message, a JSON string as its text', async () => {
    const added = await post('/_local/queues/echo', JSON.stringify({ n: 1 }));
    expect(added.status).toBe(201);
    expect(await added.json()).toMatchObject({ queue: 'echo', id: expect.any(String) });
    expect((await post('/_local/queues/echo', JSON.stringify('eyJuIjoyfQ=='))).status).toBe(201);
    await host.queuesIdle();
    expect(received.map((r) => r.content)).toEqual([{ n: 1 }, 'eyJuIjoyfQ==']);
  });

  test('refuses cross-site posts, anything but JSON, oversized bodies, other methods and names that are not queue names', async () => {
    const json = { 'content-type': 'application/json' };
    const cases: [string, Response, number][] = [
      ['Sec-Fetch-Site cross-site', await post('/_local/queues/echo', '{}', { ...json, 'sec-fetch-site': 'cross-site' }), 403],
      ['a foreign Origin', await post('/_local/queues/echo', '{}', { ...json, origin: 'https://evil.example' }), 403],
      ['a form', await post('/_local/queues/echo', 'a=1', { 'content-type': 'application/x-www-form-urlencoded' }), 415],
      ['text/plain', await post('/_local/queues/echo', '{}', { 'content-type': 'text/plain' }), 415],
      ['JSON that is not', await post('/_local/queues/echo', '{"a":', json), 415],
      ['over 64 KiB', await post('/_local/queues/echo', JSON.stringify('x'.repeat(64 * 1024 + 1)), json), 413],
      ['PUT', await fetch(`${host.url}/_local/queues/echo`, { method: 'PUT', headers: json, body: '{}' }), 405],
      ['a bad name', await post('/_local/queues/Not_A_Queue', '{}'), 404],
    ];
    expect(cases.map(([what, r]) => [what, r.status])).toEqual(cases.map(([what, , status]) => [what, status]));
    for (const [, r] of cases) expect(r.headers.get('content-type')).toMatch(/^application\/json/);
    const errors = await Promise.all(cases.map(async ([what, r]) => [what, ((await r.json()) as { error: string }).error]));
    expect(errors.filter(([, e]) => e === 'queue_message_invalid').map(([what]) => what)).toEqual(['a form', 'text/plain', 'JSON that is not']);
    await host.queuesIdle();
    expect(received).toEqual([]);
  });

  test('a message that fails five times is moved to {name}-poison, which GET lists; the log names it, never its content', async () => {
    host.enqueue('echo', { fail: true, marker: 'canary-content' });
    await host.queuesIdle();
    expect(received.map((r) => r.dequeueCount)).toEqual([1, 2, 3, 4, 5]);
    const poison = (await (await fetch(`${host.url}/_local/queues/echo-poison`)).json()) as { messages: { text: string }[] };
    expect(poison.messages.map((m) => JSON.parse(m.text) as unknown)).toEqual([{ fail: true, marker: 'canary-content' }]);
    const hostLines = logs.filter((l) => l.functionName === 'host').map((l) => l.message);
    expect(hostLines.filter((m) => m.includes('moved to echo-poison'))).toHaveLength(1);
    expect(hostLines.filter((m) => m.includes('will be delivered again'))).toHaveLength(4);
    expect(hostLines.join('\n')).not.toMatch(/canary-content|secret-ish/);
  });
});
