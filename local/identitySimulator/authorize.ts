/**
 * The browser-facing endpoints: authorize (sign-in page, then a code) and admin consent.
 * Validation follows Entra: problems with the client or its redirect URI get an error page (never a redirect
 * to an address not registered), everything else goes back to the redirect URI as error + AADSTS description.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { accountFor, accountsOf, amrOf, isAccountKind } from './accounts';
import { scopesGrantedBy } from './consent';
import { consentCoversRequest, findClient, type SimulatorContext } from './context';
import { authorizeErrors, entraErrors, errorDescription, errorUri, requestIds, type EntraError, type RequestIds } from './entraErrors';
import { redirect, readForm, sendHtml } from './http';
import { clientInfo, guidFrom, isGuid } from './ids';
import { consentPage, errorPage, pageCsp, signInPage } from './pages';
import type { AccountKind, SimulatedClient } from './types';

type ResponseMode = 'query' | 'fragment';

interface AuthorizeRequest {
  client: SimulatedClient;
  redirectUri: string;
  responseMode: ResponseMode;
  state: string | null;
  nonce: string | null;
  scope: string;
  codeChallenge: string;
  clientInfoRequested: boolean;
  /** The request asked for MFA (`amr_values=mfa`, or a claims request for an `amr` of mfa). */
  mfaRequested: boolean;
}

/** Where a failed request goes: an error page, or (once the redirect URI is trusted) back to the client. */
type Checked<T> =
  | { ok: true; value: T }
  | { ok: false; page: EntraError }
  | { ok: false; page?: undefined; back: EntraError; redirectUri: string; responseMode: ResponseMode; state: string | null };

const PKCE_CHALLENGE = /^[A-Za-z0-9_-]{43}$/;

/** GET shows the sign-in page; POST (its Sign in button) signs in and redirects with a code. */
export async function handleAuthorize(
  ctx: SimulatorContext,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  tenantSegment: string,
): Promise<void> {
  const ids = requestIds(header(req, 'client-request-id') ?? url.searchParams.get('client-request-id') ?? undefined);
  const checked = checkAuthorizeRequest(ctx, url.searchParams, tenantSegment);
  if (!checked.ok) return answerFailure(res, checked, ids);
  const ar = checked.value;
  const fixedTenant = isGuid(tenantSegment) ? tenantSegment.toLowerCase() : undefined;

  if (req.method === 'GET') {
    const suggested = suggestedTenant(ctx, ar.client);
    const html = signInPage({
      action: url.pathname + url.search,
      clientId: ar.client.clientId,
      scope: ar.scope,
      tenant: fixedTenant,
      suggestedTenant: suggested,
      accounts: fixedTenant ? accountsOf(fixedTenant) : undefined,
      mfaRequested: ar.mfaRequested,
    });
    return sendHtml(res, 200, html, pageCsp(new URL(ar.redirectUri).origin));
  }

  const form = await readForm(req);
  const tenant = fixedTenant ?? form.get('tenant')?.trim().toLowerCase() ?? '';
  if (!isGuid(tenant)) return answerFailure(res, { ok: false, page: entraErrors.invalidTenant(tenant) }, ids);

  if (ar.client.multiTenant && !consentCoversRequest(ctx, ar.client, tenant, ar.scope)) {
    // The CPV case: the partner tenant's administrator has not approved the app (for these scopes) yet.
    return answerFailure(
      res,
      {
        ok: false,
        back: authorizeErrors.consentRequired(ar.client.clientId),
        redirectUri: ar.redirectUri,
        responseMode: ar.responseMode,
        state: ar.state,
      },
      ids,
      303,
    );
  }

  // The page's choices: which account signs in, and whether its identity provider passes the MFA claim.
  const chosen = form.get('account');
  const kind: AccountKind = isAccountKind(chosen) ? chosen : 'adminAgent';
  const withoutMfa = form.get('withoutMfa') === 'on';
  ctx.stats.signedIn(kind, ar.mfaRequested, withoutMfa);

  // Under the override fault the whole identity (tid, oid, client_info) belongs to the other tenant.
  const tokenTenant = ctx.faults.takeTenantOverride() ?? tenant;
  const account = accountFor(tokenTenant, kind);
  const code = ctx.state.issueCode({
    clientId: ar.client.clientId,
    redirectUri: ar.redirectUri,
    codeChallenge: ar.codeChallenge,
    ...(ar.nonce !== null ? { nonce: ar.nonce } : {}),
    signInTenant: tenant,
    tokenTenant,
    scope: ar.scope,
    account: kind,
    // Asking for MFA does not make a federated identity provider send the claim: "without MFA" stays without.
    amr: amrOf(withoutMfa),
    mfaRequested: ar.mfaRequested,
  });
  ctx.stats.codeIssued();
  const params: [string, string][] = [['code', code]];
  if (ar.clientInfoRequested) params.push(['client_info', clientInfo(account.oid, tokenTenant)]);
  if (ar.state !== null) params.push(['state', ar.state]);
  params.push(['session_state', randomUUID()]);
  redirect(res, withParams(ar.redirectUri, params, ar.responseMode), 303);
}

