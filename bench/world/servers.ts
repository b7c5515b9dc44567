/**
 * The stand-ins the service talks to, run in the bench process: the Microsoft identity simulator,
 * the Partner Center stand-in (where every new token is proven) and the Key Vault fake (all from
 * local/, real HTTPS on loopback, so the real msal-node and the real SecretClient in the package
 * talk to them); Azurite as the app's own storage account, reached through a pass-through proxy
 * in this process so its requests are recorded too; and a recorder of every request they answer.
 *
 * The recorder listens on Node's own HTTP server diagnostics channels, so it needs nothing from
 * the fake or the simulator: it sees each request's method, path, status and server-side time,
 * and tells Key Vault requests apart by kind (list pages, version listings, secret reads, writes,
 * tag updates, managed-identity tokens), with the challenges (401) and throttling answers (429).
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { readFileSync } from 'node:fs';
import { createServer, request as forward, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { startAzurite, type Azurite } from '../../local/azurite';
import { startIdentitySimulator, type IdentitySimulator } from '../../local/identitySimulator';
import { startKeyVaultFake, type KeyVaultFake } from '../../local/keyVaultFake';
import { startPartnerCenterStandIn, type PartnerCenterStandIn } from '../../local/partnerCenterStandIn';

export type VaultKind = 'list page' | 'version listing' | 'secret read' | 'write' | 'tag update' | 'managed identity' | 'other';
export const vaultKinds: VaultKind[] = ['list page', 'version listing', 'secret read', 'write', 'tag update', 'managed identity', 'other'];

/** What Key Vault request a method and path are (the REST surface @azure/keyvault-secrets uses). */
export function vaultKindOf(method: string, path: string): VaultKind | undefined {
  if (path === '/msi/token') return 'managed identity';
  if (path.startsWith('/_fake/')) return undefined; // the fake's control API: not Key Vault
  const parts = path.replace(/\/$/, '').split('/').slice(1);
  if (parts[0] !== 'secrets') return 'other';
  if (parts.length === 1) return method === 'GET' ? 'list page' : 'other';
  if (parts[2] === 'versions') return 'version listing';
  if (method === 'GET') return 'secret read';
  if (method === 'PUT') return 'write';
  if (method === 'PATCH') return 'tag update';
  return 'other';
}

export type StorageKind = 'lease acquire' | 'lease renew' | 'lease release' | 'blob create' | 'table read' | 'table write' | 'table query' | 'other';
export const storageKinds: StorageKind[] = [
  'lease acquire',
  'lease renew',
  'lease release',
  'blob create',
  'table read',
  'table write',
  'table query',
  'other',
];

/** What Storage request this is (the REST calls @azure/storage-blob and @azure/data-tables make for the service). */
export function storageKindOf(service: 'blob' | 'queue' | 'table', method: string, path: string, leaseAction: string | undefined): StorageKind {
  if (service === 'table') {
    if (method !== 'GET') return 'table write';
    return /\(.+\)$/.test(path) ? 'table read' : 'table query';
  }
  if (service === 'blob') {
    if (leaseAction === 'acquire') return 'lease acquire';
    if (leaseAction === 'renew') return 'lease renew';
    if (leaseAction === 'release' || leaseAction === 'break') return 'lease release';
    if (method === 'PUT') return 'blob create';
  }
  return 'other';
}

export interface Span {
  server: 'vault' | 'identity' | 'partnerCenter' | 'storage';
  method: string;
  path: string;
  status: number;
  start: number;
  end: number;
  /** Storage only: what kind of request it was. */
  kind?: StorageKind;
}

/** Every request the stand-ins answered, with server-side start and end (performance.now()). */
export class RequestRecorder {
  readonly spans: Span[] = [];
  private readonly open = new WeakMap<IncomingMessage, number>();
  private readonly ports = new Map<number, Span['server']>();
  private readonly storageServices = new Map<number, 'blob' | 'queue' | 'table'>();
  private readonly onStart = (m: unknown) => {
    this.open.set((m as { request: IncomingMessage }).request, performance.now());
  };
  private readonly onFinish = (m: unknown) => {
    const { request, response, server } = m as { request: IncomingMessage; response: ServerResponse; server: Server };
    const start = this.open.get(request);
    const address = server.address();
    const which = typeof address === 'object' && address ? this.ports.get(address.port) : undefined;
    if (start === undefined || !which) return;
    const path = (request.url ?? '').split('?')[0] ?? '';
    if (path.startsWith('/_fake/') || path.startsWith('/_simulator/')) return;
    const method = request.method ?? 'GET';
    const leaseAction = request.headers['x-ms-lease-action'];
    const service = typeof address === 'object' && address ? this.storageServices.get(address.port) : undefined;
    const kind = service ? storageKindOf(service, method, path, typeof leaseAction === 'string' ? leaseAction : undefined) : undefined;
    this.spans.push({ server: which, method, path, status: response.statusCode, start, end: performance.now(), ...(kind ? { kind } : {}) });
  };

  constructor() {
    subscribe('http.server.request.start', this.onStart);
    subscribe('http.server.response.finish', this.onFinish);
  }

