/**
 * Errors carry a stable code and a cause; httpStatusOf() maps codes to HTTP in one place.
 * Messages are written for operators and never contain a secret value.
 */
export type ErrorCode =
  | 'settings_invalid'
  | 'configuration_invalid'
  | 'marketplace_id_invalid'
  | 'marketplace_not_found'
  | 'marketplace_misconfigured'
  | 'cross_site_request'
  | 'method_not_allowed'
  | 'body_too_large'
  | 'unsupported_media_type'
  | 'transaction_missing'
  | 'transaction_invalid'
  | 'transaction_expired'
  | 'state_mismatch'
  | 'authorization_denied'
  | 'consent_required'
  | 'tenant_mismatch'
  | 'token_redemption_failed'
  | 'identity_unavailable'
  | 'secret_store_failed'
  | 'not_found'
  | 'internal';

const statusByCode: Record<ErrorCode, number> = {
  settings_invalid: 500,
  configuration_invalid: 500,
  marketplace_id_invalid: 400,
  marketplace_not_found: 404,
  marketplace_misconfigured: 500,
  cross_site_request: 403,
  method_not_allowed: 405,
  body_too_large: 413,
  unsupported_media_type: 415,
  transaction_missing: 400,
  transaction_invalid: 400,
  transaction_expired: 400,
  state_mismatch: 400,
  authorization_denied: 400,
  consent_required: 403,
  tenant_mismatch: 403,
  token_redemption_failed: 502,
  identity_unavailable: 503,
  secret_store_failed: 503,
  not_found: 404,
  internal: 500,
};

export class AppError extends Error {
  override readonly name = 'AppError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown; details?: Record<string, string | number | boolean | undefined> },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.details = options?.details ?? {};
  }
  readonly details: Record<string, string | number | boolean | undefined>;
}

export function httpStatusOf(code: ErrorCode): number {
  return statusByCode[code];
}

/** Catch `unknown`, normalize once. Anything that is not an AppError becomes `internal`. */
export function ensureAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  return new AppError('internal', 'Unexpected error', { cause: err });
}

export function isAppError(err: unknown, code?: ErrorCode): err is AppError {
  return err instanceof AppError && (code === undefined || err.code === code);
}
