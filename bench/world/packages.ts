/**
 * The packages the bench measures, built into a temporary folder by scripts/package.mjs (the
 * code behind `npm run package`), never into tracked files:
 *
 * - the service: the deployment package exactly as `npm run package` builds it (default layout,
 *   default options), with the bench's marketplace configuration file copied in;
 * - hello-world: bench/hello.ts packaged by the same function, so same bundler, same target, same
 *   format, without source maps (a hello-world has none).
 *
 * Also what the service's bundle is made of (esbuild's metafile), and an instrumented copy of it
 * that records which of its modules a request evaluates.
 */
import { cpSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { repoRoot } from '../lib/paths';

interface Metafile {
  inputs: Record<string, { bytes: number }>;
  outputs: Record<string, { bytes: number; inputs: Record<string, { bytesInOutput: number }> }>;
}

export interface BuiltPackage {
  outDir: string;
  main: string;
  files: string[];
  metafiles: Metafile[];
}

interface PackageModule {
  packageApp(options: {
    root?: string;
    outDir: string;
    configFile?: string;
    entries?: string[];
    withConfig?: boolean;
    sourceMaps?: boolean;
  }): Promise<BuiltPackage>;
}

export interface Packages {
  service: BuiltPackage;
  hello: BuiltPackage;
  /** The service package with its bundles instrumented (see instrument()); diagnostic runs only. */
  instrumented: BuiltPackage;
}

export async function buildPackages(work: string, configFile: string): Promise<Packages> {
  const packaging = (await import(pathToFileURL(join(repoRoot, 'scripts', 'package.mjs')).href)) as PackageModule;
  const service = await packaging.packageApp({ root: repoRoot, outDir: join(work, 'service'), configFile });
  const hello = await packaging.packageApp({
    root: repoRoot,
    outDir: join(work, 'hello'),
    entries: ['bench/hello.ts'],
    withConfig: false,
    sourceMaps: false,
  });
  const instrumentedDir = join(work, 'service-instrumented');
  cpSync(service.outDir, instrumentedDir, { recursive: true });
  for (const f of service.files.filter((f) => /\.c?js$/.test(f))) instrument(join(instrumentedDir, f));
  return { service, hello, instrumented: { ...service, outDir: instrumentedDir } };
}

/**
 * esbuild wraps every module that is not evaluated at load in `__esm({ "path"() {…} })` or
 * `__commonJS({ "path"(exports, module) {…} })` and runs it on first use. This wraps those two
 * helpers so each run also records the module's path in globalThis.__benchEvaluated. Modules
 * outside any wrapper run when the bundle loads.
 */
function instrument(file: string): void {
  const source = readFileSync(file, 'utf8');
  const firstModule = source.search(/\n\/\/ (node_modules|shared|functions|bench|local)\//);
  if (firstModule < 0 || !/var __(esm|commonJS) = /.test(source.slice(0, firstModule))) return;
  const hook = `
var __benchEvaluated = globalThis.__benchEvaluated ??= new Set();
var __benchRecord = (wrap) => (table, ...rest) => { const key = Object.getOwnPropertyNames(table)[0]; const init = wrap(table, ...rest); return function () { __benchEvaluated.add(key); return init.apply(this, arguments); }; };
if (typeof __esm === "function") __esm = __benchRecord(__esm);
if (typeof __commonJS === "function") __commonJS = __benchRecord(__commonJS);
`;
  writeFileSync(file, source.slice(0, firstModule) + hook + source.slice(firstModule));
}

/** Modules of one bundle that esbuild wrapped for evaluation on first use. */
export function lazyModules(bundleFile: string): Set<string> {
  const source = readFileSync(bundleFile, 'utf8');
  const lazy = new Set<string>();
  for (const m of source.matchAll(/__(?:esm|commonJS)\(\{\s*"([^"]+)"\(/g)) lazy.add(m[1] as string);
  return lazy;
}

export interface ModuleRow {
  /** npm package, or "service (functions/, shared/)". */
  owner: string;
  module: string;
  bytes: number;
  /** Evaluated while the package loaded, by the first request, or not at all. */
  evaluated: 'at load' | 'by the request' | 'no';
}

export function ownerOf(module: string): string {
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(module)?.[1];
  if (pkg) return pkg;
  if (/^(shared|functions)\//.test(module)) return 'the service (functions/, shared/)';
  return 'other';
}

/**
 * Every module of the bundle `output` (e.g. "dist/app.js") and its bytes in the bundle: evaluated
 * at load when outside any wrapper or in `atLoad` (recorded before the first request), by the
 * request when only in `afterRequest`.
 */
export function moduleRows(pkg: BuiltPackage, output: string, atLoad: Set<string>, afterRequest: Set<string>): ModuleRow[] {
  const entry = pkg.metafiles.flatMap((m) => Object.entries(m.outputs)).find(([f]) => f.endsWith(output));
  if (!entry) return [];
  const lazy = lazyModules(join(pkg.outDir, output));
  return Object.entries(entry[1].inputs)
    .filter(([, v]) => v.bytesInOutput > 0)
    .map(([module, v]) => ({
      owner: ownerOf(module),
      module,
      bytes: v.bytesInOutput,
      evaluated:
        !lazy.has(module) || atLoad.has(module) ? ('at load' as const) : afterRequest.has(module) ? ('by the request' as const) : ('no' as const),
    }));
}

export function packageBytes(pkg: BuiltPackage): { files: number; bytes: number; jsBytes: number; mapBytes: number } {
  let bytes = 0;
  let jsBytes = 0;
  let mapBytes = 0;
  for (const f of pkg.files) {
    const size = statSync(join(pkg.outDir, f)).size;
    bytes += size;
    if (f.endsWith('.map')) mapBytes += size;
    else if (/\.[cm]?js$/.test(f)) jsBytes += size;
  }
  return { files: pkg.files.length, bytes, jsBytes, mapBytes };
}
