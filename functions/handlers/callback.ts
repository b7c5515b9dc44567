import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { AppError } from '../../shared/errors';
import { connectPushFor } from '../../shared/connect/push';
import { admitSignIn } from '../../shared/guards/signInBounds';
import { marketplaceConfigFor } from '../../shared/marketplaces/forSettings';
import { openSecretStore } from '../../shared/secrets/open';
import { clearedTransactionCookie } from '../../shared/signIn/cookie';
import { expiryAfterUse } from '../../shared/identity/lifetime';
import { completeSignIn } from '../../shared/signIn/complete';
import { approvalLinkUrl } from '../../shared/signIn/entraUrls';
import { openSharedState } from '../../shared/storage/open';
import { errorResponse, methodNotAllowed, withSettings } from '../../shared/web/errorResponse';
import { acceptedMethods } from '../../shared/web/requestGuards';
import { consentGrantedPage, consentPage } from '../../shared/web/pages/consent';
import { tokenPage } from '../../shared/web/pages/token';
import { htmlResponse, siteOf } from '../../shared/web/responses';

/** Whether a failed callback was this browser's sign-in, whose transaction is spent (or unreadable, so worth nothing). */
function spendsTransaction(err: unknown): boolean {
  const code =
    err instanceof AppError ? (err.code === 'consent_unconfirmed' && err.cause instanceof AppError ? err.cause.code : err.code) : undefined;
  return code !== 'state_mismatch' && code !== 'transaction_missing';
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
    // The transaction is single-use: whatever happens next, this browser's cookie is spent.
    const cookies = [clearedTransactionCookie()];
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
          return htmlResponse(200, site, (nonce) => consentGrantedPage({ environment, nonce, marketplace: result.marketplace }), { cookies });
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
            {
              cookies: [result.cookie],
            },
          );
        case 'token': {
          const pushed = result.connect?.pushed;
          const connect = pushed && {
            updated: pushed.filter((p) => p.state === 'ok').map((p) => p.product),
            failed: pushed.filter((p) => p.state === 'failed').map((p) => p.product),
            pending: pushed.filter((p) => p.state === 'pending').map((p) => p.product),
          };
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
            { cookies },
          );
        }
      }
    } catch (err) {
      // A callback that is not this browser's sign-in (no transaction, or another state: a stray
      // link, a forged return) leaves the browser's transaction alone, so the real return from
      // Microsoft still completes it (docs/SECURITY.md 36).
      return errorResponse(err, { settings, correlationId, logger: context, ...(spendsTransaction(err) ? { cookies } : {}) });
    }
  });
}
