/**
 * GET /api/status?format=json at scale: 500 and 5,000 stored tokens in the Key Vault fake (seeded
 * from a real sign-in, bench/world/tokens.ts), 10 ms per Key Vault request, the deployment
 * package in a fresh bench/worker.ts per size. Each size: the first request of the process (it
 * also loads dist/sdk.js and gets a managed-identity token), then warm requests. Key Vault
 * requests are counted by kind in this process (bench/world/servers.ts), so the figures show
 * where the time goes and move when the store's listing changes.
 *
 * The fake enforces Key Vault's 4,000 non-write requests per 10 s; a warm request waits until the
 * previous request's requests have left that window, so each request is measured on its own
 * (an operator opens the page, they do not hammer it).
 */
import { figure, type Figure, type Table } from '../lib/figures';
import { send } from '../lib/http';
import { median, round } from '../lib/stats';
import { vaultCounts, vaultKinds, type VaultCounts } from '../world/servers';
import { seedTokens, tokenTemplate } from '../world/tokens';
import { stopChild } from '../world/world';
import type { Suite, SuiteContext, SuiteOutput } from './suite';

const vaultLatencyMs = 10;
const readWindow = { max: 4000, ms: 10_000 };
/** Key Vault's largest page of a listing (maxresults). */
const pageSize = 25;

interface Sample {
  ms: number;
  /** HTTP status of the answer: a failure (throttled listing, say) is a measured outcome too. */
  status: number;
  rows: number;
  counts: VaultCounts;
}

async function run({ world, quick, progress }: SuiteContext): Promise<SuiteOutput> {
  const sizes = quick ? [100, 500] : [500, 5000];
  const warmRuns = quick ? 1 : 3;
  const { simulator, fake, recorder } = await world.servers();
  const template = await tokenTemplate(world);
  const packages = await world.packages();
  const figures: Figure[] = [];
  const rows: Table['rows'] = [];
  try {
    for (const size of sizes) {
      await world.resetVault();
      seedTokens(fake, simulator, template, size);
      fake.faults.setLatency(vaultLatencyMs, 'any');
      const child = await world.serve(packages.service);
      const samples: Sample[] = [];
      try {
        for (let i = 0; i <= warmRuns; i++) {
          const previous = samples.at(-1);
          if (previous && previous.counts.total > readWindow.max / 2) await new Promise((r) => setTimeout(r, readWindow.ms + 500));
          const t0 = performance.now();
          const answer = await send(`${child.first.url}/api/status?format=json`, { timeoutMs: 300_000 });
          const t1 = performance.now();
          const tokens = answer.status === 200 ? ((JSON.parse(answer.body) as { tokens?: unknown[] }).tokens ?? []) : [];
          if (answer.status !== 200) progress(`  status at ${size}: answered ${answer.status}`);
          samples.push({ ms: t1 - t0, status: answer.status, rows: tokens.length, counts: vaultCounts(recorder.between(t0, t1)) });
        }
      } finally {
        await stopChild(child.process);
        fake.faults.clear();
      }
      const [first, ...warm] = samples as [Sample, ...Sample[]];
      const ok = warm.filter((s) => s.status === 200);
      const warmMs = ok.length === warm.length ? median(warm.map((s) => s.ms)) : NaN;
      const last = warm.at(-1) ?? first;
      const k = last.counts.byKind;
      progress(`  status at ${size}: ${round(warmMs, 0)} ms warm, ${k['secret read']} secret reads, ${k['list page']} list pages`);
      const atGoalSize = size === 5000;
      figures.push(
        figure({
          id: `status.${size}.ms`,
          label: `GET /api/status at ${size.toLocaleString('en')} tokens, warm (median of ${warm.length})`,
          value: round(warmMs, 0),
          unit: 'ms',
          digits: 0,
          ...(atGoalSize ? { goal: { op: '<' as const, value: 2000, text: '< 2 s' } } : {}),
          note:
            `first request of the process ${round(first.ms, 0).toLocaleString('en-US')} ms (HTTP ${first.status}); ${last.rows.toLocaleString('en-US')} rows` +
            (ok.length < warm.length
              ? `; ${warm.length - ok.length} of ${warm.length} warm requests failed (HTTP ${warm
                  .filter((s) => s.status !== 200)
                  .map((s) => s.status)
                  .join(', ')})`
              : ''),
        }),
        figure({
          id: `status.${size}.secret-reads`,
          label: `Secret reads per status request at ${size.toLocaleString('en')} tokens`,
          value: k['secret read'],
          unit: '',
          digits: 0,
          ...(atGoalSize ? { goal: { op: '==' as const, value: 0, text: '0' } } : {}),
        }),
        figure({
          id: `status.${size}.list-pages`,
          label: `List pages per status request at ${size.toLocaleString('en')} tokens`,
          value: k['list page'],
          unit: '',
          digits: 0,
          note: `at ${vaultLatencyMs} ms each and one after another, the listing alone takes at least ${round((Math.ceil(size / pageSize) * vaultLatencyMs) / 1000, 2)} s (${pageSize} per page, Key Vault's largest)`,
        }),
      );
      for (const [label, s] of [['first of the process', first], ...warm.map((w, i) => [`warm ${i + 1}`, w] as const)] as const) {
        rows.push([
          size,
          label,
          round(s.ms, 0),
          s.status,
          s.rows,
          ...vaultKinds.map((kind) => s.counts.byKind[kind]),
          s.counts.challenges,
          s.counts.throttled,
        ]);
      }
    }
  } finally {
    fake.faults.clear();
  }
  return {
    parameters: {
      'Key Vault latency per request (ms)': vaultLatencyMs,
      sizes: sizes.join(', '),
      'warm requests per size': warmRuns,
      'Key Vault page size': pageSize,
    },
    figures,
    tables: [
      {
        title: 'GET /api/status?format=json: time and Key Vault requests by kind',
        columns: ['tokens', 'request', 'time (ms)', 'HTTP', 'rows', ...vaultKinds, 'challenges (401)', 'throttled (429)'],
        rows,
      },
    ],
  };
}

export const statusSuite: Suite = { id: 'status', title: 'The status page at scale', run };
