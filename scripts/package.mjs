#!/usr/bin/env node
// `npm run package`: bundles the functions for production into deploy/ (what azd uploads).
//
//   deploy/host.json                 the repo's host.json, or the default below
//   deploy/package.json              name, version, "main"; no dependencies (everything is bundled)
//   deploy/dist/index.js             entry point: maps stack traces lazily (shared/stackTraces.ts), loads app.js
//   deploy/dist/app.js  (+ .map)     every function, shared/, @azure/functions, zod
//   deploy/dist/sdk.js  (+ .map)     msal-node, @azure/identity, @azure/keyvault-secrets,
//                                    @azure/storage-blob, @azure/data-tables, @azure/communication-email:
//                                    loaded on first use only (callback, status, rotation, a message to send)
//   deploy/dist/jose.js, croner.js   jose (sealing the sign-in cookie, reading tokens) and croner
//                        (+ .map)    (the status page's next run): loaded on first use only
//   deploy/config/marketplaces.json  the operator's file, copied from config/
//
// Why this layout ("split", the default): the Functions worker loads every entry file named by
// "main" at startup, so one entry file with one copy of @azure/functions is cheaper than one
// bundle per function; and the packages the code requires only on first use (the Azure SDKs,
// ~2 MB; jose; croner) are kept out of that file, so a cold start of the start page neither
// reads nor compiles them. `npm run bench` measures the other layouts
// (`--layout single|per-function|esm-split`) next to this one; docs/PERFORMANCE.md has figures.
//
// The worker hands registrations to `@azure/functions-core`, which it provides by intercepting
// CommonJS require(); so that module stays external and the bundle stays CommonJS.
//
// Usage: node scripts/package.mjs [--out deploy] [--config config/marketplaces.json] [--allow-missing-config]
//                                 [--layout split|single|per-function|esm-split] [--minify]
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as esbuild from 'esbuild';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export const layouts = ['split', 'single', 'per-function', 'esm-split'];

/**
 * Packages the code requires on first use only (shared/identity/lazy.ts, shared/secrets/open.ts,
 * shared/storage/open.ts, shared/notify/open.ts, shared/jose.ts, shared/status/nextRun.ts), by the file of the split layout they live in. The Azure SDKs share
 * one file: they share @azure/core-* between them.
 */
export const sidecars = {
  'sdk.js': [
    '@azure/msal-node',
    '@azure/identity',
    '@azure/keyvault-secrets',
    '@azure/storage-blob',
    '@azure/data-tables',
    '@azure/communication-email',
  ],
  'jose.js': ['jose'],
  'croner.js': ['croner'],
};
const sidecarOf = new Map(Object.entries(sidecars).flatMap(([file, packages]) => packages.map((p) => [p, file])));

/**
 * host.json when the repository has none. HTTP and timer triggers are built into the Functions
 * host, so no extension bundle is loaded (less host start-up work). Sampling is off: the alert
 * rules query the service's log events (traces), and a sampled-out event is a missed alert.
 */
export const defaultHostJson = {
  version: '2.0',
  logging: {
    logLevel: { default: 'Information' },
    applicationInsights: { samplingSettings: { isEnabled: false } },
  },
};

/** The function files (functions/*.ts, repo-relative), sorted: one per registered function. */
export function functionFiles(root = repoRoot) {
  return readdirSync(join(root, 'functions'))
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts') && !f.endsWith('.test.ts'))
    .sort()
    .map((f) => `functions/${f}`);
}

const baseName = (entry) => entry.replace(/^.*[\\/]/, '').replace(/\.ts$/, '');

/**
 * Zod's classic API re-exports every locale (`z.locales`, ~40 languages, ~360 kB) although
 * only English is configured by default and this service uses no other. Leaving the others
 * out of the bundle makes it smaller and faster to compile on a cold start.
 */
