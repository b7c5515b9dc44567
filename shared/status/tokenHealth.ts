/** Every stored token's health for the status page: status, days left, last error, Connect. */
import { productHealth, type ProductHealth } from '../connect/tag';
import { dayMs } from '../identity/lifetime';
import type { SecretStore } from '../secrets/store';
import type { Settings } from '../settings';

/** One row of the status page. */
export interface TokenHealth {
  marketplace: string;
  model: string;
  status: string;
  tenant: string;
  issuedAt: string;
  rotatedAt?: string;
  expiresAt?: string;
  daysLeft?: number;
  lastError?: string;
  lastErrorAt?: string;
  /** Per configured Connect product: whether Connect holds this (the latest) version. Only when the push is on. */
  connect?: ProductHealth[];
}

/**
 * Every token of the environment, fewest days left first. `connectProducts` (given when the
 * Connect push is on) names each marketplace's configured products.
 */
export async function tokenHealth(
  store: SecretStore,
  environment: Settings['SERVICE_ENVIRONMENT'],
  now = Date.now(),
  connectProducts?: (marketplace: string) => string[],
): Promise<TokenHealth[]> {
  const tokens = await store.listTokens(environment);
  return tokens
    .map((t) => {
      const h: TokenHealth = { marketplace: t.marketplace, model: t.tags.model, status: t.tags.status, tenant: t.tags.tenant, issuedAt: t.tags.issuedAt };
      if (t.tags.rotatedAt) h.rotatedAt = t.tags.rotatedAt;
      if (t.expiresOn) {
        h.expiresAt = t.expiresOn.toISOString();
        h.daysLeft = Math.floor((t.expiresOn.getTime() - now) / dayMs);
      }
      if (t.tags.lastError) h.lastError = t.tags.lastError;
      if (t.tags.lastErrorAt) h.lastErrorAt = t.tags.lastErrorAt;
      const products = connectProducts?.(t.marketplace) ?? [];
      if (products.length > 0) h.connect = productHealth(t.tags.connect, products);
      return h;
    })
    .sort((a, b) => (a.daysLeft ?? Infinity) - (b.daysLeft ?? Infinity) || a.marketplace.localeCompare(b.marketplace));
}
