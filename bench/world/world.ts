/**
 * What the suites share, built on first use: a temporary folder, the marketplace configuration,
 * the packages, the identity simulator and the Key Vault fake, the app settings, and a way to
 * start bench/worker.ts on a package. Everything lives under the temporary folder and goes with it.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startChild, stopChild, type Child } from '../lib/child';
import { send } from '../lib/http';
import { workerJs } from '../lib/paths';
import { buildPackages, type BuiltPackage, type Packages } from './packages';
import { benchApp, callbackUrl, startServers, type Servers } from './servers';

export const tenantOf = (i: number) => `0b7c1f5e-0000-4000-8000-${String(i).padStart(12, '0')}`;
export const marketplaceOf = (i: number) => `MP-${10000 + i}`;
/** The marketplace the bench signs in for. */
export const signInMarketplace = { id: 'MP-00001', tenant: tenantOf(1) };

/** One entry of the marketplace configuration file (Connect parameter names, docs/DEPLOY.md). */
export function cspEntry(id: string, tenant: string): Record<string, string> {
  return {
    id,
    model: 'CSP',
    partner_tenant_id_test: tenant,
    partner_tenant_id_production: tenant,
    partner_client_id_test: benchApp.clientId,
    partner_client_id_production: benchApp.clientId,
    partner_client_secret_test: benchApp.secretName,
    partner_client_secret_production: benchApp.secretName,
    redirect_uri_test: callbackUrl,
    redirect_uri_production: callbackUrl,
  };
}

export interface WorkerReady {
  url: string;
  loadedMs: number;
  readyMs: number;
}

export interface Usage {
  /** Peak resident set size of the process so far. */
  maxRssBytes: number;
  rssBytes: number;
  heapUsedBytes: number;
  cpuMs: number;
  invocations: { name: string; ms: number }[];
  evaluated: string[];
  sdkLoaded: boolean;
}

export interface ServeOptions {
  /** Extra app settings (they win over the world's). */
  env?: NodeJS.ProcessEnv;
  /** true: Node's own source-map support on (`--enable-source-maps`), as a diagnostic of what the package's lazy maps save. */
  nodeSourceMaps?: boolean;
}

export class World {
  readonly work = mkdtempSync(join(tmpdir(), 'connect-ms-auth-bench-'));
  readonly clientSecret = randomBytes(24).toString('base64url');
  readonly configPath = join(this.work, 'marketplaces.json');
  private packagesP: Promise<Packages> | undefined;
  private serversP: Promise<Servers> | undefined;

  constructor() {
    writeFileSync(this.configPath, JSON.stringify({ marketplaces: [cspEntry(signInMarketplace.id, signInMarketplace.tenant)] }, null, 2));
  }

  packages(): Promise<Packages> {
    this.packagesP ??= buildPackages(this.work, this.configPath);
    return this.packagesP;
  }

  servers(): Promise<Servers> {
    this.serversP ??= startServers(this.clientSecret);
    return this.serversP;
  }

  /** Empties the vault (secrets, faults, counters, throttling windows) and puts the bench app's client secret back. */
  async resetVault(): Promise<void> {
    const { fake } = await this.servers();
    fake.reset();
    fake.seed(benchApp.secretName, this.clientSecret);
  }

  /**
   * App settings of a production-like deployment: Key Vault (the fake, through its managed-identity
   * endpoint), Entra (the simulator), a configuration file. Nothing of this shell leaks in.
   */
  async appEnv(): Promise<NodeJS.ProcessEnv> {
    const { simulator, partnerCenter, fake, storageConnectionString } = await this.servers();
    return {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      NODE_EXTRA_CA_CERTS: process.env.NODE_EXTRA_CA_CERTS,
      SERVICE_ENVIRONMENT: 'test',
      CALLBACK_URL: callbackUrl,
      AUTHORITY_HOST: simulator.url,
      PARTNER_CENTER_API_URL: partnerCenter.url,
      KEY_VAULT_URL: fake.url,
      ...fake.identityEnv,
      AzureWebJobsStorage: storageConnectionString,
      TRANSACTION_COOKIE_KEY: randomBytes(32).toString('base64url'),
      MARKETPLACE_CONFIG_PATH: this.configPath,
    };
  }

  /** Starts bench/worker.ts on a package, with the world's settings. */
  async serve(pkg: BuiltPackage, options: ServeOptions = {}): Promise<Child<WorkerReady>> {
    const env = { ...(await this.appEnv()), ...options.env, ...(options.nodeSourceMaps ? { NODE_OPTIONS: '--enable-source-maps' } : {}) };
    return startChild<WorkerReady>(workerJs, [pkg.outDir], { cwd: pkg.outDir, env, timeoutMs: 60_000 });
  }

  async usage(child: Child<WorkerReady>): Promise<Usage> {
    return JSON.parse((await send(`${child.first.url}/_bench/usage`)).body) as Usage;
  }

  async close(): Promise<void> {
    if (this.serversP) await (await this.serversP).close();
    rmSync(this.work, { recursive: true, force: true });
  }
}

export { stopChild };
