/**
 * What a failed Storage call means (blob or table): transient or not, and the wait the service
 * asked for. Pure: it reads the SDKs' error shape (`RestError`) without importing an SDK.
 * MUST: the message carries the operation, the status and Storage's error code, never an entity,
 * a key or a connection string.
 */
import { AppError } from '../errors';
import type { EventFields } from '../log';
import { isTransientStatus, retryAfterFromHeaders } from '../retry';

interface RestErrorLike {
  name: string;
  code?: string;
  statusCode?: number;
  response?: { headers?: { get(name: string): string | undefined } };
}

export class StorageError extends AppError {
  override readonly name = 'StorageError';
  constructor(
    readonly operation: string,
    readonly statusCode: number | undefined,
    readonly errorCode: string | undefined,
    transient: boolean,
    retryAfterMs: number | undefined,
    options: { cause?: unknown } = {},
  ) {
    const what = [statusCode === undefined ? '' : `HTTP ${statusCode}`, errorCode ?? ''].filter(Boolean).join(' ') || 'unexpected error';
    super('storage_failed', `Storage ${operation} failed: ${what}`, {
      ...options,
      retry: { transient, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) },
    });
  }

  override diagnosis(): EventFields {
    return { ...super.diagnosis(), operation: this.operation, statusCode: this.statusCode, errorCode: this.errorCode };
  }
}

/** The Storage error code of a failed call (`LeaseAlreadyPresent`, `EntityAlreadyExists`, …), if it is one. */
export function storageErrorCode(err: unknown): string | undefined {
  if (!(err instanceof Error) || err.name !== 'RestError') return undefined;
  const e = err as Error & RestErrorLike;
  return e.response?.headers?.get('x-ms-error-code') ?? e.code;
}

export function statusOf(err: unknown): number | undefined {
  return err instanceof Error && err.name === 'RestError' ? (err as Error & RestErrorLike).statusCode : undefined;
}

/** Classifies anything a Storage SDK (or its credential) threw. */
export function storageError(operation: string, err: unknown): StorageError {
  if (err instanceof StorageError) return err;
  const e = err instanceof Error ? (err as Error & RestErrorLike) : undefined;
  if (e?.name === 'AbortError') return new StorageError(operation, undefined, 'Timeout', true, undefined, { cause: err });
  if (e?.name === 'RestError') {
    const headers = e.response?.headers;
    const retryAfterMs = headers ? retryAfterFromHeaders((name) => headers.get(name)) : undefined;
    const code = storageErrorCode(err);
    // No status: the request never got an answer (network), which a later try may get.
    const transient = e.statusCode === undefined || isTransientStatus(e.statusCode);
    return new StorageError(operation, e.statusCode, code, transient, retryAfterMs, { cause: err });
  }
  // The managed-identity endpoint being down: a platform blip, as for Key Vault.
  if (e?.name === 'CredentialUnavailableError' || e?.name === 'AggregateAuthenticationError')
    return new StorageError(operation, undefined, e.name, true, undefined, { cause: err });
  return new StorageError(operation, undefined, e?.name, false, undefined, { cause: err });
}
