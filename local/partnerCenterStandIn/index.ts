/**
 * A stand-in for the Partner Center API (`https://api.partnercenter.microsoft.com`), for tests and local mode:
 * HTTPS on loopback, and the one call the service makes to prove a token works, `GET /v1/profiles/organization`.
 * It checks the bearer token as Partner Center does (signature from the identity simulator's keys, audience,
 * issuer, lifetime, version, App+User), then the MFA claim (401 + 900421 without it), then the account's
 * Partner Center role (403 for an account without one, guest or member alike), and answers with the partner's organization
 * profile. Faults (MFA missing, 403, 401, 5xx, 429, dropped connections, latency) can be set in process
 * (`setFault`) or over its JSON control API (`/_partnercenter/…`). Not imported by functions/ or shared/.
 */
import { randomUUID, type JsonWebKey } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { partnerCenterRolesOf } from '../identitySimulator/accounts';
import { closeServers, listenLoopback } from '../loopbackHttps';
import { partnerCenterErrors, type Outcome, type PartnerCenterError } from './errors';
import { faultCommandSchema, PartnerCenterFaults, type CallFault, type PartnerCenterFaultInput } from './faults';
import { defaultCompanyName, organizationProfile, type OrganizationProfile } from './profiles';
import { checkBearer, SigningKeys, unverifiedTenant } from './tokens';

export { MFA_REQUIRED_CODE, type Outcome, type PartnerCenterErrorBody } from './errors';
export { partnerCenterFaultSchema, type PartnerCenterFault, type PartnerCenterFaultInput } from './faults';
export type { OrganizationProfile } from './profiles';

export interface PartnerCenterStandInOptions {
  /** 0 or absent = a free port. */
  port?: number;
  /** PEM certificate and key covering "localhost" (LOCAL_TLS_CERT / LOCAL_TLS_KEY), as the identity simulator takes. */
  tls: { cert: string | Buffer; key: string | Buffer };
  /** The identity simulator's JWKS URL (`simulator.jwksUrl`), fetched over HTTPS on first use and when a token names an unknown key. */
  jwksUrl?: string;
  /** Or the JWKS itself (`simulator.jwks()`). One of jwksUrl and keys is required. */
  keys?: { keys: JsonWebKey[] };
  /** Company names by partner tenant id; any other tenant is a partner named `Simulated Partner {first 8 of tid}`. */
  companyNames?: Record<string, string>;
  /**
   * The Partner Center roles of a user (object id) in a partner organization. Default: the identity simulator's
   * directory (its admin agent, guest admin agent and admin agent who is not a directory admin hold AdminAgent;
   * the user without a role and the guest user hold none).
   */
  rolesOf?: (tenantId: string, objectId: string) => readonly string[];
  /** Clock in ms for token lifetimes; default Date.now. */
  now?: () => number;
  /** Clock skew allowed on exp/nbf; default 300 s, as Microsoft's token validation allows. */
  clockSkewSeconds?: number;
}

/** One call as the stand-in saw it: never a header or a token. */
export interface PartnerCenterCall {
  method: string;
  path: string;
  status: number | 'dropped';
  outcome: Outcome;
  /** Why, for refusals: e.g. "the token is expired", "no mfa in amr", "no role", "fault". */
  reason?: string;
  tenantId?: string;
  objectId?: string;
  correlationId: string;
}

export interface PartnerCenterStats {
  requests: number;
  byOutcome: Record<Outcome, number>;
  faultsInjected: number;
}

export interface PartnerCenterStandIn {
  /** https://localhost:PORT — the base URL the service calls (`/v1/profiles/organization` below it). */
  readonly url: string;
  /** Applies one or more faults (see faults.ts). */
  setFault(fault: PartnerCenterFaultInput | PartnerCenterFaultInput[]): void;
  clearFaults(): void;
  /** A snapshot of the counters. */
  readonly stats: PartnerCenterStats;
  /** Every call since start or reset, oldest first (copies). */
  readonly calls: PartnerCenterCall[];
  setCompanyName(tenantId: string, companyName: string): void;
  /** Overrides the roles of one user in one partner organization ([] takes them away). */
  setRoles(tenantId: string, objectId: string, roles: string[]): void;
  /** The profile a partner tenant's admin agent would get. */
  profileOf(tenantId: string): OrganizationProfile;
  /** The stand-in's clock (token lifetimes); tests move it forward. */
  readonly clock: { now(): number; advanceMs(ms: number): void };
  /** Forgets faults, counters and calls (company names and roles stay). */
  reset(): void;
  close(): Promise<void>;
}

