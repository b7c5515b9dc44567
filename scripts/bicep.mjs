#!/usr/bin/env node
// The Bicep compiler for this repository, and the infrastructure check that uses it.
//
//   node scripts/bicep.mjs install   (npm run bicep:install)
//       Restores the pinned Bicep CLI from the NuGet registry with `dotnet restore` of a
//       generated project file (<PackageDownload>; nothing is built) and copies the `bicep`
//       executable out of the package into .tools/bicep. Needs the .NET SDK; downloads nothing
//       else. Does nothing when .tools/bicep already is the pinned version.
//
//   node scripts/bicep.mjs ensure    (before npm test)
//       install, when the compiler is missing and the .NET SDK is there; otherwise a note.
//
//   node scripts/bicep.mjs check     (npm run infra:check)
//       bicep build of infra/main.bicep, bicep lint of it and of every module it uses, and
//       bicep build-params of infra/main.bicepparam once per environment (test, production).
//       Any error or warning, of the compiler or of a linter rule in bicepconfig.json, fails.
//
// The tests (test/infra) find the compiler the same way: BICEP_PATH, else .tools/bicep.
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The version every machine compiles with; docs/DEPLOY.md states it as the minimum. */
export const bicepVersion = '0.49.2';
export const bicepPackage = 'Azure.Bicep.CommandLine.linux-x64';
export const toolsDir = join(repoRoot, '.tools');
export const installedBicep = join(toolsDir, 'bicep');

/**
 * The Bicep CLI is a self-contained .NET program. Invariant globalization spares it (and
 * `dotnet restore`) the ICU libraries, which slim machines may lack; it handles no text that
 * needs culture rules. Telemetry and first-run messages are off: CI runs without a network
 * besides the package registries.
 */
export const dotnetEnv = {
  DOTNET_SYSTEM_GLOBALIZATION_INVARIANT: '1',
  DOTNET_CLI_TELEMETRY_OPTOUT: '1',
  DOTNET_NOLOGO: '1',
  DOTNET_SKIP_FIRST_TIME_EXPERIENCE: '1',
};

/** Where the compiler is: BICEP_PATH wins, then .tools/bicep; undefined when neither exists. */
export function findBicep(env = process.env) {
  if (env.BICEP_PATH) return existsSync(env.BICEP_PATH) ? env.BICEP_PATH : undefined;
  return existsSync(installedBicep) ? installedBicep : undefined;
}

export const missingBicepMessage =
  'The Bicep compiler is not installed. Run `npm run bicep:install` (needs the .NET SDK: it restores ' +
  `${bicepPackage} ${bicepVersion} from NuGet into .tools/bicep), or point BICEP_PATH at a bicep ${bicepVersion} executable.`;

export function runBicep(bicep, args, options = {}) {
  return spawnSync(bicep, args, {
    cwd: options.cwd ?? repoRoot,
    encoding: 'utf8',
    env: { ...process.env, ...dotnetEnv, ...(options.env ?? {}) },
    timeout: options.timeout ?? 300_000,
    maxBuffer: 64 * 1024 * 1024,
  });
}

/** The version the executable reports (`Bicep CLI version 0.49.2 (b34271ac51)`), or undefined. */
export function versionOf(bicep) {
  const result = runBicep(bicep, ['--version'], { timeout: 60_000 });
  return result.status === 0 ? /version (\d+\.\d+\.\d+)/.exec(result.stdout)?.[1] : undefined;
}

