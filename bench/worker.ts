/**
 * Bench child process: a minimal stand-in for the Azure Functions Node.js worker, serving one
 * deployment package over HTTP on loopback.
 *
 * It does what the real worker does with a package and nothing more: provides the module
 * `@azure/functions-core` (the real worker intercepts require() for it), loads the entry files
 * package.json "main" names (a file or a `*` pattern; CommonJS by require(), .mjs by import()),
 * then runs each request through the programming model the package registered (getArguments →
 * invokeFunction → getResponse, the RPC shapes of the worker protocol). So the package's own
 * copy of @azure/functions converts requests and responses, as on Azure, and the process loads
 * nothing else: no local host, no second copy of the library, no timer scheduler. That keeps
 * the fixed cost both the service and the hello-world baseline pay as small as it can be.
 *
 * Only Node's built-in modules are used here: the bench's module graph must not be in the
 * process it measures.
 *
 * Usage: node worker.js <appDir>  (cwd = the app folder, as on Azure; PORT picks the port, 0 by default)
 * Prints one line when listening: { "url", "loadedMs", "readyMs" } (ms since this process started).
 * GET /_bench/usage answers { maxRssBytes, rssBytes, heapUsedBytes, cpuMs, invocations, evaluated, sdkLoaded }.
 */
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import Module from 'node:module';
import { basename, dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

/** The parts of the worker protocol's shapes this stand-in uses (see @azure/functions-core's types). */
interface RpcBinding {
  type?: string;
  direction?: string;
  route?: string;
  methods?: string[];
}
interface FunctionMetadata {
  name: string;
  bindings: Record<string, RpcBinding>;
}
interface RpcHttpCookie {
  name?: string;
  value?: string;
  domain?: { value?: string } | null;
  path?: { value?: string } | null;
  expires?: { value?: { seconds?: number } } | null;
  secure?: { value?: boolean } | null;
  httpOnly?: { value?: boolean } | null;
  sameSite?: string;
  maxAge?: { value?: number } | null;
}
interface RpcHttpResponse {
  statusCode?: string;
  headers?: Record<string, string>;
  cookies?: RpcHttpCookie[];
  body?: { bytes?: Uint8Array; string?: string } | null;
}
interface InvocationModel {
  getArguments(): Promise<{ context: unknown; inputs: unknown[] }>;
  invokeFunction(context: unknown, inputs: unknown[], handler: unknown): Promise<unknown>;
  getResponse(context: unknown, result: unknown): Promise<{ returnValue?: { http?: RpcHttpResponse } | null }>;
}
interface ProgrammingModel {
  getInvocationModel(coreCtx: unknown): InvocationModel;
  getCapabilities?(capabilities: Record<string, string>): Promise<unknown>;
}

const registrations: { metadata: FunctionMetadata; handler: unknown }[] = [];
let programmingModel: ProgrammingModel | undefined;

const functionsCore = {
  registerFunction(metadata: FunctionMetadata, handler: unknown) {
    registrations.push({ metadata, handler });
    return { dispose() {} };
  },
  setProgrammingModel(model: ProgrammingModel) {
    programmingModel = model;
  },
  getProgrammingModel: () => programmingModel,
  registerHook: () => ({ dispose() {} }),
  log(level: string, category: string, message: string) {
    if (level === 'error' || level === 'critical') process.stderr.write(`[${category}] ${message}\n`);
  },
};

function provideFunctionsCore(): void {
  const proto = Module.prototype as unknown as { require: (id: string) => unknown };
  const original = proto.require;
  proto.require = function (this: unknown, id: string) {
    return id === '@azure/functions-core' ? functionsCore : original.call(this, id);
  };
}

/** The entry files "main" names: one path, or a `*` pattern in its last segment. */
function entryFiles(appDir: string, main: string): string[] {
  if (!main.includes('*')) return [join(appDir, main)];
  const dir = join(appDir, dirname(main));
  const pattern = new RegExp(
    `^${basename(main)
      .split('*')
      .map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('[^/]*')}$`,
  );
  return readdirSync(dir)
    .filter((f) => pattern.test(f))
    .sort()
    .map((f) => join(dir, f));
}

interface Route {
  name: string;
  triggerName: string;
  metadata: FunctionMetadata;
  handler: unknown;
  regex: RegExp;
  params: string[];
  methods: string[];
}

function routesOf(): Route[] {
  const routes: Route[] = [];
  for (const { metadata, handler } of registrations) {
    const trigger = Object.entries(metadata.bindings).find(([, b]) => b.type?.toLowerCase() === 'httptrigger');
    if (!trigger) continue; // timers are not served here
    const [triggerName, binding] = trigger;
    const params: string[] = [];
    const pattern = (binding.route ?? metadata.name)
      .split('/')
      .map((part) => {
        const m = /^\{([^}:?]+)[^}]*\}$/.exec(part);
        if (m) {
          params.push(m[1] as string);
          return '([^/]+)';
        }
        return part.replace(/[.*+?^$()|[\]\\]/g, '\\$&');
      })
      .join('/');
    routes.push({
      name: metadata.name,
      triggerName,
      metadata,
      handler,
      regex: new RegExp(`^${pattern}$`, 'i'),
      params,
      methods: (binding.methods ?? ['GET', 'POST']).map((m) => m.toUpperCase()),
    });
  }
  return routes;
}

