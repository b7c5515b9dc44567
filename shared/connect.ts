/**
 * The Connect port (design.md "Connect consumes the token"; issue 7): writes a marketplace's
 * refresh token into the product configuration parameter `refresh_token_<env>` of every Connect
 * product configured for it, reads it back, and records per product whether Connect holds the
 * token's current version — in the `connect` tag of that very Key Vault version.
 *
 * Connect is downstream of the vault. MUST: a Connect failure never writes a new token version
 * and never touches the token's value; only the version's tags change (updateTokenTags).
 *
 * Failure classes (as for rotation, security.md 17):
 * - transient (network, timeout, 408, 425, 429, 5xx, a read-back that does not show the value yet)
 *   → retried with backoff a couple of times, then left `retry` in the tag; every rotation run
 *   pushes it again until Connect holds the current token;
 * - rejected (400, 401, 403, 404 and any other 4xx; a redirect; a refused URL)
 *   → `fail=<Connect error_code>` in the tag, token status `connect-sync-failed`, a
 *   `ConnectSyncFailed` error log (alerted), no automatic retry before the next rotation.
 *
 * The API key travels in the Authorization header only. MUST: it never reaches a log line, an
 * error message, a URL or a tag; Connect's free-text `errors` are never copied anywhere either
 * (a validation message may echo the value sent, which is the refresh token).
 */
import { events } from './events';
import { ensureAppError } from './errors';
import { logEvent, type Logger } from './log';
import { forEnvironment, type Marketplace, type MarketplaceConfig } from './marketplaces';
import { forEachBounded, keyVaultWrites, realSleep, type SlidingWindowLimiter, type Sleep } from './pacing';
import type { Environment, Settings } from './settings';
import type { SecretStore, StoredToken, StoredTokenInfo, TokenTags } from './secrets/store';

// ---------------------------------------------------------------- per-product state and its tag

/** Whether Connect holds a token version for one product: yes, not yet (will retry), or refused. */
export type ProductSyncState = 'ok' | 'pending' | 'failed';

export interface ProductSync {
  product: string;
  state: ProductSyncState;
  /** Connect's `error_code` (failed), or what went wrong last (pending): `HTTP_503`, `TIMEOUT`, … */
  code?: string;
}

/** Health of one configured product for the latest token version (status page). */
export interface ProductHealth {
  product: string;
  /** `unknown`: this version was never pushed to that product (configured later, or the push was off). */
  state: ProductSyncState | 'unknown';
  code?: string;
}

const tagNames: Record<ProductSyncState, string> = { ok: 'ok', pending: 'retry', failed: 'fail' };
const tagMax = 256; // Key Vault's tag value limit (shared/secrets secretLimits)
const productPrefix = 'PRD-';
const productPattern = /^PRD-[0-9]{3}-[0-9]{3}-[0-9]{3}$/;
const codePattern = /^[A-Za-z0-9_.-]{1,40}$/;

/**
 * The `connect` tag: `ok:123-456-789,…;retry:…;fail=AUTH_001:…` (product IDs without `PRD-`).
 * Twenty products (the configuration's maximum) fit in 256 characters as long as failed products
 * share one code; when they do not, the codes are dropped from the tag (the logs keep them).
 */
export function encodeConnectTag(products: ProductSync[]): string {
  const render = (withCodes: boolean) => {
    const groups = new Map<string, string[]>();
    for (const p of products) {
      const key = p.state === 'failed' && withCodes && p.code ? `${tagNames.failed}=${p.code}` : tagNames[p.state];
      groups.set(key, [...(groups.get(key) ?? []), p.product.startsWith(productPrefix) ? p.product.slice(productPrefix.length) : p.product]);
    }
    return [...groups].map(([key, ids]) => `${key}:${ids.join(',')}`).join(';');
  };
  const full = render(true);
  return full.length <= tagMax ? full : render(false).slice(0, tagMax);
}

