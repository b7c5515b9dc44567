/** Identifiers and opaque credentials (the users of each tenant live in accounts.ts). */
import { createHash, randomBytes } from 'node:crypto';

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Path segments Entra accepts in place of a tenant id for multi-tenant sign-in. */
export const MULTI_TENANT_ALIASES = new Set(['common', 'organizations']);

export function isGuid(value: string): boolean {
  return GUID.test(value);
}

/** A tenant path segment the simulator serves: a GUID, or `common` / `organizations`. */
export function isKnownTenantSegment(segment: string): boolean {
  return isGuid(segment) || MULTI_TENANT_ALIASES.has(segment.toLowerCase());
}

export function sha256Hex(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

export function base64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

/** A GUID derived from a seed, so the same tenant always has the same user (stable across restarts and tests). */
export function guidFrom(seed: string): string {
  const h = createHash('sha256').update(seed).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** Entra's `sub` is pairwise: the same user has a different subject per application. */
export function pairwiseSubject(oid: string, clientId: string): string {
  return createHash('sha256').update(`${oid}:${clientId.toLowerCase()}`).digest('base64url').slice(0, 43);
}

/**
 * Opaque credentials shaped like Entra's ("1.A…", long, URL-safe). The length matters: real refresh
 * tokens are well over a kilobyte, and callers store them (Key Vault values, tags, cookies).
 */
export function newRefreshToken(): string {
  return `1.AR${base64url(randomBytes(24))}.${base64url(randomBytes(700))}`;
}

export function newAuthorizationCode(): string {
  return `1.AR${base64url(randomBytes(24))}.${base64url(randomBytes(160))}`;
}

/** client_info as Entra sends it: base64url JSON {uid, utid}; msal builds home_account_id `uid.utid` from it. */
export function clientInfo(oid: string, tenant: string): string {
  return base64url(JSON.stringify({ uid: oid, utid: tenant }));
}
