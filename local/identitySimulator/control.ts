/**
 * The HTTP control API under /_simulator/, so local mode and benchmarks in other processes can drive the
 * same switches as tests do in-process. JSON only: requiring application/json means a web page cannot
 * flip switches with a simple cross-site form (the browser would need a CORS preflight, which is never granted).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { ACCOUNT_KINDS } from './accounts';
import { HttpError, mediaType, readBody, sendEmpty, sendJson } from './http';
import type { AccountKind, Fault, SimulatorStats } from './types';

/** What the control API operates on (the simulator object itself). */
export interface ControlTarget {
  applyFaults(faults: Fault[]): void;
  clearFaults(): void;
  reset(): void;
  stats(): SimulatorStats;
  advanceClock(ms: number): number;
  setConsent(clientId: string, tenant: string, granted: boolean, scopes?: string[]): void;
  issueRefreshTokenFor(p: { clientId: string; tenant: string; scope?: string; account?: AccountKind; withoutMfa?: boolean }): string;
  mintManagedIdentityToken(p: { tenant: string; principalId: string; clientId: string; audience?: string }): {
    accessToken: string;
    expiresOn: number;
  };
}

const id = z.string().min(1).max(200);
const tokenTarget = { refreshToken: z.string().min(1).max(20_000).optional(), tenant: id.optional() };
type TokenFaultKind =
  | 'refreshTokenExpired'
  | 'refreshTokenRevoked'
  | 'signInFrequency'
  | 'mfaRequired'
  | 'conditionalAccessBlocked'
  | 'invalidScope'
  | 'resourceNotFound'
  | 'accessDenied';
const tokenFault = (kind: TokenFaultKind) => z.object({ kind: z.literal(kind), ...tokenTarget }).strict();

const faultSchema = z.discriminatedUnion('kind', [
  tokenFault('refreshTokenExpired'),
  tokenFault('refreshTokenRevoked'),
  tokenFault('signInFrequency'),
  tokenFault('mfaRequired'),
  tokenFault('conditionalAccessBlocked'),
  tokenFault('invalidScope'),
  tokenFault('resourceNotFound'),
  tokenFault('accessDenied'),
  z.object({ kind: z.literal('consentRequired'), tenant: id, clientId: id.optional() }).strict(),
  z.object({ kind: z.literal('consentRevoked'), tenant: id, clientId: id }).strict(),
  z.object({ kind: z.literal('appRemovedFromTenant'), tenant: id, clientId: id }).strict(),
  z
    .object({
      kind: z.literal('transient'),
      count: z.int().min(1).max(10_000),
      status: z.union([z.literal(503), z.literal(429)]),
      retryAfterSeconds: z.int().min(0).max(3600).optional(),
    })
    .strict(),
  z.object({ kind: z.literal('networkFailure'), count: z.int().min(1).max(10_000) }).strict(),
  z
    .object({
      kind: z.literal('invalidClient'),
      clientId: id,
      reason: z.enum(['invalidSecret', 'expiredSecret', 'noMatchingFederatedCredential', 'certificateExpired']),
    })
    .strict(),
  z.object({ kind: z.literal('latency'), ms: z.int().min(0).max(120_000) }).strict(),
  z.object({ kind: z.literal('idTokenTenantOverride'), tenant: id }).strict(),
  z.object({ kind: z.literal('tenantNotFound'), tenant: id }).strict(),
  z.object({ kind: z.literal('federatedCredentialPropagating'), clientId: id, count: z.int().min(1).max(10_000) }).strict(),
]);

const faultsBody = z.union([faultSchema, z.array(faultSchema).max(100)]);
const clockBody = z.object({ advanceDays: z.number().optional(), advanceMs: z.number().optional() }).strict();
const scopeList = z.array(z.string().min(1).max(500)).max(50);
const accountKind = z.enum(ACCOUNT_KINDS);
const consentBody = z.object({ clientId: id, tenant: id, granted: z.boolean().default(true), scopes: scopeList.optional() }).strict();
const refreshTokenBody = z
  .object({ clientId: id, tenant: id, scope: z.string().max(2000).optional(), account: accountKind.optional(), withoutMfa: z.boolean().optional() })
  .strict();
const managedIdentityTokenBody = z.object({ tenant: id, principalId: id, clientId: id, audience: z.string().min(1).max(500).optional() }).strict();

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
    target.setConsent(body.clientId, body.tenant, body.granted, body.scopes);
    return sendEmpty(res, 204);
  }
  if (route === 'POST refresh-tokens') {
    const body = await readJson(req, refreshTokenBody);
    const refreshToken = target.issueRefreshTokenFor({
      clientId: body.clientId,
      tenant: body.tenant,
      ...(body.scope ? { scope: body.scope } : {}),
      ...(body.account ? { account: body.account } : {}),
      ...(body.withoutMfa !== undefined ? { withoutMfa: body.withoutMfa } : {}),
    });
    return sendJson(res, 201, { refresh_token: refreshToken });
  }
  if (route === 'POST managed-identity-tokens') {
    // For a managed-identity endpoint in another process (the Key Vault fake run on its own).
    const body = await readJson(req, managedIdentityTokenBody);
    const minted = target.mintManagedIdentityToken({
      tenant: body.tenant,
      principalId: body.principalId,
      clientId: body.clientId,
      ...(body.audience ? { audience: body.audience } : {}),
    });
    return sendJson(res, 201, { access_token: minted.accessToken, expires_on: minted.expiresOn, token_type: 'Bearer' });
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
    case 'invalidScope':
    case 'resourceNotFound':
    case 'accessDenied':
      if (f.refreshToken !== undefined && f.tenant === undefined) return { kind: f.kind, refreshToken: f.refreshToken };
      if (f.tenant !== undefined && f.refreshToken === undefined) return { kind: f.kind, tenant: f.tenant };
      throw new HttpError(400, `${f.kind} needs exactly one of refreshToken or tenant`);
    case 'consentRequired':
      return f.clientId !== undefined ? { kind: f.kind, tenant: f.tenant, clientId: f.clientId } : { kind: f.kind, tenant: f.tenant };
    case 'transient':
      return f.retryAfterSeconds !== undefined
        ? { ...f, retryAfterSeconds: f.retryAfterSeconds }
        : { kind: f.kind, count: f.count, status: f.status };
    default:
      return f;
  }
}