/** Reads a `connect` tag back; anything it cannot parse is left out (shows as `unknown`). */
export function decodeConnectTag(tag: string | undefined): Map<string, ProductSync> {
  const out = new Map<string, ProductSync>();
  for (const group of (tag ?? '').split(';')) {
    const colon = group.indexOf(':');
    if (colon < 0) continue;
    const [name, code] = group.slice(0, colon).split('=');
    const state = (Object.keys(tagNames) as ProductSyncState[]).find((s) => tagNames[s] === name);
    if (!state) continue;
    for (const id of group.slice(colon + 1).split(',')) {
      const product = `${productPrefix}${id}`;
      if (!productPattern.test(product)) continue;
      out.set(product, { product, state, ...(state === 'failed' && code && codePattern.test(code) ? { code } : {}) });
    }
  }
  return out;
}

/** What the status page shows per configured product for a token's latest version. */
export function productHealth(tag: string | undefined, configured: string[]): ProductHealth[] {
  const known = decodeConnectTag(tag);
  return configured.map((product) => {
    const p = known.get(product);
    return p ? { product, state: p.state, ...(p.code ? { code: p.code } : {}) } : { product, state: 'unknown' };
  });
}

/** The Connect parameter a token of this environment belongs in. */
export function connectParameterOf(environment: Environment): string {
  return `refresh_token_${environment}`;
}

// ---------------------------------------------------------------- the HTTP port

/** A failed Connect call, classified. `code` is safe to log: never a key, a token or Connect's free text. */
export class ConnectCallError extends Error {
  override readonly name = 'ConnectCallError';
  constructor(
    readonly failureClass: 'transient' | 'rejected',
    readonly code: string,
    readonly details: { status?: number; retryAfterMs?: number } = {},
    options?: { cause?: unknown },
  ) {
    super(`Connect call failed: ${failureClass} ${code}${details.status ? ` (HTTP ${details.status})` : ''}`, options);
  }
}

export interface ConnectApiOptions {
  /** CONNECT_API_URL, e.g. https://api.connect.cloudblue.com/public/v1 */
  baseUrl: string;
  /** The key as Connect issues it (`ApiKey SU-…:…`, or without the `ApiKey ` prefix). */
  apiKey: string;
  timeoutMs?: number;
  fetch?: typeof fetch;
}

/** `Authorization` value: the key as Connect issues it, with the `ApiKey ` scheme added only when missing. */
export function authorizationOf(apiKey: string): string {
  const key = apiKey.trim();
  return /^ApiKey /.test(key) ? key : `ApiKey ${key}`;
}

/** MUST: the key and tokens go over TLS; plain http only to loopback (the local stand-in). */
function checkedBase(baseUrl: string): string {
  const url = new URL(baseUrl);
  const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) throw new ConnectCallError('rejected', 'INSECURE_URL');
  return url.toString().replace(/\/+$/, '');
}

function retryAfterMs(header: string | null): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

async function errorCodeOf(response: Response): Promise<string> {
  try {
    const body = (await response.json()) as { error_code?: unknown };
    if (typeof body.error_code === 'string' && codePattern.test(body.error_code)) return body.error_code;
  } catch {
    // Not Connect's JSON error shape (a gateway page): the status says enough.
  }
  return `HTTP_${response.status}`;
}

function isTransientStatus(status: number): boolean {
  return status === 408 || status === 425 || status === 429 || status >= 500;
}

/** The two calls the service makes on Connect's public API. Node's fetch; nothing else imported. */
export class ConnectApi {
  private readonly base: string;
  private readonly authorization: string;
  private readonly timeoutMs: number;
  private readonly fetch: typeof fetch;

  constructor(options: ConnectApiOptions) {
    this.base = checkedBase(options.baseUrl);
    this.authorization = authorizationOf(options.apiKey);
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.fetch = options.fetch ?? fetch;
  }

