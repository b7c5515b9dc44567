/**
 * The one file that imports @azure/msal-node. It redeems authorization codes and refresh tokens
 * and hands back the refresh token, which msal-node never returns directly.
 */
import {
  AuthError,
  ConfidentialClientApplication,
  InteractionRequiredAuthError,
  LogLevel,
  ServerError,
  type AuthenticationResult,
  type Configuration,
  type INetworkModule,
  type NetworkRequestOptions,
  type NetworkResponse,
} from '@azure/msal-node';
import { AppError } from '../errors';
import { parseRetryAfter } from '../retry';
import { authorityMetadata, cloudDiscoveryMetadata } from './authority';
import { refreshTokenFromCache } from './cache';
import type { AppCredentials, ClientCredential } from './credentials';
import { retryWhilePropagating } from './federated';
import { partnerCenterScope, signInScopes } from './scopes';
import { classifyTokenFailure, TokenRequestError } from './tokenFailure';

export interface TokenGrant {
  refreshToken: string;
  /** The access token of the same redemption, for the Partner Center resource: the proof that the token works. */
  accessToken: string;
  /** From the id token (code redemption only; a refresh answer may come without one). */
  idToken?: IdTokenClaims;
}

/** The id token claims the service checks and records. */
export interface IdTokenClaims {
  tid?: string;
  iss?: string;
  nonce?: string;
  aud?: string;
  /** Object id and user name of who signed in (docs/SECURITY.md 26). */
  oid?: string;
  /** The sign-in name: `preferred_username`, a default claim of v2 id tokens. */
  preferredUsername?: string;
  /** `upn`, only when the app's owner configured it as an optional claim. */
  upn?: string;
}

/** Bounds every call to Entra so a hung connection cannot eat a rotation run's time budget. */
const requestTimeoutMs = 15_000;

/**
 * msal-node's network seam, on Node's fetch: adds a timeout and keeps what msal-node's errors do
 * not carry: the Retry-After and status of the last answer, and Entra's own identifiers of a
 * failed request (`trace_id`, `correlation_id`), which Microsoft support asks for.
 */
class EntraNetwork implements INetworkModule {
  lastRetryAfterMs: number | undefined;
  lastStatus: number | undefined;
  lastTraceId: string | undefined;
  lastCorrelationId: string | undefined;

  async sendGetRequestAsync<T>(url: string, options?: NetworkRequestOptions, timeout?: number): Promise<NetworkResponse<T>> {
    return this.send<T>(url, 'GET', options, timeout);
  }
  async sendPostRequestAsync<T>(url: string, options?: NetworkRequestOptions): Promise<NetworkResponse<T>> {
    return this.send<T>(url, 'POST', options);
  }
  private async send<T>(url: string, method: string, options?: NetworkRequestOptions, timeout = requestTimeoutMs): Promise<NetworkResponse<T>> {
    const response = await fetch(url, {
      method,
      headers: options?.headers ?? {},
      ...(method === 'POST' ? { body: options?.body ?? '' } : {}),
      signal: AbortSignal.timeout(timeout),
      redirect: 'error',
    });
    const headers: Record<string, string> = {};
    response.headers.forEach((value, key) => {
      headers[key] = value;
    });
    this.lastStatus = response.status;
    this.lastRetryAfterMs = parseRetryAfter(headers['retry-after']);
    const text = await response.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      // Gateways answer 502/503/429 with HTML; msal-node wants an object and then reports the status.
      body = { error: response.status >= 500 ? 'temporarily_unavailable' : response.status === 429 ? 'slow_down' : 'invalid_response' };
    }
    const ids = body as { trace_id?: unknown; correlation_id?: unknown };
    this.lastTraceId = entraId(ids.trace_id);
    this.lastCorrelationId = entraId(ids.correlation_id);
    return { headers, body: body as T, status: response.status };
  }
}

