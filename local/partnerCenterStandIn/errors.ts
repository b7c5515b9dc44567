/**
 * Partner Center's answers when it refuses a call, in the shape of its REST error payload
 * (`{ code, description, data, source }`), with the status, code and `WWW-Authenticate` it sends:
 * - 401 "MFA required" + 900421, with `WWW-Authenticate: Bearer error="invalid_token"`, when the App+User
 *   token carries no MFA claim;
 * - 401 + 800001 without a token, 401 + 400 ("Access denied") for a token it does not accept;
 * - 403 + 2032 ("Access denied") when the user has no Partner Center role in the partner organization;
 * - 404 + 1000, 429, 500 + 800003, 5xx for the rest.
 * The codes are Partner Center's; the descriptions are the stand-in's own words.
 */

export interface PartnerCenterErrorBody {
  code: number;
  description: string;
  data: unknown[];
  source: 'PartnerFD';
}

export interface PartnerCenterError {
  status: number;
  /** The reason phrase; Partner Center's MFA refusal says "Unauthorized - MFA required". */
  statusText?: string;
  body: PartnerCenterErrorBody;
  headers: Record<string, string>;
}

/** What a stand-in refusal is about, for stats and call records (never a token). */
export type Outcome = 'ok' | 'mfaRequired' | 'forbidden' | 'unauthorized' | 'throttled' | 'serverError' | 'dropped' | 'notFound' | 'methodNotAllowed';

const body = (code: number, description: string): PartnerCenterErrorBody => ({ code, description, data: [], source: 'PartnerFD' });
const invalidToken = (description: string) => ({
  'WWW-Authenticate': `Bearer error="invalid_token", error_description="${description.replace(/"/g, "'")}"`,
});

/** The error code Partner Center answers App+User calls without the MFA claim with. */
export const MFA_REQUIRED_CODE = 900421;

export const partnerCenterErrors = {
  mfaRequired: (): PartnerCenterError => ({
    status: 401,
    statusText: 'Unauthorized - MFA required',
    body: body(
      MFA_REQUIRED_CODE,
      'Multi-factor authentication is required for App+User calls to Partner Center. The access token has no MFA claim (amr does not contain "mfa"): sign in with MFA, or have the federated identity provider pass the MFA claim to Entra ID.',
    ),
    headers: { 'WWW-Authenticate': 'Bearer error="invalid_token"' },
  }),
  tokenMissing: (): PartnerCenterError => ({
    status: 401,
    body: body(800001, 'Partner Token missing in request context'),
    headers: { 'WWW-Authenticate': 'Bearer' },
  }),
  tokenRefused: (reason: string): PartnerCenterError => ({
    status: 401,
    body: body(400, `Access denied: ${reason}`),
    headers: invalidToken(reason),
  }),
  noRole: (why: string): PartnerCenterError => ({
    status: 403,
    body: body(2032, `Access denied: ${why}`),
    headers: {},
  }),
  notFound: (): PartnerCenterError => ({ status: 404, body: body(1000, 'Not found'), headers: {} }),
  methodNotAllowed: (): PartnerCenterError => ({ status: 405, body: body(405, 'Method not allowed'), headers: { Allow: 'GET' } }),
  throttled: (retryAfterSeconds: number): PartnerCenterError => ({
    status: 429,
    body: body(429, 'Too many requests. Retry after the interval given in Retry-After.'),
    headers: { 'Retry-After': String(retryAfterSeconds) },
  }),
  serverError: (status: number, retryAfterSeconds?: number): PartnerCenterError => ({
    status,
    body: body(800003, 'Unexpected service error'),
    headers: retryAfterSeconds === undefined ? {} : { 'Retry-After': String(retryAfterSeconds) },
  }),
} satisfies Record<string, (...args: never[]) => PartnerCenterError>;
