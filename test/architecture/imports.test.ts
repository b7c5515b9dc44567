/**
 * The map of docs/ARCHITECTURE.md, enforced: which folder may import which, and no import cycle
 * in shared/. Imports are read with TypeScript's own pre-processor (static imports, `import type`,
 * re-exports and the deferred `require('…')` calls), so a cycle through a lazy require counts too.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import * as ts from 'typescript';

const repo = resolve(__dirname, '..', '..');

function filesUnder(dir: string): string[] {
  return readdirSync(join(repo, dir)).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(join(repo, path)).isDirectory()) return filesUnder(path);
    return path.endsWith('.ts') && !path.endsWith('.d.ts') ? [path] : [];
  });
}

/** Repo-relative targets of a file's relative imports, and the packages it imports. */
function importsOf(file: string): { local: string[]; packages: string[] } {
  const text = readFileSync(join(repo, file), 'utf8');
  const info = ts.preProcessFile(text, true, true);
  const specifiers = info.importedFiles.map((f) => f.fileName);
  // preProcessFile sees `require()` calls at top level; deferred ones sit inside functions.
  for (const m of text.matchAll(/require\('([^']+)'\)/g)) if (m[1]) specifiers.push(m[1]);
  const local: string[] = [];
  const packages: string[] = [];
  for (const s of specifiers) {
    if (!s.startsWith('.')) {
      packages.push(s);
      continue;
    }
    const target = relative(repo, resolve(join(repo, dirname(file)), s));
    local.push(target.endsWith('.ts') ? target : `${target}.ts`);
  }
  return { local: [...new Set(local)], packages: [...new Set(packages)] };
}

const top = (file: string) => file.split('/')[0];

describe('imports follow the map', () => {
  const shared = filesUnder('shared');
  const functions = filesUnder('functions');
  const standIns = [
    'local/identitySimulator',
    'local/keyVaultFake',
    'local/partnerCenterStandIn',
    'local/connectStandIn',
    'local/emailStandIn',
  ].flatMap(filesUnder);

  it('shared/ imports only shared/ and never @azure/functions: the domain knows no Functions types', () => {
    const wrong = shared.flatMap((f) => {
      const { local, packages } = importsOf(f);
      return [
        ...local.filter((t) => top(t) !== 'shared').map((t) => `${f} → ${t}`),
        ...packages.filter((p) => p.startsWith('@azure/functions')).map((p) => `${f} → ${p}`),
      ];
    });
    expect(wrong).toEqual([]);
  });

  it('functions/ import shared/ only, never local mode; a registration loads its own handler, and only when invoked', () => {
    const registrations = functions.filter((f) => !f.startsWith('functions/handlers/'));
    const handlerOf = (f: string) => f.replace(/^functions\//, 'functions/handlers/');
    expect(
      functions.flatMap((f) =>
        importsOf(f)
          .local.filter((t) => top(t) !== 'shared' && !(registrations.includes(f) && t === handlerOf(f)))
          .map((t) => `${f} → ${t}`),
      ),
    ).toEqual([]);
    // Each registration file has exactly its handler, required inside the handler function (cold start).
    for (const f of registrations) {
      const text = readFileSync(join(repo, f), 'utf8');
      const name = f.replace(/^functions\/|\.ts$/g, '');
      expect(text).toMatch(new RegExp(`handler: \\([^)]*\\) => \\{\\n[^]*require\\('\\./handlers/${name}'\\)`));
      expect(text).not.toMatch(/^import \{[^}]*\} from '\.\/handlers\//m);
    }
  });

  it('the stand-ins for Microsoft and Azure share nothing with the service (a bug in one would hide in the other)', () => {
    expect(
      standIns.flatMap((f) =>
        importsOf(f)
          .local.filter((t) => top(t) === 'shared' || top(t) === 'functions')
          .map((t) => `${f} → ${t}`),
      ),
    ).toEqual([]);
  });

  it('each SDK is imported by one file of shared/', () => {
    const importers = (pkg: string) => shared.filter((f) => importsOf(f).packages.includes(pkg));
    expect(importers('@azure/msal-node')).toEqual(['shared/identity/msal.ts']);
    expect(importers('@azure/keyvault-secrets')).toEqual(['shared/secrets/keyVaultStore.ts']);
    expect(importers('@azure/communication-email')).toEqual(['shared/notify/emailClient.ts']);
  });

  it('shared/ has no import cycle', () => {
    const graph = new Map(shared.map((f) => [f, importsOf(f).local.filter((t) => top(t) === 'shared')]));
    const cycles: string[] = [];
    const state = new Map<string, 'visiting' | 'done'>();
    const visit = (file: string, path: string[]) => {
      if (state.get(file) === 'done') return;
      if (state.get(file) === 'visiting') {
        cycles.push([...path.slice(path.indexOf(file)), file].join(' → '));
        return;
      }
      state.set(file, 'visiting');
      for (const next of graph.get(file) ?? []) visit(next, [...path, file]);
      state.set(file, 'done');
    };
    for (const file of graph.keys()) visit(file, []);
    expect(cycles).toEqual([]);
  });
});
