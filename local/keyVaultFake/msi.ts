import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';

/**
 * Access tokens of the fake's managed-identity endpoint: `payload.signature`, HMAC-SHA256 over
 * the audience and expiry. Only the fake reads them, so they need no JWT shape. Tokens for
 * `api://AzureADTokenExchange` are the exception: a token endpoint verifies those, so the endpoint
 * can hand their requests (the types below) to a minting function (index.ts, mintTokenExchangeToken).
 */

/** The resource Key Vault access tokens are for (the challenge's `resource`). */
export const keyVaultResource = 'https://vault.azure.net';

/** The resource of a managed-identity token meant as a federated identity credential's assertion. */
export const TOKEN_EXCHANGE_RESOURCE = 'api://AzureADTokenExchange';

/** `api://AzureADTokenExchange`, also as the scope `…/.default` some clients send as the resource. */
export function isTokenExchangeResource(resource: string): boolean {
  return resource.replace(/\/(\.default)?$/, '').toLowerCase() === TOKEN_EXCHANGE_RESOURCE.toLowerCase();
}

/** A token request to the managed-identity endpoint, as App Service receives it (user-assigned identities name themselves). */
export interface ManagedIdentityTokenRequest {
  resource: string;
  /** `client_id` of a user-assigned identity. */
  clientId?: string;
  /** `object_id` (principal id) of a user-assigned identity. */
  objectId?: string;
  /** `mi_res_id`: Azure resource id of a user-assigned identity. */
  resourceId?: string;
}

/** A token and its expiry (unix seconds), as the endpoint answers them (`access_token`, `expires_on`). */
export interface MintedToken {
  accessToken: string;
  expiresOn: number;
}

/**
 * One signing key per process, shared by every fake in it. msal-node keeps managed-identity
 * tokens in a process-wide static cache and resolves IDENTITY_ENDPOINT once per process, so a
 * second fake in the same process receives tokens the first one issued; they must verify.
 */
const processKey = randomBytes(32);

interface TokenPayload {
  aud: string;
  exp: number;
  jti: string;
}

function sign(key: Buffer, payload: string): string {
  return createHmac('sha256', key).update(payload).digest('base64url');
}

/** Issues an access token for `resource`, valid `lifetimeSeconds` from `nowSeconds`. */
export function issueAccessToken(
  resource: string,
  nowSeconds: number,
  lifetimeSeconds: number,
  key: Buffer = processKey,
): { token: string; expiresOn: number } {
  const body: TokenPayload = { aud: resource, exp: nowSeconds + lifetimeSeconds, jti: randomUUID() };
  const payload = Buffer.from(JSON.stringify(body)).toString('base64url');
  return { token: `${payload}.${sign(key, payload)}`, expiresOn: body.exp };
}

/** True when `token` was issued by a fake of this process for `resource` and has not expired. */
export function verifyAccessToken(token: string, resource: string, nowSeconds: number, key: Buffer = processKey): boolean {
  const [payload, signature, extra] = token.split('.');
  if (!payload || !signature || extra !== undefined) return false;
  const expected = Buffer.from(sign(key, payload));
  const given = Buffer.from(signature);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return false;
  try {
    const body = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Partial<TokenPayload>;
    return body.aud === resource && typeof body.exp === 'number' && body.exp > nowSeconds;
  } catch {
    return false;
  }
}
