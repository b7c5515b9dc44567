/**
 * The Entra ID (v2) errors the simulator sends, with the codes and wording of the real service,
 * so that callers classify them exactly as they would classify Microsoft's.
 */
import { randomUUID } from 'node:crypto';

/** One Entra error before it gets its request-specific trailer (trace id, correlation id, timestamp). */
export interface EntraError {
  status: number;
  error: string;
  aadsts: number;
  message: string;
  suberror?: string;
  claims?: string;
  headers?: Record<string, string>;
}

/** The JSON body of an Entra token-endpoint error. */
export interface EntraErrorBody {
  error: string;
  error_description: string;
  error_codes: number[];
  timestamp: string;
  trace_id: string;
  correlation_id: string;
  error_uri: string;
  suberror?: string;
  claims?: string;
}

/** Identifiers Entra puts on every answer; the correlation id echoes the caller's client-request-id. */
export interface RequestIds {
  traceId: string;
  correlationId: string;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Trace id per request; correlation id from the client's `client-request-id` header when it is a GUID (as Entra does). */
export function requestIds(clientRequestId: string | undefined): RequestIds {
  return { traceId: randomUUID(), correlationId: clientRequestId && GUID.test(clientRequestId) ? clientRequestId : randomUUID() };
}

/** Entra's timestamp format in error bodies: "2016-01-09 02:02:12Z". */
export function entraTimestamp(date: Date): string {
  return date
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, 'Z');
}

/** "AADSTS…: message\r\nTrace ID: …\r\nCorrelation ID: …\r\nTimestamp: …", exactly Entra's layout. */
export function errorDescription(err: EntraError, ids: RequestIds, now: Date): string {
  return `AADSTS${err.aadsts}: ${err.message}\r\nTrace ID: ${ids.traceId}\r\nCorrelation ID: ${ids.correlationId}\r\nTimestamp: ${entraTimestamp(now)}`;
}

/** Entra's error lookup page; the simulator points at it because its codes are Entra's. */
export function errorUri(aadsts: number): string {
  return `https://login.microsoftonline.com/error?code=${aadsts}`;
}

export function errorBody(err: EntraError, ids: RequestIds, now: Date): EntraErrorBody {
  const body: EntraErrorBody = {
    error: err.error,
    error_description: errorDescription(err, ids, now),
    error_codes: [err.aadsts],
    timestamp: entraTimestamp(now),
    trace_id: ids.traceId,
    correlation_id: ids.correlationId,
    error_uri: errorUri(err.aadsts),
  };
  if (err.suberror !== undefined) body.suberror = err.suberror;
  if (err.claims !== undefined) body.claims = err.claims;
  return body;
}

/** Entra's date format inside messages: 2024-01-01T00:00:00.0000000Z. */
function entraDate(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$10000Z');
}

const invalidClient = (aadsts: number, message: string): EntraError => ({ status: 401, error: 'invalid_client', aadsts, message });

/** The assertion type of RFC 7523 client authentication. */
export const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const CERTIFICATE_DOCS = 'https://learn.microsoft.com/entra/identity-platform/certificate-credentials';
const FIC_DOCS = 'https://learn.microsoft.com/entra/workload-id/workload-identity-federation';
const FIC_CHECK = `Check your federated identity credential Subject, Audience and Issuer against the presented assertion. ${FIC_DOCS}`;

const invalidGrant = (aadsts: number, message: string, extra: Partial<EntraError> = {}): EntraError => ({
  status: 400,
  error: 'invalid_grant',
  aadsts,
  message,
  ...extra,
});

