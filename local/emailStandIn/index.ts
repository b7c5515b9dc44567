/**
 * A stand-in for the Azure Communication Services Email REST API (`https://<resource>.communication.azure.com`),
 * for tests and local mode: HTTPS on loopback, the two calls `@azure/communication-email` makes — `POST
 * /emails:send` (202 and an Operation-Location) and `GET /emails/operations/{id}` (the status) — authenticated
 * with a managed-identity bearer token from the Key Vault fake's managed-identity endpoint (as the real service
 * takes an Entra token of the app's identity), throttled as Learn's "Service limits" page says (429 with
 * Retry-After), and an outbox of what it accepted: `GET /_local/outbox` (JSON) and `GET /_local/outbox.html` (a
 * page a person reads). Every behaviour and its source: docs/STAND-INS.md, "Communication Services Email
 * stand-in". Not imported by functions/ or shared/.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { verifyAccessToken } from '../keyVaultFake/msi';
import { closeServers, listenLoopback } from '../loopbackHttps';

/** The resource a token for Communication Services names (the SDK asks for `https://communication.azure.com//.default`). */
export const communicationResource = 'https://communication.azure.com';

/** One message as the stand-in accepted it, and as `GET /_local/outbox` lists it. */
export interface OutboxMessage {
  from: string;
  to: string[];
  subject: string;
  text: string;
  sentAt: string;
  operationId: string;
}

/** A window of a limit: at most `max` calls in `windowMs`. */
export interface Limit {
  max: number;
  windowMs: number;
}

/**
 * Learn, "Service limits for Azure Communication Services", Email, rate limits per subscription: by the
 * sender's domain, Send Email and Get Email Status per minute and per hour.
 */
export const emailServiceLimits: Record<'azure-managed' | 'custom', { send: Limit[]; status: Limit[] }> = {
  'azure-managed': {
    send: [
      { max: 5, windowMs: 60_000 },
      { max: 10, windowMs: 3_600_000 },
    ],
    status: [
      { max: 10, windowMs: 60_000 },
      { max: 20, windowMs: 3_600_000 },
    ],
  },
  custom: {
    send: [
      { max: 30, windowMs: 60_000 },
      { max: 100, windowMs: 3_600_000 },
    ],
    status: [
      { max: 60, windowMs: 60_000 },
      { max: 200, windowMs: 3_600_000 },
    ],
  },
};

/** What the next sends meet instead of being accepted. */
export const emailFaultSchema = z.discriminatedUnion('kind', [
  /** 429 TooManyRequests with this Retry-After (seconds), `count` times. */
  z.object({
    kind: z.literal('throttle'),
    count: z.number().int().positive().default(1),
    retryAfterSeconds: z.number().int().nonnegative().default(60),
  }),
  /** An error answer (403 when the identity has no role, 400, 500, 503 …), `count` times (or until cleared: `count` omitted). */
  z.object({
    kind: z.literal('status'),
    status: z.number().int().min(400).max(599),
    code: z.string().default('Error'),
    count: z.number().int().positive().optional(),
  }),
  /** Accepted (202), but the operation ends `Failed` with this code, `count` times. */
  z.object({
    kind: z.literal('operation-failed'),
    code: z.string().default('EmailDroppedAllRecipientsSuppressed'),
    count: z.number().int().positive().default(1),
  }),
]);
export type EmailFaultInput = z.input<typeof emailFaultSchema>;
type EmailFault = z.output<typeof emailFaultSchema>;

export interface EmailStandInOptions {
  /** PEM certificate and key covering "localhost" (LOCAL_TLS_CERT / LOCAL_TLS_KEY): the SDK sends a bearer token only over https. */
  tls: { cert: string | Buffer; key: string | Buffer };
  /** 0 or absent: a free port. */
  port?: number;
  /** Limits per sender domain kind; default Learn's figures (`emailServiceLimits`). */
  limits?: typeof emailServiceLimits;
  now?: () => number;
}

export interface EmailStandInStats {
  sends: number;
  statusCalls: number;
  /** 429 answers, from the limits or a fault. */
  throttled: number;
  /** 401 answers: no token, or one not issued for Communication Services. */
  unauthorized: number;
}

