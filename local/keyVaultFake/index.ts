import { createHash, randomUUID, X509Certificate } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { defaultTopic, isNearExpiry, nearExpiryEvent, type KeyVaultEventGridEvent } from './events';
import { FaultControl, SlidingWindowLimiter, faultCommandSchema, type AppliedFault, type RequestKind } from './faults';
import {
  isTokenExchangeResource,
  issueAccessToken,
  keyVaultResource,
  verifyAccessToken,
  type ManagedIdentityTokenRequest,
  type MintedToken,
} from './msi';
import { FakeVault, VaultError, type FakeSecretVersion } from './vault';

/**
 * A Key Vault-compatible HTTPS server on loopback, for tests, local benchmarks and fault
 * injection. It speaks the REST surface @azure/keyvault-secrets uses (challenge flow, secrets,
 * versions, paging), issues its own access tokens from an App Service-style managed-identity
 * endpoint so the real @azure/identity credentials work against it, enforces Key Vault's
 * throttling limits, and never deletes anything.
 */

export { FaultControl, type FaultRule, type FaultRuleInput, type FaultCommand, type FaultState, type RequestKind } from './faults';
export type { FakeSecretVersion } from './vault';
export { NEAR_EXPIRY_DAYS, SECRET_NEAR_EXPIRY, type KeyVaultEventData, type KeyVaultEventGridEvent } from './events';
export { TOKEN_EXCHANGE_RESOURCE, type ManagedIdentityTokenRequest, type MintedToken } from './msi';

export interface KeyVaultFakeOptions {
  /** PEM certificate and key (LOCAL_TLS_CERT / LOCAL_TLS_KEY); the SDK only talks HTTPS to a vault. */
  tls: { cert: string | Buffer; key: string | Buffer };
  /** 0 (the default) picks a free port. */
  port?: number;
  /** Loopback address to listen on; 127.0.0.1 unless told otherwise. */
  host?: string;
  /** Items per `GET /secrets` page. Key Vault's own maximum is 25; small values exercise paging. */
  pageSize?: number;
  /** Accepted secret creations (PUT: every set is a new version) per sliding window. Key Vault: 300 per 10 s per vault. */
  writeLimit?: { max: number; windowMs: number };
  /** Accepted other calls (GET, PATCH, lists) per sliding window. Key Vault: 4,000 per 10 s per vault. */
  readLimit?: { max: number; windowMs: number };
  /** Value the managed-identity endpoint expects in `X-IDENTITY-HEADER`; random by default. */
  identityHeader?: string;
  /** Lifetime of issued access tokens; App Service issues ~24 h tokens. */
  tokenLifetimeSeconds?: number;
  /** Tenant named in the challenge's `authorization` URL. */
  tenantId?: string;
  /** Clock in epoch milliseconds (tests move time without waiting). */
  now?: () => number;
  /**
   * Where the managed-identity endpoint gets tokens for `api://AzureADTokenExchange` (the assertion of a
   * federated identity credential): in Azure Entra issues them, so locally the identity simulator must, e.g.
   * `(r) => simulator.mintManagedIdentityToken({ tenant, principalId, clientId: r.clientId ?? …, audience: r.resource })`.
   * Without it such requests get the fake's own opaque token, which no token endpoint accepts. It may be
   * async (e.g. a fake in another process asking the simulator's `POST /_simulator/managed-identity-tokens`).
   */
  mintTokenExchangeToken?: (request: ManagedIdentityTokenRequest) => MintedToken | Promise<MintedToken>;
  /** Receives every Event Grid event the fake raises (see emitNearExpiry). */
  onEvent?: (event: KeyVaultEventGridEvent) => void;
  /** The vault's name in events (`VaultName`, the topic); default `kv-fake`. */
  vaultName?: string;
  /** Event Grid `topic` of the events; default a made-up resource id of a vault named vaultName. */
  eventTopic?: string;
  /** Delay added to every vault request (not the managed-identity endpoint); the same as `faults.setLatency(ms)`. */
  latencyMs?: number;
}