  watch(port: number, server: Span['server'], storageService?: 'blob' | 'queue' | 'table'): void {
    this.ports.set(port, server);
    if (storageService) this.storageServices.set(port, storageService);
  }

  /** Spans that started at or after `from` (and ended by `to`, when given). */
  between(from: number, to = Infinity): Span[] {
    return this.spans.filter((s) => s.start >= from && s.end <= to);
  }

  clear(): void {
    this.spans.length = 0;
  }

  stop(): void {
    unsubscribe('http.server.request.start', this.onStart);
    unsubscribe('http.server.response.finish', this.onFinish);
  }
}

/** Key Vault requests among spans: answered ones by kind, plus challenges (401) and throttling answers (429). */
export interface VaultCounts {
  byKind: Record<VaultKind, number>;
  challenges: number;
  throttled: number;
  total: number;
}

export function vaultCounts(spans: Span[]): VaultCounts {
  const byKind = Object.fromEntries(vaultKinds.map((k) => [k, 0])) as Record<VaultKind, number>;
  let challenges = 0;
  let throttled = 0;
  let total = 0;
  for (const s of spans) {
    if (s.server !== 'vault') continue;
    const kind = vaultKindOf(s.method, s.path);
    if (!kind) continue;
    total += 1;
    if (s.status === 401) challenges += 1;
    else if (s.status === 429) throttled += 1;
    else byKind[kind] += 1;
  }
  return { byKind, challenges, throttled, total };
}

/** Storage requests among spans, by kind. */
export function storageCounts(spans: Span[]): Record<StorageKind, number> & { total: number } {
  const counts = { ...(Object.fromEntries(storageKinds.map((k) => [k, 0])) as Record<StorageKind, number>), total: 0 };
  for (const s of spans) {
    if (s.server !== 'storage' || !s.kind) continue;
    counts[s.kind] += 1;
    counts.total += 1;
  }
  return counts;
}

export interface Servers {
  simulator: IdentitySimulator;
  partnerCenter: PartnerCenterStandIn;
  fake: KeyVaultFake;
  /** The connection string of the app's storage account, through the recording proxy. */
  storageConnectionString: string;
  recorder: RequestRecorder;
  close(): Promise<void>;
}

/** Forwards every request to Azurite unchanged, so that this process sees (and records) each one. */
async function passThrough(targetPort: number): Promise<Server> {
  const server = createServer((req, res) => {
    const upstream = forward({ host: '127.0.0.1', port: targetPort, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return server;
}

const portOf = (server: Server) => (server.address() as { port: number }).port;

async function storageThroughProxies(recorder: RequestRecorder): Promise<{ azurite: Azurite; connectionString: string; proxies: Server[] }> {
  const azurite = await startAzurite();
  const proxies: Server[] = [];
  let connectionString = azurite.connectionString;
  for (const [service, port] of [
    ['Blob', azurite.ports.blob],
    ['Queue', azurite.ports.queue],
    ['Table', azurite.ports.table],
  ] as const) {
    const proxy = await passThrough(port);
    proxies.push(proxy);
    recorder.watch(portOf(proxy), 'storage', service === 'Blob' ? 'blob' : service === 'Queue' ? 'queue' : 'table');
    connectionString = connectionString.replace(
      `${service}Endpoint=http://127.0.0.1:${port}/`,
      `${service}Endpoint=http://127.0.0.1:${portOf(proxy)}/`,
    );
  }
  return { azurite, connectionString, proxies };
}

/** The bench's CSP app registration at the simulator, and where its client secret lives in the vault. */
export const benchApp = { clientId: 'b0000000-0000-4000-8000-00000000b001', secretName: 'bench-csp-secret' };
export const callbackUrl = 'http://localhost:7071/api/callback';

export async function startServers(clientSecret: string): Promise<Servers> {
  const certPath = process.env.LOCAL_TLS_CERT;
  const keyPath = process.env.LOCAL_TLS_KEY;
  if (!certPath || !keyPath) throw new Error('Run through scripts/with-local-tls.mjs (npm run bench): it makes and trusts the loopback certificate.');
  const tls = { cert: readFileSync(certPath, 'utf8'), key: readFileSync(keyPath, 'utf8') };
  const recorder = new RequestRecorder();
  const simulator = await startIdentitySimulator({
    tls,
    clients: [{ clientId: benchApp.clientId, clientSecret, redirectUris: [callbackUrl], multiTenant: false }],
  });
  const partnerCenter = await startPartnerCenterStandIn({ tls, jwksUrl: simulator.jwksUrl });
  const fake = await startKeyVaultFake({ tls });
  recorder.watch(Number(new URL(simulator.url).port), 'identity');
  recorder.watch(Number(new URL(partnerCenter.url).port), 'partnerCenter');
  recorder.watch(Number(new URL(fake.url).port), 'vault');
  const storage = await storageThroughProxies(recorder);
  return {
    simulator,
    partnerCenter,
    fake,
    storageConnectionString: storage.connectionString,
    recorder,
    close: async () => {
      recorder.stop();
      await simulator.close();
      await partnerCenter.close();
      await fake.close();
      for (const proxy of storage.proxies) proxy.close();
      await storage.azurite.stop();
    },
  };
}