export interface EmailStandIn {
  /** https://localhost:PORT: COMMUNICATION_SERVICES_ENDPOINT. */
  readonly url: string;
  /** What it accepted, oldest first (copies). */
  outbox(): OutboxMessage[];
  clearOutbox(): void;
  setFault(fault: EmailFaultInput): void;
  clearFaults(): void;
  readonly stats: EmailStandInStats;
  /** Forgets the outbox, faults, operations, counters and the limits' windows. */
  reset(): void;
  close(): Promise<void>;
}

const maxBodyBytes = 10 * 1024 * 1024; // Learn: 10 MB per email request, attachments included.
const maxRecipients = 50; // Learn: 50 recipients per email.

interface Operation {
  id: string;
  polls: number;
  failedCode?: string;
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** The data plane's error shape (azure-rest-api-specs, common-types ErrorResponse), with its code in x-ms-error-code too. */
function sendError(res: ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}): void {
  sendJson(res, status, { error: { code, message } }, { 'x-ms-error-code': code, ...headers });
}

const address = z.object({ address: z.string().min(3), displayName: z.string().optional() });
/** EmailMessage of the REST specification (stable 2025-09-01): senderAddress, content.subject and recipients.to are required. */
const emailMessage = z.object({
  senderAddress: z.string().min(3),
  content: z.object({ subject: z.string(), plainText: z.string().optional(), html: z.string().optional() }),
  recipients: z.object({ to: z.array(address), cc: z.array(address).optional(), bcc: z.array(address).optional() }),
  headers: z.record(z.string(), z.string()).optional(),
  replyTo: z.array(address).optional(),
  userEngagementTrackingDisabled: z.boolean().optional(),
});

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
/** Links in a message's text, clickable on the outbox page (https and http only). */
const linkify = (s: string) => escapeHtml(s).replace(/https?:\/\/[^\s<&]+/g, (url) => `<a href="${url}">${url}</a>`);

