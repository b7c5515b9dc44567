/**
 * The deployment package (`npm run package` → scripts/package.mjs): exactly the files Azure
 * needs, every function registered from the bundle as from the source, source maps that point
 * at the TypeScript, and the Azure SDKs loaded only when a function needs them.
 *
 * The bundle is exercised two ways: required here under the local core stand-in (jest maps
 * `@azure/functions-core` to local/functionsCore.ts), and in a plain Node process that provides
 * `@azure/functions-core` the way the Functions worker does (intercepting require), serving the
 * start page, the status page and a rotation against the Key Vault fake and the identity
 * simulator. Run through scripts/with-local-tls.mjs (it provides and trusts the certificate).
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startIdentitySimulator, type IdentitySimulator } from '../local/identitySimulator';
import { startKeyVaultFake, type KeyVaultFake } from '../local/keyVaultFake';
import { defaultTopic, nearExpiryEvent } from '../local/keyVaultFake/events';
import type { FakeSecretVersion } from '../local/keyVaultFake/vault';
import { startPartnerCenterStandIn, type PartnerCenterStandIn } from '../local/partnerCenterStandIn';
import type { Registration } from '../local/functionsCore';
import { tokenContentType, tokenSecretName } from '../shared/secrets/store';
import { tokenTagsToRecord } from '../shared/secrets/tags';
import { cleanCopyFiles, filesOnDisk } from './support/cleanCopy';
import { sharedAzurite } from './support/storage';

const repo = resolve(__dirname, '..');
const work = mkdtempSync(join(tmpdir(), 'connect-ms-auth-package-'));
const out = join(work, 'deploy');

const tenant = '0b7c1f5e-0000-4000-8000-00000000a001';
const client = {
  clientId: 'c5900000-0000-4000-8000-0000000000a1',
  secretName: 'partner-secret-MP-00001',
  secret: randomBytes(24).toString('base64url'),
};
const callbackUrl = 'http://localhost:7071/api/callback';
const marketplaces = {
  marketplaces: [
    {
      id: 'MP-00001',
      model: 'CSP',
      partner_tenant_id_test: tenant,
      partner_tenant_id_production: tenant,
      partner_client_id_test: client.clientId,
      partner_client_id_production: client.clientId,
      partner_client_secret_test: client.secretName,
      partner_client_secret_production: client.secretName,
      redirect_uri_test: callbackUrl,
      redirect_uri_production: callbackUrl,
    },
  ],
};
const configFile = join(work, 'marketplaces.json');

/** What the deployment package holds: the bundles (each sidecar required on first use) with their maps, host.json, package.json, the configuration. */
const packageFiles = [
  'config/marketplaces.json',
  ...['app', 'croner', 'jose', 'sdk'].flatMap((b) => [`dist/${b}.js`, `dist/${b}.js.map`]).sort(),
  'dist/index.js',
  'host.json',
  'package.json',
].sort();

function runPackage(...args: string[]) {
  return spawnSync(process.execPath, [join(repo, 'scripts', 'package.mjs'), ...args], { cwd: repo, encoding: 'utf8', timeout: 120_000 });
}

function listFiles(dir: string, base = dir): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? listFiles(join(dir, e.name), base) : [join(dir, e.name).slice(base.length + 1)]))
    .sort();
}

