/**
 * The Entra v2 URLs a browser is sent to, built without the SDK: the start page never loads
 * msal-node (cold start).
 */
import { signInScopes } from '../identity/scopes';

export interface AuthorizeRequest {
  authorityHost: string;
  tenantId: string;
  clientId: string;
  redirectUri: string;
  state: string;
  nonce: string;
  codeChallenge: string;
}

/** Authorization code request with PKCE S256 (RFC 7636) to the partner tenant's endpoint. */
export function authorizeUrl(r: AuthorizeRequest): string {
  const url = new URL(`/${encodeURIComponent(r.tenantId)}/oauth2/v2.0/authorize`, r.authorityHost);
  url.search = new URLSearchParams({
    client_id: r.clientId,
    response_type: 'code',
    redirect_uri: r.redirectUri,
    response_mode: 'query',
    scope: signInScopes.join(' '),
    state: r.state,
    nonce: r.nonce,
    code_challenge: r.codeChallenge,
    code_challenge_method: 'S256',
    // The admin may be signed in to several directories; make them pick the partner account.
    prompt: 'select_account',
    // Partner Center refuses App+User calls without the MFA claim; ask Entra for MFA up front, as
    // Microsoft's Partner Center samples do. (A claims request would do the same but is refused
    // by tenants that have not enabled the claims challenge; amr_values is understood by all.)
    amr_values: 'mfa',
  }).toString();
  return url.toString();
}

/**
 * Admin consent for the CPV app in the partner tenant, for every scope the sign-in will ask for.
 * `state` binds the return to the browser that asked (docs/SECURITY.md 27): a forged or replayed
 * `admin_consent=True` must never be reported as an approval.
 */
export function adminConsentUrl(r: { authorityHost: string; tenantId: string; clientId: string; redirectUri: string; state: string }): string {
  const url = new URL(`/${encodeURIComponent(r.tenantId)}/v2.0/adminconsent`, r.authorityHost);
  url.search = new URLSearchParams({
    client_id: r.clientId,
    redirect_uri: r.redirectUri,
    scope: signInScopes.join(' '),
    state: r.state,
  }).toString();
  return url.toString();
}
