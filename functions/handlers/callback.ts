import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { AppError } from '../../shared/errors';
import { connectPushFor } from '../../shared/connect/push';
import { admitSignIn } from '../../shared/guards/signInBounds';
import { marketplaceConfigFor } from '../../shared/marketplaces/forSettings';
import { openSecretStore } from '../../shared/secrets/open';
import { spentTransactionCookie } from '../../shared/signIn/cookie';
import { expiryAfterUse } from '../../shared/identity/lifetime';
import { completeSignIn } from '../../shared/signIn/complete';
import { approvalLinkUrl } from '../../shared/signIn/entraUrls';
import { openSharedState } from '../../shared/storage/open';
import { errorResponse, methodNotAllowed, withSettings } from '../../shared/web/errorResponse';
import { acceptedMethods } from '../../shared/web/requestGuards';
import { consentGrantedPage, consentPage } from '../../shared/web/pages/consent';
import { finishedPage } from '../../shared/web/pages/finished';
import { tokenPage } from '../../shared/web/pages/token';
import { htmlResponse, siteOf } from '../../shared/web/responses';

/**
 * Whether a failed callback was this browser's sign-in, whose transaction is spent (or unreadable,
 * so worth nothing). A callback whose state names none of this browser's sign-ins (a stray link,
 * another browser's, one the bound set aside) spends nothing.
 */
function spendsTransaction(err: unknown): boolean {
  const code =
    err instanceof AppError ? (err.code === 'consent_unconfirmed' && err.cause instanceof AppError ? err.cause.code : err.code) : undefined;
  return code !== 'state_mismatch' && code !== 'transaction_missing' && code !== 'transaction_evicted';
}

/** Microsoft redirects here: verify the transaction, redeem the code, store the token, show it once. */
export async function callback(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const correlationId = context.invocationId;
  return withSettings(correlationId, context, async (settings) => {
    if (request.method !== 'GET') return methodNotAllowed([...acceptedMethods.callback], { settings, correlationId, logger: context });
    // Before the request is read: refused, it makes no token-endpoint call and leaves the cookie (docs/SECURITY.md 29).
    const refused = admitSignIn('callback', request.headers);
    if (refused) return errorResponse(refused, { settings, correlationId, logger: context });
    const site = siteOf(settings);
    const environment = settings.SERVICE_ENVIRONMENT;
    try {
      const result = await completeSignIn(
        {
          settings,
          config: marketplaceConfigFor(settings),
          openStore: () => openSecretStore(settings),
          shared: openSharedState(settings),
          logger: context,
          correlationId,
          connect: (store) => connectPushFor(settings, store, context),
        },
        new URLSearchParams(request.query),
        request.headers.get('cookie'),
      );
      switch (result.kind) {
        case 'consent-granted':
          return htmlResponse(200, site, (nonce) => consentGrantedPage({ environment, nonce, marketplace: result.marketplace }), {
            cookies: result.cookies,
          });
        case 'finished':
          // Reload or Back after success, in the browser that signed in: no token, nothing secret (docs/SECURITY.md 2).
          return htmlResponse(200, site, (nonce) =>
            finishedPage({ environment, nonce, marketplace: result.marketplace, finishedAt: result.finishedAt }),
          );
        case 'consent-needed':
          // The consent return is bound to this browser by a cookie of its own (docs/SECURITY.md 27).
          return htmlResponse(
            403,
            site,
            (nonce) =>
              consentPage({
                environment,
                nonce,
                marketplace: result.marketplace.id,
                adminConsentUrl: result.adminConsentUrl,
                approvalLink: approvalLinkUrl({
                  authorityHost: settings.AUTHORITY_HOST,
                  clientId: result.clientId,
                  redirectUri: settings.CALLBACK_URL,
                }),
                declined: result.declined,
                correlationId,
              }),
            { cookies: result.cookies },
          );
        case 'token': {
          const pushed = result.connect?.pushed;
          // Products by the names the operator gave them in the configuration file: nothing is asked of Connect for a page.
          const names = result.marketplace.connectProductNames;
          const refs = (state: string) =>
            (pushed ?? []).filter((p) => p.state === state).map((p) => ({ id: p.product, ...(names[p.product] ? { name: names[p.product] } : {}) }));
          const connect = pushed && { updated: refs('ok'), failed: refs('failed'), pending: refs('pending') };
          return htmlResponse(
            200,
            site,
            (nonce) =>
              tokenPage({
                environment,
                nonce,
                marketplace: result.marketplace.id,
                token: result.token.value,
                parameterName: result.parameterName,
                partner: result.partner,
                signer: result.signer,
                expiresOn: result.token.expiresOn ?? expiryAfterUse(result.token.createdOn.getTime()),
                ...(result.replacedSigner ? { replacedSigner: result.replacedSigner } : {}),
                ...(connect ? { connect } : {}),
              }),
            { cookies: result.cookies },
          );
        }
      }
    } catch (err) {
      // A callback that is not this browser's sign-in (no transaction, or another state: a stray
      // link, a forged return) leaves the browser's transaction alone, so the real return from
      // Microsoft still completes it (docs/SECURITY.md 36).
      // The transaction is single-use: a failure of this browser's own sign-in spends its cookie.
      const spent = spendsTransaction(err) ? spentTransactionCookie(request.query.get('state')) : [];
      return errorResponse(err, { settings, correlationId, logger: context, ...(spent.length > 0 ? { cookies: spent } : {}) });
    }
  });
}
