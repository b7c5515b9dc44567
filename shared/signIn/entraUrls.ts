/**
 * The Entra v2 URLs a browser is sent to, built without the SDK: the start page never loads
 * msal-node (cold start).
 */
import { signInScopes } from '../identity/scopes';

/**
 * How the sign-in page behaves: `select_account` (the default) makes an admin signed in to several
 * directories pick the partner account; `login` makes Entra ask for credentials again, so a session
 * that signed in without MFA is not reused (the retry after Partner Center refused a token for the
 * missing MFA claim). Entra takes one value: `login` replaces `select_account`.
 */
export type SignInPrompt = 'select_account' | 'login';

export interface AuthorizeRequest {
  authorityHost: string;
  tenantId: string;
  clientId: string;
  redirectUri: string;
  state: string;
  nonce: string;
  codeChallenge: string;
  prompt?: SignInPrompt;
}

/**
 * Authorization code request with PKCE S256 (RFC 7636) to the partner tenant's endpoint.
 *
 * MUST carry only parameters the v2 endpoint documents (docs/STAND-INS.md): it refuses v1 ones
 * such as `amr_values` and `resource` with AADSTS901002, and no v2 parameter asks for MFA. MFA is
 * required by the partner tenant (Conditional Access or security defaults) and proven where it is
 * enforced: Partner Center refuses an App+User token without the MFA claim, and the callback asks
 * Partner Center before it keeps a token (docs/SECURITY.md 24).
 */
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
    prompt: r.prompt ?? 'select_account',
  }).toString();
  return url.toString();
}

/** Every parameter authorizeUrl may send: each is documented for the v2 authorize endpoint. */
export const authorizeParameters = [
  'client_id',
  'response_type',
  'redirect_uri',
  'response_mode',
  'scope',
  'state',
  'nonce',
  'code_challenge',
  'code_challenge_method',
  'prompt',
] as const;

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

/**
 * The admin-consent link a person copies for an administrator of their partner tenant (the start
 * page's **Copy approval link**). It carries no `state`: it travels to another person's browser, so
 * it cannot be bound to this one, and its return is never reported as an approval (docs/SECURITY.md
 * 27); the administrator is told to let the person generate the token again. `organizations`: the
 * administrator approves in the tenant they sign in to, which the link need not know.
 */
export function approvalLinkUrl(r: { authorityHost: string; clientId: string; redirectUri: string }): string {
  const url = new URL('/organizations/v2.0/adminconsent', r.authorityHost);
  url.search = new URLSearchParams({ client_id: r.clientId, redirect_uri: r.redirectUri, scope: signInScopes.join(' ') }).toString();
  return url.toString();
}
