/**
 * The HTTP control API under /_simulator/, so local mode and benchmarks in other processes can drive the
 * same switches as tests do in-process. JSON only: requiring application/json means a web page cannot
 * flip switches with a simple cross-site form (the browser would need a CORS preflight, which is never granted).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { HttpError, mediaType, readBody, sendEmpty, sendJson } from './http';
import type { Fault, SimulatorStats } from './types';

/** What the control API operates on (the simulator object itself). */
export interface ControlTarget {
  applyFaults(faults: Fault[]): void;
  clearFaults(): void;
  reset(): void;
  stats(): SimulatorStats;
  advanceClock(ms: number): number;
  setConsent(clientId: string, tenant: string, granted: boolean): void;
  issueRefreshTokenFor(p: { clientId: string; tenant: string; scope?: string }): string;
}

const id = z.string().min(1).max(200);
const tokenTarget = { refreshToken: z.string().min(1).max(20_000).optional(), tenant: id.optional() };
const tokenFault = (kind: 'refreshTokenExpired' | 'refreshTokenRevoked' | 'signInFrequency' | 'mfaRequired' | 'conditionalAccessBlocked') =>
  z.object({ kind: z.literal(kind), ...tokenTarget }).strict();

const faultSchema = z.discriminatedUnion('kind', [
  tokenFault('refreshTokenExpired'),
  tokenFault('refreshTokenRevoked'),
  tokenFault('signInFrequency'),
  tokenFault('mfaRequired'),
  tokenFault('conditionalAccessBlocked'),
  z.object({ kind: z.literal('consentRequired'), tenant: id, clientId: id.optional() }).strict(),
  z.object({ kind: z.literal('consentRevoked'), tenant: id, clientId: id }).strict(),
  z.object({ kind: z.literal('transient'), count: z.int().min(1).max(10_000), status: z.union([z.literal(503), z.literal(429)]), retryAfterSeconds: z.int().min(0).max(3600).optional() }).strict(),
  z.object({ kind: z.literal('networkFailure'), count: z.int().min(1).max(10_000) }).strict(),
  z.object({ kind: z.literal('invalidClient'), clientId: id, reason: z.enum(['invalidSecret', 'expiredSecret']) }).strict(),
  z.object({ kind: z.literal('latency'), ms: z.int().min(0).max(120_000) }).strict(),
  z.object({ kind: z.literal('idTokenTenantOverride'), tenant: id }).strict(),
]);

const faultsBody = z.union([faultSchema, z.array(faultSchema).max(100)]);
const clockBody = z.object({ advanceDays: z.number().optional(), advanceMs: z.number().optional() }).strict();
const consentBody = z.object({ clientId: id, tenant: id, granted: z.boolean().default(true) }).strict();
const refreshTokenBody = z.object({ clientId: id, tenant: id, scope: z.string().max(2000).optional() }).strict();

/** Handles /_simulator/{rest}; answers 404 for anything else under that prefix. */
export async function handleControl(target: ControlTarget, req: IncomingMessage, res: ServerResponse, rest: string): Promise<void> {
  const route = `${req.method} ${rest}`;
  // Every change needs a JSON request, even one without a body (reset): see the file comment.
  if (req.method !== 'GET' && mediaType(req) !== 'application/json') throw new HttpError(415, 'Content-Type must be application/json');
  if (route === 'GET stats') return sendJson(res, 200, target.stats());
  if (route === 'DELETE faults') {
    target.clearFaults();
    return sendEmpty(res, 204);
  }
  if (route === 'POST reset') {
    target.reset();
    return sendEmpty(res, 204);
  }
  if (route === 'POST faults') {
    const parsed = await readJson(req, faultsBody);
    const list = (Array.isArray(parsed) ? parsed : [parsed]).map(toFault);
    target.applyFaults(list);
    return sendEmpty(res, 204);
  }
  if (route === 'POST clock') {
    const body = await readJson(req, clockBody);
    const now = target.advanceClock((body.advanceDays ?? 0) * 24 * 3600 * 1000 + (body.advanceMs ?? 0));
    return sendJson(res, 200, { now: new Date(now).toISOString() });
  }
  if (route === 'POST consents') {
    const body = await readJson(req, consentBody);
    target.setConsent(body.clientId, body.tenant, body.granted);
    return sendEmpty(res, 204);
  }
  if (route === 'POST refresh-tokens') {
    const body = await readJson(req, refreshTokenBody);
    const refreshToken = target.issueRefreshTokenFor({ clientId: body.clientId, tenant: body.tenant, ...(body.scope ? { scope: body.scope } : {}) });
    return sendJson(res, 201, { refresh_token: refreshToken });
  }
  sendJson(res, 404, { error: 'not_found' });
}

async function readJson<T>(req: IncomingMessage, schema: z.ZodType<T>): Promise<T> {
  if (mediaType(req) !== 'application/json') throw new HttpError(415, 'Content-Type must be application/json');
  let json: unknown;
  try {
    json = JSON.parse(await readBody(req));
  } catch (err) {
    if (err instanceof HttpError) throw err;
    throw new HttpError(400, 'Body is not valid JSON');
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) throw new HttpError(400, z.prettifyError(parsed.error));
  return parsed.data;
}

/** Token faults name exactly one target. */
function toFault(f: z.infer<typeof faultSchema>): Fault {
  switch (f.kind) {
    case 'refreshTokenExpired':
    case 'refreshTokenRevoked':
    case 'signInFrequency':
    case 'mfaRequired':
    case 'conditionalAccessBlocked':
      if (f.refreshToken !== undefined && f.tenant === undefined) return { kind: f.kind, refreshToken: f.refreshToken };
      if (f.tenant !== undefined && f.refreshToken === undefined) return { kind: f.kind, tenant: f.tenant };
      throw new HttpError(400, `${f.kind} needs exactly one of refreshToken or tenant`);
    case 'consentRequired':
      return f.clientId !== undefined ? { kind: f.kind, tenant: f.tenant, clientId: f.clientId } : { kind: f.kind, tenant: f.tenant };
    case 'transient':
      return f.retryAfterSeconds !== undefined ? { ...f, retryAfterSeconds: f.retryAfterSeconds } : { kind: f.kind, count: f.count, status: f.status };
    default:
      return f;
  }
}