/** GET /{tenant}/v2.0/adminconsent shows the consent page; POST records Accept or Cancel and returns to the client. */
export async function handleAdminConsent(
  ctx: SimulatorContext,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  tenantSegment: string,
): Promise<void> {
  const ids = requestIds(header(req, 'client-request-id') ?? url.searchParams.get('client-request-id') ?? undefined);
  const q = url.searchParams;
  const clientId = q.get('client_id');
  const client = findClient(ctx, clientId);
  if (!clientId) return answerFailure(res, { ok: false, page: entraErrors.missingParameter('client_id') }, ids);
  if (!client) return answerFailure(res, { ok: false, page: entraErrors.unknownClient(clientId, tenantSegment) }, ids);
  const redirectUri = q.get('redirect_uri') ?? client.redirectUris[0];
  if (!redirectUri || !client.redirectUris.includes(redirectUri))
    return answerFailure(res, { ok: false, page: redirectUriNotRegistered(redirectUri ?? '', client) }, ids);
  const state = q.get('state');
  const scope = q.get('scope') ?? '';
  const fixedTenant = isGuid(tenantSegment) ? tenantSegment.toLowerCase() : undefined;

  if (req.method === 'GET') {
    const html = consentPage({
      action: url.pathname + url.search,
      tenant: fixedTenant,
      suggestedTenant: suggestedTenant(ctx, client),
      clientId: client.clientId,
      scope,
    });
    return sendHtml(res, 200, html, pageCsp(new URL(redirectUri).origin));
  }

  const form = await readForm(req);
  if (form.get('decision') !== 'accept') {
    const err = authorizeErrors.consentDeclined();
    const params: [string, string][] = [
      ['error', err.error],
      ['error_subcode', 'cancel'],
      ['error_description', errorDescription(err, ids, new Date())],
      ['admin_consent', 'False'],
    ];
    if (state !== null) params.push(['state', state]);
    return redirect(res, withParams(redirectUri, params, 'query'), 303);
  }
  const tenant = fixedTenant ?? form.get('tenant')?.trim().toLowerCase() ?? '';
  if (!isGuid(tenant)) return answerFailure(res, { ok: false, page: entraErrors.invalidTenant(tenant) }, ids);
  ctx.state.grantConsent(client.clientId, tenant, scopesGrantedBy(client, scope));
  // Consenting creates the app's service principal in the tenant again if it had been deleted.
  ctx.faults.appRestored(client.clientId, tenant);
  ctx.stats.consentGranted();
  const params: [string, string][] = [
    ['admin_consent', 'True'],
    ['tenant', tenant],
  ];
  if (state !== null) params.push(['state', state]);
  if (scope) params.push(['scope', scope]);
  redirect(res, withParams(redirectUri, params, 'query'), 303);
}