/** Name, trigger type, route, methods, auth level, schedule, queue and connection of each registration. */
function shapeOf(registrations: Registration[]) {
  return registrations
    .map((r) => ({
      name: r.name,
      type: r.trigger.type,
      route: r.trigger.route,
      methods: r.trigger.methods,
      authLevel: r.trigger.authLevel,
      schedule: r.trigger.schedule,
      queueName: r.trigger.queueName,
      connection: r.trigger.connection,
    }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

function registrationsOf(load: () => void): Registration[] {
  let registrations: Registration[] = [];
  jest.isolateModules(() => {
    load();
    registrations = (require('../local/functionsCore') as typeof import('../local/functionsCore')).listRegistrations();
  });
  return registrations;
}

beforeAll(() => {
  writeFileSync(configFile, JSON.stringify(marketplaces, null, 2));
  const result = runPackage('--out', out, '--config', configFile);
  if (result.status !== 0) throw new Error(`npm run package failed: ${result.stderr}`);
}, 120_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('the deployment package', () => {
  test('refuses a configuration file that config:check rejects, and builds nothing', () => {
    const bad = join(work, 'bad-marketplaces.json');
    writeFileSync(bad, JSON.stringify({ marketplaces: [{ id: 'MP-00003', model: 'CSP' }] }));
    const badOut = join(work, 'bad-deploy');
    const result = runPackage('--out', badOut, '--config', bad);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/has problems \(npm run config:check\)/);
    expect(result.stderr).toMatch(/MP-00003 partner_client_id_test: is required for a CSP marketplace/);
    expect(existsSync(badOut)).toBe(false);
  });

  test('holds exactly host.json, package.json, the bundles with their maps and the configuration file', () => {
    expect(listFiles(out)).toEqual(packageFiles);
    expect(JSON.parse(readFileSync(join(out, 'config', 'marketplaces.json'), 'utf8'))).toEqual(marketplaces);
    expect(JSON.parse(readFileSync(join(out, 'host.json'), 'utf8'))).toMatchObject({ version: '2.0' });
  });

  test('package.json names the entry point and installs nothing', () => {
    const root = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { name: string; version: string };
    const pkg = JSON.parse(readFileSync(join(out, 'package.json'), 'utf8')) as Record<string, unknown>;
    expect(pkg).toMatchObject({ name: root.name, version: root.version, main: 'dist/index.js', dependencies: {} });
    expect(pkg).not.toHaveProperty('devDependencies');
    expect(pkg).not.toHaveProperty('scripts');
    expect(existsSync(join(out, String(pkg.main)))).toBe(true);
  });

  test('contains no TypeScript, no tests, no local mode and no bench code', () => {
    expect(listFiles(out).filter((f) => /\.tsx?$/.test(f))).toEqual([]);
    for (const map of ['app.js.map', 'sdk.js.map']) {
      const { sources } = JSON.parse(readFileSync(join(out, 'dist', map), 'utf8')) as { sources: string[] };
      const ours = sources.filter((s) => !s.includes('node_modules/')).map((s) => s.replace(/^(\.\.\/)+/, ''));
      for (const s of ours) expect(s).not.toMatch(/(^|\/)(test|local|bench|scripts)\//);
    }
    const app = readFileSync(join(out, 'dist', 'app.js'), 'utf8');
    for (const marker of ['identitySimulator', 'keyVaultFake', 'functionsCore', 'startHost']) expect(app).not.toContain(marker);
  });

  test('has linked source maps that point at the TypeScript sources, and maps stack traces through them itself, installed before the bundle loads', () => {
    for (const js of ['app.js', 'sdk.js']) {
      expect(
        readFileSync(join(out, 'dist', js), 'utf8')
          .trimEnd()
          .endsWith(`//# sourceMappingURL=${js}.map`),
      ).toBe(true);
    }
    const map = JSON.parse(readFileSync(join(out, 'dist', 'app.js.map'), 'utf8')) as { version: number; sources: string[]; mappings: string };
    expect(map.version).toBe(3);
    expect(map.mappings.length).toBeGreaterThan(0);
    for (const file of [
      'functions/start.ts',
      'functions/callback.ts',
      'functions/status.ts',
      'functions/rotate.ts',
      'functions/rotateNow.ts',
      'functions/secretNearExpiry.ts',
      'shared/signIn/complete.ts',
    ]) {
      expect(map.sources.some((s) => s.endsWith(file))).toBe(true);
    }
    // The entry file maps stack traces itself (shared/stackTraces.ts), before loading the bundle;
    // Node's switch, which parses every map at load, stays off (docs/PERFORMANCE.md, "Cold start").
    const index = readFileSync(join(out, 'dist', 'index.js'), 'utf8');
    expect(index.indexOf('mapStackTracesLazily(')).toBeGreaterThanOrEqual(0);
    expect(index.indexOf('mapStackTracesLazily(')).toBeLessThan(index.indexOf('require("./app.js")'));
    expect(index).not.toMatch(/setSourceMaps(Enabled|Support)/);
  });

  test('keeps the Azure SDKs, jose and croner out of the bundle the start page loads', () => {
    const sourcesOf = (map: string) => (JSON.parse(readFileSync(join(out, 'dist', map), 'utf8')) as { sources: string[] }).sources;
    // msal-node's own maps name its sources `@azure/src/…`; msal-common is what it is built on.
    const sdkPackages =
      /node_modules\/@azure\/(src|msal-node|msal-common|identity|keyvault-secrets|storage-blob|data-tables|communication-email|communication-common|core-rest-pipeline)\//;
    expect(sourcesOf('app.js.map').filter((s) => sdkPackages.test(s))).toEqual([]);
    for (const pkg of ['msal-common', 'identity', 'keyvault-secrets', 'storage-blob', 'data-tables', 'communication-email'])
      expect(sourcesOf('sdk.js.map').some((s) => s.includes(`node_modules/@azure/${pkg}/`))).toBe(true);
    expect(readFileSync(join(out, 'dist', 'app.js'), 'utf8')).toContain('require("./sdk.js")');
    // jose and croner, required on first use too, each in a file of its own.
    for (const pkg of ['jose', 'croner']) {
      expect(sourcesOf('app.js.map').filter((s) => s.includes(`node_modules/${pkg}/`))).toEqual([]);
      expect(sourcesOf(`${pkg}.js.map`).some((s) => s.includes(`node_modules/${pkg}/`))).toBe(true);
      expect(readFileSync(join(out, 'dist', 'app.js'), 'utf8')).toContain(`require("./${pkg}.js")`);
    }
  });

  test('registers the same functions from the bundle as from the source, under the local core stand-in', () => {
    const fromSource = registrationsOf(() => {
      for (const f of ['start', 'callback', 'status', 'rotate', 'rotateNow', 'secretNearExpiry']) require(`../functions/${f}`);
    });
    const fromBundle = registrationsOf(() => require(join(out, 'dist', 'app.js')));
    expect(fromBundle.map((r) => r.name).sort()).toEqual(['callback', 'rotate', 'rotateNow', 'secretNearExpiry', 'start', 'status']);
    expect(shapeOf(fromBundle)).toEqual(shapeOf(fromSource));
    // The queue Event Grid writes to (infra/app/near-expiry.bicep), through the host's own storage connection.
    expect(fromBundle.find((r) => r.name === 'secretNearExpiry')?.trigger).toMatchObject({
      type: 'queueTrigger',
      queueName: 'secret-near-expiry',
      connection: 'AzureWebJobsStorage',
    });
  });

  test('refuses to package without the marketplace configuration, unless told to', () => {
    const missing = join(work, 'no-such-marketplaces.json');
    const refused = runPackage('--out', join(work, 'refused'), '--config', missing);
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toContain('marketplace configuration file is missing');
    expect(refused.stderr).toContain('config/marketplaces.json');
    expect(refused.stderr).toContain('--allow-missing-config');

    const allowed = runPackage('--out', join(work, 'allowed'), '--config', missing, '--allow-missing-config');
    expect(allowed.status).toBe(0);
    expect(listFiles(join(work, 'allowed')).filter((f) => f.startsWith('config/'))).toEqual([]);
  }, 120_000);
});

/**
 * A stand-in for the Functions worker: it provides `@azure/functions-core` by intercepting
 * require() (as the worker's setupCoreModule does), loads package.json "main" and invokes the
 * registered handlers with real HttpRequest / InvocationContext objects.
 */
const workerHarness = `
'use strict';
const Module = require('node:module');
const { join } = require('node:path');
const appDir = process.argv[2];
const registered = new Map();
const coreApi = {
  version: '3.10.1',
  hostVersion: '4.1040.0',
  registerHook: () => ({ dispose() {} }),
  setProgrammingModel() {},
  getProgrammingModel() {},
  registerFunction(metadata, handler) { registered.set(metadata.name, { metadata, handler }); return { dispose() {} }; },
  log() {},
};
Module.prototype.require = new Proxy(Module.prototype.require, {
  apply(target, thisArg, args) { return args[0] === '@azure/functions-core' ? coreApi : Reflect.apply(target, thisArg, args); },
});
const sdkLoaded = () => Object.keys(require.cache).some((f) => f === join(appDir, 'dist', 'sdk.js'));
const fs = require('node:fs');
const mapsRead = [];
const readFileSync = fs.readFileSync;
fs.readFileSync = function (path, ...rest) {
  if (String(path).endsWith('.map')) mapsRead.push(String(path).slice(appDir.length));
  return readFileSync.call(this, path, ...rest);
};
(async () => {
  const pkg = require(join(appDir, 'package.json'));
  require(join(appDir, pkg.main));
  const { HttpRequest, InvocationContext } = require(process.env.FUNCTIONS_LIBRARY);
  const invoke = async (name, method, path) => {
    const request = new HttpRequest({ method, url: 'http://localhost:7071' + path, headers: {}, query: Object.fromEntries(new URL(path, 'http://x').searchParams), params: {} });
    const context = new InvocationContext({ invocationId: 'test-' + name, functionName: name, logHandler: () => {} });
    const response = await registered.get(name).handler(request, context);
    return { status: response.status, body: response.body };
  };
  const report = { names: [...registered.keys()].sort(), sdkAfterLoad: sdkLoaded(), mapsReadAtLoad: [...mapsRead] };
  // An error thrown in the bundle (invalid settings, rethrown by the timer): its stack must name the TypeScript.
  const environment = process.env.SERVICE_ENVIRONMENT;
  process.env.SERVICE_ENVIRONMENT = 'staging';
  const timerContext = new InvocationContext({ invocationId: 'test-rotate', functionName: 'rotate', logHandler: () => {} });
  report.failedTimerStack = await registered.get('rotate').handler({ isPastDue: false }, timerContext).then(() => '', (err) => String(err.stack));
  report.mapsReadForStack = [...mapsRead];
  process.env.SERVICE_ENVIRONMENT = environment;
  report.start = await invoke('start', 'GET', '/api/start');
  report.sdkAfterStart = sdkLoaded();
  report.status = await invoke('status', 'GET', '/api/status?format=json');
  report.sdkAfterStatus = sdkLoaded();
  report.rotate = await invoke('rotateNow', 'POST', '/api/rotate?marketplace=MP-00001');
  // Key Vault's SecretNearExpiry for the token just rotated, as the queue trigger receives it.
  const lines = [];
  const queueContext = new InvocationContext({
    invocationId: 'test-near-expiry',
    functionName: 'secretNearExpiry',
    logHandler: (level, ...args) => lines.push(args.join(' ')),
    triggerMetadata: { dequeueCount: 1 },
  });
  await registered.get('secretNearExpiry').handler(JSON.parse(process.env.NEAR_EXPIRY_EVENT), queueContext);
  report.nearExpiry = lines.map((l) => JSON.parse(l)).filter((e) => e.event === 'SecretNearExpiryReceived');
  process.stdout.write(JSON.stringify(report));
})().catch((err) => { process.stderr.write(String(err && err.stack || err)); process.exit(1); });
`;

describe('the bundle under a worker-like @azure/functions-core', () => {
  let simulator: IdentitySimulator;
  let fake: KeyVaultFake;
  let partnerCenter: PartnerCenterStandIn;
  let seeded: FakeSecretVersion;

  beforeAll(async () => {
    const certPath = process.env.LOCAL_TLS_CERT;
    const keyPath = process.env.LOCAL_TLS_KEY;
    if (!certPath || !keyPath) throw new Error('Run the tests with: node scripts/with-local-tls.mjs npx jest');
    const tls = { cert: readFileSync(certPath, 'utf8'), key: readFileSync(keyPath, 'utf8') };
    simulator = await startIdentitySimulator({
      tls,
      clients: [{ clientId: client.clientId, clientSecret: client.secret, redirectUris: [callbackUrl], multiTenant: false }],
    });
    fake = await startKeyVaultFake({ tls });
    partnerCenter = await startPartnerCenterStandIn({ tls, jwksUrl: simulator.jwksUrl });
    fake.seed(client.secretName, client.secret);
    seeded = fake.seed(tokenSecretName('MP-00001', 'test'), simulator.issueRefreshTokenFor({ clientId: client.clientId, tenant }), {
      contentType: tokenContentType,
      tags: tokenTagsToRecord({
        marketplace: 'MP-00001',
        environment: 'test',
        model: 'CSP',
        tenant,
        issuedAt: '2026-10-01T00:00:00.000Z',
        status: 'active',
      }),
      expiresOn: new Date(Date.now() + 60 * 24 * 3600 * 1000),
    });
  });

  afterAll(async () => {
    await simulator?.close();
    await fake?.close();
    await partnerCenter?.close();
  });

  test('serves the start page without loading the SDKs, loads them for status and rotation, and maps stack traces to TypeScript', async () => {
    const harness = join(work, 'worker-harness.js');
    writeFileSync(harness, workerHarness);
    const storage = (await sharedAzurite()).connectionString;
    const run = await new Promise<{ code: number | null; stdout: string; stderr: string }>((done) => {
      const child = spawn(process.execPath, [harness, out], {
        cwd: out,
        env: {
          PATH: process.env.PATH,
          NODE_EXTRA_CA_CERTS: process.env.NODE_EXTRA_CA_CERTS,
          FUNCTIONS_LIBRARY: require.resolve('@azure/functions'),
          SERVICE_ENVIRONMENT: 'test',
          CALLBACK_URL: callbackUrl,
          AUTHORITY_HOST: simulator.url,
          PARTNER_CENTER_API_URL: partnerCenter.url,
          KEY_VAULT_URL: fake.url,
          ...fake.identityEnv,
          AzureWebJobsStorage: storage,
          TRANSACTION_COOKIE_KEY: randomBytes(32).toString('base64url'),
          MARKETPLACE_CONFIG_PATH: 'config/marketplaces.json',
          NEAR_EXPIRY_EVENT: JSON.stringify(
            nearExpiryEvent(seeded, { vaultUrl: fake.url, vaultName: 'kv-fake', topic: defaultTopic('kv-fake') }, Date.now()),
          ),
        },
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
      child.on('exit', (code) => done({ code, stdout, stderr }));
    });
    expect(run.stderr).not.toMatch(/Error/);
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout) as {
      names: string[];
      sdkAfterLoad: boolean;
      mapsReadAtLoad: string[];
      failedTimerStack: string;
      mapsReadForStack: string[];
      start: { status: number; body: string };
      sdkAfterStart: boolean;
      status: { status: number; body: string };
      sdkAfterStatus: boolean;
      rotate: { status: number; body: string };
      nearExpiry: Record<string, unknown>[];
    };
    expect(report.names).toEqual(['callback', 'rotate', 'rotateNow', 'secretNearExpiry', 'start', 'status']);
    // Source maps are on: the stack names shared/settings.ts and functions/rotate.ts, not dist/app.js.
    expect(report.failedTimerStack).toMatch(/shared\/settings\.ts:\d+:\d+/);
    expect(report.failedTimerStack).toMatch(/functions\/rotate\.ts:\d+:\d+/);
    expect(report.failedTimerStack).not.toContain('app.js');
    // …and the map was read for that stack, not while the package loaded.
    expect(report.mapsReadAtLoad).toEqual([]);
    expect(report.mapsReadForStack).toEqual(['/dist/app.js.map']);
    expect(report.sdkAfterLoad).toBe(false);
    expect(report.start.status).toBe(200);
    expect(report.start.body).toContain('Generate Refresh Token');
    expect(report.sdkAfterStart).toBe(false);

    expect(report.status.status).toBe(200);
    expect((JSON.parse(report.status.body) as { tokens: { marketplace: string }[] }).tokens.map((t) => t.marketplace)).toEqual(['MP-00001']);
    expect(report.sdkAfterStatus).toBe(true);

    expect(report.rotate.status).toBe(200);
    expect((JSON.parse(report.rotate.body) as { counts: { rotated: number } }).counts.rotated).toBe(1);
    expect(fake.versions(tokenSecretName('MP-00001', 'test'))).toHaveLength(2);
    // The event names the version rotateNow just replaced: handled, and not rotated again (12-hour rule).
    expect(report.nearExpiry).toEqual([expect.objectContaining({ marketplace: 'MP-00001', outcome: 'skipped', reason: 'recently-rotated' })]);
    expect(fake.versions(tokenSecretName('MP-00001', 'test'))).toHaveLength(2);
  }, 60_000);
});

/**
 * What `azd package` / `azd deploy` / `azd up` run for this service, in their order (azd's
 * Node.js packaging for `host: function`): `npm install` (restore), the service's `prepackage`
 * hook from azure.yaml, `npm run build --if-present`, then the zip of the `dist:` folder. On a
 * clean copy of the repository (tracked and new files, nothing ignored), with a stale deploy/
 * left from an earlier manual run, the folder azd zips must be a fresh package.
 */
describe('azd packaging on a clean copy of the repository', () => {
  const clean = mkdtempSync(join(tmpdir(), 'connect-ms-auth-azd-'));
  const azureYaml = readFileSync(join(repo, 'azure.yaml'), 'utf8');
  const dist = /^ {4}dist: (\S+)$/m.exec(azureYaml)?.[1] ?? '';
  const hook = /^ {6}prepackage:\n(?: {8}.*\n)*? {8}posix:\n(?: {10}.*\n)*? {10}run: (.+)$/m.exec(azureYaml)?.[1] ?? '';
  const sh = (command: string) =>
    spawnSync('sh', ['-c', command], {
      cwd: clean,
      encoding: 'utf8',
      timeout: 300_000,
      env: { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false' },
    });
  let install: ReturnType<typeof sh>;
  let prepackage: ReturnType<typeof sh>;
  let build: ReturnType<typeof sh>;

  let copied: ReturnType<typeof cleanCopyFiles>;
  let listedInCopy: ReturnType<typeof cleanCopyFiles>;

  beforeAll(() => {
    // The files a fresh clone has (tracked ones, plus new ones not ignored), or, in a copy without
    // `.git` (a "Download ZIP"), the files on disk minus what .gitignore ignores.
    copied = cleanCopyFiles(repo);
    for (const file of copied.files) cpSync(join(repo, file), join(clean, file), { recursive: false });
    // The copy has no `.git`: what a newcomer with an archive runs this very test from.
    listedInCopy = cleanCopyFiles(clean);
    // What an earlier `npm run package` by hand leaves behind, which azd must not upload.
    mkdirSync(join(clean, dist), { recursive: true });
    writeFileSync(join(clean, dist, 'STALE'), 'from an earlier run\n');
    // The operator's configuration file (config/marketplaces.json is theirs, not in the repository).
    writeFileSync(join(clean, 'config', 'marketplaces.json'), JSON.stringify(marketplaces, null, 2));

    install = sh('npm install --no-audit --no-fund --prefer-offline');
    prepackage = install.status === 0 ? sh(hook) : install;
    build = prepackage.status === 0 ? sh('npm run build --if-present') : prepackage;
  }, 600_000);

  afterAll(() => rmSync(clean, { recursive: true, force: true }));

  test('a copy without .git lists the same files as git does for this tree (a "Download ZIP" runs this test too)', () => {
    expect(listedInCopy.from).toBe('disk');
    expect(listedInCopy.files).toEqual(copied.files);
    if (copied.from === 'git') expect(filesOnDisk(repo)).toEqual(copied.files);
    else expect(copied.files).toEqual(expect.arrayContaining(['package.json', 'package-lock.json', 'test/package.test.ts']));
    expect(copied.files.filter((f) => /^(node_modules|dist|\.local|deploy|build|\.tools)\//.test(f) || f.endsWith('.log'))).toEqual([]);
  });

  test('azure.yaml deploys the `api` service as a TypeScript Function App from deploy/, with a prepackage hook that runs `npm run package`', () => {
    expect(azureYaml).toMatch(/^services:\n {2}api:\n/m);
    for (const line of ['project: .', 'language: ts', 'host: function', 'dist: deploy', 'remoteBuild: false'])
      expect(azureYaml).toContain(`    ${line}`);
    expect(dist).toBe('deploy');
    expect(hook).toBe('npm run package');
    expect(/^ {6}prepackage:\n(?: {8}.*\n)*? {8}windows:\n(?: {10}.*\n)*? {10}run: npm run package$/m.test(azureYaml)).toBe(true);
  });

  test('npm install, the prepackage hook and npm run build succeed in that order, and the dist folder is a fresh package', () => {
    expect({ step: 'npm install', status: install.status, stderr: install.status ? install.stderr : '' }).toEqual({
      step: 'npm install',
      status: 0,
      stderr: '',
    });
    expect({ step: 'prepackage', status: prepackage.status, stderr: prepackage.status ? prepackage.stderr : '' }).toEqual({
      step: 'prepackage',
      status: 0,
      stderr: '',
    });
    expect({ step: 'npm run build', status: build.status, stderr: build.status ? build.stderr : '' }).toEqual({
      step: 'npm run build',
      status: 0,
      stderr: '',
    });
    const files = listFiles(join(clean, dist));
    expect(files).not.toContain('STALE');
    expect(files).toEqual(packageFiles);
    expect(JSON.parse(readFileSync(join(clean, dist, 'config', 'marketplaces.json'), 'utf8'))).toEqual(marketplaces);
    expect(readFileSync(join(clean, dist, 'host.json'), 'utf8')).toBe(readFileSync(join(repo, 'host.json'), 'utf8'));
  });

  test('without config/marketplaces.json the hook fails, so azd stops before it uploads anything', () => {
    rmSync(join(clean, 'config', 'marketplaces.json'));
    const again = sh(hook);
    expect(again.status).not.toBe(0);
    expect(again.stderr).toMatch(/marketplace configuration file is missing/);
  });
});
