/**
 * The errors a secret store raises. MUST: messages and fields carry only the operation, the
 * secret's name and the failure's class, never a value; a foreign error stays as `cause`.
 */
import { AppError } from '../errors';
import type { EventFields } from '../log';

/** The port operation a store error came from. */
export type SecretStoreOperation =
  'getSecret' | 'getToken' | 'putToken' | 'updateTokenTags' | 'disableTokenVersion' | 'listTokens' | 'setSecret' | 'listSecretProperties';

/** What callers need to decide "retry later" vs "stop": no message text, which might echo input. */
export interface StoreFailure {
  statusCode?: number;
  /** Key Vault's error code (`Throttled`, `SecretNotFound`, …), a Node error code, `Timeout`, or the credential error's name. */
  errorCode?: string;
  retryAfterMs?: number;
  transient: boolean;
}

export class SecretStoreError extends AppError {
  override readonly name = 'SecretStoreError';
  constructor(
    readonly operation: SecretStoreOperation,
    readonly secretName: string | undefined,
    readonly failure: StoreFailure,
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super('secret_store_failed', message, {
      ...options,
      retry: { transient: failure.transient, ...(failure.retryAfterMs !== undefined ? { retryAfterMs: failure.retryAfterMs } : {}) },
    });
  }

  override diagnosis(): EventFields {
    return {
      ...super.diagnosis(),
      operation: this.operation,
      secretName: this.secretName,
      statusCode: this.failure.statusCode,
      errorCode: this.failure.errorCode,
    };
  }
}

/** A write or name the store refuses before trying (Key Vault would answer 400). Not transient. */
export function invalidSecretError(operation: SecretStoreOperation, secretName: string | undefined, problem: string): SecretStoreError {
  // An invalid name is not echoed: whatever was passed is not known to be safe to print.
  const subject = secretName === undefined ? '' : ` for secret '${secretName}'`;
  return new SecretStoreError(operation, secretName, { errorCode: 'BadParameter', transient: false }, `Refused ${operation}${subject}: ${problem}`);
}

/** A secret under a token's name that is not a token (content type or tags). Not transient. */
export function notATokenError(operation: SecretStoreOperation, secretName: string): SecretStoreError {
  return new SecretStoreError(
    operation,
    secretName,
    { errorCode: 'NotAToken', transient: false },
    `Secret '${secretName}' exists but is not a refresh token of this service (content type or tags)`,
  );
}

/** A caller passed tags of another marketplace or environment: a bug, never written. */
export function tagsMismatchError(operation: SecretStoreOperation, secretName: string): AppError {
  return new AppError('internal', `Token tags for secret '${secretName}' (${operation}) name another marketplace or environment`);
}