function outboxPage(messages: OutboxMessage[]): string {
  const items = [...messages]
    .reverse()
    .map(
      (m) => `<article>
<h2>${escapeHtml(m.subject)}</h2>
<p class="meta">To ${escapeHtml(m.to.join(', '))} · from ${escapeHtml(m.from)} · ${escapeHtml(m.sentAt.slice(0, 16).replace('T', ' '))} UTC</p>
<pre>${linkify(m.text)}</pre>
</article>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Outbox (local mode)</title>
<style>body{font:16px/1.5 system-ui,sans-serif;margin:0 auto;max-width:46rem;padding:1rem;color:#1b1b1b}h1{font-size:1.4rem}article{border:1px solid #c8c8c8;border-radius:6px;padding:0 1rem;margin:1rem 0}h2{font-size:1.1rem}.meta{color:#555;font-size:.9rem}pre{white-space:pre-wrap;font:inherit}</style>
</head>
<body>
<h1>Outbox: messages to marketplace contacts (${messages.length})</h1>
<p class="meta">What Azure Communication Services would have delivered, newest first. Local mode only: nothing leaves this machine.</p>
${items || '<p>No message yet.</p>'}
</body>
</html>`;
}

export async function startEmailStandIn(options: EmailStandInOptions): Promise<EmailStandIn> {
  const now = options.now ?? Date.now;
  const limits = options.limits ?? emailServiceLimits;
  let outbox: OutboxMessage[] = [];
  let faults: EmailFault[] = [];
  let operations = new Map<string, Operation>();
  let windows = new Map<string, number[]>();
  const stats: EmailStandInStats = { sends: 0, statusCalls: 0, throttled: 0, unauthorized: 0 };

  /**
   * Counts a call in every window of `key` and says how many seconds the caller must wait, 0 when it is
   * within the limits. A refused call counts too (Learn: "all requests accrue against your usage limits"), so
   * the wait is until enough of the calls before it, this one included, have left the window.
   */
  const admit = (key: string, list: Limit[]): number => {
    const t = now();
    const longest = Math.max(...list.map((l) => l.windowMs));
    const stamps = (windows.get(key) ?? []).filter((s) => t - s < longest);
    stamps.push(t);
    windows.set(key, stamps);
    let wait = 0;
    for (const l of list) {
      const inWindow = stamps.filter((s) => t - s < l.windowMs);
      if (inWindow.length > l.max) wait = Math.max(wait, (inWindow[inWindow.length - l.max] ?? t) + l.windowMs - t);
    }
    return Math.ceil(wait / 1000);
  };

  const authorized = (req: IncomingMessage): boolean => {
    const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
    const seconds = Math.floor(now() / 1000);
    return !!m?.[1] && [communicationResource, `${communicationResource}/`].some((aud) => verifyAccessToken(m[1]!, aud, seconds));
  };

  async function readJson(req: IncomingMessage): Promise<{ json?: unknown; tooLarge?: boolean }> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > maxBodyBytes) return { tooLarge: true };
      chunks.push(chunk as Buffer);
    }
    try {
      return { json: JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown };
    } catch {
      return {};
    }
  }

  const takeFault = (kinds: EmailFault['kind'][]): EmailFault | undefined => {
    const fault = faults.find((f) => kinds.includes(f.kind));
    if (!fault) return undefined;
    if (fault.count !== undefined) {
      fault.count -= 1;
      if (fault.count <= 0) faults = faults.filter((f) => f !== fault);
    }
    return fault;
  };

  async function send(req: IncomingMessage, res: ServerResponse, url: URL, origin: string): Promise<void> {
    const apiVersion = url.searchParams.get('api-version');
    if (!authorized(req)) {
      req.resume();
      stats.unauthorized += 1;
      return sendError(res, 401, 'Unauthorized', 'The request has no valid Microsoft Entra token for Communication Services.');
    }
    if (!apiVersion) {
      req.resume();
      return sendError(res, 400, 'MissingApiVersionParameter', 'The api-version query parameter is required.');
    }
    const { json, tooLarge } = await readJson(req);
    if (tooLarge) return sendError(res, 413, 'RequestEntityTooLarge', 'The email request is larger than 10 MB.');
    const parsed = emailMessage.safeParse(json);
    if (!parsed.success)
      return sendError(res, 400, 'BadRequest', 'The email message is not valid: senderAddress, content.subject and recipients.to are required.');
    const m = parsed.data;
    const recipients = m.recipients.to.length + (m.recipients.cc?.length ?? 0) + (m.recipients.bcc?.length ?? 0);
    if (recipients === 0 || recipients > maxRecipients) return sendError(res, 400, 'BadRequest', `An email has 1 to ${maxRecipients} recipients.`);
    if (m.content.plainText === undefined && m.content.html === undefined)
      return sendError(res, 400, 'BadRequest', 'The content needs plainText or html.');
    const kind = /\.azurecomm\.net$/i.test(m.senderAddress) ? 'azure-managed' : 'custom';
    const wait = admit(`send:${kind}`, limits[kind].send);
    const throttle = wait > 0 ? undefined : takeFault(['throttle', 'status']);
    if (wait > 0 || throttle?.kind === 'throttle') {
      stats.throttled += 1;
      const seconds = wait > 0 ? wait : throttle?.kind === 'throttle' ? throttle.retryAfterSeconds : 0;
      return sendError(res, 429, 'TooManyRequests', 'Too many requests: try again after the time Retry-After gives.', {
        'retry-after': String(seconds),
      });
    }
    if (throttle?.kind === 'status') return sendError(res, throttle.status, throttle.code, `Fault: ${throttle.code}.`);
    stats.sends += 1;
    const given = req.headers['operation-id'];
    const id = typeof given === 'string' && /^[0-9a-f-]{36}$/i.test(given) ? given : randomUUID();
    const failed = takeFault(['operation-failed']);
    const operation: Operation = { id, polls: 0, ...(failed?.kind === 'operation-failed' ? { failedCode: failed.code } : {}) };
    operations.set(id, operation);
    if (!operation.failedCode) {
      outbox.push({
        from: m.senderAddress,
        to: m.recipients.to.map((r) => r.address),
        subject: m.content.subject,
        text: m.content.plainText ?? m.content.html ?? '',
        sentAt: new Date(now()).toISOString(),
        operationId: id,
      });
    }
    sendJson(
      res,
      202,
      { id, status: 'Running' },
      { 'operation-location': `${origin}/emails/operations/${id}?api-version=${encodeURIComponent(apiVersion)}`, 'retry-after': '20' },
    );
  }

  function status(req: IncomingMessage, res: ServerResponse, url: URL, id: string): void {
    req.resume();
    if (!authorized(req)) {
      stats.unauthorized += 1;
      return sendError(res, 401, 'Unauthorized', 'The request has no valid Microsoft Entra token for Communication Services.');
    }
    if (!url.searchParams.get('api-version'))
      return sendError(res, 400, 'MissingApiVersionParameter', 'The api-version query parameter is required.');
    const operation = operations.get(id);
    if (!operation) return sendError(res, 404, 'NotFound', 'No send operation has this id.');
    // Status calls count against their own limits; the sender's domain is the operation's message's.
    const sent = outbox.find((o) => o.operationId === id);
    const kind = sent && !/\.azurecomm\.net$/i.test(sent.from) ? 'custom' : 'azure-managed';
    const wait = admit(`status:${kind}`, limits[kind].status);
    if (wait > 0) {
      stats.throttled += 1;
      return sendError(res, 429, 'TooManyRequests', 'Too many requests: try again after the time Retry-After gives.', {
        'retry-after': String(wait),
      });
    }
    stats.statusCalls += 1;
    operation.polls += 1;
    if (operation.failedCode)
      return sendJson(res, 200, { id, status: 'Failed', error: { code: operation.failedCode, message: 'The message was not delivered.' } });
    // Running on the first look (with the wait before the next one, as the specification's example), then done.
    if (operation.polls === 1) return sendJson(res, 200, { id, status: 'Running' }, { 'retry-after': '5' });
    sendJson(res, 200, { id, status: 'Succeeded' });
  }

  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    const origin = `https://${req.headers.host ?? 'localhost'}`;
    const url = new URL(req.url ?? '/', origin);
    const route = `${req.method ?? 'GET'} ${url.pathname}`;
    const operation = /^\/emails\/operations\/([^/]+)$/.exec(url.pathname);
    void (async () => {
      if (route === 'POST /emails:send') return send(req, res, url, origin);
      if (req.method === 'GET' && operation?.[1]) return status(req, res, url, decodeURIComponent(operation[1]));
      req.resume();
      if (route === 'GET /_local/outbox')
        return sendJson(
          res,
          200,
          outbox.map(({ operationId: _id, ...m }) => m),
        );
      if (route === 'DELETE /_local/outbox') {
        outbox = [];
        return sendJson(res, 200, { cleared: true });
      }
      if (route === 'GET /_local/outbox.html') {
        const body = outboxPage(outbox);
        res.writeHead(200, {
          'content-type': 'text/html; charset=utf-8',
          'content-length': Buffer.byteLength(body),
          'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
          'x-content-type-options': 'nosniff',
          'cache-control': 'no-store',
        });
        return res.end(body);
      }
      sendError(res, 404, 'NotFound', 'The stand-in serves POST /emails:send, GET /emails/operations/{id} and /_local/outbox.');
    })().catch(() => {
      if (!res.headersSent) sendError(res, 500, 'InternalServerError', 'The stand-in failed.');
      else res.destroy();
    });
  };

  const { servers, port } = await listenLoopback(options.tls, options.port ?? 0, listener);
  return {
    url: `https://localhost:${port}`,
    outbox: () => outbox.map((m) => ({ ...m, to: [...m.to] })),
    clearOutbox: () => {
      outbox = [];
    },
    setFault: (fault) => {
      faults.push(emailFaultSchema.parse(fault));
    },
    clearFaults: () => {
      faults = [];
    },
    get stats() {
      return { ...stats };
    },
    reset: () => {
      outbox = [];
      faults = [];
      operations = new Map();
      windows = new Map();
      Object.assign(stats, { sends: 0, statusCalls: 0, throttled: 0, unauthorized: 0 });
    },
    close: () => closeServers(servers),
  };
}
