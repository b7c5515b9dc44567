/**
 * POST /{tenant}/oauth2/v2.0/token: client authentication, the authorization_code grant (PKCE S256) and the
 * refresh_token grant, with Entra's error bodies. Refresh tokens rotate, but redeeming one does not revoke it
 * (as with Microsoft): the old token stays valid until 90 days without use.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { findClient, type SimulatorContext } from './context';
import { issuerFor } from './discovery';
import { entraErrors, errorBody, requestIds, type EntraError, type RequestIds } from './entraErrors';
import { readForm, sendJson } from './http';
import { accountFor, base64url, clientInfo, isGuid, pairwiseSubject } from './ids';
import { signJwt } from './signing';
import { DAY_MS, REFRESH_TOKEN_INACTIVITY_DAYS, type RefreshTokenRecord } from './state';
import type { SimulatedClient } from './types';

const ACCESS_TOKEN_SECONDS = 3599;
const OIDC_SCOPES = new Set(['openid', 'profile', 'offline_access', 'email']);
/** What Entra grants when only OpenID scopes are asked for. */
const DEFAULT_RESOURCE_SCOPE = 'https://graph.microsoft.com/User.Read';

type Outcome = { ok: true; body: Record<string, unknown> } | { ok: false; error: EntraError };

export async function handleToken(ctx: SimulatorContext, req: IncomingMessage, res: ServerResponse, url: URL, tenantSegment: string): Promise<void> {
  // msal-node sends its correlation id as a query parameter of the token URL; other clients use the header.
  const ids = requestIds(headerValue(req, 'client-request-id') ?? url.searchParams.get('client-request-id') ?? undefined);
  const form = await readForm(req);
  const grantType = form.get('grant_type');
  ctx.stats.tokenCall(grantType);

  if (ctx.faults.latencyMs > 0) await sleep(ctx.faults.latencyMs);
  const failure = ctx.faults.takeCallFailure();
  if (failure?.kind === 'network') {
    // No HTTP answer at all: the caller sees a reset connection, as with a network outage.
    req.socket.destroy();
    return;
  }
  if (failure) {
    return fail(ctx, res, ids, failure.status === 429 ? entraErrors.throttled(failure.retryAfterSeconds) : entraErrors.unavailable());
  }

  const client = authenticateClient(ctx, req, form, tenantSegment);
  if (!client.ok) return fail(ctx, res, ids, client.error);

  let outcome: Outcome;
  if (!grantType) outcome = { ok: false, error: entraErrors.missingParameter('grant_type') };
  else if (grantType === 'authorization_code') outcome = redeemCode(ctx, client.value, form, tenantSegment);
  else if (grantType === 'refresh_token') outcome = redeemRefreshToken(ctx, client.value, form, tenantSegment);
  else outcome = { ok: false, error: entraErrors.unsupportedGrantType(grantType) };

  if (!outcome.ok) return fail(ctx, res, ids, outcome.error);
  sendJson(res, 200, outcome.body, { 'x-ms-request-id': ids.traceId });
}

function fail(ctx: SimulatorContext, res: ServerResponse, ids: RequestIds, error: EntraError): void {
  ctx.stats.tokenError(error.error);
  sendJson(res, error.status, errorBody(error, ids, new Date()), { ...error.headers, 'x-ms-request-id': ids.traceId });
}

/** client_secret_post or client_secret_basic (RFC 6749 §2.3.1), then the invalidClient fault. */
function authenticateClient(
  ctx: SimulatorContext,
  req: IncomingMessage,
  form: URLSearchParams,
  tenantSegment: string,
): { ok: true; value: SimulatedClient } | { ok: false; error: EntraError } {
  const basic = parseBasicAuth(headerValue(req, 'authorization'));
  const bodyId = form.get('client_id');
  if (basic && bodyId && basic.id !== bodyId) return { ok: false, error: entraErrors.badRequest('The client_id in the body does not match the client in the Authorization header.') };
  const clientId = bodyId ?? basic?.id;
  if (!clientId) return { ok: false, error: entraErrors.missingParameter('client_id') };
  const client = findClient(ctx, clientId);
  if (!client) return { ok: false, error: entraErrors.unknownClient(clientId, tenantSegment) };
  const reason = ctx.faults.invalidClientReason(client.clientId);
  if (reason === 'expiredSecret') return { ok: false, error: entraErrors.expiredClientSecret(client.clientId) };
  if (reason === 'invalidSecret') return { ok: false, error: entraErrors.invalidClientSecret(client.clientId) };
  const secret = form.get('client_secret') ?? basic?.secret;
  if (!secret) return { ok: false, error: entraErrors.missingClientSecret() };
  if (!sameSecret(secret, client.clientSecret)) return { ok: false, error: entraErrors.invalidClientSecret(client.clientId) };
  return { ok: true, value: client };
}

