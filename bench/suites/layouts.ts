/**
 * The package layouts scripts/package.mjs can build (`--layout …`), cold start of GET /api/start
 * of each next to the same hello-world baseline as the cold-start suite, interleaved. Tells
 * whether the default layout is still the fastest; no goal holds these figures.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { figure, type Figure } from '../lib/figures';
import { send } from '../lib/http';
import { repoRoot } from '../lib/paths';
import { median, round } from '../lib/stats';
import type { BuiltPackage } from '../world/packages';
import { stopChild, type World } from '../world/world';
import type { Suite, SuiteContext, SuiteOutput } from './suite';

interface PackageModule {
  layouts: string[];
  packageApp(options: { root: string; outDir: string; configFile: string; layout: string }): Promise<BuiltPackage>;
}

async function spawnToFirst200(world: World, pkg: BuiltPackage, path: string): Promise<number> {
  const t0 = performance.now();
  const child = await world.serve(pkg);
  try {
    const answer = await send(child.first.url + path);
    if (answer.status !== 200) throw new Error(`${pkg.outDir}: ${path} answered ${answer.status}: ${child.stderr()}`);
    return performance.now() - t0;
  } finally {
    await stopChild(child.process);
  }
}

async function run({ world, quick, progress }: SuiteContext): Promise<SuiteOutput> {
  const rounds = quick ? 2 : 7;
  const packaging = (await import(pathToFileURL(join(repoRoot, 'scripts', 'package.mjs')).href)) as PackageModule;
  const packages = await world.packages();
  const built: { layout: string; pkg: BuiltPackage }[] = [];
  for (const layout of packaging.layouts) {
    built.push({
      layout,
      pkg: await packaging.packageApp({ root: repoRoot, outDir: join(world.work, `layout-${layout}`), configFile: world.configPath, layout }),
    });
  }
  const targets = [
    { label: 'hello-world (baseline, no source maps)', pkg: packages.hello, path: '/api/hello' },
    ...built.map((b) => ({ label: b.layout, pkg: b.pkg, path: '/api/start' })),
  ];
  const samples = targets.map(() => [] as number[]);
  for (const [i, t] of targets.entries()) samples[i]!.push(await spawnToFirst200(world, t.pkg, t.path));
  for (const s of samples) s.length = 0; // the throw-away start of each: OS file cache warm
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < targets.length; k++) {
      const i = (r + k) % targets.length;
      const t = targets[i]!;
      samples[i]!.push(await spawnToFirst200(world, t.pkg, t.path));
    }
  }
  progress(`  layouts: ${rounds} rounds of ${targets.length}`);
  const hello = median(samples[0]!);
  const figures: Figure[] = built.map((b, i) =>
    figure({
      id: `layouts.${b.layout}-ratio`,
      label: `Cold start of GET /api/start, layout ${b.layout} ÷ hello-world`,
      value: round(median(samples[i + 1]!) / hello, 2),
      unit: '×',
      digits: 2,
      baseline: { label: 'hello-world', value: round(hello, 1), unit: 'ms', digits: 1 },
    }),
  );
  return {
    parameters: { rounds, 'throw-away starts per layout': 1 },
    figures,
    tables: [
      {
        title: 'Cold start by package layout (medians; spawn → first 200)',
        columns: ['package', 'main', 'ms', 'vs hello-world', 'runs'],
        rows: targets.map((t, i) => [
          t.label,
          (t.pkg as BuiltPackage).main ?? '',
          round(median(samples[i]!), 1),
          `${round(median(samples[i]!) / hello, 2)}×`,
          samples[i]!.length,
        ]),
      },
    ],
  };
}

export const layoutsSuite: Suite = { id: 'layouts', title: 'Package layouts', run };