export const zodEnglishOnly = {
  name: 'zod-english-only',
  setup(build) {
    build.onLoad({ filter: /[\\/]zod[\\/]v4[\\/]locales[\\/]index\.js$/ }, () => ({
      contents: "export { default as en } from './en.js';\n",
      loader: 'js',
    }));
  },
};

/** In app.js, each package of a sidecar becomes a property of that external file, required on first use. */
const fromSidecars = (used) => ({
  name: 'sidecars',
  setup(build) {
    const filter = new RegExp(`^(${[...sidecarOf.keys()].map((s) => s.replace(/[/.-]/g, '\\$&')).join('|')})$`);
    build.onResolve({ filter }, (args) => ({ path: args.path, namespace: 'sidecar' }));
    build.onResolve({ filter: /^\.\/[a-z]+\.js$/, namespace: 'sidecar' }, (args) => ({ path: args.path, external: true }));
    build.onLoad({ filter: /.*/, namespace: 'sidecar' }, (args) => {
      const file = sidecarOf.get(args.path);
      used.add(file);
      return { contents: `module.exports = require('./${file}')[${JSON.stringify(args.path)}];\n`, loader: 'js' };
    });
  },
});

function commonOptions(root, { minify = false, sourceMaps = true } = {}) {
  return {
    absWorkingDir: root,
    bundle: true,
    platform: 'node',
    target: 'node20',
    // The worker provides it (it intercepts require); it is not a package.
    external: ['@azure/functions-core'],
    // Maps carry mappings only: stack traces need no sources, and a smaller map parses faster.
    sourcemap: sourceMaps ? 'linked' : false,
    sourcesContent: false,
    minify,
    keepNames: minify,
    logLevel: 'warning',
    metafile: true,
    tsconfig: join(root, 'tsconfig.json'),
  };
}

/**
 * The entry file: installs shared/stackTraces.ts (stack traces name the TypeScript sources,
 * reading the maps only when a stack is formatted), then loads the bundles. Node's own
 * source-map switch is not used: it parses every map while the bundles compile, on every cold
 * start (docs/PERFORMANCE.md). `mapRoot` is the folder holding the bundles, relative to the
 * entry file. Without source maps, the entry file only loads the bundles.
 */
async function loaderSource(root, targets, { esm, mapRoot, sourceMaps }) {
  const load = esm
    ? targets.map((t) => `await import(${JSON.stringify(t)});`).join('\n')
    : targets.map((t) => `require(${JSON.stringify(t)});`).join('\n');
  if (!sourceMaps) return `${esm ? '' : "'use strict';\n"}${load}\n`;
  const where = esm ? `fileURLToPath(new URL(${JSON.stringify(mapRoot + '/')}, import.meta.url))` : `join(__dirname, ${JSON.stringify(mapRoot)})`;
  const contents = [
    esm ? "import { fileURLToPath } from 'node:url';" : "import { join } from 'node:path';",
    "import { mapStackTracesLazily } from './shared/stackTraces';",
    `mapStackTracesLazily(${where});`,
  ].join('\n');
  const built = await esbuild.build({
    absWorkingDir: root,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: esm ? 'esm' : 'cjs',
    stdin: { contents, resolveDir: root, sourcefile: 'index.ts', loader: 'ts' },
    write: false,
    logLevel: 'warning',
    tsconfig: join(root, 'tsconfig.json'),
  });
  return `${built.outputFiles[0].text}${load}\n`;
}

function entryContents(entries) {
  return entries.map((f) => `import ${JSON.stringify('./' + f.replace(/\.ts$/, ''))};`).join('\n') + '\n';
}

/**
 * The package never ships a configuration file that `npm run config:check` rejects: the same
 * check (shared/marketplaces/check.ts), bundled on the fly so this script needs no build first.
 */
