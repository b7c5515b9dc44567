/**
 * Bench child process: serves a packaged app (the deploy/ layout) with the local Functions host,
 * loading its entry files the way the Functions worker does: package.json "main" (a file or a
 * `*` glob), CommonJS by require(), .mjs by import(). When listening it prints one JSON line
 * `{ "url": …, "readyMs": … }` (readyMs: since this process started).
 *
 * Usage (cwd = the app folder, as on Azure): node dist/bench/serve.js <appDir>
 */
import { readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { listRegistrations } from '../local/functionsCore';
import { installFunctionsCore, startHost } from '../local/host';

/** The entry files "main" names: one path, or a `*` pattern in its last segment (what the apps here use). */
export function entryFiles(appDir: string, main: string): string[] {
  if (!main.includes('*')) return [join(appDir, main)];
  const dir = join(appDir, dirname(main));
  const pattern = new RegExp(`^${basename(main).split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^/]*')}$`);
  return readdirSync(dir)
    .filter((f) => pattern.test(f))
    .sort()
    .map((f) => join(dir, f));
}

async function main(): Promise<void> {
  const appDir = resolve(process.argv[2] ?? '.');
  const pkg = JSON.parse(readFileSync(join(appDir, 'package.json'), 'utf8')) as { main?: string };
  if (!pkg.main) throw new Error(`${appDir}/package.json has no "main"`);
  installFunctionsCore();
  for (const file of entryFiles(appDir, pkg.main)) {
    if (file.endsWith('.mjs')) await import(pathToFileURL(file).href);
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- the worker require()s CommonJS entry files
    else require(file);
  }
  const host = await startHost({
    port: Number(process.env.BENCH_PORT ?? 0),
    registrations: listRegistrations(),
    timers: false,
    // Requests are measured, not logged; errors still show.
    log: ({ level, functionName, message }) => {
      if (level === 'error') process.stderr.write(`${functionName} ${level}: ${message}\n`);
    },
  });
  process.stdout.write(JSON.stringify({ url: host.url.replace('localhost', '127.0.0.1'), readyMs: performance.now() }) + '\n');
  const stop = () => void host.close().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`serve failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
