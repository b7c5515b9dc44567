/**
 * The HTTP boundary of the domain: loads settings once, turns every failure into a page (or JSON)
 * that helps, with the right status and a correlation id, and logs it without secrets.
 */
import { AppError, ensureAppError, httpStatusOf } from './errors';
import { events } from './events';
import { logEvent, type Logger } from './log';
import { describeError, errorPage } from './pages';
import { getSettings, type Settings } from './settings';
import { htmlResponse, jsonResponse, type CookieSpec, type SiteContext, type WebResponse } from './web';

export function siteOf(settings: Settings | undefined): SiteContext {
  if (!settings) return { https: true };
  return { authorityOrigin: new URL(settings.AUTHORITY_HOST).origin, https: new URL(settings.CALLBACK_URL).protocol === 'https:' };
}

export interface ErrorResponseOptions {
  settings: Settings | undefined;
  correlationId: string;
  logger: Logger;
  cookies?: CookieSpec[];
  json?: boolean;
  headers?: Record<string, string>;
}

/**
 * The status of an error. A token request Entra refused for what the request brought (a replayed,
 * forged or expired code, a verifier of another sign-in: `invalid_grant` and other OAuth errors)
 * is the caller's fault, so 400; only an unreachable Entra or a broken app registration
 * (`invalid_client`) is a gateway error.
 */
function statusOf(e: AppError): number {
  if (e.code === 'token_redemption_failed' && (e.details.class === 'needs-reauth' || e.details.class === 'rejected')) return 400;
  return httpStatusOf(e.code);
}

/** Maps any failure to a response; the only place that decides status codes for errors. */
export function errorResponse(err: unknown, o: ErrorResponseOptions): WebResponse {
  const e = ensureAppError(err);
  const status = statusOf(e);
  const fields = {
    code: e.code,
    status,
    marketplace: typeof e.details.marketplace === 'string' ? e.details.marketplace : undefined,
    class: typeof e.details.class === 'string' ? e.details.class : undefined,
    aadsts: typeof e.details.aadsts === 'number' ? e.details.aadsts : undefined,
    correlationId: o.correlationId,
    // Our own messages are written to be safe to log; foreign errors are named, not quoted.
    message: e.code === 'internal' ? undefined : e.message,
    cause: e.cause instanceof Error ? e.cause.name : undefined,
  };
  if (status >= 500) logEvent(o.logger, 'error', e.code === 'settings_invalid' || e.code === 'configuration_invalid' ? events.configurationInvalid : events.tokenGenerationFailed, fields);
  else logEvent(o.logger, 'warn', events.requestRefused, fields);

  const site = siteOf(o.settings);
  const described = describeError(e);
  const headers = { 'X-Correlation-Id': o.correlationId, ...o.headers };
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
      }),
    { headers, ...(o.cookies ? { cookies: o.cookies } : {}) },
  );
}

export const allMethods = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'] as const;

export function methodNotAllowed(allow: string[], o: ErrorResponseOptions): WebResponse {
  return errorResponse(new AppError('method_not_allowed', `Method not allowed; allowed: ${allow.join(', ')}`), { ...o, headers: { Allow: allow.join(', '), ...o.headers } });
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
