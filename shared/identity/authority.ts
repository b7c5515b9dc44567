/**
 * What msal-node would otherwise discover over the network: the OpenID configuration of a
 * tenant and the instance-discovery answer, built from the authority host. Handing them over
 * saves the discovery round trips on every (fresh) client: one callback, one token request.
 */

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
