import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { credentialHealth } from '../shared/credentials/expiry';
import { getMarketplaceConfig } from '../shared/marketplaces/config';
import { lookupMarketplace } from '../shared/marketplaces/marketplace';
import { openSecretStore } from '../shared/secrets/open';
import { tokenHealth } from '../shared/status/tokenHealth';
import { methodNotAllowed, withSettings } from '../shared/web/errorResponse';
import { statusPage } from '../shared/web/pages/status';
import { allMethods } from '../shared/web/requestGuards';
import { htmlResponse, jsonResponse, siteOf } from '../shared/web/responses';

/** Health of every token of this environment: JSON for tools, an HTML table for a person. Function key. */
export async function status(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const correlationId = context.invocationId;
  const wantsJson = request.query.get('format') === 'json' || (request.headers.get('accept') ?? '').includes('application/json');
  return withSettings(
    correlationId,
    context,
    async (settings) => {
      if (request.method !== 'GET') return methodNotAllowed(['GET'], { settings, correlationId, logger: context, json: wantsJson });
      const now = new Date();
      const environment = settings.SERVICE_ENVIRONMENT;
      // Connect columns only when the push is on: per configured product, does Connect hold the latest version?
      const connectPush = Boolean(settings.CONNECT_API_KEY_SECRET_NAME);
      const config = connectPush ? getMarketplaceConfig(settings.MARKETPLACE_CONFIG_PATH) : undefined;
      const connectProducts =
        config &&
        ((marketplace: string) => {
          const found = lookupMarketplace(config, marketplace, environment);
          return found.kind === 'found' ? found.marketplace.connectProducts : [];
        });
      const store = await openSecretStore(settings);
      const rows = await tokenHealth(store, environment, now.getTime(), connectProducts);
      const credentials = await credentialHealth(store, settings, config ?? getMarketplaceConfig(settings.MARKETPLACE_CONFIG_PATH), now.getTime());
      if (wantsJson)
        return jsonResponse(200, siteOf(settings), { environment, generatedAt: now.toISOString(), connectPush, tokens: rows, credentials });
      return htmlResponse(200, siteOf(settings), (nonce) =>
        statusPage({ environment, nonce, rows, generatedAt: now.toISOString(), connectPush, credentials }),
      );
    },
    { json: wantsJson },
  );
}

app.http('status', { route: 'status', methods: [...allMethods], authLevel: 'function', handler: status });