function setCookie(c: RpcHttpCookie): string {
  const parts = [`${c.name ?? ''}=${c.value ?? ''}`];
  if (c.domain?.value) parts.push(`Domain=${c.domain.value}`);
  if (c.path?.value) parts.push(`Path=${c.path.value}`);
  if (c.maxAge?.value !== undefined) parts.push(`Max-Age=${c.maxAge.value}`);
  if (c.expires?.value?.seconds !== undefined) parts.push(`Expires=${new Date(c.expires.value.seconds * 1000).toUTCString()}`);
  if (c.secure?.value) parts.push('Secure');
  if (c.httpOnly?.value) parts.push('HttpOnly');
  if (c.sameSite === 'lax') parts.push('SameSite=Lax');
  else if (c.sameSite === 'strict') parts.push('SameSite=Strict');
  else if (c.sameSite === 'explicitNone') parts.push('SameSite=None');
  return parts.join('; ');
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

const invocations: { name: string; ms: number }[] = [];

async function invoke(route: Route, req: IncomingMessage, url: URL, params: Record<string, string>): Promise<RpcHttpResponse | undefined> {
  if (!programmingModel) throw new Error('the package registered no programming model');
  const body = await readBody(req);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  const invocationId = randomUUID();
  const coreCtx = {
    invocationId,
    metadata: route.metadata,
    state: undefined,
    log: functionsCore.log,
    request: {
      invocationId,
      functionId: route.name,
      triggerMetadata: {},
      inputData: [
        {
          name: route.triggerName,
          data: {
            http: {
              method: req.method ?? 'GET',
              url: url.toString(),
              headers,
              params,
              ...(body.length ? { body: { string: body.toString('utf8') } } : {}),
            },
          },
        },
      ],
    },
  };
  const model = programmingModel.getInvocationModel(coreCtx);
  const { context, inputs } = await model.getArguments();
  const result = await model.invokeFunction(context, inputs, route.handler);
  const response = await model.getResponse(context, result);
  return response.returnValue?.http ?? undefined;
}

function usage(): Record<string, unknown> {
  const cache = (require as NodeJS.Require).cache;
  const sdkLoaded = Object.keys(cache).some((f) => /[\\/]dist[\\/]sdk\.js$/.test(f));
  return {
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
    rssBytes: process.memoryUsage().rss,
    heapUsedBytes: process.memoryUsage().heapUsed,
    cpuMs: (process.cpuUsage().user + process.cpuUsage().system) / 1000,
    invocations,
    // Filled only by a package the bench instrumented (see bench/world/packages.ts).
    evaluated: [...((globalThis as { __benchEvaluated?: Set<string> }).__benchEvaluated ?? [])],
    sdkLoaded,
  };
}

async function main(): Promise<void> {
  const appDir = resolve(process.argv[2] ?? '.');
  const pkg = JSON.parse(readFileSync(join(appDir, 'package.json'), 'utf8')) as { main?: string };
  if (!pkg.main) throw new Error(`${appDir}/package.json has no "main"`);
  provideFunctionsCore();
  for (const file of entryFiles(appDir, pkg.main)) {
    if (file.endsWith('.mjs')) await import(pathToFileURL(file).href);
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- the worker require()s CommonJS entry files
    else require(file);
  }
  const loadedMs = performance.now();
  // The worker asks the programming model for its capabilities once the app is loaded (this also locks its setup).
  await programmingModel?.getCapabilities?.({});
  const routes = routesOf();
  let origin = '';

  const server = createServer((req, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', origin);
    if (url.pathname === '/_bench/usage') {
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(usage()));
      return;
    }
    const path = url.pathname.replace(/^\/api\//, '');
    const method = (req.method ?? 'GET').toUpperCase();
    let match: { route: Route; params: Record<string, string> } | undefined;
    if (url.pathname.startsWith('/api/')) {
      for (const route of routes) {
        const m = route.regex.exec(path);
        if (m) {
          match = { route, params: Object.fromEntries(route.params.map((p, i) => [p, decodeURIComponent(m[i + 1] ?? '')])) };
          break;
        }
      }
    }
    if (!match) {
      req.resume();
      res.writeHead(404).end();
      return;
    }
    if (!match.route.methods.includes(method)) {
      req.resume();
      res.writeHead(405, { allow: match.route.methods.join(', ') }).end();
      return;
    }
    const t0 = performance.now();
    const { route, params } = match;
    invoke(route, req, url, params)
      .then((http) => {
        const headers: Record<string, string | string[]> = { ...http?.headers };
        if (http?.cookies?.length) headers['set-cookie'] = http.cookies.map(setCookie);
        const body = http?.body?.bytes ? Buffer.from(http.body.bytes) : (http?.body?.string ?? '');
        res.writeHead(Number(http?.statusCode ?? 204), headers).end(method === 'HEAD' ? undefined : body);
        if (invocations.length < 100) invocations.push({ name: route.name, ms: performance.now() - t0 });
      })
      .catch((err: unknown) => {
        process.stderr.write(`${route.name} failed: ${err instanceof Error ? err.name + ': ' + err.message : 'error'}\n`);
        if (!res.headersSent) res.writeHead(500).end();
        else res.end();
      });
  });
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => resolveListen());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  // The URL handed to functions names localhost, like the deployment's CALLBACK_URL does.
  origin = `http://localhost:${port}`;
  process.stdout.write(JSON.stringify({ url: `http://127.0.0.1:${port}`, loadedMs, readyMs: performance.now() }) + '\n');
  const stop = () => {
    server.closeAllConnections();
    server.close(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`worker failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
