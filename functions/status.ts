import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { forEnvironment, getMarketplaceConfig } from '../shared/marketplaces';
import { statusPage } from '../shared/pages';
import { allMethods, methodNotAllowed, siteOf, withSettings } from '../shared/respond';
import { tokenHealth } from '../shared/rotation';
import { openSecretStore } from '../shared/secrets';
import { htmlResponse, jsonResponse } from '../shared/web';

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
      const connectProducts = config && ((marketplace: string) => {
        const entry = config.entries.get(marketplace.toUpperCase());
        return entry ? forEnvironment(entry, environment).connectProducts : [];
      });
      const rows = await tokenHealth(await openSecretStore(settings), environment, now.getTime(), connectProducts);
      if (wantsJson) return jsonResponse(200, siteOf(settings), { environment, generatedAt: now.toISOString(), connectPush, tokens: rows });
      return htmlResponse(200, siteOf(settings), (nonce) => statusPage({ environment, nonce, rows, generatedAt: now.toISOString(), connectPush }));
    },
    { json: wantsJson },
  );
}

app.http('status', { route: 'status', methods: [...allMethods], authLevel: 'function', handler: status });
