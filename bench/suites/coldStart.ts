/**
 * Cold start of GET /api/start: a fresh Node process loads the deployment package with the
 * minimal worker stand-in (bench/worker.ts) and answers its first request, from spawn() to the
 * end of the first 200, next to a hello-world packaged the same way (bench/world/packages.ts).
 *
 * Variants, interleaved round by round (the order rotates each round, so no variant always runs
 * right after another), after one throw-away start each (the OS file cache warm, as for a
 * package already on the instance):
 *   hello-world             bench/hello.ts packaged without source maps (the baseline of the goal)
 *   service                 the deployment package as `npm run package` builds it (the goal): its
 *                           stack traces are mapped lazily (shared/stackTraces.ts)
 *   service, Node's maps    the same package with Node's own source-map support on
 *                           (`--enable-source-maps`): what the lazy maps save
 * Then one diagnostic start of an instrumented copy tells which modules the request evaluated.
 */
import { round, median, percentile } from '../lib/stats';
import { figure, type Figure, type Table } from '../lib/figures';
import { send } from '../lib/http';
import { moduleRows, packageBytes, type BuiltPackage, type ModuleRow } from '../world/packages';
import { stopChild, type World } from '../world/world';
import type { Suite, SuiteContext, SuiteOutput } from './suite';

interface Variant {
  key: 'hello' | 'service' | 'serviceNodeMaps';
  label: string;
  pkg: BuiltPackage;
  path: string;
  nodeSourceMaps: boolean;
}

interface Sample {
  totalMs: number;
  loadedMs: number;
  readyMs: number;
  invocationMs: number;
}

async function coldStart(world: World, v: Variant): Promise<Sample> {
  const t0 = performance.now();
  const child = await world.serve(v.pkg, { nodeSourceMaps: v.nodeSourceMaps });
  try {
    const answer = await send(child.first.url + v.path);
    const totalMs = performance.now() - t0;
    if (answer.status !== 200) throw new Error(`${v.label}: ${v.path} answered ${answer.status}: ${child.stderr()}`);
    const usage = await world.usage(child);
    return { totalMs, loadedMs: child.first.loadedMs, readyMs: child.first.readyMs, invocationMs: usage.invocations[0]?.ms ?? NaN };
  } finally {
    await stopChild(child.process);
  }
}

const kib = (bytes: number) => round(bytes / 1024, 0);

function moduleTables(rows: ModuleRow[], hello: ModuleRow[], sdkLoaded: boolean): Table[] {
  const byOwner = new Map<string, { bytes: number; atLoad: number; onRequest: number; no: number }>();
  for (const r of rows) {
    const o = byOwner.get(r.owner) ?? { bytes: 0, atLoad: 0, onRequest: 0, no: 0 };
    o.bytes += r.bytes;
    if (r.evaluated === 'at load') o.atLoad += r.bytes;
    else if (r.evaluated === 'by the request') o.onRequest += r.bytes;
    else o.no += r.bytes;
    byOwner.set(r.owner, o);
  }
  const owners = [...byOwner].sort((a, b) => b[1].bytes - a[1].bytes);
  const total = owners.reduce(
    (s, [, o]) => ({ bytes: s.bytes + o.bytes, atLoad: s.atLoad + o.atLoad, onRequest: s.onRequest + o.onRequest, no: s.no + o.no }),
    { bytes: 0, atLoad: 0, onRequest: 0, no: 0 },
  );
  const helloBytes = hello.reduce((s, r) => s + r.bytes, 0);
  return [
    {
      title: `What a cold GET /api/start evaluates: dist/app.js of the deployment package by package (KiB; dist/sdk.js ${sdkLoaded ? 'was' : 'was not'} loaded)`,
      columns: ['package', 'in the bundle', 'evaluated while loading', 'evaluated by the first request', 'not evaluated'],
      rows: [
        ...owners.map(([owner, o]) => [owner, kib(o.bytes), kib(o.atLoad), kib(o.onRequest), kib(o.no)]),
        ['all of dist/app.js', kib(total.bytes), kib(total.atLoad), kib(total.onRequest), kib(total.no)],
        ["hello-world's dist/app.js, for comparison", kib(helloBytes), '', '', ''],
      ],
    },
    {
      title: 'The largest modules of dist/app.js (KiB)',
      columns: ['module', 'in the bundle', 'evaluated'],
      rows: [...rows]
        .sort((a, b) => b.bytes - a.bytes)
        .slice(0, 15)
        .map((r) => [r.module, round(r.bytes / 1024, 1), r.evaluated]),
    },
  ];
}

