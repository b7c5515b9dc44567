/**
 * Local mode's stand-in for Key Vault's SecretNearExpiry and the Event Grid subscription that
 * carries it to the app (infra/app/near-expiry.bicep). The file store raises no events, so this
 * scans it, when started and then every `intervalMs`, and hands `deliver` (the local host's
 * near-expiry queue) the same Event Grid event the Key Vault fake raises
 * (local/keyVaultFake/events.ts) for each secret named like a token (the subscription's subject
 * filter) whose latest version is enabled and expires within 30 days, once per version.
 *
 * Key Vault raises the event for the current (latest) version of a secret only, as the Key Vault
 * fake does (docs/STAND-INS.md, "Key Vault fake"). The versions already raised are remembered in memory only: after a
 * restart one may come again, which the trigger's 12-hour rule makes harmless.
 */
import type { FileSecretStore } from './fileSecretStore';
import { defaultTopic, isNearExpiry, nearExpiryEvent, type EventSource, type KeyVaultEventGridEvent } from './keyVaultFake/events';

/** The subscription's `subjectBeginsWith` (infra/main.bicep, tokenSecretPrefix): the start of every token secret's name. */
const subjectPrefix = 'refresh-token-';

const vaultName = 'local-file-store';
/** Local mode's "vault": a reserved name (RFC 2606 `.invalid`), so no event can be mistaken for a real vault's. */
const source: EventSource = { vaultUrl: `https://${vaultName}.invalid`, vaultName, topic: defaultTopic(vaultName) };

export interface NearExpiryScannerOptions {
  store: FileSecretStore;
  /** Receives each event raised (local mode: the host's `secret-near-expiry` queue). */
  deliver: (event: KeyVaultEventGridEvent) => void | Promise<void>;
  /** Between scans once started; default an hour. */
  intervalMs?: number;
  /** Clock in epoch milliseconds. */
  now?: () => number;
  /** A scan that failed (the store unreadable): logged by the caller, the next scan tries again. */
  onError?: (err: unknown) => void;
}

export interface NearExpiryScanner {
  /** One scan now; resolves with the events it raised. */
  scan(): Promise<KeyVaultEventGridEvent[]>;
  /** Scans now and then every intervalMs. */
  start(): void;
  stop(): void;
}

export function nearExpiryScanner(options: NearExpiryScannerOptions): NearExpiryScanner {
  const now = options.now ?? Date.now;
  const raised = new Set<string>();
  let running: Promise<KeyVaultEventGridEvent[]> | undefined;
  let timer: NodeJS.Timeout | undefined;

  async function scanOnce(): Promise<KeyVaultEventGridEvent[]> {
    const nowMs = now();
    const events: KeyVaultEventGridEvent[] = [];
    for (const name of await options.store.listSecretNames()) {
      if (!name.startsWith(subjectPrefix)) continue;
      const latest = (await options.store.listVersions(name)).at(-1);
      if (!latest || raised.has(`${name}/${latest.version}`)) continue;
      if (!isNearExpiry({ enabled: latest.enabled !== false, ...(latest.exp === undefined ? {} : { exp: latest.exp }) }, nowMs)) continue;
      raised.add(`${name}/${latest.version}`);
      const event = nearExpiryEvent({ name, version: latest.version, ...(latest.exp === undefined ? {} : { exp: latest.exp }) }, source, nowMs);
      events.push(event);
      await options.deliver(event);
    }
    return events;
  }

  function scan(): Promise<KeyVaultEventGridEvent[]> {
    // One scan at a time, so a version is never raised twice by overlapping scans.
    running ??= scanOnce().finally(() => (running = undefined));
    return running;
  }

  const scanQuietly = () => void scan().catch((err: unknown) => options.onError?.(err));

  return {
    scan,
    start: () => {
      if (timer) return;
      scanQuietly();
      timer = setInterval(scanQuietly, options.intervalMs ?? 3600_000);
      timer.unref();
    },
    stop: () => {
      if (timer) clearInterval(timer);
      timer = undefined;
    },
  };
}
