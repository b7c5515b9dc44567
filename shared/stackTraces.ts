/**
 * Stack traces of the deployment package point at the TypeScript sources, at no cost to a cold
 * start: the package's `.map` files are read the first time a stack is formatted, not when the
 * bundle loads. Node's own source-map support (`process.setSourceMapsEnabled`) reads and parses
 * every map while the bundle compiles, which `npm run bench` measured as most of the cold start's
 * gap to a hello-world (docs/PERFORMANCE.md, "Cold start").
 *
 * The deployment package's entry file (scripts/package.mjs) installs this before it loads the
 * bundles; nothing else uses it. V8 formats `error.stack` on first read, so an error whose stack
 * nobody reads costs nothing either.
 */
import { readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { dirname, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The file of a call site as a path (ES modules report file: URLs). */
function pathOf(site: NodeJS.CallSite): string | undefined {
  const name = site.getFileName() ?? undefined;
  if (name?.startsWith('file://')) return fileURLToPath(name);
  return name;
}

/**
 * Makes `error.stack` name source files and lines for every frame in a file under `root` that has
 * a linked `<file>.map` next to it. Frames elsewhere (Node, the Functions worker) read as V8
 * writes them. Formatting never throws: a map that is missing or unreadable leaves its frames as
 * they are.
 */
export function mapStackTracesLazily(root: string): void {
  const prefix = resolve(root) + sep;
  const maps = new Map<string, SourceMap | null>();

  const mapOf = (file: string): SourceMap | null => {
    let map = maps.get(file);
    if (map === undefined) {
      try {
        map = new SourceMap(JSON.parse(readFileSync(`${file}.map`, 'utf8')));
      } catch {
        map = null;
      }
      maps.set(file, map);
    }
    return map;
  };

  const frame = (site: NodeJS.CallSite): string => {
    const text = String(site);
    const file = pathOf(site);
    const line = site.getLineNumber();
    const column = site.getColumnNumber();
    if (!file || !file.startsWith(prefix) || line === null || column === null) return text;
    const map = mapOf(file);
    const entry = map?.findEntry(line - 1, column - 1);
    if (!entry || !('originalSource' in entry) || !entry.originalSource) return text;
    // Sources in a map are relative to the map's own folder.
    const source = resolve(dirname(file), entry.originalSource);
    const original = `${source}:${entry.originalLine + 1}:${entry.originalColumn + 1}`;
    const generated = `${site.getFileName()}:${line}:${column}`;
    return text.includes(generated) ? text.replace(generated, original) : `${text} [${original}]`;
  };

  Error.prepareStackTrace = (error: unknown, sites: NodeJS.CallSite[]): string => {
    let header: string;
    try {
      header = Error.prototype.toString.call(error);
    } catch {
      header = 'Error';
    }
    return [header, ...sites.map((site) => `    at ${safely(frame, site)}`)].join('\n');
  };
}

function safely(frame: (site: NodeJS.CallSite) => string, site: NodeJS.CallSite): string {
  try {
    return frame(site);
  } catch {
    return String(site);
  }
}