  /** POST /products/{product}/configurations: sets the parameter's value for one marketplace. */
  async setConfiguration(product: string, parameter: string, marketplace: string, value: string): Promise<void> {
    const response = await this.send('POST', product, undefined, JSON.stringify({ parameter: { id: parameter }, marketplace: { id: marketplace }, value }));
    await response.arrayBuffer().catch(() => undefined);
  }

  /**
   * GET /products/{product}/configurations filtered to one parameter and marketplace (the
   * `parameter.id=…&marketplace.id=…` filter form Connect's SDKs send). Undefined when Connect
   * holds no value for it.
   */
  async readConfiguration(product: string, parameter: string, marketplace: string): Promise<string | undefined> {
    const query = new URLSearchParams({ 'parameter.id': parameter, 'marketplace.id': marketplace, limit: '100' });
    const response = await this.send('GET', product, query);
    let list: unknown;
    try {
      list = await response.json();
    } catch (cause) {
      throw new ConnectCallError('transient', 'BAD_RESPONSE', { status: response.status }, { cause });
    }
    if (!Array.isArray(list)) throw new ConnectCallError('transient', 'BAD_RESPONSE', { status: response.status });
    type Entry = { parameter?: { id?: unknown }; marketplace?: { id?: unknown } | null; item?: { id?: unknown } | null; value?: unknown };
    const matching = (list as Entry[]).filter((e) => e?.parameter?.id === parameter && e?.marketplace?.id === marketplace);
    // A marketplace-level value has no item; prefer it if Connect also lists item-level ones.
    const entry = matching.find((e) => !e.item?.id) ?? matching[0];
    return typeof entry?.value === 'string' ? entry.value : undefined;
  }

