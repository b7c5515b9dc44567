/**
 * What a failed Key Vault call (or its credential) means: transient or not, and the wait the
 * vault asked for. Pure: it reads the SDK's error shapes without importing the SDK.
 */
import { isTransientStatus, retryAfterFromHeaders } from '../retry';
import { SecretStoreError, type SecretStoreOperation, type StoreFailure } from './storeErrors';

interface HeadersLike {
  get(name: string): string | undefined;
}
interface RestErrorLike {
  name: string;
  code?: string;
  statusCode?: number;
  details?: { error?: { code?: string } };
  response?: { headers?: HeadersLike };
}

/** Classifies anything the SDK or the credential threw. */
export function failureOf(err: unknown): StoreFailure {
  if (!(err instanceof Error)) return { transient: false };
  const e = err as Error & RestErrorLike;
  if (e.name === 'AbortError') return { errorCode: 'Timeout', transient: true };
  if (e.name === 'RestError') {
    if (e.statusCode === undefined) return { ...(e.code ? { errorCode: e.code } : {}), transient: true }; // no answer: network
    const headers = e.response?.headers;
    const retryAfterMs = headers ? retryAfterFromHeaders((name) => headers.get(name)) : undefined;
    const errorCode = e.details?.error?.code ?? e.code;
    return {
      statusCode: e.statusCode,
      ...(errorCode ? { errorCode } : {}),
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
      transient: isTransientStatus(e.statusCode),
    };
  }
  // The managed-identity endpoint being down shows up as an unavailable credential: a platform
  // blip, not a misconfiguration (a missing role shows up as Key Vault's 403 instead).
  if (e.name === 'CredentialUnavailableError' || e.name === 'AggregateAuthenticationError') return { errorCode: e.name, transient: true };
  if (e.name === 'AuthenticationError') return { errorCode: e.name, transient: false };
  return { transient: false };
}

/** "HTTP 429 Throttled, retry after 7000 ms", "Timeout", "ECONNREFUSED": the class of failure, nothing the caller sent. */
function summary(f: StoreFailure): string {
  const what = [f.statusCode === undefined ? '' : `HTTP ${f.statusCode}`, f.errorCode ?? ''].filter(Boolean).join(' ') || 'unexpected error';
  return f.retryAfterMs === undefined ? what : `${what}, retry after ${f.retryAfterMs} ms`;
}

/**
 * SecretStoreError for a failed Key Vault call. MUST: the message and details carry only
 * the operation, the secret's name and the failure's class, never a value; the SDK error stays
 * as `cause` (its own inspect output redacts request bodies and headers).
 */
export function storeError(operation: SecretStoreOperation, secretName: string | undefined, err: unknown): SecretStoreError {
  const failure = failureOf(err);
  const subject = secretName === undefined ? '' : ` for secret '${secretName}'`;
  return new SecretStoreError(operation, secretName, failure, `Key Vault ${operation}${subject} failed: ${summary(failure)}`, { cause: err });
}
