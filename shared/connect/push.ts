/**
 * The push to Connect: writes a marketplace's
 * refresh token into the product configuration parameter `refresh_token_<env>` of every Connect
 * product configured for it, reads it back, and records per product whether Connect holds the
 * token's current version — in the `connect` tag of that very Key Vault version.
 *
 * Connect is downstream of the vault. MUST: a Connect failure never writes a new token version
 * and never touches the token's value; only the version's tags change (updateTokenTags).
 *
 * Failure classes (as for rotation, docs/SECURITY.md 17):
 * - transient (network, timeout, 408, 425, 429, 5xx, a read-back that does not show the value yet)
 *   → retried with backoff a couple of times, then left `retry` in the tag; every rotation run
 *   pushes it again until Connect holds the current token;
 * - rejected (400, 401, 403, 404 and any other 4xx; a redirect; a refused URL)
 *   → `fail=<Connect error_code>` in the tag, token status `connect-sync-failed`, a
 *   `ConnectSyncFailed` error log (alerted), no automatic retry before the next rotation.
 */
import { ensureAppError, retryAfterOf } from '../errors';
import { events } from '../events';
import { logEvent, type EventFields, type Logger } from '../log';
import type { Marketplace } from '../marketplaces/marketplace';
import { forEachBounded } from '../pacing';
import { withRetries, type Sleep } from '../retry';
import type { SecretStore, StoredToken, TokenTags } from '../secrets/store';
import type { Settings } from '../settings';
import { ConnectApi, ConnectCallError } from './api';
import { connectParameterOf } from './parameter';
import { decodeConnectTag, encodeConnectTag, type ProductSync } from './tag';

export type SyncTrigger = 'generate' | 'rotate' | 'retry';

export interface SyncContext {
  trigger: SyncTrigger;
  runId?: string;
  correlationId?: string;
  /** Push only these products (the retry step); the others keep their state from the tag. */
  products?: string[];
  /** Remaining time of the caller's budget; retries stop before it runs out. */
  timeLeft?: () => number;
}

export interface SyncOutcome {
  marketplace: string;
  version: string;
  /** Every product now recorded for this version, in configuration order. */
  products: ProductSync[];
  /** The products pushed by this call. */
  pushed: ProductSync[];
  /** False when the tags could not be written (the version keeps its previous `connect` tag). */
  recorded: boolean;
}

export interface ConnectPushOptions {
  settings: Settings;
  store: SecretStore;
  logger: Logger;
  /** The API key as read from the store; resolved once per push object (one per invocation). */
  apiKey: () => Promise<string | undefined>;
  fetch?: typeof fetch;
  timeoutMs?: number;
  /** Attempts per product within one push (first try included). */
  attempts?: number;
  /** Longest wait between attempts; a longer Retry-After leaves the product pending for the next run. */
  maxWaitMs?: number;
  sleep?: Sleep;
  now?: () => number;
}

const productConcurrency = 4;

/** Pushes tokens of one environment to Connect and records the outcome on the token version. */
export class ConnectPush {
  readonly parameter: string;
  private api: Promise<ConnectApi | ConnectCallError> | undefined;

  constructor(private readonly o: ConnectPushOptions) {
    this.parameter = connectParameterOf(o.settings.SERVICE_ENVIRONMENT);
  }

  /** The `connect` tag a new version carries before it is pushed: every product pending, so a crash before the push leaves it to the retry step. */
  pendingTag(marketplace: Marketplace): string | undefined {
    if (marketplace.connectProducts.length === 0) return undefined;
    return encodeConnectTag(marketplace.connectProducts.map((product) => ({ product, state: 'pending' })));
  }

  /**
   * Pushes `token` (a version just stored and verified) to the marketplace's products, reads
   * each back, and records the result in the version's tags. Never throws: every failure is an
   * outcome. Undefined when the marketplace has no Connect products.
   */
  async sync(marketplace: Marketplace, token: StoredToken, ctx: SyncContext): Promise<SyncOutcome | undefined> {
    const configured = marketplace.connectProducts;
    if (configured.length === 0) return undefined;
    const targets = ctx.products ? configured.filter((p) => ctx.products?.includes(p)) : configured;
    const fields = {
      marketplace: marketplace.id,
      parameter: this.parameter,
      version: token.version,
      trigger: ctx.trigger,
      runId: ctx.runId,
      correlationId: ctx.correlationId,
    };

    const pushed: ProductSync[] = [];
    const api = await this.connectApi();
    if (api instanceof ConnectCallError) {
      // No usable key: refused (missing, bad URL) or, if the vault hiccuped, pending for the next run.
      for (const product of targets) pushed.push({ product, state: api.failureClass === 'rejected' ? 'failed' : 'pending', code: api.connectCode });
    } else {
      const results = new Map<string, ProductSync>();
      await forEachBounded(targets, productConcurrency, async (product) => {
        results.set(product, await this.pushProduct(api, product, marketplace.id, token.value, ctx));
      });
      for (const product of targets) pushed.push(results.get(product) as ProductSync);
    }

    for (const p of pushed) {
      if (p.state === 'failed') {
        logEvent(this.o.logger, 'error', events.connectSyncFailed, { ...fields, product: p.product, class: 'rejected', errorCode: p.code });
      } else if (p.state === 'pending') {
        // Not alerted: the next run retries it, and the previous token in Connect stays valid
        // (Entra does not revoke a refresh token when it is redeemed).
        logEvent(this.o.logger, 'warn', events.connectSyncPending, { ...fields, product: p.product, class: 'transient', code: p.code });
      }
    }

    // Products not pushed now keep what the tag says (ok stays ok: that version has not changed).
    const previous = decodeConnectTag(token.tags.connect);
    const products = configured.map(
      (product) => pushed.find((p) => p.product === product) ?? previous.get(product) ?? { product, state: 'pending' as const },
    );
    const recorded = await this.record(token, products, fields);
    const counts = {
      ok: pushed.filter((p) => p.state === 'ok').length,
      pending: pushed.filter((p) => p.state === 'pending').length,
      failed: pushed.filter((p) => p.state === 'failed').length,
    };
    logEvent(this.o.logger, recorded ? 'info' : 'warn', events.connectSyncCompleted, { ...fields, ...counts, recorded });
    return { marketplace: marketplace.id, version: token.version, products, pushed, recorded };
  }