/** The vault operations the fake counts (`stats.operations`), named as the REST API calls them. */
export type VaultOperation = 'getSecret' | 'setSecret' | 'updateSecret' | 'listSecrets' | 'listSecretVersions' | 'deleteSecret';

/** Request counters since start (or the last reset). */
export interface FakeStats {
  /** Vault requests that passed authentication, by kind; `delete` counts refused deletes. */
  requests: Record<RequestKind | 'delete', number>;
  /** 401 answers: the SDK's unauthenticated first request, or a token the fake did not issue. */
  challenges: number;
  /** 429 answers from the service limits (not injected faults). */
  throttled: number;
  /** Requests answered by an injected fault. */
  faultsInjected: number;
  /** Authenticated vault requests by operation (finer than `requests`: listing secrets and listing versions apart). */
  operations: Record<VaultOperation, number>;
  /** Event Grid events raised. */
  eventsRaised: number;
}

/** A running fake. */
export interface KeyVaultFake {
  /** Vault URL for `new SecretClient(url, …)` / KEY_VAULT_URL. */
  readonly url: string;
  /** IDENTITY_ENDPOINT for the managed-identity credential. */
  readonly identityEndpoint: string;
  /** IDENTITY_HEADER for the managed-identity credential. */
  readonly identityHeader: string;
  /** Both, ready to merge into process.env (or a child process's env). */
  readonly identityEnv: { IDENTITY_ENDPOINT: string; IDENTITY_HEADER: string };
  /** Fault switches (the same as `POST /_fake/faults`). */
  readonly faults: FaultControl;
  /** Live request counters (the same as `GET /_fake/stats`). */
  readonly stats: FakeStats;
  /** Every version written under `name`, oldest first, values included. */
  versions(name: string): FakeSecretVersion[];
  /** Names of every stored secret, sorted. */
  secretNames(): string[];
  /** Stores a version directly (no HTTP, no limits): seeding for tests and benchmarks. */
  seed(
    name: string,
    value: string,
    options?: {
      contentType?: string;
      tags?: Record<string, string>;
      expiresOn?: Date;
      notBefore?: Date;
      enabled?: boolean;
      /** A given version id (32 lowercase hex digits, new for the name), to replay a published example; random otherwise. */
      version?: string;
    },
  ): FakeSecretVersion;
  /**
   * Stores what Key Vault keeps for a PEM certificate: its secret (private key, then the certificate), with
   * contentType `application/x-pem-file`, marked managed, nbf/exp from the certificate's validity.
   */
  seedCertificate(name: string, pem: { certificate: string; privateKey: string }, options?: { tags?: Record<string, string> }): FakeSecretVersion;
  /**
   * Raises `Microsoft.KeyVault.SecretNearExpiry` (to onEvent, and returned) for each secret whose current
   * (latest) version is enabled and has an `exp` within 30 days of `now` (default the fake's clock), once per
   * version: a second call does not raise it again for the same version. Older versions raise nothing.
   */
  emitNearExpiry(now?: Date | number): KeyVaultEventGridEvent[];
  /** Every event raised since start or reset, oldest first. */
  events(): KeyVaultEventGridEvent[];
  /** Forgets secrets, faults, counters, events and throttling windows. */
  reset(): void;
  /** Stops listening and drops open connections, including hung ones. */
  close(): Promise<void>;
}

const defaultTenantId = '00000000-0000-0000-0000-0000000000fa';
const maxBodyBytes = 256 * 1024;
const recoveryLevel = 'Recoverable'; // soft delete + purge protection, as infra/ deploys the vault

function emptyStats(): FakeStats {
  return {
    requests: { read: 0, write: 0, list: 0, patch: 0, msi: 0, delete: 0 },
    challenges: 0,
    throttled: 0,
    faultsInjected: 0,
    operations: { getSecret: 0, setSecret: 0, updateSecret: 0, listSecrets: 0, listSecretVersions: 0, deleteSecret: 0 },
    eventsRaised: 0,
  };
}

const operationOf: Record<VaultRoute['op'], VaultOperation> = {
  get: 'getSecret',
  set: 'setSecret',
  update: 'updateSecret',
  list: 'listSecrets',
  listVersions: 'listSecretVersions',
  delete: 'deleteSecret',
};

