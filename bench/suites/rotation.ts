/**
 * A rotation run at 5,000 tokens through the service's own entry point: POST /api/rotate of the
 * deployment package in a fresh bench/worker.ts (the same run the timer does, forced, so no
 * token is skipped for having been rotated recently). Tokens are seeded from a real sign-in
 * (bench/world/tokens.ts), each with a live refresh token at the identity simulator, which
 * answers refresh-token grants with no injected latency; Key Vault requests take 10 ms each and
 * the fake enforces Key Vault's limits (300 writes and 4,000 other requests per 10 s).
 *
 * Throughput is held to the bound Key Vault's write limit sets: 300 secret creations (new
 * versions, PUT) per 10 s divided by the new versions a token costs; tag updates count in Key
 * Vault's other budget (4,000 per 10 s). The service paces its own new versions to
 * keyVaultWrites.limit per 10 s (shared/pacing.ts), a lower bound still; both are reported.
 */
import { figure, type Figure } from '../lib/figures';
import { send } from '../lib/http';
import { round } from '../lib/stats';
import { storageCounts, storageKinds, vaultCounts, vaultKinds } from '../world/servers';
import { seedTokens, tokenTemplate } from '../world/tokens';
import { cspEntry, stopChild, type World } from '../world/world';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { keyVaultWrites } from '../../shared/pacing';
import type { Suite, SuiteContext, SuiteOutput } from './suite';

const vaultLatencyMs = 10;
const concurrency = 8;
/** The V8 old-space cap of the diagnostic second run. */
const cappedHeapMb = 64;
const keyVaultWritesPerSecond = 300 / 10;
const pacedWritesPerSecond = keyVaultWrites.limit / (keyVaultWrites.windowMs / 1000);

interface RotationSummary {
  durationMs?: number;
  total?: number;
  counts?: Record<string, number>;
  stoppedByTimeBudget?: boolean;
}

interface MemorySample {
  s: number;
  rss: number;
  heap: number;
}

/** One POST /api/rotate of every seeded token in a fresh worker, with what it cost. */
interface RunMeasure {
  summary: RotationSummary;
  httpStatus: number;
  wallMs: number;
  maxRssBytes: number;
  cpuMs: number;
  idle: { rssBytes: number; heapUsedBytes: number };
  memory: MemorySample[];
  counts: ReturnType<typeof vaultCounts>;
  /** Requests to the app's own storage account (leases, tables) during the run. */
  storage: ReturnType<typeof storageCounts>;
  listingSeconds: number;
  identityCalls: number;
}

async function rotateOnce(world: World, configPath: string, env: NodeJS.ProcessEnv = {}): Promise<RunMeasure> {
  const { simulator, recorder } = await world.servers();
  const packages = await world.packages();
  const identityBefore = simulator.stats.tokenCalls.refresh_token;
  const child = await world.serve(packages.service, {
    env: { MARKETPLACE_CONFIG_PATH: configPath, ROTATION_CONCURRENCY: String(concurrency), ROTATION_TIME_BUDGET_SECONDS: '1800', ...env },
  });
  let t0 = performance.now();
  const idle = await world.usage(child);
  // Memory over the run, from the worker's own counters, while the run goes on.
  const memory: MemorySample[] = [];
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      await new Promise((r) => setTimeout(r, 2_000));
      if (!sampling) break;
      const u = await world.usage(child).catch(() => undefined);
      if (u) memory.push({ s: (performance.now() - t0) / 1000, rss: u.rssBytes, heap: u.heapUsedBytes });
    }
  })();
  try {
    t0 = performance.now();
    const answer = await send(`${child.first.url}/api/rotate`, { method: 'POST', timeoutMs: 1_900_000 });
    const wallMs = performance.now() - t0;
    sampling = false;
    await sampler;
    const usage = await world.usage(child);
    const spans = recorder.between(t0);
    // Until the first new version is written the run is listing (and reading) what it will rotate.
    const firstWrite = spans.filter((x) => x.server === 'vault' && x.method === 'PUT').reduce((m, x) => Math.min(m, x.start), Infinity);
    return {
      summary: answer.status === 200 ? (JSON.parse(answer.body) as RotationSummary) : {},
      httpStatus: answer.status,
      wallMs,
      maxRssBytes: usage.maxRssBytes,
      cpuMs: usage.cpuMs,
      idle,
      memory,
      counts: vaultCounts(spans),
      storage: storageCounts(spans),
      listingSeconds: (firstWrite - t0) / 1000,
      identityCalls: simulator.stats.tokenCalls.refresh_token - identityBefore,
    };
  } finally {
    sampling = false;
    await stopChild(child.process);
  }
}

