/**
 * The real Bicep compiler, run from the tests (scripts/bicep.mjs installs it into .tools/bicep;
 * BICEP_PATH overrides). Output goes to temporary folders, never next to the templates.
 *
 * Without the compiler: in CI (CI=true) the infra tests fail, since CI must always have it;
 * elsewhere they fail with the instruction to install it, unless SKIP_BICEP=1 skips them.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, sep } from 'node:path';

export const repo = join(__dirname, '..', '..');
export const infra = join(repo, 'infra');

export const missingCompilerMessage =
  'The Bicep compiler is not installed: run `npm run bicep:install` (needs the .NET SDK; it restores the pinned ' +
  'Azure.Bicep.CommandLine.linux-x64 from NuGet into .tools/bicep), or set BICEP_PATH. ' +
  'SKIP_BICEP=1 skips the infra tests on a machine without .NET (never in CI).';

export function bicepPath(): string | undefined {
  const path = process.env.BICEP_PATH ?? join(repo, '.tools', 'bicep');
  return existsSync(path) ? path : undefined;
}

/** Whether the compiled-template tests run here: false only with SKIP_BICEP=1 outside CI. */
export function compilerTestsEnabled(): boolean {
  return !(process.env.SKIP_BICEP === '1' && !process.env.CI) || bicepPath() !== undefined;
}

export function requireBicep(): string {
  const path = bicepPath();
  if (!path) throw new Error(missingCompilerMessage);
  return path;
}

const env = {
  ...process.env,
  DOTNET_SYSTEM_GLOBALIZATION_INVARIANT: '1',
  DOTNET_CLI_TELEMETRY_OPTOUT: '1',
  DOTNET_NOLOGO: '1',
};

export interface Diagnostic {
  file: string;
  line: number;
  level: string;
  rule: string;
  message: string;
}

export function formatDiagnostic(d: Diagnostic): string {
  return `${d.file}:${d.line}: ${d.level} ${d.rule}: ${d.message}`;
}

