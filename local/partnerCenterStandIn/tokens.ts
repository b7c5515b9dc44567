/**
 * How Partner Center checks the bearer token of an App+User call: an RS256 JWT signed with a key of the
 * identity provider's JWKS (the identity simulator's, passed in or fetched over HTTPS), a v1 token for
 * Partner Center's resource, issued by `https://sts.windows.net/{tid}/`, within its lifetime (with clock
 * skew), on behalf of a user (`scp` user_impersonation). Whether the sign-in used MFA and whether the user
 * has a role are decided after this (index.ts), because a valid token is needed to know either.
 */
import { createPublicKey, verify, type JsonWebKey, type KeyObject } from 'node:crypto';

/** Partner Center's resource: its App ID URI, and its application id (Entra names either as the audience). */
export const PARTNER_CENTER_AUDIENCES = ['https://api.partnercenter.microsoft.com', 'fa3d9a0c-3fb0-42cc-9193-47c7ecd2edbd'];

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export type TokenCheck =
  | { ok: true; claims: Record<string, unknown>; tenantId: string; objectId: string }
  | { ok: false; missing: true }
  | { ok: false; missing?: false; reason: string; keysUnavailable?: boolean };

/** The signing keys: a JWKS given at start, or fetched from a URL (again when a token names an unknown key). */
export class SigningKeys {
  private keys = new Map<string, KeyObject>();
  private fetchedAt = 0;
  /** The fetch under way: concurrent first calls wait for it instead of finding no key. */
  private fetching: Promise<void> | undefined;

  constructor(private readonly source: { keys?: { keys: JsonWebKey[] }; jwksUrl?: string }) {
    if (source.keys) this.load(source.keys);
    if (!source.keys && !source.jwksUrl)
      throw new Error("The Partner Center stand-in needs the identity provider's keys: pass `keys` (a JWKS) or `jwksUrl`.");
  }

  /** The key for `kid`; with a URL, fetched at most once per second when unknown (key rotation, or first use). */
  async keyFor(kid: string): Promise<KeyObject | undefined> {
    const known = this.keys.get(kid);
    const url = this.source.jwksUrl;
    if (known || !url) return known;
    if (this.fetching) await this.fetching;
    else if (Date.now() - this.fetchedAt >= 1000) {
      this.fetchedAt = Date.now();
      this.fetching = (async () => {
        const res = await fetch(url);
        if (!res.ok) throw new Error(`JWKS ${url} answered ${res.status}`);
        this.load((await res.json()) as { keys: JsonWebKey[] });
      })().finally(() => {
        this.fetching = undefined;
      });
      await this.fetching;
    }
    return this.keys.get(kid);
  }

  private load(jwks: { keys: JsonWebKey[] }): void {
    const next = new Map<string, KeyObject>();
    for (const jwk of jwks.keys ?? []) {
      if (jwk.kty !== 'RSA' || typeof jwk.kid !== 'string') continue;
      next.set(jwk.kid, createPublicKey({ key: { kty: 'RSA', n: jwk.n, e: jwk.e }, format: 'jwk' }));
    }
    this.keys = next;
  }
}

/** Checks the Authorization header of a call as Partner Center does; never throws for a bad token. */
export async function checkBearer(authorization: string | undefined, keys: SigningKeys, nowMs: number, skewSeconds: number): Promise<TokenCheck> {
  const m = /^Bearer\s+(\S+)$/i.exec(authorization ?? '');
  if (!m) return { ok: false, missing: true };
  const parts = m[1]!.split('.');
  if (parts.length !== 3) return refuse('the token is not a JWT');
  let header: Record<string, unknown>;
  let claims: Record<string, unknown>;
  try {
    header = JSON.parse(Buffer.from(parts[0]!, 'base64url').toString('utf8')) as Record<string, unknown>;
    claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
  } catch {
    return refuse('the token is not a JWT');
  }
  if (header.alg !== 'RS256' || typeof header.kid !== 'string') return refuse('the token is not signed with RS256 and a key id');
  let key: KeyObject | undefined;
  try {
    key = await keys.keyFor(header.kid);
  } catch (err) {
    return {
      ok: false,
      reason: `the signing keys could not be fetched (${err instanceof Error ? err.message : String(err)})`,
      keysUnavailable: true,
    };
  }
  // MUST verify the signature before believing any claim.
  if (!key || !verify('sha256', Buffer.from(`${parts[0]}.${parts[1]}`), key, Buffer.from(parts[2]!, 'base64url')))
    return refuse('the token signature is invalid');

  if (claims.ver !== '1.0') return refuse(`the token version ${String(claims.ver)} is not accepted (Partner Center takes v1.0 tokens)`);
  if (typeof claims.aud !== 'string' || !PARTNER_CENTER_AUDIENCES.includes(claims.aud)) return refuse('the token is for another audience');
  const tid = typeof claims.tid === 'string' ? claims.tid.toLowerCase() : '';
  if (!GUID.test(tid) || claims.iss !== `https://sts.windows.net/${tid}/`) return refuse('the token issuer is not trusted');
  const now = nowMs / 1000;
  if (typeof claims.exp !== 'number' || now > claims.exp + skewSeconds) return refuse('the token is expired');
  if (typeof claims.nbf === 'number' && now < claims.nbf - skewSeconds) return refuse('the token is not yet valid');
  // profiles/organization takes App+User tokens only: a delegated scope and a user.
  const scp = typeof claims.scp === 'string' ? claims.scp.split(' ') : [];
  if (!scp.includes('user_impersonation') || typeof claims.oid !== 'string')
    return refuse('App+User authentication is required (the token has no user_impersonation scope)');
  return { ok: true, claims, tenantId: tid, objectId: claims.oid.toLowerCase() };
}

/** The tenant a token names, unverified: only to match tenant-specific faults before the token is checked. */
export function unverifiedTenant(authorization: string | undefined): string | undefined {
  const m = /^Bearer\s+([^.\s]+)\.([^.\s]+)\./i.exec(authorization ?? '');
  if (!m) return undefined;
  try {
    const tid = (JSON.parse(Buffer.from(m[2]!, 'base64url').toString('utf8')) as { tid?: unknown }).tid;
    return typeof tid === 'string' && GUID.test(tid) ? tid.toLowerCase() : undefined;
  } catch {
    return undefined;
  }
}

function refuse(reason: string): TokenCheck {
  return { ok: false, reason };
}