function redeemCode(ctx: SimulatorContext, client: SimulatedClient, form: URLSearchParams, tenantSegment: string): Outcome {
  const code = form.get('code');
  if (!code) return { ok: false, error: entraErrors.missingParameter('code') };
  const rec = ctx.state.findCode(code);
  if (!rec || !sameId(rec.clientId, client.clientId)) return { ok: false, error: entraErrors.codeInvalid() };
  if (isGuid(tenantSegment) && tenantSegment.toLowerCase() !== rec.signInTenant) return { ok: false, error: entraErrors.codeOfOtherTenant() };
  if (rec.redeemed) return { ok: false, error: entraErrors.codeRedeemed() };
  if (ctx.state.clock.now() > rec.expiresAt) return { ok: false, error: entraErrors.codeExpired() };
  const redirectUri = form.get('redirect_uri');
  if (!redirectUri) return { ok: false, error: entraErrors.missingParameter('redirect_uri') };
  if (redirectUri !== rec.redirectUri) return { ok: false, error: entraErrors.redirectUriMismatch(redirectUri, rec.redirectUri) };
  const verifier = form.get('code_verifier') ?? '';
  // MUST compare BASE64URL(SHA256(verifier)) with the challenge bound to the code (RFC 7636 §4.6).
  if (base64url(createHash('sha256').update(verifier).digest()) !== rec.codeChallenge) return { ok: false, error: entraErrors.pkceMismatch() };

  // One use only, whatever happens next.
  rec.redeemed = true;
  return {
    ok: true,
    body: issueTokens(ctx, client, {
      tenant: rec.tokenTenant,
      grantedScope: rec.scope,
      responseScope: rec.scope,
      ...(rec.nonce !== undefined ? { nonce: rec.nonce } : {}),
      clientInfoRequested: form.get('client_info') === '1',
    }),
  };
}

function redeemRefreshToken(ctx: SimulatorContext, client: SimulatedClient, form: URLSearchParams, tenantSegment: string): Outcome {
  const token = form.get('refresh_token');
  if (!token) return { ok: false, error: entraErrors.missingParameter('refresh_token') };
  const rec = ctx.state.findRefreshToken(token);
  if (!rec) return { ok: false, error: entraErrors.malformedGrant() };
  if (!sameId(rec.clientId, client.clientId)) return { ok: false, error: entraErrors.grantOfOtherClient() };
  if (isGuid(tenantSegment) && tenantSegment.toLowerCase() !== rec.tenant) return { ok: false, error: entraErrors.malformedGrant() };

  const refused = refusal(ctx, client, token, rec);
  if (refused) return { ok: false, error: refused };

  rec.lastUsedAt = ctx.state.clock.now();
  ctx.state.changed();
  return {
    ok: true,
    body: issueTokens(ctx, client, {
      tenant: rec.tenant,
      grantedScope: rec.scope,
      responseScope: form.get('scope') ?? rec.scope,
      clientInfoRequested: form.get('client_info') === '1',
    }),
  };
}

/** Why Entra would refuse this refresh token now, in the order it checks: token life, policies, consent. */
function refusal(ctx: SimulatorContext, client: SimulatedClient, token: string, rec: RefreshTokenRecord): EntraError | undefined {
  const now = ctx.state.clock.now();
  if (rec.revokedAt !== undefined) return entraErrors.grantRevoked(rec.issuedAt, rec.revokedAt);
  if (rec.expired || now - rec.lastUsedAt > REFRESH_TOKEN_INACTIVITY_DAYS * DAY_MS) {
    rec.expired = true;
    ctx.state.changed();
    return entraErrors.refreshTokenExpired(rec.issuedAt, REFRESH_TOKEN_INACTIVITY_DAYS);
  }
  switch (ctx.faults.policyFor(token, rec)) {
    case 'signInFrequency':
      return entraErrors.signInFrequency(rec.issuedAt);
    case 'mfaRequired':
      return entraErrors.mfaRequired(resourceOf(resourceScopes(rec.scope)));
    case 'conditionalAccessBlocked':
      return entraErrors.conditionalAccessBlocked();
    case undefined:
      break;
  }
  if (ctx.faults.consentRequiredFor(rec) || (client.multiTenant && !ctx.state.hasConsent(client.clientId, rec.tenant))) {
    return entraErrors.consentRequired(client.clientId);
  }
  return undefined;
}