/** Entra's request identifiers are GUIDs; anything else is not kept (it would be logged). */
function entraId(value: unknown): string | undefined {
  return typeof value === 'string' && /^[0-9a-fA-F-]{36}$/.test(value) ? value : undefined;
}

/** msal-node's three ways for an app to prove itself; exactly one is set. */
function credentialOptions(credential: ClientCredential): Pick<Configuration['auth'], 'clientSecret' | 'clientAssertion' | 'clientCertificate'> {
  switch (credential.kind) {
    case 'secret':
      return { clientSecret: credential.secret };
    case 'assertion':
      // A callback, not a string: msal-node asks for it when it sends the request, so a cached
      // assertion is renewed before it expires.
      return { clientAssertion: () => credential.assertion() };
    case 'certificate':
      // SHA-256 thumbprint: msal-node then signs with PS256 and names the key `x5t#S256`. No x5c:
      // sending the chain is only for Microsoft's own apps (subject name and issuer).
      return { clientCertificate: { thumbprintSha256: credential.certificate.thumbprintSha256, privateKey: credential.certificate.privateKey } };
  }
}

/** A fresh client (and so a fresh in-memory cache) per request: a shared cache could hand one partner's token to another. */
function newClient(app: AppCredentials, network: EntraNetwork): ConfidentialClientApplication {
  const origin = new URL(app.authorityHost).origin;
  return new ConfidentialClientApplication({
    auth: {
      clientId: app.clientId,
      ...credentialOptions(app.credential),
      authority: `${origin}/${app.tenantId}`,
      knownAuthorities: [new URL(origin).host],
      authorityMetadata: authorityMetadata(origin, app.tenantId),
      cloudDiscoveryMetadata: cloudDiscoveryMetadata(origin),
    },
    system: {
      networkClient: network,
      // msal-node's own logs can carry PII and request details: keep them out of ours.
      loggerOptions: { piiLoggingEnabled: false, logLevel: LogLevel.Error, loggerCallback: () => undefined },
    },
  });
}

/** The failure of a token request, classified; a refused assertion is not offered again. */
function tokenFailed(app: AppCredentials, err: unknown, network: EntraNetwork): TokenRequestError {
  const e = toTokenError(err, network);
  if (e.failure.class === 'invalid-client' && app.credential.kind === 'assertion') app.credential.refused?.();
  return e;
}

function toTokenError(err: unknown, network: EntraNetwork): TokenRequestError {
  if (err instanceof TokenRequestError) return err;
  const retryAfterMs = network.lastRetryAfterMs;
  // msal-node throws InteractionRequiredAuthError (MFA, conditional access, consent) or
  // ServerError for answers of the token endpoint; both carry the OAuth error and the AADSTS code
  // (errorNo, typed string, in fact a number). The HTTP status only our network seam saw.
  if (err instanceof ServerError || err instanceof InteractionRequiredAuthError) {
    const aadsts = err.errorNo !== undefined && /^\d+$/.test(String(err.errorNo)) ? Number(err.errorNo) : undefined;
    const status = (err instanceof ServerError ? err.status : undefined) ?? network.lastStatus;
    return new TokenRequestError(
      classifyTokenFailure({
        error: err.errorCode,
        ...(aadsts !== undefined ? { aadsts } : {}),
        ...(status !== undefined ? { status } : {}),
        ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
        ...(network.lastTraceId ? { traceId: network.lastTraceId } : {}),
        ...(network.lastCorrelationId ? { correlationId: network.lastCorrelationId } : {}),
      }),
      { cause: err },
    );
  }
  // Anything else is the connection (refused, reset, timeout) or a reply msal-node could not read.
  const network_ = !(err instanceof AuthError) || /network|request_failed|timeout/i.test(err.errorCode);
  return new TokenRequestError(
    classifyTokenFailure({
      network: network_,
      ...(network.lastStatus !== undefined ? { status: network.lastStatus } : {}),
      ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
    }),
    { cause: err },
  );
}