async function run({ world, quick, progress }: SuiteContext): Promise<SuiteOutput> {
  const rounds = quick ? 5 : 31;
  const packages = await world.packages();
  const variants: Variant[] = [
    { key: 'hello', label: 'hello-world (baseline, no source maps)', pkg: packages.hello, path: '/api/hello', nodeSourceMaps: false },
    { key: 'service', label: 'service, deployment package as built', pkg: packages.service, path: '/api/start', nodeSourceMaps: false },
    {
      key: 'serviceNodeMaps',
      label: 'service, with Node’s own source-map support (--enable-source-maps)',
      pkg: packages.service,
      path: '/api/start',
      nodeSourceMaps: true,
    },
  ];
  const samples = new Map<Variant['key'], Sample[]>(variants.map((v) => [v.key, []]));
  for (const v of variants) await coldStart(world, v);
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < variants.length; k++) {
      const v = variants[(r + k) % variants.length] as Variant;
      samples.get(v.key)!.push(await coldStart(world, v));
    }
    if ((r + 1) % 5 === 0) progress(`  cold start: ${r + 1}/${rounds} rounds`);
  }
  const med = (key: Variant['key'], f: (s: Sample) => number) => median(samples.get(key)!.map(f));
  const total = (key: Variant['key']) => med(key, (s) => s.totalMs);
  const hello = total('hello');
  const service = total('service');
  // Each round ran the baseline and the service close together: the spread of their ratio is the noise.
  const paired = samples.get('service')!.map((s, i) => s.totalMs / (samples.get('hello')![i]?.totalMs ?? NaN));

  // Which modules the request evaluated: one start of the instrumented copy (not timed).
  const child = await world.serve(packages.instrumented);
  let rows: ModuleRow[];
  let sdkLoaded: boolean;
  try {
    const loaded = await world.usage(child);
    const answer = await send(`${child.first.url}/api/start`);
    if (answer.status !== 200) throw new Error(`instrumented GET /api/start answered ${answer.status}`);
    const usage = await world.usage(child);
    rows = moduleRows(packages.service, 'dist/app.js', new Set(loaded.evaluated), new Set(usage.evaluated));
    sdkLoaded = usage.sdkLoaded;
  } finally {
    await stopChild(child.process);
  }
  const helloRows = moduleRows(packages.hello, 'dist/app.js', new Set(), new Set());
  const evaluatedBytes = rows.filter((r) => r.evaluated !== 'no').reduce((s, r) => s + r.bytes, 0);
  const size = packageBytes(packages.service);

  const ms = (label: string, value: number, extra: Partial<Figure> = {}) =>
    figure({ id: '', label, value: round(value, 1), unit: 'ms', digits: 1, ...extra });
  const figures: Figure[] = [
    figure({
      id: 'cold-start.ratio',
      label: 'Cold start of GET /api/start, deployment package ÷ hello-world',
      value: round(service / hello, 2),
      unit: '×',
      digits: 2,
      goal: { op: '<=', value: 1.15, text: '≤ 1.15×' },
      baseline: { label: 'hello-world, spawn → first 200', value: round(hello, 1), unit: 'ms', digits: 1 },
      note: `medians of ${rounds} interleaved runs each; the ratio of the two runs of each round: median ${round(median(paired), 2)}×, p25 ${round(percentile(paired, 0.25), 2)}×, p75 ${round(percentile(paired, 0.75), 2)}×`,
    }),
    ms('Cold start of GET /api/start, deployment package (spawn → first 200)', service, { id: 'cold-start.service-ms' }),
    ms('Cold start of GET /api/hello, hello-world (spawn → first 200)', hello, { id: 'cold-start.hello-ms' }),
    figure({
      id: 'cold-start.ratio-with-node-source-maps',
      label: 'The same ratio with Node’s own source-map support instead of the lazy maps',
      value: round(total('serviceNodeMaps') / hello, 2),
      unit: '×',
      digits: 2,
      note: 'diagnostic: what parsing every map at load (the earlier entry file) would cost',
    }),
    figure({
      id: 'cold-start.app-bytes',
      label: 'dist/app.js of the deployment package',
      value: kib(rows.reduce((s, r) => s + r.bytes, 0)),
      unit: 'KiB',
      digits: 0,
    }),
    figure({
      id: 'cold-start.evaluated-bytes',
      label: 'Of which a cold GET /api/start evaluates',
      value: kib(evaluatedBytes),
      unit: 'KiB',
      digits: 0,
    }),
    figure({
      id: 'cold-start.package-bytes',
      label: `Deployment package (${size.files} files; source maps ${kib(size.mapBytes)} KiB of it)`,
      value: kib(size.bytes),
      unit: 'KiB',
      digits: 0,
    }),
  ];
  const phases: Table = {
    title: 'Cold start by variant (medians)',
    columns: [
      'variant',
      'request',
      'spawn → first 200 (ms)',
      'vs hello-world',
      'process start → package loaded (ms)',
      'process start → listening (ms)',
      'first invocation (ms)',
      'runs',
    ],
    rows: variants.map((v) => [
      v.label,
      v.path,
      round(total(v.key), 1),
      `${round(total(v.key) / hello, 2)}×`,
      round(
        med(v.key, (s) => s.loadedMs),
        1,
      ),
      round(
        med(v.key, (s) => s.readyMs),
        1,
      ),
      round(
        med(v.key, (s) => s.invocationMs),
        1,
      ),
      samples.get(v.key)!.length,
    ]),
  };
  return {
    parameters: { rounds, 'throw-away starts per variant': 1, worker: 'bench/worker.ts', layout: 'npm run package default' },
    figures,
    tables: [phases, ...moduleTables(rows, helloRows, sdkLoaded)],
  };
}

export const coldStartSuite: Suite = { id: 'cold-start', title: 'Cold start of the start page', run };