interface Grant {
  /** The tenant of the tokens; the user is that tenant's simulated administrator. */
  tenant: string;
  /** What the user agreed to (decides id_token and refresh_token). */
  grantedScope: string;
  /** What this request asked for (decides the access token's audience and `scope`). */
  responseScope: string;
  nonce?: string;
  clientInfoRequested: boolean;
}

/** The token response Entra v2 sends: access token, rotated refresh token, id token, client_info. */
function issueTokens(ctx: SimulatorContext, client: SimulatedClient, g: Grant): Record<string, unknown> {
  const granted = new Set(g.grantedScope.split(' ').filter(Boolean));
  const scopes = resourceScopes(g.responseScope).length ? resourceScopes(g.responseScope) : resourceScopes(g.grantedScope);
  const effective = scopes.length ? scopes : [DEFAULT_RESOURCE_SCOPE];
  const resource = resourceOf(effective);
  const account = accountFor(g.tenant);
  const iat = Math.floor(Date.now() / 1000); // JWT times are real time: callers verify them against their own clock.
  const common = {
    iss: issuerFor(ctx.baseUrl, g.tenant),
    iat,
    nbf: iat,
    name: account.name,
    oid: account.oid,
    preferred_username: account.username,
    sub: pairwiseSubject(account.oid, client.clientId),
    tid: g.tenant,
    uti: base64url(randomUUID()),
    ver: '2.0',
  };
  const body: Record<string, unknown> = {
    token_type: 'Bearer',
    scope: effective.join(' '),
    expires_in: ACCESS_TOKEN_SECONDS,
    ext_expires_in: ACCESS_TOKEN_SECONDS,
    access_token: signJwt(ctx.state.signingKey, {
      ...common,
      aud: resource,
      exp: iat + ACCESS_TOKEN_SECONDS,
      azp: client.clientId,
      azpacr: '1',
      scp: effective.map((s) => s.slice(s.lastIndexOf('/') + 1)).join(' '),
    }),
  };
  if (granted.has('offline_access')) {
    body.refresh_token = ctx.state.issueRefreshToken({ clientId: client.clientId, tenant: g.tenant, oid: account.oid, scope: g.grantedScope });
    ctx.stats.refreshTokenIssued();
  }
  if (granted.has('openid')) {
    body.id_token = signJwt(ctx.state.signingKey, { ...common, aud: client.clientId, exp: iat + 3600, ...(g.nonce !== undefined ? { nonce: g.nonce } : {}) });
  }
  if (g.clientInfoRequested) body.client_info = clientInfo(account.oid, g.tenant);
  return body;
}

function resourceScopes(scope: string): string[] {
  return scope.split(' ').filter((s) => s && !OIDC_SCOPES.has(s));
}

/** The audience of an access token: the resource part of its scopes (https://api.partnercenter.microsoft.com/user_impersonation → https://api.partnercenter.microsoft.com). */
function resourceOf(scopes: string[]): string {
  const first = scopes[0] ?? DEFAULT_RESOURCE_SCOPE;
  const slash = first.lastIndexOf('/');
  return slash > 'https://'.length ? first.slice(0, slash) : 'https://graph.microsoft.com';
}

function parseBasicAuth(header: string | undefined): { id: string; secret: string } | undefined {
  const m = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(header ?? '');
  if (!m) return undefined;
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  try {
    // RFC 6749 §2.3.1: both parts are form-urlencoded before base64.
    const unform = (s: string) => decodeURIComponent(s.replace(/\+/g, ' '));
    return { id: unform(decoded.slice(0, colon)), secret: unform(decoded.slice(colon + 1)) };
  } catch {
    return undefined;
  }
}

/** Constant-time comparison, so the simulator does not model a timing oracle the service could come to rely on. */
function sameSecret(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

function sameId(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

function headerValue(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}
