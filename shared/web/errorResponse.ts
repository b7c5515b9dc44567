/**
 * The HTTP boundary of the domain: loads settings once, turns every failure into a page (or JSON)
 * that helps, with the status of errorCatalog.ts and a correlation id, and logs it without secrets.
 */
import { AppError, ensureAppError, isOperatorMistake } from '../errors';
import { events, type EventName } from '../events';
import { AppCredentialError } from '../identity/credentialError';
import { logEvent, type Logger } from '../log';
import { getSettings, type Settings } from '../settings';
import type * as ErrorCatalog from './errorCatalog';
import { errorPage } from './pages/error';
import { htmlResponse, jsonResponse, siteOf, type CookieSpec, type WebResponse } from './responses';

/**
 * Every page of every error code, loaded by the first error only: a request that succeeds (the
 * start page's GET, the cold start a person waits on) never compiles it.
 */
function errorCatalog(): typeof ErrorCatalog {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- deferred on purpose: cold start of the start page
  return require('./errorCatalog') as typeof ErrorCatalog;
}

export interface ErrorResponseOptions {
  settings: Settings | undefined;
  correlationId: string;
  logger: Logger;
  cookies?: CookieSpec[];
  json?: boolean;
  headers?: Record<string, string>;
}

/** Maps any failure to a response, and logs it once. */
export function errorResponse(err: unknown, o: ErrorResponseOptions): WebResponse {
  const e = ensureAppError(err);
  const { describeError, httpStatusOf } = errorCatalog();
  const status = httpStatusOf(e.code);
  const fields = {
    ...e.diagnosis(),
    code: e.code,
    status,
    correlationId: o.correlationId,
    // Our own messages are written to be safe to log; foreign errors are named, not quoted.
    message: e.code === 'internal' ? undefined : e.message,
    cause: e.cause instanceof Error ? e.cause.name : undefined,
  };
  if (status >= 500) logEvent(o.logger, 'error', eventOf(e), fields);
  else logEvent(o.logger, 'warn', events.requestRefused, fields);

  const site = siteOf(o.settings);
  const described = describeError(e, { ...(o.settings?.SUPPORT_CONTACT ? { support: o.settings.SUPPORT_CONTACT } : {}) });
  const microsoftIds = microsoftIdsOf(fields);
  const headers = { 'X-Correlation-Id': o.correlationId, ...retryAfterHeader(e, status), ...o.headers };
  if (o.json) return jsonResponse(status, site, { error: e.code, message: described.message, correlationId: o.correlationId }, { headers });
  return htmlResponse(
    status,
    site,
    (nonce) =>
      errorPage({
        ...(o.settings ? { environment: o.settings.SERVICE_ENVIRONMENT } : {}),
        nonce,
        ...described,
        correlationId: o.correlationId,
        ...(microsoftIds.length > 0 ? { microsoftIds } : {}),
      }),
    { headers, ...(o.cookies ? { cookies: o.cookies } : {}) },
  );
}

/**
 * The event a failure answered with 5xx is logged as: the one its alert watches. An application's
 * credential refused by Entra (a certificate with the wrong thumbprint, an expired secret) or
 * unusable before Entra sees it is InvalidClient at the callback as in rotation; other operator
 * mistakes are ConfigurationInvalid.
 */
function eventOf(e: AppError): EventName {
  if (e.code === 'client_credentials_invalid' || e instanceof AppCredentialError) return events.invalidClient;
  if (isOperatorMistake(e.code)) return events.configurationInvalid;
  return e.code === 'token_needs_attention' ? events.tokenNeedsAttention : events.tokenGenerationFailed;
}

/** Retry-After (whole seconds) on a 429 or 503 whose error says how long to wait (RFC 9110 10.2.3). */
function retryAfterHeader(e: AppError, status: number): Record<string, string> {
  const ms = e.retry.retryAfterMs;
  if ((status !== 429 && status !== 503) || ms === undefined) return {};
  return { 'Retry-After': String(Math.max(1, Math.ceil(ms / 1000))) };
}

/** Microsoft's identifiers in an error's diagnosis: not secrets, and the first thing Microsoft support asks for. */
function microsoftIdsOf(fields: Record<string, unknown>): { label: string; value: string }[] {
  const labels: [string, string][] = [
    ['entraTraceId', 'Entra trace id'],
    ['entraCorrelationId', 'Entra correlation id'],
    ['msCorrelationId', 'Partner Center MS-CorrelationId'],
    ['msRequestId', 'Partner Center MS-RequestId'],
  ];
  return labels.flatMap(([key, label]) => (typeof fields[key] === 'string' ? [{ label, value: fields[key] }] : []));
}

export function methodNotAllowed(allow: string[], o: ErrorResponseOptions): WebResponse {
  return errorResponse(new AppError('method_not_allowed', `Method not allowed; allowed: ${allow.join(', ')}`), {
    ...o,
    headers: { Allow: allow.join(', '), ...o.headers },
  });
}

/**
 * Runs a request with the settings of this process. Any error, including invalid settings,
 * becomes a page; nothing escapes to the Functions host as a stack trace.
 */
export async function withSettings(
  correlationId: string,
  logger: Logger,
  handle: (settings: Settings) => Promise<WebResponse>,
  opts: { json?: boolean } = {},
): Promise<WebResponse> {
  let settings: Settings | undefined;
  try {
    settings = getSettings();
    const response = await handle(settings);
    response.headers['X-Correlation-Id'] ??= correlationId;
    return response;
  } catch (err) {
    return errorResponse(err, { settings, correlationId, logger, ...(opts.json ? { json: true } : {}) });
  }
}
