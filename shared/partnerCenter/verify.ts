/**
 * Proof that a token works: `GET /v1/profiles/organization` on the Partner Center API with the
 * access token of the same redemption (App+User). 200 means Partner Center accepts this sign-in
 * (MFA claim present, a Partner Center role); anything else is classified for the caller.
 */
import { randomUUID } from 'node:crypto';
import { loadJose } from '../jose';
import { parseRetryAfter } from '../retry';
import { PartnerCenterError, type PartnerCenterTrace } from './partnerCenterError';

/** Partner Center's error code for an App+User call whose token carries no MFA claim. */
export const mfaRequiredCode = 900421;

export interface PartnerProfile {
  companyName: string;
  tenantId?: string;
  /** Partner Center's own identifiers of the proving call. */
  trace: PartnerCenterTrace;
}

export interface VerifyOptions {
  /** PARTNER_CENTER_API_URL. */
  baseUrl: string;
  accessToken: string;
  marketplace?: string;
  timeoutMs?: number;
  fetch?: typeof fetch;
}

/**
 * The `amr` claim of the access token, when the token can be read as a JWT. Only an earlier,
 * clearer answer: a token the service cannot parse is not refused for it (Partner Center
 * decides), and one that parses with MFA still goes to Partner Center.
 */
export function signInMethods(accessToken: string): string[] | undefined {
  try {
    const amr = loadJose().decodeJwt(accessToken).amr;
    return Array.isArray(amr) && amr.every((m) => typeof m === 'string') ? amr : undefined;
  } catch {
    return undefined;
  }
}

const correlationPattern = /^[0-9A-Za-z-]{1,64}$/;
const header = (response: Response, name: string) => {
  const value = response.headers.get(name);
  return value && correlationPattern.test(value) ? value : undefined;
};

export async function verifyAtPartnerCenter(o: VerifyOptions): Promise<PartnerProfile> {
  const marketplace = o.marketplace ? { marketplace: o.marketplace } : {};
  const amr = signInMethods(o.accessToken);
  if (amr && !amr.includes('mfa')) throw new PartnerCenterError('mfa', {}, marketplace);

  const url = `${o.baseUrl.replace(/\/+$/, '')}/v1/profiles/organization`;
  const correlationId = randomUUID();
  let response: Response;
  try {
    response = await (o.fetch ?? fetch)(url, {
      headers: { Authorization: `Bearer ${o.accessToken}`, Accept: 'application/json', 'MS-CorrelationId': correlationId },
      // A redirect would carry the bearer token somewhere else: never followed.
      redirect: 'manual',
      signal: AbortSignal.timeout(o.timeoutMs ?? 10_000),
    });
  } catch (cause) {
    // Only the error's name is kept: nothing of the request (its bearer token) travels on.
    const name =
      typeof cause === 'object' && cause !== null && typeof (cause as { name?: unknown }).name === 'string'
        ? (cause as { name: string }).name
        : 'Error';
    throw new PartnerCenterError('network', { correlationId }, { ...marketplace, cause: new Error(name) });
  }
  const trace: PartnerCenterTrace = {
    status: response.status,
    correlationId: header(response, 'ms-correlationid') ?? correlationId,
    ...(header(response, 'ms-requestid') ? { requestId: header(response, 'ms-requestid') } : {}),
  };
  let body: unknown;
  try {
    body = await response.json();
  } catch {
    body = undefined;
  }
  const errorCode = typeof body === 'object' && body !== null ? Number((body as { code?: unknown }).code) : NaN;
  if (Number.isFinite(errorCode)) trace.errorCode = errorCode;

  if (response.status === 200) {
    const profile = (body ?? {}) as { companyName?: unknown; tenantId?: unknown };
    return {
      // The name is shown on a page and kept in a tag: bounded, and only ever escaped when shown.
      companyName:
        typeof profile.companyName === 'string' && profile.companyName.trim() ? profile.companyName.trim().slice(0, 200) : 'the partner organization',
      ...(typeof profile.tenantId === 'string' ? { tenantId: profile.tenantId.toLowerCase() } : {}),
      trace,
    };
  }
  if (response.status === 401) throw new PartnerCenterError(errorCode === mfaRequiredCode ? 'mfa' : 'unauthorized', trace, marketplace);
  if (response.status === 403) throw new PartnerCenterError('no-role', trace, marketplace);
  const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'));
  const retry = retryAfterMs !== undefined ? { retryAfterMs } : {};
  if (response.status === 429) throw new PartnerCenterError('throttled', trace, { ...marketplace, ...retry });
  // 5xx, and anything unexpected (a redirect, 400, 404: a wrong PARTNER_CENTER_API_URL looks like
  // this): transient, so an answer that says nothing about the token never marks it dead.
  throw new PartnerCenterError('unavailable', trace, { ...marketplace, ...retry });
}
