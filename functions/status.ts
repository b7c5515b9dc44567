import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
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
      const rows = await tokenHealth(await openSecretStore(settings), settings.SERVICE_ENVIRONMENT, now.getTime());
      if (wantsJson) return jsonResponse(200, siteOf(settings), { environment: settings.SERVICE_ENVIRONMENT, generatedAt: now.toISOString(), tokens: rows });
      return htmlResponse(200, siteOf(settings), (nonce) => statusPage({ environment: settings.SERVICE_ENVIRONMENT, nonce, rows, generatedAt: now.toISOString() }));
    },
    { json: wantsJson },
  );
}

app.http('status', { route: 'status', methods: [...allMethods], authLevel: 'function', handler: status });