async function refuseInvalidConfig(root, configFile) {
  const built = await esbuild.build({
    entryPoints: [join(root, 'shared', 'marketplaces', 'check.ts')],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    write: false,
    logLevel: 'silent',
  });
  const module = { exports: {} };
  new Function('module', 'exports', 'require', built.outputFiles[0].text)(module, module.exports, createRequire(join(root, 'package.json')));
  const { problems, unchecked } = module.exports.configCheck(configFile, process.env);
  // A check that could not run is said, never passed over in silence.
  for (const line of unchecked) console.warn(`package: ${relative(process.cwd(), configFile) || configFile}: not checked: ${line}`);
  if (problems.length > 0) {
    throw new Error(
      `the marketplace configuration file ${relative(process.cwd(), configFile) || configFile} has problems (npm run config:check):\n  ${problems.join('\n  ')}`,
    );
  }
}

/**
 * Builds the deployment package into `outDir`. Returns what it wrote (paths relative to outDir)
 * and esbuild's metafiles. Throws with a clear message when the configuration file
 * (config/marketplaces.json) is missing, unless allowMissingConfig. `entries` (repo-relative
 * .ts files, default functions/*.ts) and `withConfig` let the bench package its hello-world.
 */
export async function packageApp({
  root = repoRoot,
  outDir = join(root, 'deploy'),
  allowMissingConfig = false,
  layout = 'split',
  minify = false,
  entries = functionFiles(root),
  withConfig = true,
  configFile = join(root, 'config', 'marketplaces.json'),
  sourceMaps = true,
} = {}) {
  if (!layouts.includes(layout)) throw new Error(`Unknown layout '${layout}' (one of: ${layouts.join(', ')})`);
  const configSource = resolve(configFile);
  if (withConfig && !existsSync(configSource) && !allowMissingConfig) {
    throw new Error(
      `the marketplace configuration file is missing (${relative(process.cwd(), configSource) || configSource}): the package ships the operator's ` +
        `config/marketplaces.json (app setting MARKETPLACE_CONFIG_PATH). Create it (docs/DEPLOY.md, "The marketplace configuration file") ` +
        `or pass --allow-missing-config to package without it.`,
    );
  }
  if (withConfig && existsSync(configSource)) await refuseInvalidConfig(root, configSource);
  const out = resolve(outDir);
  // rmSync below: never the repository or a folder that contains it.
  if (!relative(out, resolve(root)).startsWith('..')) throw new Error(`outDir ${out} contains the repository`);
  rmSync(out, { recursive: true, force: true });
  mkdirSync(join(out, 'dist'), { recursive: true });

  const dist = join(out, 'dist');
  const common = commonOptions(root, { minify, sourceMaps });
  const metafiles = [];
  let main;

  if (layout === 'split' || layout === 'single') {
    const sidecarsUsed = new Set();
    const app = await esbuild.build({
      ...common,
      stdin: { contents: entryContents(entries), resolveDir: root, sourcefile: 'entry.ts', loader: 'ts' },
      outfile: join(dist, 'app.js'),
      format: 'cjs',
      plugins: layout === 'split' ? [zodEnglishOnly, fromSidecars(sidecarsUsed)] : [zodEnglishOnly],
    });
    metafiles.push(app.metafile);
    for (const file of Object.keys(sidecars).filter((f) => sidecarsUsed.has(f))) {
      const sidecar = await esbuild.build({
        ...common,
        stdin: {
          contents: `module.exports = {\n${sidecars[file].map((s) => `  ${JSON.stringify(s)}: require(${JSON.stringify(s)}),`).join('\n')}\n};\n`,
          resolveDir: root,
          sourcefile: file,
          loader: 'js',
        },
        outfile: join(dist, file),
        format: 'cjs',
      });
      metafiles.push(sidecar.metafile);
    }
    writeFileSync(join(dist, 'index.js'), await loaderSource(root, ['./app.js'], { esm: false, mapRoot: '.', sourceMaps }));
    main = 'dist/index.js';
  } else if (layout === 'per-function') {
    // One self-contained bundle per function, each behind its own loader (main is a glob).
    const entryPoints = Object.fromEntries(entries.map((f) => [`bundles/${baseName(f)}`, join(root, f)]));
    const built = await esbuild.build({ ...common, entryPoints, outdir: dist, format: 'cjs', plugins: [zodEnglishOnly] });
    metafiles.push(built.metafile);
    mkdirSync(join(dist, 'functions'), { recursive: true });
    for (const name of entries.map(baseName)) {
      writeFileSync(
        join(dist, 'functions', `${name}.js`),
        await loaderSource(root, [`../bundles/${name}.js`], { esm: false, mapRoot: '..', sourceMaps }),
      );
    }
    main = 'dist/functions/*.js';
  } else {
    // ES modules with code splitting: one entry per function, shared code in chunks. The
    // worker imports .mjs entries; require() (for @azure/functions-core) comes from createRequire.
    const entryPoints = Object.fromEntries(entries.map((f) => [`functions/${baseName(f)}`, join(root, f)]));
    const built = await esbuild.build({
      ...common,
      entryPoints,
      outdir: join(dist, 'esm'),
      format: 'esm',
      splitting: true,
      outExtension: { '.js': '.mjs' },
      chunkNames: 'chunks/[name]-[hash]',
      banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
      plugins: [zodEnglishOnly],
    });
    metafiles.push(built.metafile);
    writeFileSync(
      join(dist, 'index.mjs'),
      await loaderSource(
        root,
        entries.map((f) => `./esm/functions/${baseName(f)}.mjs`),
        { esm: true, mapRoot: '.', sourceMaps },
      ),
    );
    main = 'dist/index.mjs';
  }

  const rootPackage = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const deployPackage = {
    name: rootPackage.name,
    version: rootPackage.version,
    private: true,
    description: rootPackage.description,
    license: rootPackage.license,
    main,
    // Everything is bundled: no dependencies, and nothing for the server to install.
    dependencies: {},
    ...(rootPackage.engines ? { engines: rootPackage.engines } : {}),
  };
  writeFileSync(join(out, 'package.json'), JSON.stringify(deployPackage, null, 2) + '\n');

  const hostJson = join(root, 'host.json');
  if (existsSync(hostJson)) copyFileSync(hostJson, join(out, 'host.json'));
  else writeFileSync(join(out, 'host.json'), JSON.stringify(defaultHostJson, null, 2) + '\n');

  if (withConfig && existsSync(configSource)) {
    mkdirSync(join(out, 'config'), { recursive: true });
    copyFileSync(configSource, join(out, 'config', 'marketplaces.json'));
  }

  return { outDir: out, layout, main, files: listFiles(out), metafiles };
}

