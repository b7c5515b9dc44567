/**
 * The service's one error model. Every error the domain raises is an AppError (or a subclass)
 * with a stable `code`, a `cause`, and typed facts: which marketplace and field it concerns and
 * whether trying again later may help. `shared/web/errorCatalog.ts` decides, per code and in one
 * place, the HTTP status and the page a person reads.
 *
 * Messages are written for operators and never contain a secret value or unvalidated input.
 */
import type { EventFields } from './log';

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
  /** The browser started more sign-ins than it may hold at once, and this one, the oldest, was set aside (shared/signIn/inFlight.ts). */
  | 'transaction_evicted'
  | 'state_mismatch'
  | 'authorization_denied'
  /** Entra sent the browser back with `invalid_request` (or another protocol error): it refused the request this service built. */
  | 'authorize_request_refused'
  /** The start form carried a sign-in option the service does not offer (only `prompt=login` is). */
  | 'sign_in_option_invalid'
  | 'consent_required'
  | 'tenant_mismatch'
  /** Entra refused what the request brought: a replayed, forged or expired code, a dead refresh token. */
  | 'token_refused'
  /** Entra refused the application itself (`invalid_client`): its credential is wrong or expired. */
  | 'client_credentials_invalid'
  /** Entra answered, but without a refresh token (offline_access not granted). */
  | 'refresh_token_missing'
  | 'identity_unavailable'
  | 'secret_store_failed'
  | 'connect_call_failed'
  /** An administrator of the partner tenant declined the CPV app's access. */
  | 'consent_declined'
  /** The admin-consent return cannot be tied to a consent started in this browser. */
  | 'consent_unconfirmed'
  /** Partner Center refused the token: the sign-in carried no MFA claim. */
  | 'mfa_required'
  /** Partner Center refused the token: the account has no Partner Center role. */
  | 'partner_center_role_missing'
  /** Partner Center refused the token for another reason (401). */
  | 'partner_center_refused'
  /** Partner Center did not answer, or asked us to wait. */
  | 'partner_center_unavailable'
  /** No token is stored for the marketplace (rotate one marketplace). */
  | 'token_not_found'
  /** The secret under a marketplace's token name is not one this service can use (written by hand, disabled). */
  | 'token_needs_attention'
  | 'not_found'
  | 'internal'
  /** A bound on sign-ins refused the request (docs/SECURITY.md 29); `retry.retryAfterMs` says when to come back. */
  | 'rate_limited'
  /** The single-use record of a sign-in could not be written: the callback is refused rather than let through unrecorded (docs/SECURITY.md 28). */
  | 'sign_in_busy'
  /** The local host refuses a Host header that is not its own (DNS rebinding). */
  | 'host_not_allowed'
  /** A rotation asked for by Key Vault's SecretNearExpiry did not finish for a reason a later attempt may fix. */
  | 'rotation_incomplete'
  /** The app's own storage account (leases, shared state) failed or did not answer. */
  | 'storage_failed'
  /** A writer's lease on a token lapsed before it finished: it must not write (docs/SECURITY.md 33). */
  | 'lease_lost'
  /** Another writer (a sign-in, a rotation) holds the token's lease longer than a person can wait. */
  | 'token_busy';

/** Whether the same call may succeed later, and how long the server asked us to wait. */
export interface RetryFacts {
  transient: boolean;
  retryAfterMs?: number;
}

/** Who signed in, as a refusal page names them (the sign-in name and the tenant; never a token). */
export interface SignedInAs {
  /** `preferred_username`, else `upn` when the id token has it. */
  account?: string;
  tenant?: string;
}

export interface AppErrorOptions {
  cause?: unknown;
  /** The marketplace concerned; only ever a validated marketplace ID. */
  marketplace?: string;
  /** The configuration field or app setting at fault. */
  field?: string;
  /** Defaults to not transient. */
  retry?: RetryFacts;
}

export class AppError extends Error {
  override readonly name: string = 'AppError';
  readonly marketplace: string | undefined;
  readonly field: string | undefined;
  readonly retry: RetryFacts;
  /**
   * Set on a refusal after a sign-in, so the page says which account and tenant Microsoft signed in
   * (a person who picked the wrong account sees it at once). Shown, never logged.
   */
  signedInAs: SignedInAs | undefined;

  constructor(
    readonly code: ErrorCode,
    message: string,
    options: AppErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.marketplace = options.marketplace;
    this.field = options.field;
    this.retry = options.retry ?? { transient: false };
  }

  /**
   * What may be logged about this error besides its code and message: identifiers and classes,
   * never values. Subclasses add their own diagnosis (AADSTS code, HTTP status, …).
   */
  diagnosis(): EventFields {
    return { marketplace: this.marketplace, field: this.field };
  }
}

/** Catch `unknown`, normalize once. Anything that is not an AppError becomes `internal`. */
export function ensureAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  return new AppError('internal', 'Unexpected error', { cause: err });
}

export function isAppError(err: unknown, code?: ErrorCode): err is AppError {
  return err instanceof AppError && (code === undefined || err.code === code);
}

/**
 * An operator's mistake (settings, the marketplace configuration): every occurrence is logged as
 * ConfigurationInvalid, which an alert rule watches (docs/SECURITY.md 31).
 */
export function isOperatorMistake(code: ErrorCode): boolean {
  return (
    code === 'settings_invalid' ||
    code === 'configuration_invalid' ||
    code === 'marketplace_misconfigured' ||
    // The service's own authorize request refused by Entra: only the operator can find out why.
    code === 'authorize_request_refused'
  );
}

/** Whether a failure is worth another try: only errors that say so are. */
export function isTransient(err: unknown): boolean {
  return ensureAppError(err).retry.transient;
}

/** The wait a failure asked for, if any. */
export function retryAfterOf(err: unknown): number | undefined {
  return ensureAppError(err).retry.retryAfterMs;
}
