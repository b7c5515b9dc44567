/** Every stored token's health for the status page, from the vault's listing alone (no secret is read). */
import { productHealth, type ProductHealth } from '../connect/tag';
import { dayMs } from '../identity/lifetime';
import type { ListedToken } from '../secrets/store';
import { versionList } from '../secrets/tags';
import { signerFromTag } from '../signIn/signer';
import type { TokenRecord } from '../storage/tokenRecords';

/** One row of the status page. */
export interface TokenHealth {
  marketplace: string;
  model: string;
  /** The token's `status` tag; `needs-attention` for a secret the service cannot use; `not-configured` when no usable entry names its marketplace. */
  status: string;
  tenant: string;
  issuedAt: string;
  rotatedAt?: string;
  /** When Partner Center last accepted the current version (absent while the latest is pending). */
  verifiedAt?: string;
  /** The partner organization Partner Center named. */
  partner?: string;
  /** Who generated the token. */
  signer?: { objectId: string; userName: string };
  /** Versions the service keeps enabled: the current one, its fallback, and any it could not disable yet. */
  enabledVersions: number;
  expiresAt?: string;
  daysLeft?: number;
  lastError?: string;
  lastErrorAt?: string;
  /** Why and since when rotation stopped trying this token: a person must sign in again. */
  parked?: { reason: string; since: string };
  /** Refusals in a row that are not final yet (rotation tries again before it parks the token). */
  refusals?: { count: number; reason: string; since: string };
  /** Per configured Connect product: whether Connect holds this (the latest) version. Only when the push is on. */
  connect?: ProductHealth[];
}

/** Tokens that need a person first (a dead token, or a secret the service cannot use), then Connect refusals, then fewest days left. */
function urgency(h: TokenHealth): number {
  return h.status === 'needs-attention' || h.status === 'needs-reauth' || h.status === 'not-configured'
    ? 0
    : h.status === 'connect-sync-failed'
      ? 1
      : 2;
}

export function sortByUrgency(rows: TokenHealth[]): TokenHealth[] {
  return [...rows].sort(
    (a, b) => urgency(a) - urgency(b) || (a.daysLeft ?? Infinity) - (b.daysLeft ?? Infinity) || a.marketplace.localeCompare(b.marketplace),
  );
}

export function healthOf(t: ListedToken, now: number, products: string[], record?: TokenRecord): TokenHealth {
  const signer = signerFromTag(t.tags.signer);
  const h: TokenHealth = {
    marketplace: t.marketplace,
    model: t.tags.model,
    status: t.tags.status,
    tenant: t.tags.tenant,
    issuedAt: t.tags.issuedAt,
    enabledVersions: 1 + versionList(t.tags.fallback, t.tags.retire).length,
  };
  if (t.tags.rotatedAt) h.rotatedAt = t.tags.rotatedAt;
  if (t.tags.verifiedAt) h.verifiedAt = t.tags.verifiedAt;
  if (t.tags.partner) h.partner = t.tags.partner;
  if (signer) h.signer = signer;
  // What rotation keeps about the token describes its latest version only while that is parked or pending.
  if (record?.parked && t.tags.status === 'needs-reauth') h.parked = { reason: record.parked.reason, since: record.parked.since };
  if (record?.refusals && t.tags.status !== 'needs-reauth') h.refusals = record.refusals;
  if (t.expiresOn) {
    h.expiresAt = t.expiresOn.toISOString();
    h.daysLeft = Math.floor((t.expiresOn.getTime() - now) / dayMs);
  }
  if (t.tags.lastError) h.lastError = t.tags.lastError;
  if (t.tags.lastErrorAt) h.lastErrorAt = t.tags.lastErrorAt;
  if (products.length > 0) h.connect = productHealth(t.tags.connect, products);
  return h;
}
