/**
 * Microsoft Entra ID v2 endpoints and error semantics, without the SDK: the start page builds
 * the authorize URL itself, so it never loads msal-node (cold start).
 */

/** Delegated Partner Center permission; the refresh token is issued for this resource. */
export const partnerCenterScope = 'https://api.partnercenter.microsoft.com/user_impersonation';
/** Scopes requested at sign-in: offline_access is what makes Entra return a refresh token. */
export const signInScopes = [partnerCenterScope, 'offline_access', 'openid', 'profile'];

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
  }).toString();
  return url.toString();
}

/**
 * Admin consent for the CPV app in the partner tenant. `state` is not needed to protect
 * anything here (consent grants nothing to the caller), so it only marks the return.
 */
export function adminConsentUrl(r: { authorityHost: string; tenantId: string; clientId: string; redirectUri: string }): string {
  const url = new URL(`/${encodeURIComponent(r.tenantId)}/v2.0/adminconsent`, r.authorityHost);
  url.search = new URLSearchParams({
    client_id: r.clientId,
    redirect_uri: r.redirectUri,
    scope: partnerCenterScope,
    state: 'admin-consent',
  }).toString();
  return url.toString();
}

/** The issuer Entra writes into id tokens of a tenant. */
export function issuerOf(authorityHost: string, tenantId: string): string {
  return `${new URL(authorityHost).origin}/${tenantId}/v2.0`;
}

/**
 * OpenID configuration of a tenant, as Entra publishes it. Handing it to msal-node saves the
 * discovery round trips on every (fresh) client: one callback, one token request.
 */
export function authorityMetadata(authorityHost: string, tenantId: string): string {
  const base = `${new URL(authorityHost).origin}/${tenantId}`;
  return JSON.stringify({
    token_endpoint: `${base}/oauth2/v2.0/token`,
    authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
    end_session_endpoint: `${base}/oauth2/v2.0/logout`,
    jwks_uri: `${base}/discovery/v2.0/keys`,
    issuer: `${base}/v2.0`,
    token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
    response_modes_supported: ['query', 'fragment', 'form_post'],
    scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
  });
}

/** Instance discovery answer naming only the configured host, so msal-node asks nobody else. */
export function cloudDiscoveryMetadata(authorityHost: string): string {
  const host = new URL(authorityHost).host;
  return JSON.stringify({
    tenant_discovery_endpoint: `${new URL(authorityHost).origin}/{tenant}/v2.0/.well-known/openid-configuration`,
    'api-version': '1.1',
    metadata: [{ preferred_network: host, preferred_cache: host, aliases: [host] }],
  });
}

/** What a failed token request means for the service (security.md 17). */
export type FailureClass = 'transient' | 'needs-reauth' | 'invalid-client' | 'rejected';

export type FailureReason =
  | 'network'
  | 'unavailable'
  | 'throttled'
  | 'expired'
  | 'revoked'
  | 'sign-in-frequency'
  | 'consent'
  | 'mfa'
  | 'conditional-access'
  | 'invalid-grant'
  | 'invalid-secret'
  | 'expired-secret'
  | 'invalid-client'
  | 'invalid-request'
  | 'unknown';

export interface TokenFailure {
  class: FailureClass;
  reason: FailureReason;
  /** OAuth `error` field, when the server sent one. */
  error?: string;
  /** First AADSTS code, for diagnosis only. */
  aadsts?: number;
  /** HTTP status of the token endpoint, when known. */
  status?: number;
  /** Milliseconds the server asked us to wait (Retry-After). */
  retryAfterMs?: number;
}

const reauthReasons: Record<number, FailureReason> = {
  700082: 'expired',
  70008: 'expired',
  50173: 'revoked',
  70043: 'sign-in-frequency',
  65001: 'consent',
  50076: 'mfa',
  50079: 'mfa',
  53003: 'conditional-access',
};

/**
 * Classifies a token endpoint failure. MUST branch on the OAuth `error` field first: AADSTS
 * codes are diagnosis and Microsoft adds new ones; the `error` values are the protocol.
 */
export function classifyTokenFailure(f: { error?: string; aadsts?: number; status?: number; network?: boolean; retryAfterMs?: number }): TokenFailure {
  const base = {
    ...(f.error ? { error: f.error } : {}),
    ...(f.aadsts !== undefined ? { aadsts: f.aadsts } : {}),
    ...(f.status !== undefined ? { status: f.status } : {}),
    ...(f.retryAfterMs !== undefined ? { retryAfterMs: f.retryAfterMs } : {}),
  };
  if (f.network) return { ...base, class: 'transient', reason: 'network' };
  switch (f.error) {
    case 'temporarily_unavailable':
    case 'server_error':
      return { ...base, class: 'transient', reason: 'unavailable' };
    case 'slow_down':
      return { ...base, class: 'transient', reason: 'throttled' };
    case 'invalid_grant':
    case 'interaction_required':
    case 'consent_required':
    case 'login_required':
      return { ...base, class: 'needs-reauth', reason: (f.aadsts !== undefined && reauthReasons[f.aadsts]) || (f.error === 'consent_required' ? 'consent' : 'invalid-grant') };
    case 'invalid_client':
    case 'unauthorized_client':
      return { ...base, class: 'invalid-client', reason: f.aadsts === 7000222 ? 'expired-secret' : f.aadsts === 7000215 ? 'invalid-secret' : 'invalid-client' };
    default:
      break;
  }
  if (f.status === 429) return { ...base, class: 'transient', reason: 'throttled' };
  if (f.status !== undefined && f.status >= 500) return { ...base, class: 'transient', reason: 'unavailable' };
  if (f.error) return { ...base, class: 'rejected', reason: 'invalid-request' };
  return { ...base, class: 'transient', reason: 'unknown' };
}
