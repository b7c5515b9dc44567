/**
 * A small local Azure Functions host: serves the registered HTTP functions under /api, runs
 * timer functions on their NCRONTAB schedules and storage-queue functions on the queues of the
 * storage account their connection names (Azurite locally; local/queueTriggers.ts), and runs a
 * non-HTTP function on `POST /admin/functions/{name}` as the Functions host's admin API does,
 * like Core Tools would (function keys are not enforced locally, as with Core Tools). Not
 * imported by functions/ or shared/.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import Module from 'node:module';
import { format } from 'node:util';
import type { HttpResponseInit, Timer } from '@azure/functions';
import { Cron } from 'croner';
import { AppError } from '../shared/errors';
import type { Logger } from '../shared/log';
import { getSettings, type Settings } from '../shared/settings';
import { errorResponse } from '../shared/web/errorResponse';
import { acceptedMethods, isCrossSitePost } from '../shared/web/requestGuards';
import * as functionsCore from './functionsCore';
import type { Registration } from './functionsCore';
import { queueContentOf, QueueTriggers, type QueueHostOptions, type QueueTriggerMetadata } from './queueTriggers';

/**
 * Makes `require('@azure/functions-core')` return our stand-in, as the Functions worker provides
 * the real one (by intercepting require). Call before @azure/functions loads. It hands over the
 * module itself, not a path, so it works from a bundle too.
 */
export function installFunctionsCore(): void {
  const mod = Module as unknown as { _load: (request: string, ...rest: unknown[]) => unknown };
  const original = mod._load;
  if ((original as { __local?: boolean }).__local) return;
  const patched = function (this: unknown, request: string, ...rest: unknown[]) {
    return request === '@azure/functions-core' ? functionsCore : original.call(this, request, ...rest);
  };
  (patched as { __local?: boolean }).__local = true;
  mod._load = patched;
}

export type LogSink = (line: { level: string; functionName: string; invocationId: string; message: string }) => void;

export const consoleSink: LogSink = ({ level, functionName, message }) => {
  const out = level === 'error' || level === 'warning' ? process.stderr : process.stdout;
  out.write(`[${new Date().toISOString()}] ${functionName} ${level}: ${message}\n`);
};

export interface HostOptions {
  port: number;
  registrations: Registration[];
  /** Resolves `%NAME%` in timer schedules, like the Functions host does with app settings. */
  env?: Record<string, string | undefined>;
  log?: LogSink;
  /** Starts timers on their schedules (off in tests, which invoke them explicitly). */
  timers?: boolean;
  routePrefix?: string;
  maxBodyBytes?: number;
  /** host.json's extensions.queues: encoding, retries and poison handling of the queue triggers (local/queueTriggers.ts queueOptionsOf). Required with a queue trigger. */
  queues?: QueueHostOptions;
}

export interface LocalHost {
  url: string;
  server: Server;
  invokeTimer(name: string, timer?: Partial<Timer>): Promise<unknown>;
  /** Adds a message's text to a storage queue of the triggers' account, as any sender to Azure Storage would. */
  enqueue(queueName: string, text: string): Promise<void>;
  /** The texts of the messages visible in a queue (`{name}-poison` holds those that failed every delivery). */
  peekQueue(queueName: string): Promise<string[]>;
  /** Resolves once every triggered queue is empty and no queue function is running. */
  queuesIdle(): Promise<void>;
  close(): Promise<void>;
}

function resolveSetting(value: string, env: Record<string, string | undefined>): string {
  return value.replace(/%([A-Za-z0-9_]+)%/g, (_, name: string) => {
    const v = env[name];
    if (v === undefined) throw new Error(`App setting ${name} is not set`);
    return v;
  });
}

/** What the host's log may say about a failure: its class and code, never its message. */
function errorName(err: unknown): string {
  if (err instanceof AppError) return `${err.name} ${err.code}`;
  return err instanceof Error ? err.name : 'error';
}

function routeRegex(route: string): RegExp {
  const pattern = route
    .split('/')
    .map((part) => (part.startsWith('{') && part.endsWith('}') ? '([^/]+)' : part.replace(/[.*+?^$()|[\]\\]/g, '\\$&')))
    .join('/');
  return new RegExp(`^${pattern}$`, 'i');
}

/** The body, or why there is none to hand over: over the limit, or the client left before sending it all. */
async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | 'too-large' | 'aborted'> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > limit) return 'too-large';
      chunks.push(chunk as Buffer);
    }
  } catch (err) {
    // A client that closes its connection mid-request is not a failure of the service.
    if (req.destroyed || (err as NodeJS.ErrnoException).code === 'ECONNRESET') return 'aborted';
    throw err;
  }
  return Buffer.concat(chunks);
}

