/** Scope strings as Entra reads them: OpenID scopes, resource scopes, the resource (audience) they name, `.default`. */

/** The Partner Center grant the service asks for; the default permission of a simulated app. */
export const PARTNER_CENTER_SCOPE = 'https://api.partnercenter.microsoft.com/user_impersonation';
/** Partner Center's resource (App ID URI): the `aud` of its access tokens. */
export const PARTNER_CENTER_RESOURCE = 'https://api.partnercenter.microsoft.com';

export const OIDC_SCOPES = new Set(['openid', 'profile', 'offline_access', 'email']);
/** What Entra grants when only OpenID scopes are asked for. */
export const DEFAULT_RESOURCE_SCOPE = 'https://graph.microsoft.com/User.Read';

/** The scopes of a request that name a resource (everything but the OpenID ones). */
export function resourceScopes(scope: string): string[] {
  return scope.split(' ').filter((s) => s && !OIDC_SCOPES.has(s.toLowerCase()));
}

/** The audience a scope belongs to: https://api.partnercenter.microsoft.com/user_impersonation → https://api.partnercenter.microsoft.com. */
export function resourceOfScope(scope: string): string {
  const slash = scope.lastIndexOf('/');
  return slash > 'https://'.length ? scope.slice(0, slash) : 'https://graph.microsoft.com';
}

/** The audience of an access token for these scopes (the first one decides, as Entra allows one resource per token). */
export function resourceOf(scopes: string[]): string {
  return resourceOfScope(scopes[0] ?? DEFAULT_RESOURCE_SCOPE);
}

export function isDefaultScope(scope: string): boolean {
  return scope.toLowerCase().endsWith('/.default');
}