// ---------------------------------------------------------------- routing (pure)

/** The vault operation a request asks for. */
export type VaultRoute =
  | { op: 'list' }
  | { op: 'listVersions'; name: string }
  | { op: 'get'; name: string; version?: string }
  | { op: 'set'; name: string }
  | { op: 'update'; name: string; version: string }
  | { op: 'delete'; name: string };

/** Maps method + path to a vault operation; undefined for anything Key Vault's secrets API does not have. */
export function routeOf(method: string, pathname: string): VaultRoute | undefined {
  let parts: string[];
  try {
    parts = pathname.split('/').slice(1).map(decodeURIComponent);
  } catch {
    return undefined; // malformed percent-encoding
  }
  if (parts[0] !== 'secrets') return undefined;
  // `/secrets/{name}/` (trailing slash) is how the SDK asks for the latest version.
  if (parts[parts.length - 1] === '' && parts.length > 1) parts.pop();
  const [, name, second, extra] = parts;
  if (extra !== undefined) return undefined;
  if (name === undefined) return method === 'GET' ? { op: 'list' } : undefined;
  if (second === 'versions') return method === 'GET' ? { op: 'listVersions', name } : undefined;
  if (second === undefined) {
    if (method === 'GET') return { op: 'get', name };
    if (method === 'PUT') return { op: 'set', name };
    if (method === 'DELETE') return { op: 'delete', name };
    return undefined;
  }
  if (method === 'GET') return { op: 'get', name, version: second };
  if (method === 'PATCH') return { op: 'update', name, version: second };
  return undefined;
}

function kindOf(route: VaultRoute): RequestKind | 'delete' {
  switch (route.op) {
    case 'list':
    case 'listVersions':
      return 'list';
    case 'get':
      return 'read';
    case 'set':
      return 'write';
    case 'update':
      return 'patch';
    case 'delete':
      return 'delete';
  }
}

/** One page of `items` after the item keyed `after` (nothing is ever deleted, so the key stays found). */
export function pageAfter<T>(items: readonly T[], keyOf: (item: T) => string, after: string | undefined, size: number): { page: T[]; more: boolean } {
  const start = after === undefined ? 0 : items.findIndex((i) => keyOf(i) === after) + 1;
  const page = items.slice(start, start + size);
  return { page, more: start + size < items.length };
}

// ---------------------------------------------------------------- JSON shapes (pure)

function attributesJson(v: FakeSecretVersion): Record<string, unknown> {
  return {
    enabled: v.enabled,
    ...(v.nbf !== undefined ? { nbf: v.nbf } : {}),
    ...(v.exp !== undefined ? { exp: v.exp } : {}),
    created: v.created,
    updated: v.updated,
    recoveryLevel,
    recoverableDays: 90,
  };
}

/** A SecretBundle: what get, set and update return (with the value). A certificate's secret also names its key. */
function bundleJson(vaultUrl: string, v: FakeSecretVersion): Record<string, unknown> {
  return {
    value: v.value,
    id: `${vaultUrl}/secrets/${v.name}/${v.version}`,
    ...(v.contentType !== undefined ? { contentType: v.contentType } : {}),
    attributes: attributesJson(v),
    ...(v.tags !== undefined ? { tags: v.tags } : {}),
    ...(v.managed ? { kid: `${vaultUrl}/keys/${v.name}/${v.version}`, managed: true } : {}),
  };
}

/**
 * A SecretItem: what listing returns, without a value. MUST: in `GET /secrets` the id carries
 * no version (as in Key Vault); only `GET /secrets/{name}/versions` names versions.
 */
function itemJson(vaultUrl: string, v: FakeSecretVersion, withVersion: boolean): Record<string, unknown> {
  return {
    id: `${vaultUrl}/secrets/${v.name}${withVersion ? `/${v.version}` : ''}`,
    ...(v.contentType !== undefined ? { contentType: v.contentType } : {}),
    attributes: attributesJson(v),
    ...(v.tags !== undefined ? { tags: v.tags } : {}),
    ...(v.managed ? { managed: true } : {}),
  };
}