function checkAuthorizeRequest(ctx: SimulatorContext, q: URLSearchParams, tenantSegment: string): Checked<AuthorizeRequest> {
  const clientId = q.get('client_id');
  if (!clientId) return { ok: false, page: entraErrors.missingParameter('client_id') };
  const client = findClient(ctx, clientId);
  if (!client) return { ok: false, page: entraErrors.unknownClient(clientId, tenantSegment) };
  const redirectUri = q.get('redirect_uri');
  if (!redirectUri) return { ok: false, page: entraErrors.missingParameter('redirect_uri') };
  // MUST be an exact match of a registered URI: anything looser turns the endpoint into an open redirector that leaks codes.
  if (!client.redirectUris.includes(redirectUri)) return { ok: false, page: redirectUriNotRegistered(redirectUri, client) };

  // From here on the redirect URI is trusted, so errors go back to the client.
  const state = q.get('state');
  const mode = q.get('response_mode') ?? 'query';
  const back = (err: EntraError, responseMode: ResponseMode = 'query'): Checked<AuthorizeRequest> => ({
    ok: false,
    back: err,
    redirectUri,
    responseMode,
    state,
  });
  if (mode !== 'query' && mode !== 'fragment') {
    return back(
      authorizeErrors.invalidRequest(
        9002313,
        `The response_mode '${mode}' is not supported by the local identity simulator; use 'query' or 'fragment'.`,
      ),
    );
  }
  if (q.get('response_type') !== 'code') return back(authorizeErrors.unsupportedResponseType(), mode);
  const scope = q.get('scope');
  if (!scope) return back(authorizeErrors.invalidRequest(900144, "The request body must contain the following parameter: 'scope'."), mode);
  const codeChallenge = q.get('code_challenge');
  if (!codeChallenge)
    return back(authorizeErrors.invalidRequest(900144, "The request body must contain the following parameter: 'code_challenge'."), mode);
  if (q.get('code_challenge_method') !== 'S256') {
    // Entra accepts "plain"; this simulator insists on S256 because the service must never send anything else.
    return back(authorizeErrors.invalidRequest(9002313, "The code_challenge_method must be 'S256'."), mode);
  }
  if (!PKCE_CHALLENGE.test(codeChallenge)) return back(authorizeErrors.invalidRequest(501491, 'Invalid size of Code_Challenge parameter.'), mode);
  // No session cookie exists here, so a silent request can never succeed.
  if (q.get('prompt') === 'none') return back(authorizeErrors.loginRequired(), mode);

  return {
    ok: true,
    value: {
      client,
      redirectUri,
      responseMode: mode,
      state,
      nonce: q.get('nonce'),
      scope,
      codeChallenge,
      clientInfoRequested: q.get('client_info') === '1',
      mfaRequested: asksForMfa(q),
    },
  };
}

/**
 * `amr_values=mfa`, or a claims request such as
 * `{"id_token":{"amr":{"essential":true,"values":["mfa"]}}}` (for the id token or the access token).
 */
function asksForMfa(q: URLSearchParams): boolean {
  if ((q.get('amr_values') ?? '').split(/[\s,]+/).includes('mfa')) return true;
  const claims = q.get('claims');
  if (!claims) return false;
  try {
    const parsed = JSON.parse(claims) as Record<string, { amr?: { value?: unknown; values?: unknown } } | undefined>;
    return ['id_token', 'access_token'].some((k) => {
      const amr = parsed[k]?.amr;
      return amr?.value === 'mfa' || (Array.isArray(amr?.values) && amr.values.includes('mfa'));
    });
  } catch {
    return false;
  }
}

function redirectUriNotRegistered(redirectUri: string, client: SimulatedClient): EntraError {
  return {
    status: 400,
    error: 'invalid_request',
    aadsts: 50011,
    message: `The redirect URI '${redirectUri}' specified in the request does not match the redirect URIs configured for the application '${client.clientId}'. Make sure the redirect URI sent in the request matches one added to your application in the Azure portal.`,
  };
}

function answerFailure(res: ServerResponse, failure: Exclude<Checked<unknown>, { ok: true }>, ids: RequestIds, status: 302 | 303 = 302): void {
  if (failure.page) {
    return sendHtml(
      res,
      400,
      errorPage({ aadsts: failure.page.aadsts, message: failure.page.message, traceId: ids.traceId, correlationId: ids.correlationId }),
      pageCsp(),
    );
  }
  const params: [string, string][] = [
    ['error', failure.back.error],
    ['error_description', errorDescription(failure.back, ids, new Date())],
    ['error_uri', errorUri(failure.back.aadsts)],
  ];
  if (failure.state !== null) params.push(['state', failure.state]);
  redirect(res, withParams(failure.redirectUri, params, failure.responseMode), status);
}

/** Adds parameters to a redirect URI, keeping its own query (query mode) or putting them in the fragment. */
function withParams(redirectUri: string, params: [string, string][], mode: ResponseMode): string {
  const target = new URL(redirectUri);
  if (mode === 'fragment') {
    target.hash = new URLSearchParams(params).toString();
  } else {
    for (const [k, v] of params) target.searchParams.append(k, v);
  }
  return target.toString();
}

/** For common/organizations: prefill a tenant that will work (one that consented to the client), else a stable made-up one. */
function suggestedTenant(ctx: SimulatorContext, client: SimulatedClient): string {
  return ctx.state.consentedTenantsOf(client.clientId)[0] ?? guidFrom(`default-tenant:${client.clientId}`);
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}