/** The catalog. Names say what happened; values are what Entra answers. */
export const entraErrors = {
  // --- refresh-token conditions (the "needs a person" family) ---
  refreshTokenExpired: (issuedAt: number, inactiveDays: number) =>
    invalidGrant(
      700082,
      `The refresh token has expired due to inactivity. The token was issued on ${entraDate(issuedAt)} and was inactive for ${inactiveDays}.00:00:00.`,
    ),
  grantRevoked: (issuedAt: number, validFrom: number) =>
    invalidGrant(
      50173,
      `The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password. The grant was issued on '${entraDate(issuedAt)}' and the TokensValidFrom date (before which tokens are not valid) for this user is '${entraDate(validFrom)}'.`,
    ),
  signInFrequency: (issuedAt: number) =>
    invalidGrant(
      70043,
      `The refresh token has expired or is invalid due to sign-in frequency checks by conditional access. The token was issued on ${entraDate(issuedAt)} and the maximum allowed lifetime for this request is 43200.`,
    ),
  mfaRequired: (resource: string) =>
    invalidGrant(
      50076,
      `Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access '${resource}'.`,
      // MUST carry a claims challenge: the client replays it in the next interactive request.
      { suberror: 'basic_action', claims: JSON.stringify({ access_token: { capolids: { essential: true, values: [randomUUID()] } } }) },
    ),
  conditionalAccessBlocked: () =>
    invalidGrant(53003, 'Access has been blocked by Conditional Access policies. The access policy does not allow token issuance.', {
      suberror: 'message_only',
    }),
  // --- the app's registration or the user's assignment changed (also "needs a person") ---
  invalidScope: (scope: string): EntraError => ({
    status: 400,
    error: 'invalid_scope',
    aadsts: 70011,
    message: `The provided request must include a 'scope' input parameter. The provided value for the input parameter 'scope' is not valid. The scope ${scope} is not valid.`,
  }),
  resourceNotFound: (resource: string, tenant: string): EntraError => ({
    status: 400,
    error: 'invalid_resource',
    aadsts: 500011,
    message: `The resource principal named ${resource} was not found in the tenant named ${tenant}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.`,
  }),
  accessDenied: (clientId: string, upn: string): EntraError => ({
    status: 400,
    error: 'access_denied',
    aadsts: 50105,
    message: `Your administrator has configured the application ${clientId} ('${clientId}') to block users unless they are specifically granted ('assigned') access to the application. The signed in user '${upn}' is blocked because they are not a direct member of a group with access, nor had access directly assigned by an administrator. Please contact your administrator to assign access to this application.`,
  }),
  consentRequired: (clientId: string) =>
    invalidGrant(
      65001,
      `The user or administrator has not consented to use the application with ID '${clientId}' named '${clientId}'. Send an interactive authorization request for this user and resource.`,
      { suberror: 'consent_required' },
    ),
  // --- malformed or misused grants ---
  malformedGrant: () => invalidGrant(9002313, 'Invalid request. Request is malformed or invalid.'),
  grantOfOtherClient: () => invalidGrant(70000, 'Provided grant is invalid or malformed.'),
  codeInvalid: () => invalidGrant(70000, "The provided value for the 'code' parameter is not valid."),
  codeOfOtherTenant: () => invalidGrant(700005, 'Provided Authorization Code is intended to use against other tenant, thus rejected.'),
  /** A refresh token redeemed at another tenant's endpoint (a wrong tenant id): what users report Entra answers. */
  grantOfOtherTenant: () => invalidGrant(7000012, 'The grant was obtained for a different tenant.'),
  codeRedeemed: () =>
    invalidGrant(54005, 'OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.'),
  codeExpired: () =>
    invalidGrant(
      70008,
      'The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.',
    ),
  redirectUriMismatch: (given: string, expected: string) =>
    invalidGrant(500112, `The reply address '${given}' does not match the reply address '${expected}' provided when requesting Authorization code.`),
  pkceMismatch: () => invalidGrant(501481, 'The Code_Verifier does not match the code_challenge supplied in the authorization request.'),
  // --- requests ---
  missingParameter: (name: string): EntraError => ({
    status: 400,
    error: 'invalid_request',
    aadsts: 900144,
    message: `The request body must contain the following parameter: '${name}'.`,
  }),
  badRequest: (message: string): EntraError => ({ status: 400, error: 'invalid_request', aadsts: 9002313, message }),
  unsupportedGrantType: (grantType: string): EntraError => ({
    status: 400,
    error: 'unsupported_grant_type',
    aadsts: 70003,
    message: `The app requested an unsupported grant type '${grantType}'.`,
  }),
  invalidTenant: (tenant: string): EntraError => ({
    status: 400,
    error: 'invalid_request',
    aadsts: 90002,
    message: `Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.`,
  }),
  /** Shown on Entra's own "Need admin approval" page: the person is not sent back to the app. */
  /** `appName`: the client app's display name, as Entra writes it into the message. */
  needAdminApproval: (appName: string): EntraError => ({
    status: 200,
    error: 'access_denied',
    aadsts: 90094,
    message: `${appName} needs permission to access resources in your organization that only an admin can grant. Please ask an admin to grant permission to this app before you can use it.`,
  }),
  unknownInstance: (): EntraError => ({
    status: 400,
    error: 'invalid_instance',
    aadsts: 50049,
    message: 'Unknown or invalid instance.',
  }),
  // --- client authentication (the operator's problem) ---
  unknownClient: (clientId: string, tenant: string): EntraError => ({
    status: 400,
    error: 'unauthorized_client',
    aadsts: 700016,
    message: `Application with identifier '${clientId}' was not found in the directory '${tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.`,
  }),
  missingClientSecret: (): EntraError => ({
    status: 401,
    error: 'invalid_client',
    aadsts: 7000218,
    message: "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
  }),
  invalidClientSecret: (clientId: string): EntraError => ({
    status: 401,
    error: 'invalid_client',
    aadsts: 7000215,
    message: `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${clientId}'.`,
  }),
  expiredClientSecret: (clientId: string): EntraError => ({
    status: 401,
    error: 'invalid_client',
    aadsts: 7000222,
    message: `The provided client secret keys for app '${clientId}' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds.`,
  }),
  // --- client assertions (certificates and federated credentials): also the operator's problem ---
  assertionMalformed: (): EntraError => invalidClient(50027, 'JWT token is invalid or malformed.'),
  assertionTypeUnsupported: (type: string): EntraError => ({
    status: 400,
    error: 'invalid_request',
    aadsts: 9002313,
    message: `Invalid request. The client_assertion_type '${type}' is not supported; use '${JWT_BEARER}'.`,
  }),
  assertionAppIdMismatch: (): EntraError =>
    invalidClient(
      700021,
      `Client assertion application identifier doesn't match 'client_id' parameter. Review the documentation at ${CERTIFICATE_DOCS} .`,
    ),
  assertionAudienceMismatch: (): EntraError =>
    invalidClient(700023, `Client assertion audience claim does not match Realm issuer. Review the documentation at ${CERTIFICATE_DOCS} .`),
  assertionOutsideValidity: (now: number, nbf: number | undefined, exp: number | undefined): EntraError =>
    invalidClient(
      700024,
      `Client assertion is not within its valid time range. Current time: ${entraDate(now)}, assertion valid from ${entraDate((nbf ?? 0) * 1000)}, expiry time of assertion ${entraDate((exp ?? 0) * 1000)}. Review the documentation at ${CERTIFICATE_DOCS} .`,
    ),
  certificateNotRegistered: (thumbprintHex: string, clientId: string): EntraError =>
    invalidClient(
      700027,
      `The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '${thumbprintHex}', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '${clientId}'. Review the documentation at https://docs.microsoft.com/en-us/graph/deployments to determine the corresponding service endpoint and https://docs.microsoft.com/en-us/graph/api/application-get?view=graph-rest-1.0&tabs=http to build a query request URL, such as 'https://graph.microsoft.com/beta/applications/${clientId}']`,
    ),
  certificateExpired: (thumbprintHex: string, validFrom: number, validTo: number): EntraError =>
    invalidClient(
      700027,
      `Client assertion contains an invalid signature. [Reason - The key used is expired., Thumbprint of key used by client: '${thumbprintHex}', Found key 'Start=${entraDate(validFrom)}, End=${entraDate(validTo)}']`,
    ),
  assertionSignatureInvalid: (thumbprintHex: string): EntraError =>
    invalidClient(
      700027,
      `Client assertion contains an invalid signature. [Reason - The provided signature value did not match the expected signature value., Thumbprint of key used by client: '${thumbprintHex}']`,
    ),
  federatedSignatureInvalid: (): EntraError => invalidClient(700027, 'Client assertion failed signature validation.'),
  federatedIssuerUnreachable: (issuer: string): EntraError =>
    invalidClient(
      50166,
      `Request to External OIDC endpoint failed. The issuer '${issuer}' is not served by the local identity simulator, so its keys cannot be fetched.`,
    ),
  noFederatedCredential: (iss: string, sub: string, aud: string): EntraError =>
    invalidClient(
      70021,
      `No matching federated identity record found for presented assertion. Assertion Issuer: '${iss}'. Assertion Subject: '${sub}'. Assertion Audience: '${aud}'. ${FIC_DOCS}`,
    ),
  noFederatedCredentialForIssuer: (iss: string): EntraError =>
    invalidClient(700211, `No matching federated identity record found for presented assertion issuer '${iss}'. ${FIC_CHECK}`),
  noFederatedCredentialForAudience: (aud: string): EntraError =>
    invalidClient(700212, `No matching federated identity record found for presented assertion audience '${aud}'. ${FIC_CHECK}`),
  noFederatedCredentialForSubject: (sub: string): EntraError =>
    invalidClient(700213, `No matching federated identity record found for presented assertion subject '${sub}'. ${FIC_CHECK}`),
  // --- transient ---
  unavailable: (): EntraError => ({
    status: 503,
    error: 'temporarily_unavailable',
    aadsts: 90033,
    message: 'A transient error has occurred. Please try again.',
  }),
  throttled: (retryAfterSeconds: number): EntraError => ({
    status: 429,
    error: 'temporarily_unavailable',
    aadsts: 90055,
    message: 'There are too many incoming requests. Please try again later.',
    headers: { 'Retry-After': String(retryAfterSeconds) },
  }),
} satisfies Record<string, (...args: never[]) => EntraError>;

