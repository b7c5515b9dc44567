/** Discovery documents: OpenID configuration, instance discovery and JWKS, shaped like login.microsoftonline.com's. */
import { entraErrors, type EntraError } from './entraErrors';
import { isGuid } from './ids';
import type { SigningKey } from './signing';

/** Issuer of tokens from a tenant, `https://localhost:PORT/{tid}/v2.0`. msal requires its scheme, host and port to match the authority. */
export function issuerFor(baseUrl: string, tenant: string): string {
  return `${baseUrl}/${tenant}/v2.0`;
}

/** GET /{tenant}/v2.0/.well-known/openid-configuration. For common/organizations the issuer keeps Entra's {tenantid} template. */
export function openIdConfiguration(baseUrl: string, tenantSegment: string): Record<string, unknown> {
  const t = `${baseUrl}/${tenantSegment}`;
  return {
    token_endpoint: `${t}/oauth2/v2.0/token`,
    token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
    jwks_uri: `${t}/discovery/v2.0/keys`,
    response_modes_supported: ['query', 'fragment', 'form_post'],
    subject_types_supported: ['pairwise'],
    id_token_signing_alg_values_supported: ['RS256'],
    response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
    scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
    issuer: issuerFor(baseUrl, isGuid(tenantSegment) ? tenantSegment : '{tenantid}'),
    request_uri_parameter_supported: false,
    userinfo_endpoint: `${baseUrl}/oidc/userinfo`,
    authorization_endpoint: `${t}/oauth2/v2.0/authorize`,
    device_authorization_endpoint: `${t}/oauth2/v2.0/devicecode`,
    http_logout_supported: true,
    frontchannel_logout_supported: true,
    end_session_endpoint: `${t}/oauth2/v2.0/logout`,
    claims_supported: [
      'sub',
      'iss',
      'aud',
      'exp',
      'iat',
      'auth_time',
      'acr',
      'nonce',
      'preferred_username',
      'name',
      'tid',
      'ver',
      'at_hash',
      'c_hash',
      'email',
    ],
    kerberos_endpoint: `${t}/kerberos`,
    tenant_region_scope: isGuid(tenantSegment) ? 'EU' : null,
    cloud_instance_name: 'localhost',
    cloud_graph_host_name: 'graph.windows.net',
    msgraph_host: 'graph.microsoft.com',
    rbac_url: 'https://pas.windows.net',
  };
}

/**
 * GET /common/discovery/instance?api-version=1.1&authorization_endpoint=…
 * Answers for authorities on this host only; the one alias is the host itself, so msal's cache "environment" is localhost:PORT.
 */
export function instanceDiscovery(
  baseUrl: string,
  authorizationEndpoint: string | null,
): { ok: true; body: Record<string, unknown> } | { ok: false; error: EntraError } {
  const host = new URL(baseUrl).host;
  let tenant = 'common';
  if (authorizationEndpoint) {
    let url: URL;
    try {
      url = new URL(authorizationEndpoint);
    } catch {
      return { ok: false, error: entraErrors.unknownInstance() };
    }
    if (url.host !== host) return { ok: false, error: entraErrors.unknownInstance() };
    tenant = url.pathname.split('/')[1] || 'common';
  }
  return {
    ok: true,
    body: {
      tenant_discovery_endpoint: `${baseUrl}/${tenant}/v2.0/.well-known/openid-configuration`,
      'api-version': '1.1',
      metadata: [{ preferred_network: host, preferred_cache: host, aliases: [host] }],
    },
  };
}

/** GET /{tenant}/discovery/v2.0/keys. Entra lists `issuer` with the {tenantid} template on each key. */
export function jwks(baseUrl: string, key: SigningKey): { keys: Record<string, unknown>[] } {
  return { keys: [{ ...key.publicJwk, x5t: key.kid, issuer: issuerFor(baseUrl, '{tenantid}') }] };
}
