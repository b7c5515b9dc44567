/**
 * Bench child process: one rotation run, as the timer would do it, in a process of its own (so
 * its peak memory and its Key Vault write pacing are its own). Real code end to end: rotateAll
 * with the Key Vault store (real SecretClient and managed-identity credential, against the Key
 * Vault fake) and msal-node redemption (against the identity simulator), both run by the parent.
 *
 * Settings come from the environment like the app's (loadSettings); BENCH_CONCURRENCY and
 * BENCH_TIME_BUDGET_MS choose the run. Prints one JSON line with the result.
 */
import { readFileSync } from 'node:fs';
import { redeemRefreshTokenLazy } from '../shared/identity/lazy';
import { parseMarketplaceConfig } from '../shared/marketplaces/config';
import { verifyAtPartnerCenter } from '../shared/partnerCenter/verify';
import type { RotationOutcome } from '../shared/rotation/outcomes';
import { rotateAll } from '../shared/rotation/rotateAll';
import { createKeyVaultStore } from '../shared/secrets/keyVaultStore';
import { loadSettings } from '../shared/settings';

export interface RotationBenchResult {
  concurrency: number;
  durationMs: number;
  total: number;
  counts: Record<RotationOutcome, number>;
  stoppedByTimeBudget: boolean;
  peakRssBytes: number;
  peakHeapUsedBytes: number;
  /** Log events of the run by name (RotationRetry, RotationTokenFailed, …). */
  events: Record<string, number>;
}

async function main(): Promise<void> {
  const settings = loadSettings(process.env);
  if (!settings.KEY_VAULT_URL) throw new Error('KEY_VAULT_URL is not set');
  const concurrency = Number(process.env.BENCH_CONCURRENCY ?? settings.ROTATION_CONCURRENCY);
  const timeBudgetMs = process.env.BENCH_TIME_BUDGET_MS ? Number(process.env.BENCH_TIME_BUDGET_MS) : undefined;

  let peakRss = 0;
  let peakHeap = 0;
  const sample = () => {
    const m = process.memoryUsage();
    peakRss = Math.max(peakRss, m.rss);
    peakHeap = Math.max(peakHeap, m.heapUsed);
  };
  const sampler = setInterval(sample, 50);

  const events: Record<string, number> = {};
  const count = (...args: unknown[]) => {
    const first = args[0];
    let name = 'other';
    if (typeof first === 'string' && first.startsWith('{')) {
      try {
        name = String((JSON.parse(first) as { event?: unknown }).event ?? 'other');
      } catch {
        // not one of ours
      }
    }
    events[name] = (events[name] ?? 0) + 1;
  };

  const config = parseMarketplaceConfig(JSON.parse(readFileSync(settings.MARKETPLACE_CONFIG_PATH, 'utf8')));
  const summary = await rotateAll(
    {
      settings,
      config,
      store: createKeyVaultStore({ vaultUrl: settings.KEY_VAULT_URL }),
      logger: { info: count, warn: count, error: count },
      redeem: redeemRefreshTokenLazy,
      verify: (accessToken, marketplace) => verifyAtPartnerCenter({ baseUrl: settings.PARTNER_CENTER_API_URL, accessToken, marketplace: marketplace.id }),
    },
    { trigger: 'timer', concurrency, ...(timeBudgetMs !== undefined ? { timeBudgetMs } : {}) },
  );
  sample();
  clearInterval(sampler);
  const result: RotationBenchResult = {
    concurrency,
    durationMs: summary.durationMs,
    total: summary.total,
    counts: summary.counts,
    stoppedByTimeBudget: summary.stoppedByTimeBudget,
    peakRssBytes: peakRss,
    peakHeapUsedBytes: peakHeap,
    events,
  };
  process.stdout.write(JSON.stringify(result) + '\n');
}

main().catch((err: unknown) => {
  process.stderr.write(`rotation bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
