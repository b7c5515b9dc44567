/**
 * What Partner Center's refusal of a token means. Partner Center is the authority on whether a
 * token works: Microsoft treats access tokens for another resource as opaque to the client.
 */
import { AppError, type ErrorCode } from '../errors';
import type { EventFields } from '../log';

/**
 * - `mfa`: the sign-in carried no MFA claim (401 with error 900421, or an `amr` without `mfa`);
 * - `no-role`: the account has no Partner Center role (403);
 * - `unauthorized`: any other 401 (the token is not accepted);
 * - `unavailable` / `throttled` / `network`: try again later.
 */
export type PartnerCenterReason = 'mfa' | 'no-role' | 'unauthorized' | 'unavailable' | 'throttled' | 'network';

const codeOf: Record<PartnerCenterReason, ErrorCode> = {
  mfa: 'mfa_required',
  'no-role': 'partner_center_role_missing',
  unauthorized: 'partner_center_refused',
  unavailable: 'partner_center_unavailable',
  throttled: 'partner_center_unavailable',
  network: 'partner_center_unavailable',
};

/** Partner Center's own identifiers for a call, which Microsoft support asks for. Not secrets. */
export interface PartnerCenterTrace {
  status?: number;
  /** Partner Center's error code (900421, 2032, …). */
  errorCode?: number;
  correlationId?: string;
  requestId?: string;
}

export class PartnerCenterError extends AppError {
  override readonly name = 'PartnerCenterError';
  constructor(
    readonly reason: PartnerCenterReason,
    readonly trace: PartnerCenterTrace,
    options: { cause?: unknown; marketplace?: string; retryAfterMs?: number } = {},
  ) {
    const transient = reason === 'unavailable' || reason === 'throttled' || reason === 'network';
    super(
      codeOf[reason],
      `Partner Center refused the token: ${reason}${trace.status ? ` (HTTP ${trace.status}${trace.errorCode ? `, code ${trace.errorCode}` : ''})` : ''}`,
      {
        ...(options.cause !== undefined ? { cause: options.cause } : {}),
        ...(options.marketplace ? { marketplace: options.marketplace } : {}),
        retry: { transient, ...(options.retryAfterMs !== undefined ? { retryAfterMs: options.retryAfterMs } : {}) },
      },
    );
  }

  /** A person must act (sign in again with MFA, or with an account that has a role). */
  get needsPerson(): boolean {
    return !this.retry.transient;
  }

  override diagnosis(): EventFields {
    return {
      ...super.diagnosis(),
      reason: this.reason,
      status: this.trace.status,
      partnerCenterCode: this.trace.errorCode,
      msCorrelationId: this.trace.correlationId,
      msRequestId: this.trace.requestId,
    };
  }
}