const ORGANIZATION_PROFILE = '/v1/profiles/organization';
const MAX_BODY = 64 * 1024;
/** Ids Partner Center echoes; anything else gets a fresh GUID (never a header value the caller made up freely). */
const ID_PATTERN = /^[A-Za-z0-9-]{1,64}$/;

const emptyOutcomes = (): Record<Outcome, number> => ({
  ok: 0,
  mfaRequired: 0,
  forbidden: 0,
  unauthorized: 0,
  throttled: 0,
  serverError: 0,
  dropped: 0,
  notFound: 0,
  methodNotAllowed: 0,
});

export async function startPartnerCenterStandIn(options: PartnerCenterStandInOptions): Promise<PartnerCenterStandIn> {
  const keys = new SigningKeys({ ...(options.keys ? { keys: options.keys } : {}), ...(options.jwksUrl ? { jwksUrl: options.jwksUrl } : {}) });
  const skew = options.clockSkewSeconds ?? 300;
  let clockOffsetMs = 0;
  const clock = { now: () => (options.now ?? Date.now)() + clockOffsetMs, advanceMs: (ms: number) => void (clockOffsetMs += ms) };
  const companyNames = new Map(Object.entries(options.companyNames ?? {}).map(([t, n]) => [t.toLowerCase(), n]));
  const roleOverrides = new Map<string, string[]>();
  const rolesOf = (tenantId: string, objectId: string): readonly string[] =>
    roleOverrides.get(`${tenantId}|${objectId}`) ?? (options.rolesOf ?? partnerCenterRolesOf)(tenantId, objectId);
  const faults = new PartnerCenterFaults();
  const stats: PartnerCenterStats = { requests: 0, byOutcome: emptyOutcomes(), faultsInjected: 0 };
  const calls: PartnerCenterCall[] = [];
  const profileOf = (tenantId: string) => organizationProfile(tenantId, companyNames.get(tenantId.toLowerCase()) ?? defaultCompanyName(tenantId));

  function idsOf(req: IncomingMessage): { correlationId: string; requestId: string } {
    const pick = (name: string) => {
      const v = req.headers[name];
      const s = Array.isArray(v) ? v[0] : v;
      return s && ID_PATTERN.test(s) ? s : randomUUID();
    };
    return { correlationId: pick('ms-correlationid'), requestId: pick('ms-requestid') };
  }

  function send(
    res: ServerResponse,
    status: number,
    body: unknown,
    ids: { correlationId: string; requestId: string },
    headers: Record<string, string> = {},
    statusText?: string,
  ): void {
    const text = JSON.stringify(body);
    if (statusText) res.statusMessage = statusText;
    res.writeHead(status, {
      'Content-Type': 'application/json; charset=utf-8',
      'Content-Length': Buffer.byteLength(text),
      'Cache-Control': 'no-store',
      'MS-CorrelationId': ids.correlationId,
      'MS-RequestId': ids.requestId,
      ...headers,
    });
    res.end(text);
  }

  function record(call: PartnerCenterCall): void {
    calls.push(call);
    stats.byOutcome[call.outcome] += 1;
  }

  function refuse(
    res: ServerResponse,
    ids: { correlationId: string; requestId: string },
    err: PartnerCenterError,
    call: Omit<PartnerCenterCall, 'status' | 'correlationId'>,
  ): void {
    record({ ...call, status: err.status, correlationId: ids.correlationId });
    send(res, err.status, err.body, ids, err.headers, err.statusText);
  }

  /** A fault's answer; `dropped` closes the connection without one. */
  function answerFault(
    req: IncomingMessage,
    res: ServerResponse,
    ids: { correlationId: string; requestId: string },
    fault: CallFault,
    base: Omit<PartnerCenterCall, 'status' | 'correlationId' | 'outcome'>,
  ): void {
    stats.faultsInjected += 1;
    const call = { ...base, reason: 'fault' };
    switch (fault.kind) {
      case 'mfaMissing':
        return refuse(res, ids, partnerCenterErrors.mfaRequired(), { ...call, outcome: 'mfaRequired' });
      case 'forbidden':
        return refuse(res, ids, partnerCenterErrors.noRole('the account has no Partner Center role in this partner organization.'), {
          ...call,
          outcome: 'forbidden',
        });
      case 'unauthorized':
        return refuse(res, ids, partnerCenterErrors.tokenRefused('the token is not accepted'), { ...call, outcome: 'unauthorized' });
      case 'serverError':
        return refuse(res, ids, partnerCenterErrors.serverError(fault.status, fault.retryAfterSeconds), { ...call, outcome: 'serverError' });
      case 'throttle':
        return refuse(res, ids, partnerCenterErrors.throttled(fault.retryAfterSeconds), { ...call, outcome: 'throttled' });
      case 'networkFailure':
        record({ ...call, outcome: 'dropped', status: 'dropped', correlationId: ids.correlationId });
        req.socket.destroy();
        return;
    }
  }

  async function handleApi(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    req.resume();
    stats.requests += 1;
    const ids = idsOf(req);
    const method = req.method ?? 'GET';
    const base = { method, path: url.pathname };
    if (faults.latencyMs > 0) await new Promise((r) => setTimeout(r, faults.latencyMs));
    if (url.pathname !== ORGANIZATION_PROFILE) return refuse(res, ids, partnerCenterErrors.notFound(), { ...base, outcome: 'notFound' });
    if (method !== 'GET') return refuse(res, ids, partnerCenterErrors.methodNotAllowed(), { ...base, outcome: 'methodNotAllowed' });

    const authorization = req.headers.authorization;
    // Faults may target one partner: the token's tid decides, before (and whether or not) the token is valid.
    const claimedTenant = unverifiedTenant(authorization);
    const fault = faults.take(claimedTenant);
    if (fault) return answerFault(req, res, ids, fault, { ...base, ...(claimedTenant ? { tenantId: claimedTenant } : {}) });

    const token = await checkBearer(authorization, keys, clock.now(), skew);
    if (!token.ok) {
      if (token.missing) return refuse(res, ids, partnerCenterErrors.tokenMissing(), { ...base, outcome: 'unauthorized', reason: 'no bearer token' });
      if (token.keysUnavailable) {
        console.error(`partner center stand-in: ${token.reason}`);
        return refuse(res, ids, partnerCenterErrors.serverError(500), { ...base, outcome: 'serverError', reason: token.reason });
      }
      return refuse(res, ids, partnerCenterErrors.tokenRefused(token.reason), { ...base, outcome: 'unauthorized', reason: token.reason });
    }
    const who = { ...base, tenantId: token.tenantId, objectId: token.objectId };
    // MUST: Partner Center refuses an App+User call without the MFA claim before it looks at roles.
    const amr = Array.isArray(token.claims.amr) ? token.claims.amr : [];
    if (!amr.includes('mfa')) return refuse(res, ids, partnerCenterErrors.mfaRequired(), { ...who, outcome: 'mfaRequired', reason: 'no mfa in amr' });
    // Decided by the role the account holds, never by whether it is a guest: Microsoft's MFA requirement covers
    // "all user accounts in the partner tenant, including guest users", and no source says Partner Center
    // refuses a guest that holds a role (docs/STAND-INS.md).
    if (rolesOf(token.tenantId, token.objectId).length === 0) {
      return refuse(
        res,
        ids,
        partnerCenterErrors.noRole('the signed-in account has no Partner Center role (such as Admin agent) in this partner organization.'),
        { ...who, outcome: 'forbidden', reason: 'no role' },
      );
    }
    record({ ...who, outcome: 'ok', status: 200, correlationId: ids.correlationId });
    send(res, 200, profileOf(token.tenantId), ids);
  }

  /** `/_partnercenter/…`: JSON only, so no cross-site form can flip a switch. */
  async function handleControl(req: IncomingMessage, res: ServerResponse, rest: string): Promise<void> {
    const ids = idsOf(req);
    const method = req.method ?? 'GET';
    if (method !== 'GET' && (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() !== 'application/json') {
      req.resume();
      return send(res, 415, { error: 'Content-Type must be application/json' }, ids);
    }
    const route = `${method} ${rest}`;
    let body: unknown;
    if (method === 'POST') body = await readJson(req);
    else req.resume();
    if (body instanceof Error) return send(res, body.message === 'too large' ? 413 : 400, { error: body.message }, ids);
    if (route === 'GET stats') return send(res, 200, { ...snapshot(), faultsActive: faults.pending() }, ids);
    if (route === 'DELETE faults') {
      faults.clear();
      return sendEmpty(res, ids);
    }
    if (route === 'POST reset') {
      standIn.reset();
      return sendEmpty(res, ids);
    }
    if (route === 'POST faults') {
      const parsed = faultCommandSchema.safeParse(body);
      if (!parsed.success) return send(res, 400, { error: z.prettifyError(parsed.error) }, ids);
      for (const f of Array.isArray(parsed.data) ? parsed.data : [parsed.data]) faults.add(f);
      return sendEmpty(res, ids);
    }
    if (route === 'POST partners') {
      const parsed = z
        .object({ tenantId: z.uuid(), companyName: z.string().min(1).max(200) })
        .strict()
        .safeParse(body);
      if (!parsed.success) return send(res, 400, { error: z.prettifyError(parsed.error) }, ids);
      standIn.setCompanyName(parsed.data.tenantId, parsed.data.companyName);
      return sendEmpty(res, ids);
    }
    if (route === 'POST roles') {
      const parsed = z
        .object({ tenantId: z.uuid(), objectId: z.uuid(), roles: z.array(z.string().min(1).max(100)).max(20) })
        .strict()
        .safeParse(body);
      if (!parsed.success) return send(res, 400, { error: z.prettifyError(parsed.error) }, ids);
      standIn.setRoles(parsed.data.tenantId, parsed.data.objectId, parsed.data.roles);
      return sendEmpty(res, ids);
    }
    if (route === 'POST clock') {
      const parsed = z.object({ advanceMs: z.number().optional(), advanceDays: z.number().optional() }).strict().safeParse(body);
      if (!parsed.success) return send(res, 400, { error: z.prettifyError(parsed.error) }, ids);
      clock.advanceMs((parsed.data.advanceDays ?? 0) * 864e5 + (parsed.data.advanceMs ?? 0));
      return send(res, 200, { now: new Date(clock.now()).toISOString() }, ids);
    }
    send(res, 404, { error: 'not_found' }, ids);
  }

  function sendEmpty(res: ServerResponse, ids: { correlationId: string; requestId: string }): void {
    res.writeHead(204, { 'MS-CorrelationId': ids.correlationId, 'MS-RequestId': ids.requestId, 'Cache-Control': 'no-store' }).end();
  }

  const snapshot = (): PartnerCenterStats => structuredClone(stats);

  const listener = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'https://localhost');
    const work = url.pathname.startsWith('/_partnercenter/')
      ? handleControl(req, res, url.pathname.slice('/_partnercenter/'.length))
      : handleApi(req, res, url);
    work.catch((err: unknown) => {
      if (res.headersSent) return void res.destroy();
      // Our own bug: say so without echoing anything the request carried.
      console.error('partner center stand-in: internal error', err instanceof Error ? err.stack : String(err));
      const e = partnerCenterErrors.serverError(500);
      send(res, 500, e.body, idsOf(req));
    });
  };

  const { servers, port } = await listenLoopback(options.tls, options.port ?? 0, listener);

  const standIn: PartnerCenterStandIn = {
    url: `https://localhost:${port}`,
    setFault: (f) => (Array.isArray(f) ? f : [f]).forEach((one) => faults.add(one)),
    clearFaults: () => faults.clear(),
    get stats() {
      return snapshot();
    },
    get calls() {
      return calls.map((c) => ({ ...c }));
    },
    setCompanyName: (tenantId, companyName) => void companyNames.set(tenantId.toLowerCase(), companyName),
    setRoles: (tenantId, objectId, roles) => void roleOverrides.set(`${tenantId.toLowerCase()}|${objectId.toLowerCase()}`, [...roles]),
    profileOf,
    clock,
    reset: () => {
      faults.clear();
      calls.length = 0;
      Object.assign(stats, { requests: 0, byOutcome: emptyOutcomes(), faultsInjected: 0 });
    },
    close: () => closeServers(servers),
  };
  return standIn;
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) return new Error('too large');
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch {
    return new Error('Body is not valid JSON');
  }
}