/** Key Vault's error body (the specification's KeyVaultError); `innererror` only when Key Vault sends one. */
function errorJson(code: string, message: string, innerCode?: string): { error: { code: string; message: string; innererror?: { code: string } } } {
  return { error: { code, message, ...(innerCode ? { innererror: { code: innerCode } } : {}) } };
}

const nearExpiryCommand = z.object({ now: z.union([z.iso.datetime(), z.number().int()]).optional() }).strict();

// ---------------------------------------------------------------- HTTP helpers

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'x-ms-request-id': randomUUID(),
    ...headers,
  });
  res.end(text);
}

/** Reads a JSON body up to maxBodyBytes; VaultError 413/400 otherwise. */
async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBodyBytes) throw new VaultError(413, 'RequestTooLarge', 'The request body is too large.');
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text === '') return {};
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new VaultError(400, 'BadParameter', 'The request body is not valid JSON.');
  }
}

function bearerOf(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  const match = header === undefined ? null : /^Bearer\s+(\S+)$/i.exec(header);
  return match?.[1];
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------- the server

/** Starts the fake on loopback; resolves once it listens. */
export async function startKeyVaultFake(options: KeyVaultFakeOptions): Promise<KeyVaultFake> {
  const now = options.now ?? Date.now;
  const nowSeconds = () => Math.floor(now() / 1000);
  const host = options.host ?? '127.0.0.1';
  const pageSize = Math.min(Math.max(options.pageSize ?? 25, 1), 25);
  const tenantId = options.tenantId ?? defaultTenantId;
  const identityHeader = options.identityHeader ?? randomUUID();
  const tokenLifetimeSeconds = options.tokenLifetimeSeconds ?? 24 * 3600;
  const writeLimit = options.writeLimit ?? { max: 300, windowMs: 10_000 };
  const readLimit = options.readLimit ?? { max: 4000, windowMs: 10_000 };

  const vault = new FakeVault(nowSeconds);
  const faults = new FaultControl();
  if (options.latencyMs) faults.setLatency(options.latencyMs);
  const vaultName = options.vaultName ?? 'kv-fake';
  const raised: KeyVaultEventGridEvent[] = [];
  /** `name/version` of every version whose near-expiry event was raised: once per version. */
  const nearExpiryRaised = new Set<string>();
  const writes = new SlidingWindowLimiter(writeLimit.max, writeLimit.windowMs, now);
  const reads = new SlidingWindowLimiter(readLimit.max, readLimit.windowMs, now);
  const stats = emptyStats();
  let base = ''; // https://host:port, known once listening

  const challengeHeader = `Bearer authorization="https://login.microsoftonline.com/${tenantId}", resource="${keyVaultResource}"`;

  /** Answers with an injected fault; `hang` leaves the response open until the client gives up or close(). */
  function sendFault(res: ServerResponse, fault: AppliedFault): void {
    stats.faultsInjected += 1;
    const retryAfter: Record<string, string> = fault.retryAfterSeconds === undefined ? {} : { 'retry-after': String(fault.retryAfterSeconds) };
    switch (fault.effect) {
      case 'throttle':
        sendJson(res, 429, errorJson('Throttled', 'Request was not processed because too many requests were received (injected fault).'), {
          'retry-after': String(fault.retryAfterSeconds ?? 1),
        });
        return;
      case 'unavailable':
        sendJson(res, 503, errorJson('ServiceUnavailable', 'The service is temporarily unavailable (injected fault).'), retryAfter);
        return;
      case 'error':
        sendJson(res, 500, errorJson('InternalServerError', 'Internal server error (injected fault).'));
        return;
      case 'hang':
        return;
    }
  }

  function execute(route: VaultRoute, url: URL, body: unknown): Record<string, unknown> {
    switch (route.op) {
      case 'get':
        return bundleJson(base, vault.get(route.name, route.version));
      case 'set':
        return bundleJson(base, vault.set(route.name, body));
      case 'update': {
        // Key Vault answers an update with the version's bundle without its value (the specification's
        // UpdateSecret example): the value of a secret cannot be changed, and is not sent back.
        const { value: _value, ...updated } = bundleJson(base, vault.update(route.name, route.version, body));
        return updated;
      }
      case 'list':
      case 'listVersions': {
        const requested = url.searchParams.get('maxresults');
        const size = requested === null ? pageSize : Number(requested);
        if (!Number.isInteger(size) || size < 1 || size > 25)
          throw new VaultError(400, 'BadParameter', 'maxresults must be an integer from 1 to 25.');
        const skip = url.searchParams.get('$skiptoken') ?? undefined;
        const after = skip === undefined ? undefined : Buffer.from(skip, 'base64url').toString('utf8');
        const limit = Math.min(size, pageSize);
        // A listing pages over the sorted names and copies only the page's secrets: the service
        // walks a 5,000-token vault in 200 pages, and the fake's cost must not grow with the vault.
        let page: FakeSecretVersion[];
        let more: boolean;
        if (route.op === 'list') {
          const names = pageAfter(vault.names(), (n) => n, after, limit);
          page = vault.latestOf(names.page);
          more = names.more;
        } else {
          ({ page, more } = pageAfter(vault.versionsOf(route.name), (v) => v.version, after, limit));
        }
        const keyOf = route.op === 'list' ? (v: FakeSecretVersion) => v.name : (v: FakeSecretVersion) => v.version;
        const last = page[page.length - 1];
        const next = new URL(`${base}${url.pathname}`);
        next.searchParams.set('api-version', url.searchParams.get('api-version') ?? '');
        if (last) next.searchParams.set('$skiptoken', Buffer.from(keyOf(last)).toString('base64url'));
        next.searchParams.set('maxresults', String(Math.min(size, pageSize)));
        // MUST: no `nextLink` on the last page. The specification types it as a string, not nullable;
        // the SDK's pager stops on a missing link as on a null one.
        return {
          value: page.map((v) => itemJson(base, v, route.op === 'listVersions')),
          ...(more ? { nextLink: next.toString() } : {}),
        };
      }
      case 'delete':
        throw new VaultError(403, 'Forbidden', 'This service never deletes secrets; the fake refuses deletes.');
    }
  }

  async function handleVault(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const route = routeOf(req.method ?? 'GET', url.pathname);
    if (!route) {
      req.resume();
      sendJson(res, 404, errorJson('NotFound', 'The fake does not implement this operation.'));
      return;
    }
    // MUST: like Key Vault, answer an unauthenticated request with the challenge before reading
    // it. The SDK's first request carries neither token nor body.
    const token = bearerOf(req);
    if (token === undefined || !verifyAccessToken(token, keyVaultResource, nowSeconds())) {
      req.resume();
      stats.challenges += 1;
      sendJson(res, 401, errorJson('Unauthorized', 'AKV10000: Request is missing a Bearer or PoP token.'), { 'www-authenticate': challengeHeader });
      return;
    }
    if (!url.searchParams.get('api-version')) {
      req.resume();
      sendJson(res, 400, errorJson('BadParameter', 'The request URI contains an invalid or missing api-version.'));
      return;
    }
    const kind = kindOf(route);
    stats.requests[kind] += 1;
    stats.operations[operationOf[route.op]] += 1;
    if (kind === 'delete') {
      req.resume();
      sendJson(res, 403, errorJson('Forbidden', 'This service never deletes secrets; the fake refuses deletes.'));
      return;
    }
    const latency = faults.latencyFor(kind);
    if (latency > 0) await sleep(latency);

    const fault = faults.take(kind);
    if (fault && !fault.afterCommit) {
      req.resume();
      sendFault(res, fault);
      return;
    }
    const isWrite = kind === 'write' || kind === 'patch';
    // Key Vault's 300-per-10-s budget is for creating secrets (a PUT is a new version); PATCH and
    // reads share the 4,000 of "all other transactions".
    const admitted = (kind === 'write' ? writes : reads).tryAcquire();
    if (!admitted.ok) {
      req.resume();
      stats.throttled += 1;
      sendJson(res, 429, errorJson('Throttled', 'Operations per second for this vault have exceeded the limit.'), {
        'retry-after': String(admitted.retryAfterSeconds),
      });
      return;
    }
    const body = isWrite ? await readJson(req) : (req.resume(), undefined);
    const result = execute(route, url, body);
    if (fault)
      sendFault(res, fault); // afterCommit: the change is stored, the caller sees a failure
    else sendJson(res, 200, result);
  }

  function handleMsi(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> | void {
    req.resume();
    if (req.method !== 'GET') return sendJson(res, 405, { error: 'method_not_allowed' });
    // App Service's endpoint only answers callers that know the per-app secret header.
    if (req.headers['x-identity-header'] !== identityHeader) {
      return sendJson(res, 401, { error: 'unauthorized', error_description: 'X-IDENTITY-HEADER is missing or wrong.' });
    }
    const resource = url.searchParams.get('resource');
    if (!resource || !url.searchParams.get('api-version')) {
      return sendJson(res, 400, { error: 'invalid_request', error_description: 'resource and api-version are required.' });
    }
    stats.requests.msi += 1;
    return (async () => {
      const latency = faults.latencyFor('msi');
      if (latency > 0) await sleep(latency);
      const fault = faults.take('msi');
      if (fault) return sendFault(res, fault);
      const q = url.searchParams;
      const clientId = q.get('client_id') ?? undefined;
      if (options.mintTokenExchangeToken && isTokenExchangeResource(resource)) {
        // In Azure the token a federated credential trusts comes from Entra itself, not from the host.
        const minted = await options.mintTokenExchangeToken({
          resource,
          ...(clientId ? { clientId } : {}),
          ...(q.get('object_id') ? { objectId: q.get('object_id')! } : {}),
          ...(q.get('mi_res_id') ? { resourceId: q.get('mi_res_id')! } : {}),
        });
        return sendJson(res, 200, {
          access_token: minted.accessToken,
          expires_on: String(minted.expiresOn),
          resource,
          token_type: 'Bearer',
          client_id: clientId ?? 'kv-fake-managed-identity',
        });
      }
      const { token, expiresOn } = issueAccessToken(resource, nowSeconds(), tokenLifetimeSeconds);
      sendJson(res, 200, {
        access_token: token,
        expires_on: String(expiresOn),
        resource,
        token_type: 'Bearer',
        client_id: clientId ?? 'kv-fake-managed-identity',
      });
    })();
  }

  function emitNearExpiry(at?: Date | number): KeyVaultEventGridEvent[] {
    const nowMs = at === undefined ? now() : typeof at === 'number' ? at : at.getTime();
    const source = { vaultUrl: base, vaultName, topic: options.eventTopic ?? defaultTopic(vaultName) };
    // Key Vault raises it for the current version of a secret only (docs/STAND-INS.md, "Key Vault fake").
    const due = vault.latestOf(vault.names()).filter((v) => isNearExpiry(v, nowMs) && !nearExpiryRaised.has(`${v.name}/${v.version}`));
    const events = due.map((v) => {
      nearExpiryRaised.add(`${v.name}/${v.version}`);
      return nearExpiryEvent(v, source, nowMs);
    });
    for (const e of events) {
      raised.push(e);
      stats.eventsRaised += 1;
      options.onEvent?.(e);
    }
    return events;
  }

  async function handleControl(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const path = url.pathname;
    if (path === '/_fake/events/near-expiry' && req.method === 'POST') {
      // JSON only, so no cross-site form can raise events; they carry names and dates, never a value.
      if ((req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() !== 'application/json') {
        req.resume();
        return sendJson(res, 415, { error: 'Content-Type must be application/json' });
      }
      const parsed = nearExpiryCommand.safeParse(await readJson(req));
      if (!parsed.success) return sendJson(res, 400, { error: 'invalid near-expiry command', issues: parsed.error.issues });
      return sendJson(res, 200, { events: emitNearExpiry(parsed.data.now === undefined ? undefined : new Date(parsed.data.now)) });
    }
    if (path === '/_fake/faults' && req.method === 'POST') {
      const parsed = faultCommandSchema.safeParse(await readJson(req));
      if (!parsed.success) return sendJson(res, 400, { error: 'invalid fault command', issues: parsed.error.issues });
      faults.apply(parsed.data);
      return sendJson(res, 200, faults.state());
    }
    req.resume();
    if (path === '/_fake/faults' && req.method === 'GET') return sendJson(res, 200, faults.state());
    if (path === '/_fake/stats' && req.method === 'GET') return sendJson(res, 200, stats);
    if (path === '/_fake/reset' && req.method === 'POST') {
      reset();
      return sendJson(res, 200, { ok: true });
    }
    if (path === '/_fake/secrets' && req.method === 'GET') return sendJson(res, 200, { names: vault.names() });
    if (path === '/_fake/events' && req.method === 'GET') return sendJson(res, 200, { events: raised });
    const versionsMatch = /^\/_fake\/secrets\/([^/]+)\/versions$/.exec(path);
    if (versionsMatch?.[1] && req.method === 'GET') {
      // Other processes get a digest, not the value: the control API is for checks, not for reading tokens.
      const versions = vault.peek(decodeURIComponent(versionsMatch[1])).map(({ value, ...rest }) => ({
        ...rest,
        valueSha256: createHash('sha256').update(value).digest('hex'),
      }));
      return sendJson(res, 200, { versions });
    }
    return sendJson(res, 404, { error: 'unknown control route' });
  }

  function reset(): void {
    vault.clear();
    raised.length = 0;
    nearExpiryRaised.clear();
    faults.clear();
    writes.reset();
    reads.reset();
    Object.assign(stats, emptyStats());
  }

  const server = createServer({ cert: options.tls.cert, key: options.tls.key }, (req, res) => {
    const url = new URL(req.url ?? '/', base || 'https://localhost');
    const work =
      url.pathname === '/msi/token'
        ? handleMsi(req, res, url)
        : url.pathname.startsWith('/_fake/')
          ? handleControl(req, res, url)
          : handleVault(req, res, url);
    Promise.resolve(work).catch((err: unknown) => {
      if (res.headersSent) return;
      // Never echo the request: it may carry a secret value.
      if (err instanceof VaultError) sendJson(res, err.status, errorJson(err.code, err.message, err.innerCode));
      else sendJson(res, 500, errorJson('InternalServerError', 'The fake failed to handle the request.'));
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  base = `https://${host.includes(':') ? `[${host}]` : host}:${port}`;
  const identityEndpoint = `${base}/msi/token`;

  return {
    url: base,
    identityEndpoint,
    identityHeader,
    identityEnv: { IDENTITY_ENDPOINT: identityEndpoint, IDENTITY_HEADER: identityHeader },
    faults,
    stats,
    versions: (name) => vault.peek(name),
    secretNames: () => [...vault.names()],
    seed: (name, value, seedOptions = {}) =>
      vault.set(
        name,
        {
          value,
          ...(seedOptions.contentType !== undefined ? { contentType: seedOptions.contentType } : {}),
          ...(seedOptions.tags !== undefined ? { tags: seedOptions.tags } : {}),
          attributes: {
            ...(seedOptions.expiresOn !== undefined ? { exp: Math.floor(seedOptions.expiresOn.getTime() / 1000) } : {}),
            ...(seedOptions.notBefore !== undefined ? { nbf: Math.floor(seedOptions.notBefore.getTime() / 1000) } : {}),
            ...(seedOptions.enabled !== undefined ? { enabled: seedOptions.enabled } : {}),
          },
        },
        seedOptions.version !== undefined ? { version: seedOptions.version } : {},
      ),
    seedCertificate: (name, pem, certOptions = {}) => {
      const cert = new X509Certificate(pem.certificate);
      return vault.set(
        name,
        {
          // Key Vault's PEM export of a certificate's secret: the private key, then the certificate.
          value: `${pem.privateKey.trim()}\n${pem.certificate.trim()}\n`,
          contentType: 'application/x-pem-file',
          ...(certOptions.tags !== undefined ? { tags: certOptions.tags } : {}),
          attributes: { nbf: Math.floor(Date.parse(cert.validFrom) / 1000), exp: Math.floor(Date.parse(cert.validTo) / 1000) },
        },
        { managed: true },
      );
    },
    emitNearExpiry,
    events: () => raised.map((e) => structuredClone(e)),
    reset,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