  private async send(method: 'GET' | 'POST', product: string, query?: URLSearchParams, body?: string): Promise<Response> {
    // Product and marketplace IDs come from the validated configuration; encoded anyway.
    const url = `${this.base}/products/${encodeURIComponent(product)}/configurations${query ? `?${query.toString()}` : ''}`;
    let response: Response;
    try {
      response = await this.fetch(url, {
        method,
        headers: { Authorization: this.authorization, Accept: 'application/json', ...(body ? { 'Content-Type': 'application/json' } : {}) },
        ...(body ? { body } : {}),
        // A redirect would carry the key and the token somewhere else: never followed.
        redirect: 'manual',
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (cause) {
      // Duck-typed: the DOMException may come from another realm (Jest's sandbox), where instanceof fails.
      const name = typeof cause === 'object' && cause !== null ? (cause as { name?: unknown }).name : undefined;
      const timedOut = name === 'TimeoutError' || name === 'AbortError';
      throw new ConnectCallError('transient', timedOut ? 'TIMEOUT' : 'NETWORK', {}, { cause: safeCause(cause) });
    }
    if (response.ok) return response;
    if (response.status >= 300 && response.status < 400) {
      await response.arrayBuffer().catch(() => undefined);
      throw new ConnectCallError('rejected', 'UNEXPECTED_REDIRECT', { status: response.status });
    }
    const retryAfter = retryAfterMs(response.headers.get('retry-after'));
    const details = { status: response.status, ...(retryAfter !== undefined ? { retryAfterMs: retryAfter } : {}) };
    if (isTransientStatus(response.status)) {
      // For a busy or failing service the status says more than any body (often a gateway's page).
      await response.arrayBuffer().catch(() => undefined);
      throw new ConnectCallError('transient', `HTTP_${response.status}`, details);
    }
    throw new ConnectCallError('rejected', await errorCodeOf(response), details);
  }
}

/** Keeps a network error's name and code only: undici's messages and causes carry no secrets today, but nothing here depends on that. */
function safeCause(cause: unknown): Error {
  const outer = typeof cause === 'object' && cause !== null ? (cause as { name?: unknown; cause?: { code?: unknown } }) : {};
  const code = typeof outer.cause?.code === 'string' ? outer.cause.code : undefined;
  return new Error(`${typeof outer.name === 'string' ? outer.name : 'Error'}${code ? ` ${code}` : ''}`);
}

// ---------------------------------------------------------------- the push

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

/** The worst state among products: what a run summary and the token page need at a glance. */
export function overallState(products: ProductSync[]): ProductSyncState {
  if (products.some((p) => p.state === 'failed')) return 'failed';
  if (products.some((p) => p.state === 'pending')) return 'pending';
  return 'ok';
}

export interface RetryCounts {
  /** Tokens whose pending products were pushed again. */
  retried: number;
  ok: number;
  pending: number;
  failed: number;
  /** Per marketplace, the overall state after the retry. */
  results: { marketplace: string; state: ProductSyncState }[];
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
  writeLimiter?: SlidingWindowLimiter;
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
    const fields = { marketplace: marketplace.id, parameter: this.parameter, version: token.version, trigger: ctx.trigger, runId: ctx.runId, correlationId: ctx.correlationId };

    const pushed: ProductSync[] = [];
    const api = await this.connectApi();
    if (api instanceof ConnectCallError) {
      // No usable key: refused (missing, bad URL) or, if the vault hiccuped, pending for the next run.
      for (const product of targets) pushed.push({ product, state: api.failureClass === 'rejected' ? 'failed' : 'pending', code: api.code });
    } else {
      const results = new Map<string, ProductSync>();
      await forEachBounded(targets, productConcurrency, () => true, async (product) => {
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
        this.o.logger.warn(JSON.stringify(clean({ event: events.connectSyncPending, ...fields, product: p.product, class: 'transient', code: p.code })));
      }
    }

    // Products not pushed now keep what the tag says (ok stays ok: that version has not changed).
    const previous = decodeConnectTag(token.tags.connect);
    const products = configured.map((product) => pushed.find((p) => p.product === product) ?? previous.get(product) ?? { product, state: 'pending' as const });
    const recorded = await this.record(token, products, fields);
    const counts = { ok: pushed.filter((p) => p.state === 'ok').length, pending: pushed.filter((p) => p.state === 'pending').length, failed: pushed.filter((p) => p.state === 'failed').length };
    this.o.logger[recorded ? 'info' : 'warn'](JSON.stringify(clean({ event: events.connectSyncCompleted, ...fields, ...counts, recorded })));
    return { marketplace: marketplace.id, version: token.version, products, pushed, recorded };
  }

  /**
   * The retry step of a rotation run: pushes again the pending products of tokens the run did
   * not rotate. Only `retry` products are pushed; `fail` ones wait for the next rotation (or a
   * manual POST /api/rotate) so a refused key does not hammer Connect every run.
   */
  async retryPending(config: MarketplaceConfig, tokens: StoredTokenInfo[], run: { runId: string; timeLeft: () => number; concurrency: number }): Promise<RetryCounts> {
    const counts: RetryCounts = { retried: 0, ok: 0, pending: 0, failed: 0, results: [] };
    const environment = this.o.settings.SERVICE_ENVIRONMENT;
    const due = tokens.filter((t) => t.tags.status !== 'needs-reauth' && [...decodeConnectTag(t.tags.connect).values()].some((p) => p.state === 'pending'));
    const margin = 2_000;
    await forEachBounded(due, run.concurrency, () => run.timeLeft() > margin, async (info) => {
      const entry = config.entries.get(info.marketplace.toUpperCase());
      if (!entry) return;
      const marketplace = forEnvironment(entry, environment);
      try {
        let token = await this.o.store.getToken(info.marketplace, environment);
        // A newer version has its own push (and its own tag): leave it to that.
        if (!token || token.version !== info.version) return;
        const pending = [...decodeConnectTag(token.tags.connect).values()].filter((p) => p.state === 'pending').map((p) => p.product);
        if (pending.length === 0) return;
        const outcome = await this.sync(marketplace, token, { trigger: 'retry', runId: run.runId, products: pending, timeLeft: run.timeLeft });
        if (!outcome) return;
        // A version written while we pushed (a sign-in elsewhere) may now be older in Connect
        // than in the vault: push the newest one too, so Connect ends with the latest.
        token = await this.o.store.getToken(info.marketplace, environment);
        if (token && token.version !== info.version) await this.sync(marketplace, token, { trigger: 'retry', runId: run.runId, timeLeft: run.timeLeft });
        const state = overallState(outcome.pushed);
        counts.retried++;
        counts[state]++;
        counts.results.push({ marketplace: info.marketplace, state });
      } catch (err) {
        // Store reads failing: nothing pushed, nothing changed; the next run tries again.
        this.o.logger.warn(JSON.stringify({ event: events.connectSyncPending, runId: run.runId, marketplace: info.marketplace, trigger: 'retry', class: 'store', code: ensureAppError(err).code }));
      }
    });
    return counts;
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
        return new ConnectApi({ baseUrl: this.o.settings.CONNECT_API_URL, apiKey: key, ...(this.o.timeoutMs ? { timeoutMs: this.o.timeoutMs } : {}), ...(this.o.fetch ? { fetch: this.o.fetch } : {}) });
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
    const attempts = this.o.attempts ?? 3;
    const sleep = this.o.sleep ?? realSleep;
    const maxWait = this.o.maxWaitMs ?? 5_000;
    for (let attempt = 1; ; attempt++) {
      try {
        await api.setConfiguration(product, this.parameter, marketplace, value);
        // Read back and compare before saying Connect holds it (as rotation does with the vault).
        const held = await api.readConfiguration(product, this.parameter, marketplace);
        if (held !== value) throw new ConnectCallError('transient', held === undefined ? 'READBACK_MISSING' : 'READBACK_MISMATCH');
        return { product, state: 'ok' };
      } catch (err) {
        const e = err instanceof ConnectCallError ? err : new ConnectCallError('transient', 'UNEXPECTED');
        if (e.failureClass === 'rejected') return { product, state: 'failed', code: e.code };
        if (attempt >= attempts) return { product, state: 'pending', code: e.code };
        const backoff = Math.min(4_000, 300 * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2);
        const wait = Math.max(backoff, e.details.retryAfterMs ?? 0);
        // A long Retry-After, or no time left: leave it to the next run rather than block.
        if (wait > maxWait || (ctx.timeLeft && wait >= ctx.timeLeft())) return { product, state: 'pending', code: e.code };
        await sleep(wait);
      }
    }
  }

  /** Writes the outcome into the version's tags (never a new version). */
  private async record(token: StoredToken, products: ProductSync[], fields: Record<string, string | undefined>): Promise<boolean> {
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
    const limiter = this.o.writeLimiter ?? keyVaultWrites;
    for (let attempt = 1; attempt <= 3; attempt++) {
      try {
        await limiter.acquire();
        await this.o.store.updateTokenTags(token, tags);
        token.tags = tags;
        return true;
      } catch (err) {
        const e = ensureAppError(err);
        if (e.details.transient === false || attempt === 3) {
          this.o.logger.warn(JSON.stringify(clean({ event: events.connectSyncNotRecorded, ...fields, code: e.code })));
          return false;
        }
        const retryAfter = typeof e.details.retryAfterMs === 'number' ? e.details.retryAfterMs : 0;
        await (this.o.sleep ?? realSleep)(Math.min(5_000, Math.max(500 * attempt, retryAfter)));
      }
    }
    return false;
  }
}

function clean(fields: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined));
}

/**
 * The push for this deployment, or undefined when it is off (CONNECT_API_KEY_SECRET_NAME
 * unset). One per invocation: the key is read from the vault once per push object, so an
 * operator's new key takes effect on the next invocation.
 */
export function connectPushFor(settings: Settings, store: SecretStore, logger: Logger, overrides: Partial<ConnectPushOptions> = {}): ConnectPush | undefined {
  const secretName = settings.CONNECT_API_KEY_SECRET_NAME;
  if (!secretName) return undefined;
  return new ConnectPush({ settings, store, logger, apiKey: () => store.getSecret(secretName), ...overrides });
}