/** Key Vault requests per rotated token beyond the list pages. */
function requestsPerToken(m: RunMeasure): number {
  const k = m.counts.byKind;
  const rotated = m.summary.counts?.rotated ?? 0;
  return rotated > 0 ? (k['secret read'] + k.write + k['tag update'] + k['version listing'] + k.other) / rotated : NaN;
}

async function run({ world, quick, progress }: SuiteContext): Promise<SuiteOutput> {
  const tokens = quick ? 300 : 5000;
  const { simulator, fake } = await world.servers();
  const template = await tokenTemplate(world);
  await world.resetVault();
  simulator.reset();
  const seeded = seedTokens(fake, simulator, template, tokens);
  const configPath = join(world.work, 'rotation-marketplaces.json');
  writeFileSync(configPath, JSON.stringify({ marketplaces: seeded.map((t) => cspEntry(t.marketplace, t.tenant)) }));
  fake.faults.setLatency(vaultLatencyMs, 'any');
  let measured: RunMeasure;
  let steady: RunMeasure | undefined;
  try {
    progress(`  rotation: ${tokens} tokens, concurrency ${concurrency} …`);
    measured = await rotateOnce(world, configPath);
    if (measured.httpStatus !== 200) progress(`  rotation: POST /api/rotate answered ${measured.httpStatus}`);
    // A second run over the same tokens: each now has a fallback, so the one before it is disabled
    // (the steady state of a daily timer); in a worker whose V8 heap is capped, which tells what
    // the run keeps alive from what V8 merely has not collected yet.
    if (!quick) {
      progress(`  rotation: the same ${tokens} tokens again, heap capped at ${cappedHeapMb} MB …`);
      steady = await rotateOnce(world, configPath, { NODE_OPTIONS: `--max-old-space-size=${cappedHeapMb}` });
    }
  } finally {
    fake.faults.clear();
  }
  const { summary, httpStatus, wallMs, maxRssBytes, cpuMs, idle, memory, counts, listingSeconds, storage } = measured;
  const mb = (bytes: number) => round(bytes / 1e6, 0);
  const highest = memory.reduce<MemorySample | undefined>((h, m) => (!h || m.rss > h.rss ? m : h), undefined);
  const at = (share: number) => memory[Math.min(memory.length - 1, Math.floor(share * memory.length))];
  const rotated = summary.counts?.rotated ?? 0;
  const per = (n: number) => (rotated > 0 ? n / rotated : NaN);
  const k = counts.byKind;
  const beyondListing = k['secret read'] + k.write + k['tag update'] + k['version listing'] + k.other;
  const writesPerToken = per(k.write);
  const newVersionsPerToken = per(k.write);
  const throughput = rotated / (wallMs / 1000);
  const kvBound = keyVaultWritesPerSecond / writesPerToken;
  const pacedBound = pacedWritesPerSecond / newVersionsPerToken;
  const concurrencyBound = concurrency / ((per(beyondListing) * vaultLatencyMs) / 1000);
  progress(`  rotation: ${rotated}/${tokens} in ${round(wallMs / 1000, 1)} s = ${round(throughput, 1)} tokens/s`);

  const figures: Figure[] = [
    figure({
      id: 'rotation.rotated',
      label: 'Tokens rotated',
      value: rotated,
      unit: `of ${tokens.toLocaleString('en-US')}`,
      digits: 0,
      note: httpStatus !== 200 ? `POST /api/rotate answered ${httpStatus}` : summary.stoppedByTimeBudget ? 'stopped by its time budget' : undefined,
    }),
    figure({
      id: 'rotation.requests-per-token',
      label: 'Key Vault requests per rotated token beyond the list pages',
      value: round(per(beyondListing), 2),
      unit: '',
      digits: 2,
      // Read, write, read-back; and two of the staged promotion (docs/ROTATION.md): promote the
      // verified version, disable the one before the fallback (at most two enabled).
      goal: { op: '<=', value: 5, text: '≤ 5 (read, write, read-back; promote and retire)' },
      note: `secret reads ${round(per(k['secret read']), 2)}, writes ${round(per(k.write), 2)}, tag updates ${round(per(k['tag update']), 2)}, version listings ${round(per(k['version listing']), 2)}; list pages ${k['list page']} for the run`,
    }),
    figure({
      id: 'rotation.tokens-per-second',
      label: 'Rotation throughput (tokens rotated ÷ wall time of the run)',
      value: round(throughput, 1),
      unit: 'tokens/s',
      digits: 1,
    }),
    figure({
      id: 'rotation.throughput-vs-key-vault-bound',
      label: 'Throughput ÷ the bound of Key Vault’s 300 secret creations per 10 s',
      value: round(throughput / kvBound, 2),
      unit: '×',
      digits: 2,
      goal: { op: '>=', value: 0.9, text: '≥ 0.9×' },
      baseline: {
        label: `bound: 30 new versions/s ÷ ${writesPerToken.toFixed(2)} new versions per token`,
        value: round(kvBound, 1),
        unit: 'tokens/s',
        digits: 1,
      },
    }),
    figure({
      id: 'rotation.throughput-vs-paced-bound',
      label: `Throughput ÷ the bound of the service’s own pacing (${keyVaultWrites.limit} new versions per 10 s)`,
      value: round(throughput / pacedBound, 2),
      unit: '×',
      digits: 2,
      baseline: {
        label: `bound: ${pacedWritesPerSecond} new versions/s ÷ ${newVersionsPerToken.toFixed(2)} new versions per token`,
        value: round(pacedBound, 1),
        unit: 'tokens/s',
        digits: 1,
      },
    }),
    figure({
      id: 'rotation.peak-rss-mb',
      label: 'Peak RSS of the process that ran the rotation',
      value: round(maxRssBytes / 1e6, 0),
      unit: 'MB',
      digits: 0,
      goal: { op: '<', value: 150, text: '< 150 MB' },
      baseline: { label: 'the same process idle, package loaded, before the run', value: mb(idle.rssBytes), unit: 'MB', digits: 0 },
    }),
    figure({
      id: 'rotation.storage-requests-per-token',
      label: 'Storage requests per rotated token (the token’s lease, and what the run keeps about tokens and itself), first run',
      value: round(per(storage.total), 2),
      unit: '',
      digits: 2,
      note: `the first lease of a token finds no blob, creates it and asks again: lease acquisitions ${round(per(storage['lease acquire']), 2)}, blob creations ${round(per(storage['blob create']), 2)}, releases ${round(per(storage['lease release']), 2)}, renewals ${storage['lease renew']}; table queries ${storage['table query']}, reads ${storage['table read']}, writes ${storage['table write']} for the run`,
    }),
    ...(steady
      ? [
          figure({
            id: 'rotation.steady-storage-requests-per-token',
            label: 'Storage requests per rotated token, second run (steady state: every lease blob exists)',
            value: round(steady.storage.total / (steady.summary.counts?.rotated || NaN), 2),
            unit: '',
            digits: 2,
            goal: { op: '<=', value: 2.05, text: '2 (acquire and release the lease; records once per run)' },
            note: `lease acquisitions ${steady.storage['lease acquire']}, releases ${steady.storage['lease release']}, renewals ${steady.storage['lease renew']}, blob creations ${steady.storage['blob create']}; table queries ${steady.storage['table query']}, reads ${steady.storage['table read']}, writes ${steady.storage['table write']}; other ${steady.storage.other}`,
          }),
          figure({
            id: 'rotation.steady-requests-per-token',
            label: 'Key Vault requests per rotated token beyond the list pages, second run (each token has a fallback to retire)',
            value: round(requestsPerToken(steady), 2),
            unit: '',
            digits: 2,
            note: `secret reads ${round(steady.counts.byKind['secret read'] / (steady.summary.counts?.rotated || NaN), 2)}, writes ${round(steady.counts.byKind.write / (steady.summary.counts?.rotated || NaN), 2)}, tag updates ${round(steady.counts.byKind['tag update'] / (steady.summary.counts?.rotated || NaN), 2)}; rotated ${steady.summary.counts?.rotated ?? 0}`,
          }),
          figure({
            id: 'rotation.capped-peak-rss-mb',
            label: `Peak RSS of the second run, V8 heap capped at ${cappedHeapMb} MB (--max-old-space-size)`,
            value: mb(steady.maxRssBytes),
            unit: 'MB',
            digits: 0,
            note: `diagnostic: the run completes with the heap capped, at ${round((steady.summary.counts?.rotated ?? 0) / (steady.wallMs / 1000), 1)} tokens/s`,
          }),
        ]
      : []),
  ];
  const memoryRows = [0.1, 0.5, 0.9]
    .map((share) => [share, at(share)] as const)
    .filter((x): x is readonly [number, MemorySample] => x[1] !== undefined)
    .map(
      ([share, m]) =>
        [`RSS / heap used at ${round(share * 100, 0)} % of the run (${round(m.s, 0)} s) (MB)`, `${mb(m.rss)} / ${mb(m.heap)}`] as [string, string],
    );
  return {
    parameters: {
      tokens,
      ROTATION_CONCURRENCY: concurrency,
      'Key Vault latency per request (ms)': vaultLatencyMs,
      'token endpoint latency (ms)': 0,
      'run started by': 'POST /api/rotate',
    },
    figures,
    tables: [
      {
        title: 'The rotation run',
        columns: ['figure', 'value'],
        rows: [
          ['wall time of POST /api/rotate (s)', round(wallMs / 1000, 1)],
          ['of which before the first new version was written: listing and first reads (s)', round(listingSeconds, 1)],
          ['throughput after that (tokens/s)', round(rotated / (wallMs / 1000 - listingSeconds), 1)],
          ['the run’s own durationMs (s)', round((summary.durationMs ?? NaN) / 1000, 1)],
          [
            'outcomes',
            Object.entries(summary.counts ?? {})
              .filter(([, n]) => n > 0)
              .map(([o, n]) => `${o} ${n}`)
              .join(', '),
          ],
          ['refresh-token grants at the simulator', measured.identityCalls],
          ...vaultKinds.map((kind) => [`Key Vault: ${kind}`, k[kind]] as [string, number]),
          ...storageKinds.map((kind) => [`Storage: ${kind}`, storage[kind]] as [string, number]),
          ['Key Vault: challenges (401)', counts.challenges],
          ['Key Vault: throttled (429)', counts.throttled],
          ['bound from concurrency alone: concurrency ÷ (requests per token × latency) (tokens/s)', round(concurrencyBound, 0)],
          ['CPU time of the process (s)', round(cpuMs / 1000, 1)],
          ['RSS / heap used idle, before the run (MB)', `${mb(idle.rssBytes)} / ${mb(idle.heapUsedBytes)}`],
          ...memoryRows,
          ...(highest ? [[`highest RSS sample (MB), at (s)`, `${mb(highest.rss)} at ${round(highest.s, 0)}`] as [string, string]] : []),
          ['samples (every 2 s)', memory.length],
          ['peak RSS of the process (MB)', mb(maxRssBytes)],
        ],
      },
    ],
  };
}

export const rotationSuite: Suite = { id: 'rotation', title: 'Rotation at scale', run };