/** Errors the authorize endpoint sends back to a registered redirect URI (error + AADSTS description). */
export const authorizeErrors = {
  consentRequired: (clientId: string): EntraError => ({
    status: 302,
    error: 'consent_required',
    aadsts: 65001,
    message: `The user or administrator has not consented to use the application with ID '${clientId}' named '${clientId}'. Send an interactive authorization request for this user and resource.`,
  }),
  consentDeclined: (): EntraError => ({
    status: 302,
    error: 'access_denied',
    aadsts: 65004,
    message: 'User declined to consent to access the app.',
  }),
  invalidRequest: (aadsts: number, message: string): EntraError => ({ status: 302, error: 'invalid_request', aadsts, message }),
  /** A v1 parameter sent to the v2 endpoint (`amr_values`, `resource`). */
  unsupportedParameter: (name: string): EntraError => ({
    status: 302,
    error: 'invalid_request',
    aadsts: 901002,
    message: `The '${name}' request parameter is not supported.`,
  }),
  /** An administrator cancelled the admin-consent prompt: the error response the admin-consent documentation shows. */
  adminConsentDenied: (): EntraError => ({
    status: 302,
    error: 'consent_required',
    aadsts: 65004,
    message: 'The resource owner or authorization server denied the request.',
  }),
  unsupportedResponseType: (): EntraError => ({
    status: 302,
    error: 'unsupported_response_type',
    aadsts: 70005,
    message: "The provided value for the input parameter 'response_type' is not allowed for this request. Expected value: 'code'.",
  }),
  loginRequired: (): EntraError => ({
    status: 302,
    error: 'login_required',
    aadsts: 50058,
    message: 'A silent sign-in request was sent but no user is signed in.',
  }),
} satisfies Record<string, (...args: never[]) => EntraError>;
