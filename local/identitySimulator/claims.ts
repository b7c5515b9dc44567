/**
 * What the simulator's tokens say, claim by claim, in the shapes Entra issues:
 * - v2 id tokens (no `amr`: Entra's v2 id tokens carry none);
 * - v1 access tokens for Partner Center (`ver` 1.0, issuer `https://sts.windows.net/{tid}/`, `amr`, `appid`,
 *   `upn`/`unique_name`, and for a guest `idp` plus `acct: 1`);
 * - v2 access tokens for every other resource;
 * - managed-identity tokens (what Entra issues to an Azure managed identity, used as a federated client assertion).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { base64url, pairwiseSubject } from './ids';
import type { SimulatedAccount } from './types';

export const ACCESS_TOKEN_SECONDS = 3599;
const ID_TOKEN_SECONDS = 3600;
/** App Service hands out managed-identity tokens for about a day. */
export const MANAGED_IDENTITY_TOKEN_SECONDS = 24 * 3600;

/** How the client proved itself: Entra's `appidacr` / `azpacr` (1 = secret, 2 = certificate or assertion). */
export type ClientAuthMethod = 'secret' | 'certificate' | 'federated';
const acrOfClient = (m: ClientAuthMethod) => (m === 'secret' ? '1' : '2');

/** The v1 issuer, which Partner Center's tokens carry whatever endpoint issued them. */
export function v1Issuer(tenant: string): string {
  return `https://sts.windows.net/${tenant}/`;
}

/** Opaque claims Entra uses internally (`aio`, `rh`, `uti`): random, so nobody can come to depend on their content. */
const opaque = (bytes: number) => base64url(randomBytes(bytes));

interface TokenContext {
  /** `iss` of v2 tokens: https://localhost:PORT/{tid}/v2.0 */
  issuer: string;
  tenant: string;
  account: SimulatedAccount;
  clientId: string;
  /** Real time in seconds: callers verify JWT times against their own clocks. */
  iat: number;
}

/** Claims only a guest's tokens carry: who authenticated them (their home tenant). */
function guestClaims(account: SimulatedAccount): Record<string, unknown> {
  return account.guest && account.homeTenant ? { idp: v1Issuer(account.homeTenant) } : {};
}

export function idTokenClaims(t: TokenContext, nonce: string | undefined): Record<string, unknown> {
  return {
    aud: t.clientId,
    iss: t.issuer,
    iat: t.iat,
    nbf: t.iat,
    exp: t.iat + ID_TOKEN_SECONDS,
    ...guestClaims(t.account),
    name: t.account.name,
    ...(nonce !== undefined ? { nonce } : {}),
    oid: t.account.oid,
    preferred_username: t.account.username,
    sub: pairwiseSubject(t.account.oid, t.clientId),
    tid: t.tenant,
    uti: base64url(randomUUID()),
    ver: '2.0',
  };
}

/** A v2 access token (Graph and any resource other than Partner Center). */
export function v2AccessTokenClaims(t: TokenContext, resource: string, scp: string, clientAuth: ClientAuthMethod): Record<string, unknown> {
  return {
    aud: resource,
    iss: t.issuer,
    iat: t.iat,
    nbf: t.iat,
    exp: t.iat + ACCESS_TOKEN_SECONDS,
    azp: t.clientId,
    azpacr: acrOfClient(clientAuth),
    ...guestClaims(t.account),
    name: t.account.name,
    oid: t.account.oid,
    preferred_username: t.account.username,
    scp,
    sub: pairwiseSubject(t.account.oid, t.clientId),
    tid: t.tenant,
    uti: base64url(randomUUID()),
    ver: '2.0',
  };
}

/** A v1 access token, as Entra issues them for Partner Center (its resource accepts v1 tokens only). */
export function v1AccessTokenClaims(
  t: TokenContext,
  resource: string,
  scp: string,
  amr: string[],
  clientAuth: ClientAuthMethod,
): Record<string, unknown> {
  const a = t.account;
  return {
    aud: resource,
    iss: v1Issuer(t.tenant),
    iat: t.iat,
    nbf: t.iat,
    exp: t.iat + ACCESS_TOKEN_SECONDS,
    // acct is Entra's optional "account status" claim: 0 member, 1 guest.
    acct: a.guest ? 1 : 0,
    acr: '1',
    aio: opaque(48),
    amr: [...amr],
    appid: t.clientId,
    appidacr: acrOfClient(clientAuth),
    ...(a.guest ? { email: a.username } : {}),
    family_name: a.familyName,
    given_name: a.givenName,
    ...guestClaims(a),
    ipaddr: '127.0.0.1',
    name: a.name,
    oid: a.oid,
    rh: opaque(24),
    scp,
    sub: pairwiseSubject(a.oid, resource),
    tenant_region_scope: 'EU',
    tid: t.tenant,
    unique_name: a.guest ? a.username : a.upn,
    // For a guest Entra puts the directory's #EXT# name here when the resource asks for it (upn's
    // include_externally_authenticated_upn property); the simulator always does, so the guest is recognizable.
    upn: a.upn,
    uti: base64url(randomUUID()),
    ver: '1.0',
  };
}

export interface ManagedIdentityTokenRequest {
  /** The identity's home tenant: the token's `tid` and issuer. */
  tenant: string;
  /** Object (principal) id of the identity: `oid` and `sub` (the subject a federated credential names). */
  principalId: string;
  /** Client (application) id of the identity: `azp`. */
  clientId: string;
  /** `aud`; `api://AzureADTokenExchange` when the token is a federated credential. */
  audience: string;
  /** Azure resource id of a user-assigned identity (`xms_mirid`), if known. */
  resourceId?: string;
}

/** A managed identity's access token, as Entra issues it (app-only: no `scp`, `idtyp` app). */
export function managedIdentityTokenClaims(
  issuer: string,
  r: ManagedIdentityTokenRequest,
  iat: number,
  lifetimeSeconds: number,
): Record<string, unknown> {
  return {
    aud: r.audience,
    iss: issuer,
    iat,
    nbf: iat,
    exp: iat + lifetimeSeconds,
    aio: opaque(48),
    azp: r.clientId,
    azpacr: '2',
    idtyp: 'app',
    oid: r.principalId,
    rh: opaque(24),
    sub: r.principalId,
    tid: r.tenant,
    uti: base64url(randomUUID()),
    ver: '2.0',
    ...(r.resourceId ? { xms_mirid: r.resourceId } : {}),
  };
}
