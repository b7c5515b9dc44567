/**
 * What a failed token request means for the service: transient (try later), needs a person,
 * an operator problem with the application or with the marketplace's configuration, or a refused
 * request.
 */
import { AppError, type ErrorCode } from '../errors';
import type { EventFields } from '../log';
import { isTransientStatus } from '../retry';

/**
 * What a failed token request means for the service (docs/SECURITY.md 17, 34). `configuration`:
 * the marketplace's configured tenant is wrong (unknown, or not the token's): the operator fixes
 * the file; no token is marked.
 */
export type FailureClass = 'transient' | 'needs-reauth' | 'invalid-client' | 'configuration' | 'rejected';

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
  /** The application is not in the partner tenant (AADSTS700016): removed, or never consented there. */
  | 'app-not-in-tenant'
  /** The app trusts no federated credential matching the managed identity's token (issuer, audience, subject). */
  | 'federated-credential-mismatch'
  /** The client assertion was outside its validity (AADSTS700024). */
  | 'assertion-expired'
  /** The certificate is not registered on the app, has expired there, or signed wrongly (AADSTS700027). */
  | 'certificate-refused'
  /** Any other refusal of a client assertion (its audience, issuer, format). */
  | 'assertion-refused'
  /** The managed-identity endpoint gave no token for the federated credential's assertion. */
  | 'managed-identity'
  | 'scope'
  | 'resource'
  | 'access-denied'
  /** No directory has the configured tenant id (AADSTS90002, 900023): a mistyped `partner_tenant_id_*`. */
  | 'tenant-not-found'
  /** The token was issued in another tenant than the one asked (AADSTS7000012): a wrong `partner_tenant_id_*`. */
  | 'wrong-tenant'
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
  /** Entra's `trace_id` and `correlation_id` of the failed request: what Microsoft support asks for. */
  traceId?: string;
  correlationId?: string;
}

/**
 * Why Entra refused the application's own credential (`invalid_client`): an operator problem
 * whatever the code, these only say which credential to look at.
 */
const invalidClientReasons: Record<number, FailureReason> = {
  7000222: 'expired-secret',
  7000215: 'invalid-secret',
  700016: 'app-not-in-tenant',
  70021: 'federated-credential-mismatch',
  700211: 'federated-credential-mismatch',
  700212: 'federated-credential-mismatch',
  700213: 'federated-credential-mismatch',
  700024: 'assertion-expired',
  700027: 'certificate-refused',
  700023: 'assertion-refused',
  700021: 'assertion-refused',
  50027: 'assertion-refused',
  50166: 'assertion-refused',
};

/**
 * The configured tenant is not the token's: AADSTS90002 / 900023 (tenant not found, id not valid)
 * come with `invalid_request`, AADSTS7000012 ("The grant was obtained for a different tenant")
 * with `invalid_grant` (docs/STAND-INS.md). A person signing in again cannot fix a typo in the
 * operator's file, so these never park a token.
 */
const tenantNotFoundCodes = new Set([90002, 900023]);
const wrongTenantCode = 7000012;

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
export function classifyTokenFailure(f: Omit<TokenFailure, 'class' | 'reason'> & { network?: boolean }): TokenFailure {
  const base = {
    ...(f.error ? { error: f.error } : {}),
    ...(f.aadsts !== undefined ? { aadsts: f.aadsts } : {}),
    ...(f.status !== undefined ? { status: f.status } : {}),
    ...(f.retryAfterMs !== undefined ? { retryAfterMs: f.retryAfterMs } : {}),
    ...(f.traceId ? { traceId: f.traceId } : {}),
    ...(f.correlationId ? { correlationId: f.correlationId } : {}),
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
      // The one code of the family that is not about the token: the tenant asked is not the token's.
      if (f.aadsts === wrongTenantCode) return { ...base, class: 'configuration', reason: 'wrong-tenant' };
      return {
        ...base,
        class: 'needs-reauth',
        reason: (f.aadsts !== undefined && reauthReasons[f.aadsts]) || (f.error === 'consent_required' ? 'consent' : 'invalid-grant'),
      };
    // What the token was granted for is no longer allowed: only a person can sign in again (or an
    // administrator grant it again). Retrying would only run the token into its 90 days.
    case 'invalid_scope':
      return { ...base, class: 'needs-reauth', reason: 'scope' };
    case 'invalid_resource':
      return { ...base, class: 'needs-reauth', reason: 'resource' };
    case 'access_denied':
      return { ...base, class: 'needs-reauth', reason: 'access-denied' };
    case 'invalid_request':
      if (f.aadsts !== undefined && tenantNotFoundCodes.has(f.aadsts)) return { ...base, class: 'configuration', reason: 'tenant-not-found' };
      break;
    case 'invalid_client':
    case 'unauthorized_client':
      return { ...base, class: 'invalid-client', reason: (f.aadsts !== undefined && invalidClientReasons[f.aadsts]) || 'invalid-client' };
    default:
      break;
  }
  if (f.status === 429) return { ...base, class: 'transient', reason: 'throttled' };
  if (f.status !== undefined && isTransientStatus(f.status)) return { ...base, class: 'transient', reason: 'unavailable' };
  if (f.error) return { ...base, class: 'rejected', reason: 'invalid-request' };
  return { ...base, class: 'transient', reason: 'unknown' };
}

const codeOfClass: Record<FailureClass, ErrorCode> = {
  transient: 'identity_unavailable',
  'needs-reauth': 'token_refused',
  rejected: 'token_refused',
  'invalid-client': 'client_credentials_invalid',
  configuration: 'marketplace_misconfigured',
};

/** A failed token request, classified. The message never contains a token. */
export class TokenRequestError extends AppError {
  override readonly name = 'TokenRequestError';
  constructor(
    readonly failure: TokenFailure,
    options: { cause?: unknown; marketplace?: string } = {},
  ) {
    super(
      codeOfClass[failure.class],
      `Token request failed: ${failure.class} (${failure.reason}${failure.aadsts ? `, AADSTS${failure.aadsts}` : ''})`,
      {
        ...options,
        retry: { transient: failure.class === 'transient', ...(failure.retryAfterMs !== undefined ? { retryAfterMs: failure.retryAfterMs } : {}) },
      },
    );
  }

  override diagnosis(): EventFields {
    const f = this.failure;
    return {
      ...super.diagnosis(),
      class: f.class,
      reason: f.reason,
      error: f.error,
      aadsts: f.aadsts,
      status: f.status,
      entraTraceId: f.traceId,
      entraCorrelationId: f.correlationId,
    };
  }
}
