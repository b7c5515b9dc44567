import { readFileSync } from 'node:fs';
import { startKeyVaultFake } from './index';

/**
 * Runs the Key Vault fake as its own process, for local benchmarks and for pointing a local
 * host at it: `node scripts/with-local-tls.mjs node dist/local/keyVaultFake/main.js`.
 * Prints one JSON line with the settings a client process needs, then serves until stopped.
 * Environment: LOCAL_TLS_CERT / LOCAL_TLS_KEY (set by with-local-tls.mjs), KV_FAKE_PORT (default: any free port).
 */
async function main(): Promise<void> {
  const certPath = process.env.LOCAL_TLS_CERT;
  const keyPath = process.env.LOCAL_TLS_KEY;
  if (!certPath || !keyPath) throw new Error('LOCAL_TLS_CERT and LOCAL_TLS_KEY are not set; run under scripts/with-local-tls.mjs');
  const fake = await startKeyVaultFake({
    tls: { cert: readFileSync(certPath), key: readFileSync(keyPath) },
    port: Number(process.env.KV_FAKE_PORT ?? 0),
  });
  // The identity header is a local, per-run value, not a credential of anything real.
  console.log(JSON.stringify({ KEY_VAULT_URL: fake.url, ...fake.identityEnv, faults: `${fake.url}/_fake/faults`, stats: `${fake.url}/_fake/stats` }));
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => void fake.close().then(() => process.exit(0)));
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