  private connectApi(): Promise<ConnectApi | ConnectCallError> {
    this.api ??= (async () => {
      let key: string | undefined;
      try {
        key = await this.o.apiKey();
      } catch {
        return new ConnectCallError('transient', 'API_KEY_UNREADABLE');
      }
      // The setting names a secret the vault does not have: an operator error, alerted.
      if (!key?.trim()) return new ConnectCallError('rejected', 'API_KEY_MISSING');
      try {
        return new ConnectApi({
          baseUrl: this.o.settings.CONNECT_API_URL,
          apiKey: key,
          ...(this.o.timeoutMs ? { timeoutMs: this.o.timeoutMs } : {}),
          ...(this.o.fetch ? { fetch: this.o.fetch } : {}),
        });
      } catch (err) {
        return err instanceof ConnectCallError ? err : new ConnectCallError('rejected', 'BAD_URL');
      }
    })();
    return this.api.then((api) => {
      // A vault hiccup while reading the key is not remembered: the next push reads it again.
      if (api instanceof ConnectCallError && api.failureClass === 'transient') this.api = undefined;
      return api;
    });
  }

  private async pushProduct(api: ConnectApi, product: string, marketplace: string, value: string, ctx: SyncContext): Promise<ProductSync> {
    try {
      await withRetries(
        async () => {
          await api.setConfiguration(product, this.parameter, marketplace, value, ctx.timeLeft?.());
          // Read back and compare before saying Connect holds it (as rotation does with the vault).
          const held = await api.readConfiguration(product, this.parameter, marketplace, ctx.timeLeft?.());
          if (held !== value) throw new ConnectCallError('transient', held === undefined ? 'READBACK_MISSING' : 'READBACK_MISMATCH');
        },
        {
          attempts: this.o.attempts ?? 3,
          backoff: { baseMs: 300, maxMs: 4_000 },
          // A long Retry-After, or no time left: leave it to the next run rather than block.
          maxWaitMs: this.o.maxWaitMs ?? 5_000,
          ...(ctx.timeLeft ? { timeLeft: ctx.timeLeft } : {}),
          ...(this.o.sleep ? { sleep: this.o.sleep } : {}),
        },
      );
      return { product, state: 'ok' };
    } catch (err) {
      const e = err instanceof ConnectCallError ? err : new ConnectCallError('transient', 'UNEXPECTED');
      return { product, state: e.failureClass === 'rejected' ? 'failed' : 'pending', code: e.connectCode };
    }
  }

  /** Writes the outcome into the version's tags (never a new version). */
  private async record(token: StoredToken, products: ProductSync[], fields: EventFields): Promise<boolean> {
    const now = this.o.now ?? Date.now;
    const tags: TokenTags = { ...token.tags, connect: encodeConnectTag(products) };
    const failed = products.find((p) => p.state === 'failed');
    // needs-reauth says more than a Connect problem and is never overwritten here.
    if (tags.status !== 'needs-reauth') tags.status = failed ? 'connect-sync-failed' : 'active';
    if (failed) {
      tags.lastError = `connect-sync-failed:${failed.code ?? 'unknown'}`;
      tags.lastErrorAt = new Date(now()).toISOString();
    } else if (tags.lastError?.startsWith('connect-sync-failed')) {
      delete tags.lastError;
      delete tags.lastErrorAt;
    }
    try {
      // A tag change is not a new version: it is outside Key Vault's 300 creations per 10 s.
      await withRetries(() => this.o.store.updateTokenTags(token, tags), {
        attempts: 3,
        backoff: { baseMs: 500, maxMs: 5_000 },
        retryAfterMs: (err) => Math.min(5_000, retryAfterOf(err) ?? 0),
        ...(this.o.sleep ? { sleep: this.o.sleep } : {}),
      });
      token.tags = tags;
      return true;
    } catch (err) {
      logEvent(this.o.logger, 'warn', events.connectSyncNotRecorded, { ...fields, code: ensureAppError(err).code });
      return false;
    }
  }
}

/**
 * The push for this deployment, or undefined when it is off (CONNECT_API_KEY_SECRET_NAME
 * unset). One per invocation: the key is read from the vault once per push object, so an
 * operator's new key takes effect on the next invocation.
 */
export function connectPushFor(
  settings: Settings,
  store: SecretStore,
  logger: Logger,
  overrides: Partial<ConnectPushOptions> = {},
): ConnectPush | undefined {
  const secretName = settings.CONNECT_API_KEY_SECRET_NAME;
  if (!secretName) return undefined;
  return new ConnectPush({ settings, store, logger, apiKey: () => store.getSecret(secretName), ...overrides });
}
