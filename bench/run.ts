/**
 * `npm run bench`: measures the deployment package next to its baselines, on this machine, and
 * writes the figures to docs/performance-figures.json (the table in docs/PERFORMANCE.md is made
 * from them by `npm run bench:table`). A benchmark, not a test.
 *
 *   npm run bench                        every suite (several minutes)
 *   npm run bench -- cold-start status   only those suites (the others' figures stay as they are)
 *   npm run bench -- --quick rotation    fewer and smaller runs, to try it out (writes .local/ only)
 *   npm run bench -- --list              the suites
 *   --no-write                           write .local/bench/figures.json only
 *
 * Everything runs on loopback, in bounded loops; child processes are stopped by their handle.
 */
import { join } from 'node:path';
import { writeFigures, type Figure, type SuiteResult } from './lib/figures';
import { machineInfo, watchLoad } from './lib/machine';
import { figuresPath, repoRoot } from './lib/paths';
import { round } from './lib/stats';
import { callbackSuite } from './suites/callback';
import { coldStartSuite } from './suites/coldStart';
import { layoutsSuite } from './suites/layouts';
import { rotationSuite } from './suites/rotation';
import { statusSuite } from './suites/status';
import type { Suite } from './suites/suite';
import { warmStartSuite } from './suites/warmStart';
import { World } from './world/world';

/** In the order `npm run bench` runs them: the cheap ones first. */
export const suites: Suite[] = [coldStartSuite, layoutsSuite, warmStartSuite, callbackSuite, statusSuite, rotationSuite];

function show(f: Figure): string {
  const value = f.value === null ? 'not measured' : `${f.value}${f.unit ? ` ${f.unit}` : ''}`;
  const goal = f.goal ? `  goal ${f.goal.text}: ${f.met ? 'met' : 'NOT met'}` : '';
  return `  ${f.label}: ${value}${goal}`;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv.includes('--list')) {
    for (const s of suites) console.log(`${s.id.padEnd(12)} ${s.title}`);
    return;
  }
  const quick = argv.includes('--quick');
  const write = !quick && !argv.includes('--no-write');
  const named = argv.filter((a) => !a.startsWith('--'));
  const unknown = named.filter((n) => !suites.some((s) => s.id === n));
  if (unknown.length) throw new Error(`unknown suite ${unknown.join(', ')} (one of: ${suites.map((s) => s.id).join(', ')})`);
  const chosen = named.length ? suites.filter((s) => named.includes(s.id)) : suites;

  const progress = (line: string) => process.stderr.write(line + '\n');
  const world = new World();
  const results: SuiteResult[] = [];
  const failed: string[] = [];
  try {
    for (const suite of chosen) {
      progress(`${suite.id}: ${suite.title} …`);
      const measuredAt = new Date().toISOString();
      const t0 = performance.now();
      const load = watchLoad();
      let out;
      try {
        out = await suite.run({ world, quick, progress });
      } catch (err) {
        // The other suites still run; a failed suite's earlier figures stay in the file as they were.
        failed.push(suite.id);
        progress(`${suite.id} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
        continue;
      }
      const result: SuiteResult = {
        suite: suite.id,
        title: suite.title,
        measuredAt,
        durationSeconds: round((performance.now() - t0) / 1000, 0),
        machine: machineInfo(),
        load: load(),
        parameters: { ...out.parameters, ...(quick ? { quick: true } : {}) },
        figures: out.figures,
        tables: out.tables,
      };
      results.push(result);
      console.log(`\n${suite.id} (${result.durationSeconds} s; other work on the machine: ${result.load.otherCores ?? '?'} cores busy on average)`);
      for (const f of result.figures) console.log(show(f));
      // Saved after each suite, so a failure later keeps what was measured.
      writeFigures(join(repoRoot, '.local', 'bench', 'figures.json'), [result]);
    }
  } finally {
    await world.close();
  }
  if (write && results.length) {
    writeFigures(figuresPath, results);
    console.log(`\nwrote ${figuresPath}; run \`npm run bench:table\` to update the tables in docs/PERFORMANCE.md`);
  } else {
    console.log(`\nfigures in .local/bench/figures.json (docs/ left alone${quick ? ': --quick' : ''})`);
  }
  if (failed.length) throw new Error(`suites failed: ${failed.join(', ')}`);
}

main().catch((err: unknown) => {
  console.error(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exit(1);
});
