/**
 * Azurite, Microsoft's open-source Azure Storage emulator (npm `azurite`), as a child process on
 * loopback: the blob, queue and table services the app's own storage account gives it in Azure.
 * Local mode (`npm start`) and the tests start it; nothing here is a fake of ours.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';

/** Azurite's one account and its well-known key, published by Microsoft for the emulator (not a secret). */
export const azuriteAccount = {
  name: 'devstoreaccount1',
  key: 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==',
};

export interface AzuriteOptions {
  /** 0 (the default) lets the system choose. */
  blobPort?: number;
  queuePort?: number;
  tablePort?: number;
  /** A folder that keeps the data across restarts; without one, data lives in memory. */
  location?: string;
}

export interface Azurite {
  /** The connection string of the account, as `AzureWebJobsStorage` takes it. */
  connectionString: string;
  ports: { blob: number; queue: number; table: number };
  stop(): Promise<void>;
}

export async function startAzurite(options: AzuriteOptions = {}): Promise<Azurite> {
  const args = [
    require.resolve('azurite/dist/src/azurite.js'),
    '--blobHost',
    '127.0.0.1',
    '--blobPort',
    String(options.blobPort ?? 0),
    '--queueHost',
    '127.0.0.1',
    '--queuePort',
    String(options.queuePort ?? 0),
    '--tableHost',
    '127.0.0.1',
    '--tablePort',
    String(options.tablePort ?? 0),
    // Without it Azurite reports telemetry over the internet; nothing here may reach it.
    '--disableTelemetry',
    // Current storage SDKs send API versions newer than Azurite knows; it serves them all the same.
    '--skipApiVersionCheck',
    '--silent',
  ];
  if (options.location) {
    mkdirSync(options.location, { recursive: true });
    args.push('--location', options.location);
  } else args.push('--inMemoryPersistence');
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const ports = await new Promise<{ blob: number; queue: number; table: number }>((resolve, reject) => {
    const found: Partial<Record<'blob' | 'queue' | 'table', number>> = {};
    let output = '';
    const onData = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      for (const m of output.matchAll(/Azurite (Blob|Queue|Table) service is successfully listening at http:\/\/127\.0\.0\.1:(\d+)/g)) {
        found[(m[1] ?? '').toLowerCase() as 'blob' | 'queue' | 'table'] = Number(m[2]);
      }
      if (found.blob && found.queue && found.table) {
        child.stdout?.off('data', onData);
        resolve({ blob: found.blob, queue: found.queue, table: found.table });
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.once('exit', (code) => reject(new Error(`Azurite exited (${code ?? 'signal'}) before it listened: ${output.trim().slice(-500)}`)));
    child.once('error', reject);
  });
  child.removeAllListeners('exit');
  // Its output is not needed any more, but must be read, or a full pipe would stall it.
  child.stdout?.resume();
  child.stderr?.resume();
  const endpoint = (port: number) => `http://127.0.0.1:${port}/${azuriteAccount.name}`;
  const connectionString = [
    'DefaultEndpointsProtocol=http',
    `AccountName=${azuriteAccount.name}`,
    `AccountKey=${azuriteAccount.key}`,
    `BlobEndpoint=${endpoint(ports.blob)}`,
    `QueueEndpoint=${endpoint(ports.queue)}`,
    `TableEndpoint=${endpoint(ports.table)}`,
  ].join(';');
  return { connectionString, ports, stop: () => stopChild(child) };
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    // Azurite takes a few seconds to stop on SIGTERM; in-memory data has nothing to save.
    const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
