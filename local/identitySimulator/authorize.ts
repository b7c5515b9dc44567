/**
 * The browser-facing endpoints: authorize (sign-in page, consent prompt or "Need admin approval", then a code)
 * and admin consent. Validation follows Entra: problems with the tenant, the client or its redirect URI get an
 * error page (never a redirect to an address not registered), everything else goes back to the redirect URI as
 * error + AADSTS description. docs/STAND-INS.md names the source of each behaviour.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { accountFor, accountsOf, amrOf, isAccountKind } from './accounts';
import { scopesGrantedBy } from './consent';
import { consentCoversRequest, findClient, type SimulatorContext } from './context';
import { authorizeErrors, entraErrors, errorDescription, errorUri, requestIds, type EntraError, type RequestIds } from './entraErrors';
import { redirect, readForm, sendHtml } from './http';
import { clientInfo, guidFrom, isGuid } from './ids';
import { appName, consentPage, consentPromptPage, errorPage, needAdminApprovalPage, pageCsp, signInPage } from './pages';
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
  /** `login`, `select_account`, `consent`, or absent (`none` is answered before). */
  prompt: string | null;
}

/**
 * Parameters of the v1 endpoint that the v2 authorize endpoint refuses with AADSTS901002 (reported for both;
 * docs/STAND-INS.md). Whether Entra shows that on its own page or sends it back to the redirect URI is not
 * documented: the simulator sends it back (invalid_request), an assumption the service does not rely on.
 */
const UNSUPPORTED_V2_PARAMETERS = ['amr_values', 'resource'] as const;

/** Where a failed request goes: an error page, or (once the redirect URI is trusted) back to the client. */
type Checked<T> =
  | { ok: true; value: T }
  | { ok: false; page: EntraError }
  | { ok: false; page?: undefined; back: EntraError; redirectUri: string; responseMode: ResponseMode; state: string | null };

const PKCE_CHALLENGE = /^[A-Za-z0-9_-]{43}$/;

/**
 * GET shows the sign-in page. POST is one of three steps (form field `step`):
 * - absent: **Sign in**. A multi-tenant app the tenant has not consented to stops here: a directory
 *   administrator gets the consent prompt, anyone else Entra's own "Need admin approval" page (AADSTS90094),
 *   and nothing goes back to the app;
 * - `consent`: the consent prompt's **Accept** (for the organization, or the admin alone) or **Cancel**
 *   (`access_denied`, AADSTS65004);
 * - `return`: "Return to the application without granting consent" on the "Need admin approval" page.
 * A request with `prompt=none` never gets here: there is no session, so it is `login_required`.
 */
export async function handleAuthorize(
  ctx: SimulatorContext,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  tenantSegment: string,
): Promise<void> {
  const ids = requestIds(header(req, 'client-request-id') ?? url.searchParams.get('client-request-id') ?? undefined);
  const fixedTenant = isGuid(tenantSegment) ? tenantSegment.toLowerCase() : undefined;
  // No directory to look the app up in: Entra can only show its own page.
  if (fixedTenant && ctx.faults.isTenantMissing(fixedTenant))
    return answerFailure(res, { ok: false, page: entraErrors.invalidTenant(fixedTenant) }, ids);
  const checked = checkAuthorizeRequest(ctx, url.searchParams, tenantSegment);
  if (!checked.ok) return answerFailure(res, checked, ids);
  const ar = checked.value;
  const csp = pageCsp(new URL(ar.redirectUri).origin);
  const action = url.pathname + url.search;

  if (req.method === 'GET') {
    const html = signInPage({
      action,
      client: ar.client,
      scope: ar.scope,
      tenant: fixedTenant,
      suggestedTenant: suggestedTenant(ctx, ar.client),
      accounts: fixedTenant ? accountsOf(fixedTenant) : undefined,
      prompt: ar.prompt,
    });
    return sendHtml(res, 200, html, csp);
  }

  const form = await readForm(req);
  const tenant = fixedTenant ?? form.get('tenant')?.trim().toLowerCase() ?? '';
  if (!isGuid(tenant) || ctx.faults.isTenantMissing(tenant)) return answerFailure(res, { ok: false, page: entraErrors.invalidTenant(tenant) }, ids);
  // The page's choices: which account signs in, and whether the sign-in carries the MFA claim.
  const chosen = form.get('account');
  const kind: AccountKind = isAccountKind(chosen) ? chosen : 'adminAgent';
  const withoutMfa = form.get('withoutMfa') === 'on';
  const account = accountFor(tenant, kind);
  const choice = { typedTenant: fixedTenant ? undefined : tenant, account, withoutMfa };
  const back = (err: EntraError, extra: [string, string][] = []) =>
    answerFailure(res, { ok: false, back: err, redirectUri: ar.redirectUri, responseMode: ar.responseMode, state: ar.state }, ids, 303, extra);

  if (form.get('step') === 'return') {
    // assumption (docs/STAND-INS.md): the link on Entra's page answers like a declined consent.
    ctx.stats.interactiveConsent('declined');
    return back(authorizeErrors.consentDeclined(), [['error_subcode', 'cancel']]);
  }

  if (ar.client.multiTenant && !consentCoversRequest(ctx, ar.client, tenant, ar.scope, account.oid)) {
    if (!account.directoryAdmin) {
      // Entra keeps a person who may not consent on its own page: the app hears nothing.
      ctx.stats.interactiveConsent('needAdminApproval');
      const err = entraErrors.needAdminApproval(appName(ar.client));
      return sendHtml(
        res,
        200,
        needAdminApprovalPage({ aadsts: err.aadsts, message: err.message, ...ids, account, signInAgain: action, back: { action, choice } }),
        csp,
      );
    }
    if (form.get('step') !== 'consent') {
      ctx.stats.interactiveConsent('prompted');
      return sendHtml(res, 200, consentPromptPage({ action, client: ar.client, scope: ar.scope, tenant, choice }), csp);
    }
    if (form.get('decision') !== 'accept') {
      ctx.stats.interactiveConsent('declined');
      return back(authorizeErrors.consentDeclined(), [['error_subcode', 'cancel']]);
    }
    const scopes = scopesGrantedBy(ar.client, ar.scope);
    if (form.get('forOrganization') === 'on') {
      ctx.state.grantConsent(ar.client.clientId, tenant, scopes);
      ctx.faults.appRestored(ar.client.clientId, tenant);
      ctx.stats.interactiveConsent('grantedForOrganization');
    } else {
      ctx.state.grantUserConsent(ar.client.clientId, tenant, account.oid, scopes);
      ctx.stats.interactiveConsent('grantedForUser');
    }
  }

  ctx.stats.signedIn(kind, withoutMfa, ar.prompt);
  // Under the override fault the whole identity (tid, oid, client_info) belongs to the other tenant.
  const tokenTenant = ctx.faults.takeTenantOverride() ?? tenant;
  const tokenAccount = accountFor(tokenTenant, kind);
  const code = ctx.state.issueCode({
    clientId: ar.client.clientId,
    redirectUri: ar.redirectUri,
    codeChallenge: ar.codeChallenge,
    ...(ar.nonce !== null ? { nonce: ar.nonce } : {}),
    signInTenant: tenant,
    tokenTenant,
    scope: ar.scope,
    account: kind,
    amr: amrOf(withoutMfa),
  });
  ctx.stats.codeIssued();
  const params: [string, string][] = [['code', code]];
  if (ar.clientInfoRequested) params.push(['client_info', clientInfo(tokenAccount.oid, tokenTenant)]);
  if (ar.state !== null) params.push(['state', ar.state]);
  params.push(['session_state', randomUUID()]);
  redirect(res, withParams(ar.redirectUri, params, ar.responseMode), 303);
}

