/**
 * The callback's own time: GET /api/callback of the real sign-in (bench/world/signIn.ts) through
 * the deployment package, less the time during which the identity simulator or the Key Vault
 * fake was answering one of its requests (the union of their server-side spans, so requests in
 * parallel are not subtracted twice). What remains is the service: its code, msal-node, the Key
 * Vault SDK, their HTTPS clients, and the worker stand-in's conversions.
 *
 * Injected latency makes the stand-ins answer like the real services would (Entra's token
 * endpoint, Key Vault); it is subtracted with the rest.
 */
import { figure, type Figure } from '../lib/figures';
import { median, percentile, round, sum, unionLength } from '../lib/stats';
import { vaultCounts, vaultKinds, type VaultCounts } from '../world/servers';
import { signIn } from '../world/signIn';
import { signInMarketplace, stopChild, type World } from '../world/world';
import type { Suite, SuiteContext, SuiteOutput } from './suite';

const latency = { tokenEndpointMs: 50, vaultMs: 10 };

interface Sample {
  totalMs: number;
  externalMs: number;
  identityMs: number;
  vaultMs: number;
  serviceMs: number;
  counts: VaultCounts;
  identityCalls: number;
}

async function one(world: World, appUrl: string): Promise<Sample> {
  const { recorder } = await world.servers();
  const s = await signIn(appUrl, signInMarketplace.id);
  const spans = recorder.between(s.callbackStart, s.callbackEnd);
  const identity = spans.filter((x) => x.server === 'identity');
  const vault = spans.filter((x) => x.server === 'vault');
  const totalMs = s.callbackEnd - s.callbackStart;
  const externalMs = unionLength(spans);
  return {
    totalMs,
    externalMs,
    identityMs: sum(identity.map((x) => x.end - x.start)),
    vaultMs: sum(vault.map((x) => x.end - x.start)),
    serviceMs: totalMs - externalMs,
    counts: vaultCounts(spans),
    identityCalls: identity.length,
  };
}

async function run({ world, quick, progress }: SuiteContext): Promise<SuiteOutput> {
  const firstRuns = quick ? 1 : 5;
  const warmRuns = quick ? 8 : 41;
  const { simulator, fake } = await world.servers();
  const packages = await world.packages();
  await world.resetVault();
  simulator.reset();
  simulator.faults.apply({ kind: 'latency', ms: latency.tokenEndpointMs });
  fake.faults.setLatency(latency.vaultMs, 'any');
  try {
    // The first callback of a process also loads dist/sdk.js, gets a managed-identity token and opens connections.
    const first: Sample[] = [];
    for (let i = 0; i < firstRuns; i++) {
      const child = await world.serve(packages.service);
      try {
        first.push(await one(world, child.first.url));
      } finally {
        await stopChild(child.process);
      }
    }
    progress(`  callback: ${firstRuns} first callbacks of a process`);
    const warm: Sample[] = [];
    const child = await world.serve(packages.service);
    try {
      for (let i = 0; i < 3; i++) await one(world, child.first.url);
      for (let i = 0; i < warmRuns; i++) warm.push(await one(world, child.first.url));
    } finally {
      await stopChild(child.process);
    }
    progress(`  callback: ${warmRuns} warm callbacks`);

    const figures: Figure[] = [
      figure({
        id: 'callback.service-median-ms',
        label: 'Callback, the service’s own time, median (warm)',
        value: round(median(warm.map((s) => s.serviceMs)), 1),
        unit: 'ms',
        digits: 1,
      }),
      figure({
        id: 'callback.service-p95-ms',
        label: 'Callback, the service’s own time, p95 (warm)',
        value: round(
          percentile(
            warm.map((s) => s.serviceMs),
            0.95,
          ),
          1,
        ),
        unit: 'ms',
        digits: 1,
      }),
      figure({
        id: 'callback.first-service-median-ms',
        label: 'Callback, the service’s own time, first callback of a process, median',
        value: round(median(first.map((s) => s.serviceMs)), 1),
        unit: 'ms',
        digits: 1,
      }),
      figure({
        id: 'callback.vault-requests',
        label: 'Key Vault requests per warm callback',
        value: median(warm.map((s) => s.counts.total)),
        unit: '',
        digits: 0,
        note: vaultKinds
          .map((k) => [k, median(warm.map((s) => s.counts.byKind[k]))] as const)
          .filter(([, n]) => n > 0)
          .map(([k, n]) => `${k} ${n}`)
          .join(', '),
      }),
    ];
    const row = (label: string, xs: Sample[]) => [
      label,
      xs.length,
      round(median(xs.map((s) => s.totalMs)), 1),
      round(median(xs.map((s) => s.identityMs)), 1),
      round(median(xs.map((s) => s.vaultMs)), 1),
      round(median(xs.map((s) => s.externalMs)), 1),
      round(median(xs.map((s) => s.serviceMs)), 1),
      round(
        percentile(
          xs.map((s) => s.serviceMs),
          0.95,
        ),
        1,
      ),
      median(xs.map((s) => s.counts.total)),
    ];
    return {
      parameters: {
        'token endpoint latency (ms)': latency.tokenEndpointMs,
        'Key Vault latency per request (ms)': latency.vaultMs,
        'first callbacks (fresh process each)': firstRuns,
        'warm callbacks (one process, after 3 warm-up)': warmRuns,
      },
      figures,
      tables: [
        {
          title: 'GET /api/callback (medians; the service’s own time = total − time any stand-in was answering)',
          columns: [
            'callback',
            'runs',
            'total (ms)',
            'token endpoint (ms)',
            'Key Vault (ms)',
            'stand-ins, union (ms)',
            'service, median (ms)',
            'service, p95 (ms)',
            'Key Vault requests',
          ],
          rows: [row('first of a process', first), row('warm', warm)],
        },
      ],
    };
  } finally {
    simulator.faults.clear();
    fake.faults.clear();
  }
}

export const callbackSuite: Suite = { id: 'callback', title: 'The callback', run };
