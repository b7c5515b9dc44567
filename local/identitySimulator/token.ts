/**
 * POST /{tenant}/oauth2/v2.0/token: client authentication (secret, certificate or federated assertion), the
 * authorization_code grant (PKCE S256) and the refresh_token grant, with Entra's error bodies. Refresh tokens
 * rotate, but redeeming one does not revoke it (as with Microsoft): the old value stays valid until its own
 * 90 days have passed, and redeeming it again neither resets that clock nor extends the newer value's.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createHash, timingSafeEqual } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { amrOf, accountFor } from './accounts';
import { ACCESS_TOKEN_SECONDS, idTokenClaims, v1AccessTokenClaims, v2AccessTokenClaims, type ClientAuthMethod } from './claims';
import { assertionSubject, assertionThumbprint, isCertificateAssertion, verifyClientAssertion } from './clientAssertion';
import { consentCoversRequest, findClient, type SimulatorContext } from './context';
import { issuerFor } from './discovery';
import { entraErrors, errorBody, JWT_BEARER, requestIds, type EntraError, type RequestIds } from './entraErrors';
import { readForm, sendJson } from './http';
import { base64url, clientInfo, isGuid } from './ids';
import { DEFAULT_RESOURCE_SCOPE, PARTNER_CENTER_RESOURCE, resourceOf, resourceScopes } from './scopes';
import { audiences, decodeJwt, stringClaim } from './jwt';
import { signJwt } from './signing';
import { DAY_MS, REFRESH_TOKEN_INACTIVITY_DAYS, type RefreshTokenRecord } from './state';
import type { AccountKind, SimulatedClient } from './types';

type Outcome = { ok: true; body: Record<string, unknown> } | { ok: false; error: EntraError };
/** An authenticated client and how it proved itself (Entra's appidacr / azpacr). */
interface AuthenticatedClient {
  client: SimulatedClient;
  method: ClientAuthMethod;
}

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

  // A tenant id no directory has: Entra cannot even look the app up (AADSTS90002).
  if (isGuid(tenantSegment) && ctx.faults.isTenantMissing(tenantSegment)) return fail(ctx, res, ids, entraErrors.invalidTenant(tenantSegment));

  const client = authenticateClient(ctx, req, form, url);
  if (!client.ok) return fail(ctx, res, ids, client.error);
  ctx.stats.clientAuthenticated(client.value.method);

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

/**
 * client_secret_post, client_secret_basic (RFC 6749 §2.3.1) or a jwt-bearer client assertion (RFC 7523 §2.2),
 * after the invalidClient fault. Exactly one credential per request.
 */
function authenticateClient(
  ctx: SimulatorContext,
  req: IncomingMessage,
  form: URLSearchParams,
  url: URL,
): { ok: true; value: AuthenticatedClient } | { ok: false; error: EntraError } {
  const tenantSegment = decodeURIComponent(url.pathname.split('/')[1] ?? '');
  const basic = parseBasicAuth(headerValue(req, 'authorization'));
  const bodyId = form.get('client_id');
  if (basic && bodyId && basic.id !== bodyId)
    return { ok: false, error: entraErrors.badRequest('The client_id in the body does not match the client in the Authorization header.') };
  const clientId = bodyId ?? basic?.id;
  if (!clientId) return { ok: false, error: entraErrors.missingParameter('client_id') };
  const client = findClient(ctx, clientId);
  if (!client) return { ok: false, error: entraErrors.unknownClient(clientId, tenantSegment) };

  const secret = form.get('client_secret') ?? basic?.secret;
  const assertion = form.get('client_assertion');
  const assertionType = form.get('client_assertion_type');
  const reason = ctx.faults.invalidClientReason(client.clientId);
  if (reason === 'expiredSecret') return { ok: false, error: entraErrors.expiredClientSecret(client.clientId) };
  if (reason === 'invalidSecret') return { ok: false, error: entraErrors.invalidClientSecret(client.clientId) };
  if (reason === 'noMatchingFederatedCredential')
    return { ok: false, error: entraErrors.noFederatedCredentialForSubject(assertionSubject(assertion)) };
  if (reason === 'certificateExpired')
    return { ok: false, error: entraErrors.certificateExpired(assertionThumbprint(assertion), Date.now() - 365 * DAY_MS, Date.now() - DAY_MS) };

  if (assertion !== null || assertionType !== null) {
    if (secret)
      return { ok: false, error: entraErrors.badRequest('Invalid request. A request may carry a client_secret or a client_assertion, not both.') };
    if (assertionType !== JWT_BEARER) return { ok: false, error: entraErrors.assertionTypeUnsupported(assertionType ?? '') };
    if (!assertion) return { ok: false, error: entraErrors.missingParameter('client_assertion') };
    // A federated credential added moments ago is not yet known everywhere: Entra answers 70021 for a while.
    if (!isCertificateAssertion(assertion) && ctx.faults.takeFederatedPropagation(client.clientId)) {
      const claims = decodeJwt(assertion)?.payload ?? {};
      return {
        ok: false,
        error: entraErrors.noFederatedCredential(stringClaim(claims, 'iss') ?? '', stringClaim(claims, 'sub') ?? '', audiences(claims).join(', ')),
      };
    }
    const endpoint = `${ctx.baseUrl}${url.pathname}`;
    const checked = verifyClientAssertion(client, assertion, {
      baseUrl: ctx.baseUrl,
      signingKey: ctx.state.signingKey,
      tokenEndpoints: [endpoint, endpoint.replace(/\/oauth2\/v2\.0\/token$/, '/oauth2/token')],
      now: Date.now(),
    });
    return checked.ok ? { ok: true, value: { client, method: checked.method } } : checked;
  }
  if (!secret) return { ok: false, error: entraErrors.missingClientSecret() };
  if (client.clientSecret === undefined || !sameSecret(secret, client.clientSecret))
    return { ok: false, error: entraErrors.invalidClientSecret(client.clientId) };
  return { ok: true, value: { client, method: 'secret' } };
}