/** Every file under dir, relative, with '/' separators, sorted. */
export function listFiles(dir, base = dir) {
  const files = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...listFiles(path, base));
    else files.push(relative(base, path).split('\\').join('/'));
  }
  return files.sort();
}

function parseArgs(argv) {
  const options = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--allow-missing-config') options.allowMissingConfig = true;
    else if (arg === '--minify') options.minify = true;
    else if (arg === '--out') options.outDir = resolve(argv[++i] ?? '');
    else if (arg === '--layout') options.layout = argv[++i];
    else if (arg === '--config') options.configFile = resolve(argv[++i] ?? '');
    else
      throw new Error(
        `Unknown argument ${arg} (usage: package.mjs [--out DIR] [--config FILE] [--allow-missing-config] [--layout ${layouts.join('|')}] [--minify])`,
      );
  }
  return options;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  try {
    const result = await packageApp(parseArgs(process.argv.slice(2)));
    const { statSync } = await import('node:fs');
    const bytes = result.files.reduce((sum, f) => sum + statSync(join(result.outDir, f)).size, 0);
    console.log(
      `${relative(process.cwd(), result.outDir) || '.'}: ${result.files.length} files, ${(bytes / 1024).toFixed(0)} KiB (layout ${result.layout})`,
    );
    for (const f of result.files) console.log(`  ${f}`);
  } catch (err) {
    console.error(`package failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  }
}
