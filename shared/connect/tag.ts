/**
 * Per product, whether Connect holds a token version, recorded in the `connect` tag of that very
 * Key Vault version: encoding, decoding, and what the status page shows.
 */
import { secretLimits } from '../secrets/limits';

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
const tagMax = secretLimits.maxTagValueLength;
const productPrefix = 'PRD-';
const productPattern = /^PRD-[0-9]{3}-[0-9]{3}-[0-9]{3}$/;
export const connectCodePattern = /^[A-Za-z0-9_.-]{1,40}$/;

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
      out.set(product, { product, state, ...(state === 'failed' && code && connectCodePattern.test(code) ? { code } : {}) });
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

/** The worst state among products: what a run summary and the token page need at a glance. */
export function overallState(products: ProductSync[]): ProductSyncState {
  if (products.some((p) => p.state === 'failed')) return 'failed';
  if (products.some((p) => p.state === 'pending')) return 'pending';
  return 'ok';
}
