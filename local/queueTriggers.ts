/**
 * The local host's storage-queue triggers, on real queues (Azurite in local mode and tests):
 * what the Functions host's queue listener does for this service, as its source does it
 * (Azure/azure-sdk-for-net, sdk/storage/Microsoft.Azure.WebJobs.Extensions.Storage.Common/src/
 * Shared/Queues/QueueProcessor.cs and QueueListener.cs; docs/STAND-INS.md, "Local Functions host"):
 *
 * - a message is received invisible for the function's time, handed over decoded as host.json's
 *   `messageEncoding` says (`base64` or `none`), what JSON.parse makes of it or else its text, with
 *   the trigger metadata (dequeueCount, id, insertionTime, …);
 * - success deletes it; a failure makes it visible again after `visibilityTimeout`, and a failure
 *   of its `maxDequeueCount`-th delivery (or a message received more often than that) moves its
 *   text to `{queue}-poison` and deletes it;
 * - `batchSize` messages at a time per queue, polled with a back-off while the queue is empty.
 */
import { readFileSync } from 'node:fs';
import { type QueueClient, QueueServiceClient, type DequeuedMessageItem } from '@azure/storage-queue';

/** host.json's `extensions.queues`, with the Functions defaults for what it leaves out. */
export interface QueueHostOptions {
  messageEncoding: 'base64' | 'none';
  maxDequeueCount: number;
  visibilityTimeoutMs: number;
  batchSize: number;
  /** Longest wait between polls of an empty queue (the Functions default is a minute; locally shorter). */
  maxPollingIntervalMs: number;
}

const functionsDefaults: QueueHostOptions = {
  messageEncoding: 'base64',
  maxDequeueCount: 5,
  visibilityTimeoutMs: 0,
  batchSize: 16,
  maxPollingIntervalMs: 2_000,
};

/** `hh:mm:ss` (host.json's time spans) in milliseconds. */
function timeSpanMs(value: unknown): number | undefined {
  const m = typeof value === 'string' ? /^(\d+):(\d{2}):(\d{2})$/.exec(value) : null;
  return m ? (Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3])) * 1000 : undefined;
}

/** Reads `extensions.queues` of a host.json. */
export function queueOptionsOf(hostJsonPath: string): QueueHostOptions {
  const hostJson = JSON.parse(readFileSync(hostJsonPath, 'utf8')) as { extensions?: { queues?: Record<string, unknown> } };
  const q = hostJson.extensions?.queues ?? {};
  return {
    messageEncoding: q.messageEncoding === 'none' ? 'none' : 'base64',
    maxDequeueCount: typeof q.maxDequeueCount === 'number' ? q.maxDequeueCount : functionsDefaults.maxDequeueCount,
    visibilityTimeoutMs: timeSpanMs(q.visibilityTimeout) ?? functionsDefaults.visibilityTimeoutMs,
    batchSize: typeof q.batchSize === 'number' ? q.batchSize : functionsDefaults.batchSize,
    maxPollingIntervalMs: functionsDefaults.maxPollingIntervalMs,
  };
}

/** What a queue-triggered function receives besides the message (InvocationContext.triggerMetadata). */
export interface QueueTriggerMetadata {
  id: string;
  dequeueCount: number;
  insertionTime: string;
  expirationTime: string;
  nextVisibleTime: string;
  popReceipt: string;
  [key: string]: unknown;
}

export type QueueConsumer = (content: unknown, metadata: QueueTriggerMetadata) => Promise<unknown>;

/** One failed delivery, for the host's log: the queue, the message id and the error, never the message. */
export interface DeliveryFailure {
  queue: string;
  id: string;
  dequeueCount: number;
  error: unknown;
  /** Where the message went: back to its queue, or to the poison queue. */
  movedTo: string;
}

/**
 * As a Node.js function receives a queue message: the worker gets its text and hands over what
 * JSON.parse makes of it, or the text when that fails (`fromRpcTypedData` in
 * node_modules/@azure/functions, for string data).
 */