function redeemCode(ctx: SimulatorContext, auth: AuthenticatedClient, form: URLSearchParams, tenantSegment: string): Outcome {
  const { client } = auth;
  const code = form.get('code');
  if (!code) return { ok: false, error: entraErrors.missingParameter('code') };
  const rec = ctx.state.findCode(code);
  if (!rec || !sameId(rec.clientId, client.clientId)) return { ok: false, error: entraErrors.codeInvalid() };
  if (isGuid(tenantSegment) && tenantSegment.toLowerCase() !== rec.signInTenant) return { ok: false, error: entraErrors.codeOfOtherTenant() };
  if (ctx.faults.isAppRemoved(client.clientId, rec.signInTenant))
    return { ok: false, error: entraErrors.unknownClient(client.clientId, rec.signInTenant) };
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
    body: issueTokens(ctx, auth, {
      tenant: rec.tokenTenant,
      grantedScope: rec.scope,
      responseScope: rec.scope,
      ...(rec.nonce !== undefined ? { nonce: rec.nonce } : {}),
      clientInfoRequested: form.get('client_info') === '1',
      account: rec.account,
      amr: rec.amr,
    }),
  };
}

function redeemRefreshToken(ctx: SimulatorContext, auth: AuthenticatedClient, form: URLSearchParams, tenantSegment: string): Outcome {
  const { client } = auth;
  const token = form.get('refresh_token');
  if (!token) return { ok: false, error: entraErrors.missingParameter('refresh_token') };
  const rec = ctx.state.findRefreshToken(token);
  if (!rec) return { ok: false, error: entraErrors.malformedGrant() };
  if (!sameId(rec.clientId, client.clientId)) return { ok: false, error: entraErrors.grantOfOtherClient() };
  if (isGuid(tenantSegment) && tenantSegment.toLowerCase() !== rec.tenant) {
    // A token redeemed at another tenant's endpoint (a mistyped or wrong tenant id). A multi-tenant app
    // that tenant never consented to has no service principal there: AADSTS700016 first (assumption,
    // docs/STAND-INS.md); otherwise AADSTS7000012, as users report Entra answers.
    const other = tenantSegment.toLowerCase();
    if (client.multiTenant && !ctx.state.consentedTenantsOf(client.clientId).includes(other))
      return { ok: false, error: entraErrors.unknownClient(client.clientId, other) };
    return { ok: false, error: entraErrors.grantOfOtherTenant() };
  }

  const requestedScope = form.get('scope') ?? rec.scope;
  const refused = refusal(ctx, client, token, rec, requestedScope);
  if (refused) return { ok: false, error: refused };

  // Information only: the value's 90 days count from its issue (see state.ts).
  rec.lastUsedAt = ctx.state.clock.now();
  ctx.state.changed();
  return {
    ok: true,
    body: issueTokens(ctx, auth, {
      tenant: rec.tenant,
      grantedScope: rec.scope,
      responseScope: requestedScope,
      clientInfoRequested: form.get('client_info') === '1',
      // The MFA claim lives in the session the refresh token carries: a refreshed token keeps the sign-in's amr.
      account: rec.account ?? 'adminAgent',
      amr: rec.amr ?? amrOf(false),
    }),
  };
}

