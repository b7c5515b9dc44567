import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { events } from '../../shared/events';
import { logEvent } from '../../shared/log';
import { marketplaceConfigFor } from '../../shared/marketplaces/forSettings';
import { openSecretStore } from '../../shared/secrets/open';
import { statusReport } from '../../shared/status/report';
import { openSharedState } from '../../shared/storage/open';
import { methodNotAllowed, withSettings } from '../../shared/web/errorResponse';
import { acceptedMethods } from '../../shared/web/requestGuards';
import { statusPage } from '../../shared/web/pages/status';
import { htmlResponse, jsonResponse, siteOf } from '../../shared/web/responses';

/** Health of every token of this environment: JSON for tools, an HTML table for a person. Function key. */
export async function status(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const correlationId = context.invocationId;
  const wantsJson = request.query.get('format') === 'json' || (request.headers.get('accept') ?? '').includes('application/json');
  return withSettings(
    correlationId,
    context,
    async (settings) => {
      if (request.method !== 'GET')
        return methodNotAllowed([...acceptedMethods.status], { settings, correlationId, logger: context, json: wantsJson });
      const config = marketplaceConfigFor(settings);
      const report = await statusReport(settings, await openSecretStore(settings), openSharedState(settings), config);
      // An unusable configuration is an outage: every look at it is an event the alert fires on.
      if (!report.configuration.usable) {
        logEvent(context, 'error', events.configurationInvalid, {
          code: 'configuration_invalid',
          problems: report.configuration.problems.length,
          correlationId,
        });
      }
      if (wantsJson) return jsonResponse(200, siteOf(settings), report);
      return htmlResponse(200, siteOf(settings), (nonce) => statusPage({ nonce, report }));
    },
    { json: wantsJson },
  );
}
