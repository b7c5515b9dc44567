import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { AppError } from '../../shared/errors';
import { events } from '../../shared/events';
import { admitSignIn } from '../../shared/guards/signInBounds';
import { logEvent } from '../../shared/log';
import type * as ForSettings from '../../shared/marketplaces/forSettings';
import { parseMarketplaceId } from '../../shared/marketplaces/id';
import type * as Begin from '../../shared/signIn/begin';
import { approvalLinkUrl } from '../../shared/signIn/entraUrls';
import { errorResponse, methodNotAllowed, withSettings } from '../../shared/web/errorResponse';
import { startPage } from '../../shared/web/pages/start';
import { acceptedMethods, isCrossSitePost, maxFormBodyBytes } from '../../shared/web/requestGuards';
import { htmlResponse, redirectResponse, shownMarkQuery, shownMarkResponse, siteOf } from '../../shared/web/responses';

/** GET: the form. POST: validate the marketplace ID, seal a transaction, redirect to Microsoft sign-in. */
export async function start(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const correlationId = context.invocationId;
  return withSettings(correlationId, context, async (settings) => {
    const site = siteOf(settings);
    const environment = settings.SERVICE_ENVIRONMENT;
    const fail = (err: AppError) => errorResponse(err, { settings, correlationId, logger: context });
    // The approval link an administrator of a CPV partner tenant may need (the CPV application's admin consent).
    const approval = settings.CPV_CLIENT_ID
      ? {
          approvalLink: approvalLinkUrl({
            authorityHost: settings.AUTHORITY_HOST,
            clientId: settings.CPV_CLIENT_ID,
            redirectUri: settings.CALLBACK_URL,
          }),
        }
      : {};

    if (request.method === 'GET' || request.method === 'HEAD') {
      // The token page's stylesheet: it keeps that page out of the back/forward cache without script (docs/SECURITY.md 30).
      if (request.query.has(shownMarkQuery)) return shownMarkResponse(site);
      // `?marketplace=` fills the box in (the "Try again" link after an approval); only a valid ID is shown back.
      const prefill = parseMarketplaceId(request.query.get('marketplace'));
      return htmlResponse(200, site, (nonce) => startPage({ environment, nonce, ...approval, ...(prefill.ok ? { value: prefill.id } : {}) }));
    }
    if (request.method !== 'POST') return methodNotAllowed([...acceptedMethods.start], { settings, correlationId, logger: context });

    // MUST (docs/SECURITY.md 29): every submission counts, before anything in it is read. Counting
    // only those that would redirect told anyone which marketplaces exist (an unknown ID cost
    // nothing and answered 404), and a limited client would still learn it (429 for a configured
    // ID, 404 for another). Refused, a submission sets no cookie and says the same for every ID.
    const refused = admitSignIn('start', request.headers);
    if (refused) return fail(refused);

    if (isCrossSitePost(request.headers, new URL(settings.CALLBACK_URL).origin)) {
      return fail(new AppError('cross_site_request', 'Cross-site POST refused'));
    }
    const declared = Number(request.headers.get('content-length') ?? '0');
    if (!Number.isFinite(declared) || declared > maxFormBodyBytes) return fail(new AppError('body_too_large', 'Form body too large'));
    const contentType = (request.headers.get('content-type') ?? '').split(';')[0]?.trim().toLowerCase();
    if (contentType !== 'application/x-www-form-urlencoded')
      return fail(new AppError('unsupported_media_type', 'Form must be application/x-www-form-urlencoded'));
    const body = await request.text();
    if (Buffer.byteLength(body) > maxFormBodyBytes) return fail(new AppError('body_too_large', 'Form body too large'));

    const form = new URLSearchParams(body);
    // Required here, not at the top: the GET (the cold start a person waits on) needs neither the
    // configuration file's schema nor the sign-in (docs/PERFORMANCE.md, "Cold start").
    /* eslint-disable @typescript-eslint/no-require-imports -- deferred on purpose, see above */
    const { marketplaceConfigFor } = require('../../shared/marketplaces/forSettings') as typeof ForSettings;
    const { beginSignIn, parseSignInPrompt } = require('../../shared/signIn/begin') as typeof Begin;
    /* eslint-enable @typescript-eslint/no-require-imports -- only these two */
    // Only the "Sign in again" button after an MFA refusal sends `prompt`, and only `login` is taken.
    const prompt = parseSignInPrompt(form.get('prompt'));
    if (!prompt.ok) return fail(new AppError('sign_in_option_invalid', 'Unsupported prompt value on the start form'));
    const config = marketplaceConfigFor(settings);
    const result = await beginSignIn(settings, config, form.get('marketplace'), Date.now(), {
      ...(prompt.prompt ? { prompt: prompt.prompt } : {}),
      // The sign-ins this browser already has in flight: each keeps its own cookie, up to a bound (shared/signIn/inFlight.ts).
      cookieHeader: request.headers.get('cookie'),
    });
    if (result.kind === 'invalid-id') {
      // A typing mistake, answered on the form: the page shows no reference (docs/SECURITY.md 11), the
      // log still records the refusal with the response's correlation id; the typed value never (docs/SECURITY.md 5).
      logEvent(context, 'warn', events.requestRefused, { code: 'marketplace_id_invalid', status: 400, correlationId });
      return htmlResponse(400, site, (nonce) => startPage({ environment, nonce, ...approval, value: result.value, error: result.reason }));
    }
    return redirectResponse(result.location, site, result.cookies);
  });
}
