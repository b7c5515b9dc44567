/**
 * Instances of the service in processes of their own (test/support/instance.ts), against the
 * stand-ins and storage account of the running test world: what scale-out on Flex Consumption
 * gives, where any trigger may run on any instance at the same time. The instance is bundled
 * once per test file with esbuild (packages stay in node_modules), into the ignored `.local/`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import * as esbuild from 'esbuild';
import { eventsIn } from './events';
import type { LogLine } from './world';

const repo = join(__dirname, '..', '..');

export interface Instance {
  url: string;
  process: ChildProcess;
  logs: LogLine[];
  /** Structured events this instance's functions logged, parsed. */
  events(name: string): Record<string, unknown>[];
  /** `kill -9`: the instance dies at once, whatever it was doing (its leases are not released). */
  kill(): Promise<void>;
  stop(): Promise<void>;
}

let bundle: Promise<string> | undefined;

async function bundled(): Promise<string> {
  const dir = join(repo, '.local', 'test-instances');
  mkdirSync(dir, { recursive: true });
  const out = join(dir, `instance-${process.pid}.js`);
  await esbuild.build({
    entryPoints: [join(repo, 'test', 'support', 'instance.ts')],
    outfile: out,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    packages: 'external',
    logLevel: 'silent',
  });
  return out;
}

// Registered while the test file loads; the bundle is removed after its last test.
if (typeof afterAll === 'function')
  afterAll(async () => {
    const done = bundle;
    bundle = undefined;
    const file = await done?.catch(() => undefined);
    if (file) rmSync(file, { force: true });
    // esbuild keeps a service process for further builds: none will come.
    await esbuild.stop();
  });

/** Starts an instance with this process's settings (a world's), and resolves once it listens. */
export async function startInstance(env: NodeJS.ProcessEnv = process.env): Promise<Instance> {
  bundle ??= bundled();
  const script = await bundle;
  const child = spawn(process.execPath, [script], {
    cwd: repo,
    env: { ...env, INSTANCE_HOST_JSON: join(repo, 'host.json') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => (stderr = (stderr + c.toString('utf8')).slice(-8_000)));
  const logs: LogLine[] = [];
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`instance did not start: ${stderr}`)), 30_000);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const parsed = JSON.parse(line) as { url?: string; log?: LogLine };
      if (parsed.log) logs.push(parsed.log);
      if (parsed.url) {
        clearTimeout(timer);
        resolve(parsed.url);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`instance exited (${code}) before listening: ${stderr}`));
    });
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    url,
    process: child,
    logs,
    events: (name) => eventsIn(logs, name),
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