/** The TCP peer as App Service writes it into X-Forwarded-For: `ip:port`, `[v6]:port`. */
function peerOf(req: IncomingMessage): string {
  const { remoteAddress, remotePort } = req.socket;
  if (!remoteAddress) return '';
  return `${remoteAddress.includes(':') ? `[${remoteAddress}]` : remoteAddress}:${remotePort ?? 0}`;
}

function serializeCookie(c: NonNullable<HttpResponseInit['cookies']>[number]): string {
  const parts = [`${c.name}=${c.value}`];
  if (c.domain) parts.push(`Domain=${c.domain}`);
  if (c.path) parts.push(`Path=${c.path}`);
  if (c.maxAge !== undefined) parts.push(`Max-Age=${c.maxAge}`);
  if (c.expires) parts.push(`Expires=${new Date(c.expires).toUTCString()}`);
  if (c.secure) parts.push('Secure');
  if (c.httpOnly) parts.push('HttpOnly');
  if (c.sameSite) parts.push(`SameSite=${c.sameSite}`);
  return parts.join('; ');
}

export async function startHost(options: HostOptions): Promise<LocalHost> {
  // Loaded here, after installFunctionsCore(), from the same copy the function files use.
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- must load after installFunctionsCore(), from the copy the function files use
  const { HttpRequest, InvocationContext } = require('@azure/functions') as typeof import('@azure/functions');
  const env = options.env ?? process.env;
  const log = options.log ?? consoleSink;
  const prefix = options.routePrefix ?? 'api';
  const maxBody = options.maxBodyBytes ?? 1024 * 1024;
  const http = options.registrations
    .filter((r) => r.trigger.type.toLowerCase() === 'httptrigger')
    .map((r) => ({ r, regex: routeRegex(r.trigger.route ?? r.name), methods: (r.trigger.methods ?? ['GET', 'POST']).map((m) => m.toUpperCase()) }));
  const timers = options.registrations.filter((r) => r.trigger.type.toLowerCase() === 'timertrigger');

  /** This host's own port and origin (known once listening); request URLs are built on it. */
  let port = options.port;
  let origin = `http://localhost:${port}`;

  const contextFor = (functionName: string, triggerMetadata?: QueueTriggerMetadata) => {
    const invocationId = randomUUID();
    return new InvocationContext({
      invocationId,
      functionName,
      logHandler: (level, ...args) => log({ level, functionName, invocationId, message: format(...args) }),
      ...(triggerMetadata ? { triggerMetadata } : {}),
    });
  };

  /**
   * What the host itself answers (no route, a method the route does not declare, a body over the
   * host limit, a foreign Host, a crash): the service's own error page, through the same function
   * the handlers use, so these answers carry the same headers, language, title and a correlation
   * id that is also logged.
   */
  function hostAnswer(req: IncomingMessage, res: ServerResponse, err: AppError, extra: Record<string, string> = {}, json = false): void {
    const correlationId = randomUUID();
    const logger = hostLogger(correlationId);
    const answer = errorResponse(err, { settings: settingsOrNone(), correlationId, logger, headers: extra, json });
    res.writeHead(answer.status, answer.headers);
    res.end(req.method === 'HEAD' ? undefined : answer.body);
  }

  function settingsOrNone(): Settings | undefined {
    try {
      return getSettings();
    } catch {
      // Invalid settings are the functions' to report; the host still answers.
      return undefined;
    }
  }

  function hostLogger(invocationId: string): Logger {
    const line =
      (level: string) =>
      (...args: unknown[]) =>
        log({ level, functionName: 'host', invocationId, message: format(...args) });
    return { info: line('information'), warn: line('warning'), error: line('error') };
  }

  /** A client that left: logged as what it is (no error, no failure event), with the path only (a query may hold a code). */
  function clientLeft(req: IncomingMessage, when: string): void {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    log({
      level: 'information',
      functionName: 'host',
      invocationId: '-',
      message: `client closed the connection ${when} (${req.method ?? 'GET'} ${path})`,
    });
  }

  /**
   * MUST: only this host's own names are answered. A page on any site can point a name it owns at
   * 127.0.0.1 (DNS rebinding) and then read this host's answers as same-origin; the Host header
   * is the one thing that still names the attacker's site, so anything else is refused.
   */
  function isOwnHost(host: string | undefined): boolean {
    const value = (host ?? '').toLowerCase();
    return [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`].includes(value);
  }

  // ---------------------------------------------------------------- storage queues

  const adminRoute = 'admin/functions/';

  const queueRegistrations = options.registrations.filter((r) => r.trigger.type.toLowerCase() === 'queuetrigger');
  let queueTriggers: QueueTriggers | undefined;
  if (queueRegistrations.length > 0) {
    // As the Functions host: the binding's `connection` names the app setting of the account.
    const connections = new Set(queueRegistrations.map((r) => String(r.trigger.connection ?? 'AzureWebJobsStorage')));
    if (connections.size !== 1) throw new Error('The local host runs queue triggers of one storage account');
    const [connection] = connections;
    const connectionString = env[connection ?? ''];
    if (!connectionString) throw new Error(`Queue triggers need the app setting ${connection ?? ''} (a connection string: Azurite locally)`);
    const queueOptions = options.queues;
    if (!queueOptions) throw new Error("Queue triggers need host.json's extensions.queues (queueOptionsOf)");
    queueTriggers = new QueueTriggers(connectionString, queueOptions, ({ queue, id, dequeueCount, error, movedTo }) =>
      log({
        level: movedTo === queue ? 'warning' : 'error',
        functionName: 'host',
        invocationId: '-',
        // What the Functions host itself logs when it gives up on a message (QueueProcessor.cs).
        message:
          movedTo === queue
            ? `queue ${queue}: delivery ${dequeueCount} of message ${id} failed (${errorName(error)}); it will be delivered again`
            : `Message has reached MaxDequeueCount of ${queueOptions.maxDequeueCount}. Moving message to queue '${movedTo}'. (message ${id}, ${errorName(error)})`,
      }),
    );
    for (const r of queueRegistrations) {
      const triggers = queueTriggers;
      triggers.consume(resolveSetting(String(r.trigger.queueName), env), async (content, metadata) =>
        r.handler(content, contextFor(r.name, metadata)),
      );
    }
  }

  /**
   * `POST /admin/functions/{name}` runs a timer or queue function now, as the Functions host's
   * admin API does (Learn, "Manually run a non HTTP-triggered function"): the body's `input` is
   * the queue message; a timer gets a timer object. 202 once started; the run goes on. Two local
   * hosts (two instances) are driven this way in the tests.
   */
  async function handleAdmin(req: IncomingMessage, res: ServerResponse, name: string): Promise<void> {
    const refuse = (err: AppError, extra: Record<string, string> = {}) => {
      req.resume();
      hostAnswer(req, res, err, extra, true);
    };
    const target = options.registrations.find((r) => r.name === name && r.trigger.type.toLowerCase() !== 'httptrigger');
    if (!target) return refuse(new AppError('not_found', 'No non-HTTP function of that name'));
    if ((req.method ?? 'GET').toUpperCase() !== 'POST')
      return refuse(new AppError('method_not_allowed', 'Method not allowed; allowed: POST'), { Allow: 'POST' });
    // MUST: any page the developer visits can post here; as for POST /api/rotate (docs/SECURITY.md 6), a cross-site post is refused.
    const header = (n: string) => {
      const v = req.headers[n];
      return v === undefined ? null : Array.isArray(v) ? v.join(', ') : v;
    };
    if (isCrossSitePost({ get: header }, origin)) return refuse(new AppError('cross_site_request', 'Cross-site POST refused'));
    if ((header('content-type') ?? '').split(';')[0]?.trim().toLowerCase() !== 'application/json')
      return refuse(new AppError('unsupported_media_type', 'The admin API takes application/json'));
    const body = await readBody(req, 64 * 1024);
    if (body === 'aborted') return clientLeft(req, 'before the whole request was sent; no function ran');
    if (body === 'too-large') return refuse(new AppError('body_too_large', 'Over the size of a queue message'), { Connection: 'close' });
    let input: unknown;
    try {
      input = (JSON.parse(body.toString('utf8') || '{}') as { input?: unknown }).input;
    } catch {
      return refuse(new AppError('unsupported_media_type', 'The body is not JSON'));
    }
    const run =
      target.trigger.type.toLowerCase() === 'timertrigger'
        ? invokeTimer(target.name)
        : target.handler(typeof input === 'string' ? queueContentOf(input) : input, contextFor(target.name));
    void Promise.resolve(run).catch((err: unknown) =>
      log({ level: 'error', functionName: target.name, invocationId: '-', message: `admin run failed: ${errorName(err)}` }),
    );
    res.writeHead(202, { 'content-length': '0' });
    res.end();
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!isOwnHost(req.headers.host)) return hostAnswer(req, res, new AppError('host_not_allowed', 'Host header is not this host'));
    // MUST (docs/SECURITY.md 4): the URL handed to functions is this host's own, never built from the
    // Host header a client sends; only the path and query are the client's.
    let url: URL;
    try {
      const target = new URL(req.url ?? '/', 'http://target.invalid');
      url = new URL(`${target.pathname}${target.search}`, origin);
    } catch {
      return hostAnswer(req, res, new AppError('not_found', 'Request target is not a URL path'));
    }
    const path = url.pathname.replace(/^\/+/, '');
    if (path.startsWith(adminRoute)) return handleAdmin(req, res, path.slice(adminRoute.length));
    const match = path.startsWith(`${prefix}/`)
      ? http.map((h) => ({ h, m: h.regex.exec(path.slice(prefix.length + 1)) })).find((x) => x.m)
      : undefined;
    if (!match) return hostAnswer(req, res, new AppError('not_found', 'No function at this path'));
    const method = (req.method ?? 'GET').toUpperCase();
    if (!match.h.methods.includes(method)) {
      // The methods the function really serves, not the ones it registers to answer 405 itself.
      const allow = (acceptedMethods as Record<string, readonly string[]>)[match.h.r.name] ?? match.h.methods;
      return hostAnswer(req, res, new AppError('method_not_allowed', 'Method not declared by the function'), { Allow: allow.join(', ') });
    }
    const body = await readBody(req, maxBody);
    if (body === 'aborted') return clientLeft(req, 'before the whole request was sent; no function ran');
    if (body === 'too-large')
      return hostAnswer(req, res, new AppError('body_too_large', 'Request body over the host limit'), { Connection: 'close' });
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
    // As the App Service front end does: the peer's address is appended, after whatever the client
    // sent, so the rightmost entry is the one a client cannot choose (shared/guards/clientAddress.ts).
    headers['x-forwarded-for'] = [headers['x-forwarded-for'], peerOf(req)].filter(Boolean).join(', ');
    const request = new HttpRequest({
      method,
      url: url.toString(),
      headers,
      // No `query`: HttpRequest then reads it from the URL, as in Azure, keeping repeated parameters.
      params: {},
      ...(body.length > 0 ? { body: { string: body.toString('utf8') } } : {}),
    });
    const context = contextFor(match.h.r.name);
    const result = (await match.h.r.handler(request, context)) as HttpResponseInit | undefined;
    const status = result?.status ?? 200;
    const outHeaders = new Headers(result?.headers as ConstructorParameters<typeof Headers>[0]);
    const headerObject: Record<string, string | string[]> = {};
    outHeaders.forEach((value, key) => {
      headerObject[key] = value;
    });
    if (result?.cookies?.length) headerObject['set-cookie'] = result.cookies.map(serializeCookie);
    const payload = result?.jsonBody !== undefined ? JSON.stringify(result.jsonBody) : typeof result?.body === 'string' ? result.body : '';
    // The function finished (what it stored stays stored); only its answer has nowhere to go.
    if (req.socket.destroyed) return clientLeft(req, `before the answer (${status}) was sent; the function ran to the end`);
    res.writeHead(status, headerObject);
    res.end(method === 'HEAD' ? undefined : payload);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      log({
        level: 'error',
        functionName: 'host',
        invocationId: '-',
        message: `unhandled: ${err instanceof Error ? `${err.name}: ${err.message}` : 'error'}`,
      });
      if (!res.headersSent) hostAnswer(req, res, new AppError('internal', 'Unhandled error in the local host'));
      else res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  port = typeof address === 'object' && address ? address.port : options.port;
  origin = `http://localhost:${port}`;

  async function invokeTimer(name: string, timer: Partial<Timer> = {}): Promise<unknown> {
    const r = timers.find((t) => t.name === name);
    if (!r) throw new Error(`No timer function ${name}`);
    const info: Timer = {
      isPastDue: false,
      schedule: { adjustForDST: true },
      scheduleStatus: { last: '', next: '', lastUpdated: '' },
      ...timer,
    } as Timer;
    return r.handler(info, contextFor(name));
  }

  function triggersOrThrow(): QueueTriggers {
    if (!queueTriggers) throw new Error('This host runs no queue trigger');
    return queueTriggers;
  }

  const crons: Cron[] = [];
  if (options.timers) {
    for (const t of timers) {
      const schedule = resolveSetting(String(t.trigger.schedule), env);
      crons.push(
        new Cron(schedule, { protect: true }, async () => {
          try {
            await invokeTimer(t.name);
          } catch (err) {
            log({ level: 'error', functionName: t.name, invocationId: '-', message: `timer failed: ${err instanceof Error ? err.name : 'error'}` });
          }
        }),
      );
    }
  }

  return {
    url: `http://localhost:${port}`,
    server,
    invokeTimer,
    enqueue: async (queueName, text) => {
      const queue = triggersOrThrow().queue(queueName);
      await queue.createIfNotExists();
      await queue.sendMessage(text);
    },
    peekQueue: async (queueName) => {
      const queue = triggersOrThrow().queue(queueName);
      if (!(await queue.exists())) return [];
      return (await queue.peekMessages({ numberOfMessages: 32 })).peekedMessageItems.map((m) => m.messageText);
    },
    queuesIdle: () => queueTriggers?.idle() ?? Promise.resolve(),
    close: async () => {
      for (const c of crons) c.stop();
      await queueTriggers?.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
