/**
 * What a failed send means (shared/notify/emailClient.ts): throttled, temporarily unavailable, or
 * refused. Pure: it reads the SDK's error shape (`RestError`) without importing the SDK, so the
 * delivery step decides without loading it.
 */
import { isTransientStatus, retryAfterFromHeaders } from '../retry';

/**
 * Why a message was not accepted. `throttled`: 429, wait `retryAfterMs` (never a failure);
 * `unavailable`: no answer, a timeout or a 5xx, worth another try later; `refused`: any other
 * answer (the identity lacks its role, the sender's domain is not linked, a recipient refused),
 * which waiting does not change.
 */
export class SendError extends Error {
  override readonly name = 'SendError';
  constructor(
    readonly kind: 'throttled' | 'unavailable' | 'refused',
    readonly status: number | undefined,
    readonly code: string | undefined,
    readonly retryAfterMs?: number,
    options: { cause?: unknown } = {},
  ) {
    // MUST (docs/SECURITY.md 12, 35): the status and the service's error code only, never the message or an address.
    super(`Communication Services did not accept the message: ${kind}${status ? ` (HTTP ${status}${code ? `, ${code}` : ''})` : ''}`, options);
  }
}

interface RestErrorLike {
  name: string;
  code?: string;
  statusCode?: number;
  response?: { headers?: { get(name: string): string | undefined } };
}

/**
 * Classifies what the SDK (or its credential) threw. No HTTP status: the request never got an
 * answer (network, timeout), or the managed identity gave no token; both may work later.
 */
export function sendErrorOf(err: unknown): SendError {
  if (err instanceof SendError) return err;
  const e = err instanceof Error ? (err as Error & RestErrorLike) : undefined;
  const status = e?.name === 'RestError' ? e.statusCode : undefined;
  const headers = e?.response?.headers;
  const code = headers?.get('x-ms-error-code') ?? (e?.name === 'RestError' ? e.code : undefined);
  if (status === 429)
    return new SendError('throttled', status, code, headers ? retryAfterFromHeaders((n) => headers.get(n)) : undefined, { cause: err });
  if (status === undefined || isTransientStatus(status)) return new SendError('unavailable', status, code, undefined, { cause: err });
  return new SendError('refused', status, code, undefined, { cause: err });
}
