/**
 * One more instance of the service, in a Node process of its own: the real function files on the
 * local host, with the settings of its environment (those of a running test world: the same
 * storage account, Key Vault, Entra and Partner Center). It prints `{"url": …}` once listening,
 * then every log line as `{"log": …}`. Bundled and started by test/support/instances.ts.
 */
import { listRegistrations } from '../../local/functionsCore';
import { installFunctionsCore, startHost } from '../../local/host';
import { queueOptionsOf } from '../../local/queueTriggers';

async function main(): Promise<void> {
  installFunctionsCore();

  require('../../functions/start');
  require('../../functions/callback');
  require('../../functions/status');
  require('../../functions/rotate');
  require('../../functions/rotateNow');
  require('../../functions/secretNearExpiry');

  const hostJson = process.env.INSTANCE_HOST_JSON;
  if (!hostJson) throw new Error('INSTANCE_HOST_JSON names the host.json to read');
  const host = await startHost({
    port: 0,
    registrations: listRegistrations(),
    queues: { ...queueOptionsOf(hostJson), visibilityTimeoutMs: Number(process.env.INSTANCE_QUEUE_VISIBILITY_MS ?? 1_000) },
    log: (line) =>
      process.stdout.write(`${JSON.stringify({ log: { level: line.level, functionName: line.functionName, message: line.message } })}\n`),
  });
  process.stdout.write(`${JSON.stringify({ url: host.url })}\n`);
  process.on('SIGTERM', () => void host.close().then(() => process.exit(0)));
}

main().catch((err: unknown) => {
  process.stderr.write(`instance failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
