/**
 * Storage queues of the local host, in memory: what Azure Storage and the Functions host's queue
 * trigger do for this service, kept simple. A queue is created by its first message. Each queue
 * with a trigger gets one message at a time (host.json: batchSize 1), handed over as the Functions
 * host hands it to a Node.js function (a JSON message parsed, anything else as its text), with the
 * trigger metadata (dequeueCount, id, insertionTime, …). A delivery that throws makes the message
 * visible again after visibilityTimeoutMs; after maxDequeueCount deliveries it moves to
 * `{name}-poison`, as the real host moves it. Nothing survives a restart.
 */
import { randomBytes, randomUUID } from 'node:crypto';

/** Azure Storage's rule for queue names: 3–63 lowercase letters, digits and single dashes, no dash at either end. */
const queueNamePattern = /^(?=.{3,63}$)[a-z0-9]+(?:-[a-z0-9]+)*$/;
/** Azure Storage's limit on one message. */
export const maxQueueMessageBytes = 64 * 1024;
/** Azure Storage's default time to live of a message. */
const messageTtlMs = 7 * 24 * 3600 * 1000;

export function isQueueName(name: string): boolean {
  return queueNamePattern.test(name);
}

export interface QueueMessage {
  id: string;
  /** The message as stored. */
  text: string;
  dequeueCount: number;
  insertionTime: Date;
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

/** One failed delivery (for the host's log: the queue, the message id and the error's name, never the message). */
export interface DeliveryFailure {
  queue: string;
  id: string;
  dequeueCount: number;
  error: unknown;
  /** Where the message went: back to its queue, or to the poison queue. */
  movedTo?: string;
}

export interface LocalQueuesOptions {
  /** Deliveries before a message moves to `{name}-poison` (the Functions default, and host.json's, is 5). */
  maxDequeueCount?: number;
  /** How long a message that failed stays invisible (host.json's visibilityTimeout; the Functions default is 0). */
  visibilityTimeoutMs?: number;
  onFailure?: (failure: DeliveryFailure) => void;
}

interface Entry {
  message: QueueMessage;
  visibleAt: number;
}

/** As the Functions host hands a queue message to a Node.js function: JSON parsed, anything else as text. */
export function queueContentOf(text: string): unknown {
  const trimmed = text.trim();
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    try {
      return JSON.parse(trimmed) as unknown;
    } catch {
      return text;
    }
  }
  return text;
}

export class LocalQueues {
  private readonly queues = new Map<string, Entry[]>();
  private readonly consumers = new Map<string, QueueConsumer>();
  private readonly busy = new Set<string>();
  private readonly wakeUps = new Map<string, { timer: NodeJS.Timeout; at: number }>();
  private idleWaiters: (() => void)[] = [];
  private closed = false;
  private readonly maxDequeueCount: number;
  private readonly visibilityTimeoutMs: number;

  constructor(private readonly options: LocalQueuesOptions = {}) {
    this.maxDequeueCount = options.maxDequeueCount ?? 5;
    this.visibilityTimeoutMs = options.visibilityTimeoutMs ?? 0;
  }

  /** The queue trigger of one function: it receives every message of `queueName`. */
  consume(queueName: string, consumer: QueueConsumer): void {
    if (!isQueueName(queueName)) throw new Error(`Queue name ${JSON.stringify(queueName)} is not a valid Azure Storage queue name`);
    if (this.consumers.has(queueName)) throw new Error(`Queue ${queueName} already has a trigger`);
    this.consumers.set(queueName, consumer);
    this.schedule(queueName, 0);
  }

  /** Adds a message: a string as it is, anything else as its JSON. Throws on a bad queue name or a message over 64 KiB. */
  enqueue(queueName: string, message: unknown): QueueMessage {
    if (this.closed) throw new Error('The local queues are closed');
    if (!isQueueName(queueName)) throw new Error(`Queue name ${JSON.stringify(queueName)} is not a valid Azure Storage queue name`);
    const text = typeof message === 'string' ? message : JSON.stringify(message);
    if (typeof text !== 'string') throw new Error('A queue message is a string or a JSON value');
    if (Buffer.byteLength(text, 'utf8') > maxQueueMessageBytes) throw new Error(`A queue message is at most ${maxQueueMessageBytes} bytes`);
    const stored: QueueMessage = { id: randomUUID(), text, dequeueCount: 0, insertionTime: new Date() };
    this.add(queueName, stored);
    return { ...stored };
  }

