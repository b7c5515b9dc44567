import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { AppError } from '../../shared/errors';
import { parseMarketplaceId } from '../../shared/marketplaces/id';
import { runRotation } from '../../shared/rotation/runRotation';
import { errorResponse, methodNotAllowed, withSettings } from '../../shared/web/errorResponse';
import { isCrossSitePost, acceptedMethods } from '../../shared/web/requestGuards';
import { jsonResponse, siteOf } from '../../shared/web/responses';

/** POST /api/rotate[?marketplace=MP-…]: rotate now (all, or one marketplace) and return the run's summary. Function key. */
export async function rotateNow(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const correlationId = context.invocationId;
  return withSettings(
    correlationId,
    context,
    async (settings) => {
      const o = { settings, correlationId, logger: context, json: true };
      if (request.method !== 'POST') return methodNotAllowed([...acceptedMethods.rotateNow], o);
      // The function key stops a forged post in Azure; locally no key is asked, so this is the guard (docs/SECURITY.md 6).
      if (isCrossSitePost(request.headers, new URL(settings.CALLBACK_URL).origin))
        return errorResponse(new AppError('cross_site_request', 'Cross-site POST refused'), o);
      const raw = request.query.get('marketplace');
      let marketplace: string | undefined;
      if (raw !== null) {
        const id = parseMarketplaceId(raw);
        if (!id.ok) return errorResponse(new AppError('marketplace_id_invalid', id.reason), o);
        marketplace = id.id;
      }
      const summary = await runRotation(settings, context, { trigger: 'manual', force: true, ...(marketplace ? { marketplace } : {}) });
      return jsonResponse(200, siteOf(settings), summary);
    },
    { json: true },
  );
}
