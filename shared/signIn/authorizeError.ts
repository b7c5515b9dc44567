/**
 * What an error Entra sends back to the callback means, in one place (docs/STAND-INS.md, "Authorize
 * endpoint" and "Consent"): for a CPV marketplace, the answers about consent; Entra refusing the
 * request this service built; Entra unavailable; anything else a sign-in that did not complete.
 * AADSTS codes are read from the description for diagnosis only; the description itself is never
 * shown or logged.
 */
import { AppError } from '../errors';
import type { EventFields } from '../log';
import type { Marketplace } from '../marketplaces/marketplace';

/**
 * What Entra sends back when the CPV app has not been consented in the partner tenant.
 * Interactively, an administrator consents right on Entra's prompt and a non-administrator stays
 * on Entra's "Need admin approval" page (AADSTS90094) without coming back; what does come back is
 * `access_denied` (a cancelled prompt, AADSTS65004) and, for `prompt=none` only, `consent_required`;
 * the admin-consent endpoint documents its refusal as `consent_required` with AADSTS65004.
 * 700016: the app is not (or no longer) in that tenant, which an administrator's approval also fixes.
 */
export function consentAnswer(error: string, description: string | null): 'declined' | 'needed' | undefined {
  if (error === 'access_denied' || /\bAADSTS65004\b/.test(description ?? '')) return 'declined';
  if (error === 'consent_required' || /\bAADSTS(65001|90094|90099|700016)\b/.test(description ?? '')) return 'needed';
  return undefined;
}

/** The first AADSTS code of an error description (diagnosis only; the description is never kept). */
function aadstsIn(description: string | null): number | undefined {
  const m = /\bAADSTS(\d{4,9})\b/.exec(description ?? '');
  return m ? Number(m[1]) : undefined;
}

/**
 * Entra refused the authorize request this service built (`invalid_request`: e.g. AADSTS901002 for
 * a parameter the v2 endpoint does not support; `unauthorized_client`, `unsupported_response_type`,
 * `invalid_resource`). No person can fix it by signing in again; the operator is alerted. Whether
 * Entra sends such an error back or shows it on its own page is not documented: both are handled,
 * the latter by never sending such a request (shared/signIn/entraUrls.ts).
 */
class AuthorizeRequestRefused extends AppError {
  override readonly name = 'AuthorizeRequestRefused';
  constructor(
    readonly error: string,
    readonly aadsts: number | undefined,
    marketplace: string,
  ) {
    super('authorize_request_refused', `Entra refused the authorize request: ${error}${aadsts ? ` (AADSTS${aadsts})` : ''}`, { marketplace });
  }

  override diagnosis(): EventFields {
    return { ...super.diagnosis(), error: this.error, aadsts: this.aadsts };
  }
}

/** The authorize errors Entra documents, by what they mean here. */
const refusedRequestErrors = new Set(['invalid_request', 'unauthorized_client', 'unsupported_response_type', 'invalid_resource']);
const unavailableErrors = new Set(['server_error', 'temporarily_unavailable']);

/** What the callback does with an error sent back from the authorize endpoint. */
export type AuthorizeAnswer = { kind: 'consent'; declined: boolean } | { kind: 'error'; error: AppError };

export function readAuthorizeError(error: string, description: string | null, marketplace: Pick<Marketplace, 'id' | 'model'>): AuthorizeAnswer {
  const consent = marketplace.model === 'CPV' ? consentAnswer(error, description) : undefined;
  if (consent) return { kind: 'consent', declined: consent === 'declined' };
  const known = /^[a-z_]{1,64}$/.test(error) ? error : 'other';
  const where = { marketplace: marketplace.id };
  if (refusedRequestErrors.has(known)) return { kind: 'error', error: new AuthorizeRequestRefused(known, aadstsIn(description), marketplace.id) };
  if (unavailableErrors.has(known))
    return { kind: 'error', error: new AppError('identity_unavailable', `Entra returned error ${known}`, { ...where, retry: { transient: true } }) };
  return { kind: 'error', error: new AppError('authorization_denied', `Entra returned error ${known}`, where) };
}