export function queueContentOf(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** How long a received message stays invisible while its function runs: host.json's functionTimeout (10 minutes). */
const processingVisibilitySeconds = 600;

export class QueueTriggers {
  private readonly service: QueueServiceClient;
  private readonly running = new Set<Promise<void>>();
  private readonly loops: Promise<void>[] = [];
  private readonly queues: string[] = [];
  private closed = false;
  private wake: (() => void)[] = [];

  constructor(
    connectionString: string,
    private readonly options: QueueHostOptions,
    private readonly onFailure: (failure: DeliveryFailure) => void,
  ) {
    this.service = QueueServiceClient.fromConnectionString(connectionString);
  }

  /** A client of one queue of the account (tests and local mode add messages with it). */
  queue(name: string): QueueClient {
    return this.service.getQueueClient(name);
  }

  /** The trigger of one function: every message of `queueName` goes to `consumer`. */
  consume(queueName: string, consumer: QueueConsumer): void {
    this.queues.push(queueName);
    this.loops.push(this.poll(queueName, consumer));
  }

  /** Resolves once every triggered queue is empty (messages waiting to be retried count) and no function runs. */
  async idle(): Promise<void> {
    for (;;) {
      if (this.closed) return;
      const counts = await Promise.all(this.queues.map(async (q) => (await this.queue(q).getProperties()).approximateMessagesCount ?? 0));
      if (this.running.size === 0 && counts.every((n) => n === 0)) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.wake.splice(0)) w();
    await Promise.allSettled([...this.loops, ...this.running]);
  }

  /** Waits between polls; close() cuts every wait short. */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wake = this.wake.filter((w) => w !== done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake.push(done);
    });
  }

  private async poll(queueName: string, consumer: QueueConsumer): Promise<void> {
    const queue = this.queue(queueName);
    let ready = false;
    let delay = 50;
    while (!this.closed) {
      try {
        if (!ready) {
          await queue.createIfNotExists();
          ready = true;
        }
        const room = this.options.batchSize - this.running.size;
        const received =
          room > 0
            ? (await queue.receiveMessages({ numberOfMessages: Math.min(32, room), visibilityTimeout: processingVisibilitySeconds }))
                .receivedMessageItems
            : [];
        for (const message of received) this.track(this.deliver(queue, message, consumer));
        delay = received.length > 0 ? 0 : Math.min(this.options.maxPollingIntervalMs, Math.max(50, delay * 2));
      } catch {
        // The emulator restarting, a connection reset: poll again after the back-off.
        delay = this.options.maxPollingIntervalMs;
      }
      if (delay > 0) await this.sleep(delay);
    }
  }

  private track(delivery: Promise<void>): void {
    this.running.add(delivery);
    void delivery.finally(() => this.running.delete(delivery));
  }

  private async deliver(queue: QueueClient, message: DequeuedMessageItem, consumer: QueueConsumer): Promise<void> {
    const { maxDequeueCount } = this.options;
    // Received more often than allowed (its function kept dying): poison before another try.
    if (message.dequeueCount > maxDequeueCount) return this.poison(queue, message, new Error('dequeue count exceeded'));
    const metadata: QueueTriggerMetadata = {
      id: message.messageId,
      dequeueCount: message.dequeueCount,
      insertionTime: message.insertedOn.toISOString(),
      expirationTime: message.expiresOn.toISOString(),
      nextVisibleTime: message.nextVisibleOn.toISOString(),
      popReceipt: message.popReceipt,
    };
    try {
      const text = this.options.messageEncoding === 'base64' ? decodeBase64(message.messageText) : message.messageText;
      await consumer(queueContentOf(text), metadata);
    } catch (error) {
      if (message.dequeueCount >= maxDequeueCount) return this.poison(queue, message, error);
      await queue
        .updateMessage(message.messageId, message.popReceipt, undefined, Math.round(this.options.visibilityTimeoutMs / 1000))
        .catch(() => undefined);
      this.onFailure({ queue: queue.name, id: message.messageId, dequeueCount: message.dequeueCount, error, movedTo: queue.name });
      return;
    }
    await queue.deleteMessage(message.messageId, message.popReceipt).catch(() => undefined);
  }

  private async poison(queue: QueueClient, message: DequeuedMessageItem, error: unknown): Promise<void> {
    const poison = this.queue(`${queue.name}-poison`);
    await poison.createIfNotExists();
    await poison.sendMessage(message.messageText);
    await queue.deleteMessage(message.messageId, message.popReceipt).catch(() => undefined);
    this.onFailure({ queue: queue.name, id: message.messageId, dequeueCount: message.dequeueCount, error, movedTo: poison.name });
  }
}

/** Strict base64, as the host's decoding is: anything else fails the delivery (and ends in the poison queue). */
function decodeBase64(text: string): string {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) throw new Error('The message is not base64, as host.json says it is');
  return Buffer.from(text, 'base64').toString('utf8');
}