function parseSarif(output: string, root: string): Diagnostic[] {
  const diagnostics: Diagnostic[] = [];
  // With --pattern the CLI prints one SARIF log per file, one right after the other.
  for (const chunk of output.split(/(?=\{\s*"\$schema")/)) {
    const trimmed = chunk.trim();
    if (!trimmed.startsWith('{')) continue;
    const log = JSON.parse(trimmed) as {
      runs?: {
        results?: {
          ruleId?: string;
          level?: string;
          message?: { text?: string };
          locations?: { physicalLocation?: { artifactLocation?: { uri?: string }; region?: { startLine?: number } } }[];
        }[];
      }[];
    };
    for (const run of log.runs ?? []) {
      for (const r of run.results ?? []) {
        const location = r.locations?.[0]?.physicalLocation;
        const uri = decodeURIComponent((location?.artifactLocation?.uri ?? '').replace(/^file:\/\//, ''));
        diagnostics.push({
          file: relative(root, uri).split(sep).join('/'),
          line: location?.region?.startLine ?? 0,
          level: r.level ?? 'warning',
          rule: r.ruleId ?? '',
          message: r.message?.text ?? '',
        });
      }
    }
  }
  return diagnostics;
}

function run(args: string[], cwd: string, extraEnv: Record<string, string> = {}) {
  const result = spawnSync(requireBicep(), [...args, '--diagnostics-format', 'sarif'], {
    cwd,
    encoding: 'utf8',
    env: { ...env, ...extraEnv },
    timeout: 300_000,
    maxBuffer: 256 * 1024 * 1024,
  });
  if (result.error) throw result.error;
  return result;
}

export interface Compiled {
  /** The compiled main.json, or undefined when the build failed. */
  template: unknown;
  /** Diagnostics of the build (errors and warnings), files relative to the copy's infra folder. */
  build: Diagnostic[];
}

/** A throw-away folder; removed by removeWorkDirs(). */
const workDirs: string[] = [];
export function workDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  workDirs.push(dir);
  return dir;
}
export function removeWorkDirs(): void {
  for (const dir of workDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** A copy of infra/ in `dir` (as `dir`/infra). */
export function copyInfra(dir: string): string {
  mkdirSync(dir, { recursive: true });
  const copy = join(dir, 'infra');
  cpSync(infra, copy, { recursive: true });
  return copy;
}

/**
 * Builds main.bicep of every given infra folder in one run of the compiler (its start-up costs
 * more than a build) and returns each folder's template and diagnostics. The folders must be
 * <root>/<case>/infra, as copies() makes them.
 */
export function buildAll(infraDirs: string[]): Compiled[] {
  if (infraDirs.length === 0) return [];
  const root = rootOf(infraDirs);
  const r = run(['build', '--pattern', '*/infra/main.bicep'], root);
  const diagnostics = parseSarif(r.stdout + '\n' + r.stderr, root);
  return infraDirs.map((dir) => {
    const mine = only(diagnostics, root, dir);
    const out = join(dir, 'main.json');
    const failed = mine.some((d) => d.level === 'error');
    return { template: !failed && existsSync(out) ? (JSON.parse(readFileSync(out, 'utf8')) as unknown) : undefined, build: mine };
  });
}

/** Lints main.bicep (and the modules it uses) of every given infra folder in one run. */
export function lintAll(infraDirs: string[]): Diagnostic[][] {
  if (infraDirs.length === 0) return [];
  const root = rootOf(infraDirs);
  const r = run(['lint', '--pattern', '*/infra/main.bicep'], root);
  const diagnostics = parseSarif(r.stdout + '\n' + r.stderr, root);
  return infraDirs.map((dir) => only(diagnostics, root, dir));
}

function rootOf(infraDirs: string[]): string {
  const roots = new Set(infraDirs.map((d) => dirname(dirname(d))));
  if (roots.size !== 1) throw new Error('buildAll/lintAll need folders <root>/<case>/infra under one root');
  return [...roots][0]!;
}

/** The diagnostics of one folder, with paths relative to it. */
function only(diagnostics: Diagnostic[], root: string, dir: string): Diagnostic[] {
  const prefix = relative(root, dir).split(sep).join('/') + '/';
  return diagnostics.filter((d) => d.file.startsWith(prefix)).map((d) => ({ ...d, file: d.file.slice(prefix.length) }));
}

/** One copy of infra/ per case name under a fresh root: <root>/<case>/infra. */
export function copies(names: string[]): Map<string, string> {
  const root = workDir('connect-ms-auth-infra-');
  return new Map(names.map((name) => [name, copyInfra(join(root, name))]));
}

/** `bicep build-params` of a parameters file with these environment variables; the parameter values, or the diagnostics. */
export function buildParams(file: string, variables: Record<string, string>): { parameters?: Record<string, unknown>; diagnostics: Diagnostic[] } {
  const dir = workDir('bicepparam-');
  const out = join(dir, 'parameters.json');
  // Only the variables given: the test runner's own environment must not leak into the values.
  const clean = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !/^(AZURE_|SERVICE_ENVIRONMENT|CPV_|CONNECT_|ROTATION_|ALERT_|GRANT_)/.test(k)),
  ) as Record<string, string>;
  const result = spawnSync(requireBicep(), ['build-params', file, '--outfile', out, '--diagnostics-format', 'sarif'], {
    cwd: dirname(file),
    encoding: 'utf8',
    env: { ...clean, DOTNET_SYSTEM_GLOBALIZATION_INVARIANT: '1', DOTNET_CLI_TELEMETRY_OPTOUT: '1', ...variables },
    timeout: 300_000,
  });
  const diagnostics = parseSarif(result.stdout + '\n' + result.stderr, dirname(file));
  if (result.status !== 0 || !existsSync(out)) return { diagnostics };
  const json = JSON.parse(readFileSync(out, 'utf8')) as { parameters: Record<string, { value: unknown }> };
  return { parameters: Object.fromEntries(Object.entries(json.parameters).map(([k, v]) => [k, v.value])), diagnostics };
}

/** Writes a file in a copy (tests change copies only). */
export function rewrite(path: string, change: (text: string) => string): void {
  const before = readFileSync(path, 'utf8');
  const after = change(before);
  // A break that does not apply would make a failing check look like a passing one.
  if (after === before) throw new Error(`the change did not apply to ${path}`);
  writeFileSync(path, after);
}