/** Why Entra would refuse this refresh token now, in the order it checks: the app in the tenant, token life, policies, consent. */
function refusal(
  ctx: SimulatorContext,
  client: SimulatedClient,
  token: string,
  rec: RefreshTokenRecord,
  requestedScope: string,
): EntraError | undefined {
  const now = ctx.state.clock.now();
  if (ctx.faults.isAppRemoved(client.clientId, rec.tenant)) return entraErrors.unknownClient(client.clientId, rec.tenant);
  if (rec.revokedAt !== undefined) return entraErrors.grantRevoked(rec.issuedAt, rec.revokedAt);
  // MUST count from the value's own issue: a reused old value must not look fresh (see state.ts).
  if (rec.expired || now - rec.issuedAt > REFRESH_TOKEN_INACTIVITY_DAYS * DAY_MS) {
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
    case 'invalidScope':
      return entraErrors.invalidScope(requestedScope);
    case 'resourceNotFound':
      return entraErrors.resourceNotFound(resourceOf(resourceScopes(requestedScope)), rec.tenant);
    case 'accessDenied':
      return entraErrors.accessDenied(client.clientId, accountFor(rec.tenant, rec.account).upn);
    case undefined:
      break;
  }
  if (ctx.faults.consentRequiredFor(rec) || (client.multiTenant && !consentCoversRequest(ctx, client, rec.tenant, requestedScope, rec.oid))) {
    return entraErrors.consentRequired(client.clientId);
  }
  return undefined;
}

interface Grant {
  /** The tenant of the tokens. */
  tenant: string;
  /** What the user agreed to (decides id_token and refresh_token). */
  grantedScope: string;
  /** What this request asked for (decides the access token's audience and `scope`). */
  responseScope: string;
  nonce?: string;
  clientInfoRequested: boolean;
  /** Who signed in, and how (amr), for this grant and every refresh of it. */
  account: AccountKind;
  amr: string[];
}

/** The token response Entra v2 sends: access token (v1-shaped for Partner Center), rotated refresh token, id token, client_info. */
function issueTokens(ctx: SimulatorContext, auth: AuthenticatedClient, g: Grant): Record<string, unknown> {
  const { client } = auth;
  const granted = new Set(g.grantedScope.split(' ').filter(Boolean));
  const scopes = resourceScopes(g.responseScope).length ? resourceScopes(g.responseScope) : resourceScopes(g.grantedScope);
  const effective = scopes.length ? scopes : [DEFAULT_RESOURCE_SCOPE];
  const resource = resourceOf(effective);
  const account = accountFor(g.tenant, g.account);
  const t = { issuer: issuerFor(ctx.baseUrl, g.tenant), tenant: g.tenant, account, clientId: client.clientId, iat: Math.floor(Date.now() / 1000) }; // JWT times are real time: callers verify them against their own clock.
  const scp = effective.map((s) => s.slice(s.lastIndexOf('/') + 1)).join(' ');
  const accessClaims =
    resource.toLowerCase() === PARTNER_CENTER_RESOURCE
      ? v1AccessTokenClaims(t, resource, scp, g.amr, auth.method)
      : v2AccessTokenClaims(t, resource, scp, auth.method);
  const body: Record<string, unknown> = {
    token_type: 'Bearer',
    scope: effective.join(' '),
    expires_in: ACCESS_TOKEN_SECONDS,
    ext_expires_in: ACCESS_TOKEN_SECONDS,
    access_token: signJwt(ctx.state.signingKey, accessClaims),
  };
  if (granted.has('offline_access')) {
    body.refresh_token = ctx.state.issueRefreshToken({
      clientId: client.clientId,
      tenant: g.tenant,
      oid: account.oid,
      scope: g.grantedScope,
      account: g.account,
      amr: g.amr,
    });
    ctx.stats.refreshTokenIssued();
  }
  if (granted.has('openid')) body.id_token = signJwt(ctx.state.signingKey, idTokenClaims(t, g.nonce));
  if (g.clientInfoRequested) body.client_info = clientInfo(account.oid, g.tenant);
  return body;
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