/**
 * GET /{tenant}/v2.0/adminconsent shows the consent page; POST records Accept or Cancel and returns to the client.
 * Only a directory administrator can accept; anyone else stays on "Need admin approval". A cancel comes back as
 * the admin-consent documentation shows it: `admin_consent=True&error=consent_required` with AADSTS65004.
 */
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
  if (fixedTenant && ctx.faults.isTenantMissing(fixedTenant))
    return answerFailure(res, { ok: false, page: entraErrors.invalidTenant(fixedTenant) }, ids);
  const csp = pageCsp(new URL(redirectUri).origin);

  if (req.method === 'GET') {
    const html = consentPage({
      action: url.pathname + url.search,
      tenant: fixedTenant,
      suggestedTenant: suggestedTenant(ctx, client),
      client,
      scope,
    });
    return sendHtml(res, 200, html, csp);
  }

  const form = await readForm(req);
  if (form.get('decision') !== 'accept') {
    const err = authorizeErrors.adminConsentDenied();
    const params: [string, string][] = [
      ['admin_consent', 'True'],
      ['error', err.error],
      ['error_description', errorDescription(err, ids, new Date())],
    ];
    if (state !== null) params.push(['state', state]);
    return redirect(res, withParams(redirectUri, params, 'query'), 303);
  }
  const tenant = fixedTenant ?? form.get('tenant')?.trim().toLowerCase() ?? '';
  if (!isGuid(tenant) || ctx.faults.isTenantMissing(tenant)) return answerFailure(res, { ok: false, page: entraErrors.invalidTenant(tenant) }, ids);
  const chosen = form.get('account');
  const account = accountFor(tenant, isAccountKind(chosen) ? chosen : 'adminAgent');
  if (!account.directoryAdmin) {
    ctx.stats.interactiveConsent('needAdminApproval');
    const err = entraErrors.needAdminApproval(appName(client));
    return sendHtml(
      res,
      200,
      needAdminApprovalPage({ aadsts: err.aadsts, message: err.message, ...ids, account, signInAgain: url.pathname + url.search }),
      csp,
    );
  }
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
  // v1 parameters the v2 endpoint refuses (docs/STAND-INS.md): the MFA a sign-in needs is required by the
  // tenant's Conditional Access, never asked for by the request.
  for (const name of UNSUPPORTED_V2_PARAMETERS) {
    if (q.has(name)) {
      ctx.stats.unsupportedParameter(name);
      return back(authorizeErrors.unsupportedParameter(name), mode);
    }
  }
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
      prompt: q.get('prompt'),
    },
  };
}

function redirectUriNotRegistered(redirectUri: string, client: SimulatedClient): EntraError {
  return {
    status: 400,
    error: 'invalid_request',
    aadsts: 50011,
    message: `The redirect URI '${redirectUri}' specified in the request does not match the redirect URIs configured for the application '${client.clientId}'. Make sure the redirect URI sent in the request matches one added to your application in the Azure portal.`,
  };
}

function answerFailure(
  res: ServerResponse,
  failure: Exclude<Checked<unknown>, { ok: true }>,
  ids: RequestIds,
  status: 302 | 303 = 302,
  extra: [string, string][] = [],
): void {
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
    ...extra,
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