export function install() {
  if (existsSync(installedBicep) && versionOf(installedBicep) === bicepVersion) {
    console.log(`bicep ${bicepVersion} is installed: ${relative(process.cwd(), installedBicep) || installedBicep}`);
    return installedBicep;
  }
  const dotnet = spawnSync('dotnet', ['--version'], { encoding: 'utf8', env: { ...process.env, ...dotnetEnv } });
  if (dotnet.status !== 0) throw new Error('`dotnet` was not found: install the .NET SDK, or set BICEP_PATH to a bicep executable.');

  mkdirSync(toolsDir, { recursive: true });
  const work = mkdtempSync(join(tmpdir(), 'bicep-restore-'));
  try {
    // PackageDownload fetches the package as it is, without resolving or building anything;
    // the exact-version range keeps NuGet from substituting another version.
    writeFileSync(
      join(work, 'bicep-cli.csproj'),
      [
        '<Project Sdk="Microsoft.NET.Sdk">',
        '  <PropertyGroup>',
        `    <TargetFramework>net${dotnet.stdout.trim().split('.')[0]}.0</TargetFramework>`,
        '  </PropertyGroup>',
        '  <ItemGroup>',
        `    <PackageDownload Include="${bicepPackage}" Version="[${bicepVersion}]" />`,
        '  </ItemGroup>',
        '</Project>',
        '',
      ].join('\n'),
    );
    const packages = join(work, 'packages');
    const restore = spawnSync('dotnet', ['restore', join(work, 'bicep-cli.csproj'), '--packages', packages], {
      cwd: work,
      encoding: 'utf8',
      env: { ...process.env, ...dotnetEnv },
      timeout: 600_000,
    });
    if (restore.status !== 0) throw new Error(`dotnet restore failed:\n${restore.stdout}\n${restore.stderr}`);
    // NuGet lower-cases package folder names.
    const fromPackage = join(packages, bicepPackage.toLowerCase(), bicepVersion, 'tools', 'bicep');
    if (!existsSync(fromPackage)) throw new Error(`the package has no tools/bicep: ${fromPackage}`);
    copyFileSync(fromPackage, installedBicep);
    chmodSync(installedBicep, 0o755);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const got = versionOf(installedBicep);
  if (got !== bicepVersion) throw new Error(`.tools/bicep reports version ${got ?? '(none)'}, expected ${bicepVersion}`);
  console.log(`bicep ${bicepVersion} installed: ${relative(process.cwd(), installedBicep)}`);
  return installedBicep;
}

/**
 * Sample values for each environment's parameters: what an operator's azd environment holds
 * (docs/DEPLOY.md). Production carries an alert receiver, as main.bicep requires.
 */
export const sampleEnvironments = {
  test: {
    AZURE_ENV_NAME: 'connect-ms-auth-test',
    SERVICE_ENVIRONMENT: 'test',
    AZURE_PRINCIPAL_ID: '00000000-0000-4000-8000-000000000001',
    CPV_CLIENT_ID: '',
  },
  production: {
    AZURE_ENV_NAME: 'connect-ms-auth-production',
    SERVICE_ENVIRONMENT: 'production',
    AZURE_PRINCIPAL_ID: '00000000-0000-4000-8000-000000000001',
    CPV_CLIENT_ID: '00000000-0000-4000-8000-0000000000c1',
    ALERT_EMAIL_ADDRESSES: 'ops@example.com',
  },
};

/** Every diagnostic of a SARIF log as `file(line,col): level rule: message`. */
function sarifDiagnostics(text) {
  const start = text.indexOf('{');
  if (start < 0) return [];
  const log = JSON.parse(text.slice(start));
  return (log.runs ?? []).flatMap((run) =>
    (run.results ?? []).map((r) => {
      const location = r.locations?.[0]?.physicalLocation;
      const file = location?.artifactLocation?.uri ?? '?';
      const line = location?.region?.startLine ?? 0;
      return `${file.replace(/^file:\/\//, '')}(${line}): ${r.level ?? 'warning'} ${r.ruleId ?? ''}: ${r.message?.text ?? ''}`;
    }),
  );
}

function step(label, result) {
  const diagnostics = sarifDiagnostics(result.stdout ?? '').concat(sarifDiagnostics(result.stderr ?? ''));
  const ok = result.status === 0 && diagnostics.length === 0;
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${label}${diagnostics.length ? `: ${diagnostics.length} diagnostic(s)` : ''}`);
  for (const d of diagnostics) console.log(`     ${d}`);
  if (result.status !== 0 && diagnostics.length === 0) console.log(`     ${(result.stderr || result.stdout || '').trim()}`);
  return ok;
}

export function check() {
  const bicep = findBicep();
  if (!bicep) throw new Error(missingBicepMessage);
  console.log(`bicep ${versionOf(bicep) ?? '?'} (${relative(process.cwd(), bicep) || bicep})`);
  const out = mkdtempSync(join(tmpdir(), 'infra-check-'));
  const sarif = ['--diagnostics-format', 'sarif'];
  let ok = true;
  try {
    ok = step('bicep build infra/main.bicep', runBicep(bicep, ['build', 'infra/main.bicep', '--outfile', join(out, 'main.json'), ...sarif])) && ok;
    ok = step('bicep lint infra/main.bicep (and its modules)', runBicep(bicep, ['lint', 'infra/main.bicep', ...sarif])) && ok;
    for (const [name, env] of Object.entries(sampleEnvironments)) {
      ok =
        step(
          `bicep build-params infra/main.bicepparam (${name})`,
          runBicep(bicep, ['build-params', 'infra/main.bicepparam', '--outfile', join(out, `main.${name}.parameters.json`), ...sarif], { env }),
        ) && ok;
    }
    ok =
      step('bicep lint infra/main.bicepparam', runBicep(bicep, ['lint', 'infra/main.bicepparam', ...sarif], { env: sampleEnvironments.test })) && ok;
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
  if (!ok) throw new Error('infra check failed: 0 errors and 0 warnings are allowed');
  console.log('infra check passed: 0 errors, 0 warnings');
}

/**
 * Before `npm test`: the compiler the infra tests need, installed when the .NET SDK is there. A
 * machine without .NET gets a note (the infra tests then fail with the same instruction, unless
 * SKIP_BICEP=1 says that this contributor is not touching infra/); every other suite runs.
 */
export function ensure() {
  if (findBicep()) return;
  const dotnet = spawnSync('dotnet', ['--version'], { encoding: 'utf8', env: { ...process.env, ...dotnetEnv } });
  if (dotnet.status === 0) {
    install();
    return;
  }
  console.warn(`note: ${missingBicepMessage}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const command = process.argv[2];
  try {
    if (command === 'install') install();
    else if (command === 'ensure') ensure();
    else if (command === 'check') check();
    else throw new Error('usage: node scripts/bicep.mjs install|ensure|check');
  } catch (err) {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  }
}
