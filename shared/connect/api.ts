/**
 * The two calls the service makes on Connect's public API, on Node's fetch. The API key travels
 * in the Authorization header only. MUST: it never reaches a log line, an error message, a URL
 * or a tag; Connect's free-text `errors` are never copied anywhere either (a validation message
 * may echo the value sent, which is the refresh token).
 */
import { AppError } from '../errors';
import type { EventFields } from '../log';
import { isTransientStatus, parseRetryAfter } from '../retry';
import { connectCodePattern } from './tag';

/** A failed Connect call, classified. `connectCode` is safe to log: never a key, a token or Connect's free text. */
export class ConnectCallError extends AppError {
  override readonly name = 'ConnectCallError';
  constructor(
    readonly failureClass: 'transient' | 'rejected',
    /** Connect's `error_code`, or what went wrong: `HTTP_503`, `TIMEOUT`, `API_KEY_MISSING`, … */
    readonly connectCode: string,
    readonly status?: number,
    options: { cause?: unknown; retryAfterMs?: number } = {},
  ) {
    super('connect_call_failed', `Connect call failed: ${failureClass} ${connectCode}${status ? ` (HTTP ${status})` : ''}`, {
      ...(options.cause !== undefined ? { cause: options.cause } : {}),
      retry: { transient: failureClass === 'transient', ...(options.retryAfterMs !== undefined ? { retryAfterMs: options.retryAfterMs } : {}) },
    });
  }

  override diagnosis(): EventFields {
    return { ...super.diagnosis(), class: this.failureClass, errorCode: this.connectCode, status: this.status };
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

async function errorCodeOf(response: Response): Promise<string> {
  try {
    const body = (await response.json()) as { error_code?: unknown };
    if (typeof body.error_code === 'string' && connectCodePattern.test(body.error_code)) return body.error_code;
  } catch {
    // Not Connect's JSON error shape (a gateway page): the status says enough.
  }
  return `HTTP_${response.status}`;
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
  async setConfiguration(product: string, parameter: string, marketplace: string, value: string, timeLeftMs?: number): Promise<void> {
    const response = await this.send(
      'POST',
      product,
      undefined,
      JSON.stringify({ parameter: { id: parameter }, marketplace: { id: marketplace }, value }),
      timeLeftMs,
    );
    await response.arrayBuffer().catch(() => undefined);
  }

  /**
   * GET /products/{product}/configurations filtered to one parameter and marketplace (the
   * `parameter.id=…&marketplace.id=…` filter form Connect's SDKs send). Undefined when Connect
   * holds no value for it.
   */
  async readConfiguration(product: string, parameter: string, marketplace: string, timeLeftMs?: number): Promise<string | undefined> {
    const query = new URLSearchParams({ 'parameter.id': parameter, 'marketplace.id': marketplace, limit: '100' });
    const response = await this.send('GET', product, query, undefined, timeLeftMs);
    let list: unknown;
    try {
      list = await response.json();
    } catch (cause) {
      throw new ConnectCallError('transient', 'BAD_RESPONSE', response.status, { cause });
    }
    if (!Array.isArray(list)) throw new ConnectCallError('transient', 'BAD_RESPONSE', response.status);
    type Entry = { parameter?: { id?: unknown }; marketplace?: { id?: unknown } | null; item?: { id?: unknown } | null; value?: unknown };
    const matching = (list as Entry[]).filter((e) => e?.parameter?.id === parameter && e?.marketplace?.id === marketplace);
    // A marketplace-level value has no item; prefer it if Connect also lists item-level ones.
    const entry = matching.find((e) => !e.item?.id) ?? matching[0];
    return typeof entry?.value === 'string' ? entry.value : undefined;
  }

  /** `timeLeftMs`: the caller's remaining budget (a person waiting); no call outlives it, whatever the timeout. */
  private async send(method: 'GET' | 'POST', product: string, query?: URLSearchParams, body?: string, timeLeftMs?: number): Promise<Response> {
    if (timeLeftMs !== undefined && timeLeftMs <= 0) throw new ConnectCallError('transient', 'TIMEOUT');
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
        signal: AbortSignal.timeout(timeLeftMs === undefined ? this.timeoutMs : Math.min(this.timeoutMs, timeLeftMs)),
      });
    } catch (cause) {
      // Duck-typed: the DOMException may come from another realm (Jest's sandbox), where instanceof fails.
      const name = typeof cause === 'object' && cause !== null ? (cause as { name?: unknown }).name : undefined;
      const timedOut = name === 'TimeoutError' || name === 'AbortError';
      throw new ConnectCallError('transient', timedOut ? 'TIMEOUT' : 'NETWORK', undefined, { cause: safeCause(cause) });
    }
    if (response.ok) return response;
    if (response.status >= 300 && response.status < 400) {
      await response.arrayBuffer().catch(() => undefined);
      throw new ConnectCallError('rejected', 'UNEXPECTED_REDIRECT', response.status);
    }
    const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'));
    const options = retryAfterMs !== undefined ? { retryAfterMs } : {};
    if (isTransientStatus(response.status)) {
      // For a busy or failing service the status says more than any body (often a gateway's page).
      await response.arrayBuffer().catch(() => undefined);
      throw new ConnectCallError('transient', `HTTP_${response.status}`, response.status, options);
    }
    throw new ConnectCallError('rejected', await errorCodeOf(response), response.status, options);
  }
}

/** Keeps a network error's name and code only: undici's messages and causes carry no secrets today, but nothing here depends on that. */
function safeCause(cause: unknown): Error {
  const outer = typeof cause === 'object' && cause !== null ? (cause as { name?: unknown; cause?: { code?: unknown } }) : {};
  const code = typeof outer.cause?.code === 'string' ? outer.cause.code : undefined;
  return new Error(`${typeof outer.name === 'string' ? outer.name : 'Error'}${code ? ` ${code}` : ''}`);
}