  /** The messages of a queue, oldest first, those being delivered included (copies). */
  peek(queueName: string): QueueMessage[] {
    return (this.queues.get(queueName) ?? []).map((e) => ({ ...e.message }));
  }

  /** Resolves once every queue with a trigger is empty and no delivery is running (retries waiting count as work). */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops delivering; a delivery running now finishes. */
  close(): void {
    this.closed = true;
    for (const w of this.wakeUps.values()) clearTimeout(w.timer);
    this.wakeUps.clear();
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  private add(queueName: string, message: QueueMessage): void {
    const list = this.queues.get(queueName) ?? [];
    list.push({ message, visibleAt: Date.now() });
    this.queues.set(queueName, list);
    this.schedule(queueName, 0);
  }

  private isIdle(): boolean {
    for (const name of this.consumers.keys()) if (this.busy.has(name) || (this.queues.get(name)?.length ?? 0) > 0) return false;
    return true;
  }

  private settle(): void {
    if (this.isIdle()) for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  /** Delivery starts on a later turn, as with a real queue: enqueue never runs the function itself. */
  private schedule(queueName: string, delayMs: number): void {
    if (this.closed || !this.consumers.has(queueName)) return;
    const at = Date.now() + Math.max(0, delayMs);
    const pending = this.wakeUps.get(queueName);
    if (pending && pending.at <= at) return;
    if (pending) clearTimeout(pending.timer);
    const timer = setTimeout(() => {
      this.wakeUps.delete(queueName);
      this.pump(queueName);
    }, at - Date.now());
    timer.unref();
    this.wakeUps.set(queueName, { timer, at });
  }

  private pump(queueName: string): void {
    const consumer = this.consumers.get(queueName);
    if (this.closed || !consumer || this.busy.has(queueName)) return;
    const list = this.queues.get(queueName) ?? [];
    const now = Date.now();
    const entry = list.find((e) => e.visibleAt <= now);
    if (!entry) {
      const next = Math.min(...list.map((e) => e.visibleAt));
      if (Number.isFinite(next)) this.schedule(queueName, next - now);
      return this.settle();
    }
    this.busy.add(queueName);
    const message = entry.message;
    message.dequeueCount += 1;
    entry.visibleAt = Number.POSITIVE_INFINITY;
    const metadata: QueueTriggerMetadata = {
      id: message.id,
      dequeueCount: message.dequeueCount,
      insertionTime: message.insertionTime.toISOString(),
      expirationTime: new Date(message.insertionTime.getTime() + messageTtlMs).toISOString(),
      nextVisibleTime: new Date(now + this.visibilityTimeoutMs).toISOString(),
      popReceipt: randomBytes(12).toString('base64'),
    };
    void Promise.resolve()
      .then(() => consumer(queueContentOf(message.text), metadata))
      .then(
        () => this.remove(queueName, entry),
        (error: unknown) => {
          if (message.dequeueCount >= this.maxDequeueCount) {
            this.remove(queueName, entry);
            const poison = `${queueName}-poison`;
            this.add(poison, { id: randomUUID(), text: message.text, dequeueCount: 0, insertionTime: new Date() });
            this.options.onFailure?.({ queue: queueName, id: message.id, dequeueCount: message.dequeueCount, error, movedTo: poison });
          } else {
            entry.visibleAt = Date.now() + this.visibilityTimeoutMs;
            this.options.onFailure?.({ queue: queueName, id: message.id, dequeueCount: message.dequeueCount, error, movedTo: queueName });
          }
        },
      )
      .finally(() => {
        this.busy.delete(queueName);
        this.pump(queueName);
      });
  }

  private remove(queueName: string, entry: Entry): void {
    const list = this.queues.get(queueName) ?? [];
    const at = list.indexOf(entry);
    if (at >= 0) list.splice(at, 1);
  }
}