function idTokenOf(result: AuthenticationResult): IdTokenClaims {
  const c = (result.idTokenClaims ?? {}) as Record<string, unknown>;
  const out: IdTokenClaims = {};
  const keep = (key: keyof IdTokenClaims, value: unknown) => {
    if (typeof value === 'string' && value.length > 0 && value.length <= 256) out[key] = value;
  };
  keep('tid', c.tid);
  keep('iss', c.iss);
  keep('nonce', c.nonce);
  keep('aud', c.aud);
  keep('oid', c.oid);
  keep('preferredUsername', c.preferred_username);
  keep('upn', c.upn);
  return out;
}

function accessTokenOf(result: AuthenticationResult): string {
  if (!result.accessToken) throw new AppError('refresh_token_missing', 'Entra returned no access token for Partner Center');
  return result.accessToken;
}

/**
 * A token request of an app; one that proves itself with a federated credential retries
 * AADSTS70021 while the credential may still be propagating (federated.ts). A code is not spent
 * by a request whose client authentication failed, so the code redemption can be retried too.
 */
function tokenRequest(app: AppCredentials, request: () => Promise<TokenGrant>): Promise<TokenGrant> {
  return app.credential.kind === 'assertion' ? retryWhilePropagating(request) : request();
}

/** Redeems an authorization code (with its PKCE verifier) for a refresh token. */
export function redeemCode(
  app: AppCredentials,
  request: { code: string; codeVerifier: string; redirectUri: string; nonce: string },
): Promise<TokenGrant> {
  return tokenRequest(app, () => redeemCodeOnce(app, request));
}

async function redeemCodeOnce(
  app: AppCredentials,
  request: { code: string; codeVerifier: string; redirectUri: string; nonce: string },
): Promise<TokenGrant> {
  const network = new EntraNetwork();
  const client = newClient(app, network);
  try {
    // msal-node checks the id token's nonce against this one (and so do we, after).
    const result = await client.acquireTokenByCode({
      code: request.code,
      codeVerifier: request.codeVerifier,
      redirectUri: request.redirectUri,
      scopes: signInScopes,
      nonce: request.nonce,
    });
    const refreshToken = refreshTokenFromCache(client.getTokenCache().serialize(), result.account?.homeAccountId, app.clientId);
    return { refreshToken, accessToken: accessTokenOf(result), idToken: idTokenOf(result) };
  } catch (err) {
    if (err instanceof AppError && !(err instanceof TokenRequestError)) throw err;
    // MUST: an id token minted for another sign-in (replay, mix-up) is refused, never retried.
    if (err instanceof AuthError && err.errorCode === 'nonce_mismatch')
      throw new AppError('transaction_invalid', 'id token nonce does not match the transaction', { cause: err });
    throw tokenFailed(app, err, network);
  }
}

/**
 * Redeems a refresh token for a new one. Entra does not revoke the old token on redemption, so
 * the caller may keep it as a fallback until the new one is safely stored.
 */
export function redeemRefreshToken(app: AppCredentials, refreshToken: string): Promise<TokenGrant> {
  return tokenRequest(app, () => redeemRefreshTokenOnce(app, refreshToken));
}

async function redeemRefreshTokenOnce(app: AppCredentials, refreshToken: string): Promise<TokenGrant> {
  const network = new EntraNetwork();
  const client = newClient(app, network);
  try {
    const result = await client.acquireTokenByRefreshToken({ refreshToken, scopes: [partnerCenterScope, 'offline_access'], forceCache: true });
    if (!result) throw new AppError('refresh_token_missing', 'Entra returned no result for the refresh token grant');
    const next = refreshTokenFromCache(client.getTokenCache().serialize(), result.account?.homeAccountId, app.clientId);
    return { refreshToken: next, accessToken: accessTokenOf(result) };
  } catch (err) {
    if (err instanceof AppError && !(err instanceof TokenRequestError)) throw err;
    throw tokenFailed(app, err, network);
  }
}
