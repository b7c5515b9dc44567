/** The HTTPS listener and the routing table of the simulated login.microsoftonline.com. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { handleAdminConsent, handleAuthorize } from './authorize';
import type { SimulatorContext } from './context';
import { handleControl, type ControlTarget } from './control';
import { instanceDiscovery, jwks, openIdConfiguration } from './discovery';
import { entraErrors, errorBody, requestIds } from './entraErrors';
import { HttpError, sendEmpty, sendHtml, sendJson } from './http';
import { isKnownTenantSegment } from './ids';
import { errorPage, pageCsp, signedOutPage } from './pages';
import { handleToken } from './token';

type Handler = (req: IncomingMessage, res: ServerResponse, url: URL, tenant: string) => Promise<void> | void;

interface Route {
  /** Path after the tenant segment, e.g. "oauth2/v2.0/token". */
  path: string;
  methods: string[];
  /** Browser-facing: errors are pages, not JSON. */
  page?: boolean;
  handle: Handler;
}

function tenantRoutes(ctx: SimulatorContext): Route[] {
  return [
    {
      path: 'v2.0/.well-known/openid-configuration',
      methods: ['GET'],
      handle: (_q, res, _u, t) => sendJson(res, 200, openIdConfiguration(ctx.baseUrl, t), cacheable),
    },
    { path: 'discovery/v2.0/keys', methods: ['GET'], handle: (_q, res) => sendJson(res, 200, jwks(ctx.baseUrl, ctx.state.signingKey), cacheable) },
    { path: 'discovery/instance', methods: ['GET'], handle: (q, res, u) => discovery(ctx, q, res, u) },
    { path: 'oauth2/v2.0/authorize', methods: ['GET', 'POST'], page: true, handle: (q, res, u, t) => handleAuthorize(ctx, q, res, u, t) },
    { path: 'oauth2/v2.0/token', methods: ['POST'], handle: (q, res, u, t) => handleToken(ctx, q, res, u, t) },
    { path: 'v2.0/adminconsent', methods: ['GET', 'POST'], page: true, handle: (q, res, u, t) => handleAdminConsent(ctx, q, res, u, t) },
    // The v1 admin-consent address, which the Partner Center documentation still links.
    { path: 'adminconsent', methods: ['GET', 'POST'], page: true, handle: (q, res, u, t) => handleAdminConsent(ctx, q, res, u, t) },
    { path: 'oauth2/v2.0/logout', methods: ['GET'], handle: (_q, res) => sendHtml(res, 200, signedOutPage(), pageCsp()) },
  ];
}

// Discovery documents change only when the port does; Entra lets clients cache them too.
const cacheable = { 'Cache-Control': 'max-age=86400, private' };

function discovery(ctx: SimulatorContext, req: IncomingMessage, res: ServerResponse, url: URL): void {
  const result = instanceDiscovery(ctx.baseUrl, url.searchParams.get('authorization_endpoint'));
  if (result.ok) return sendJson(res, 200, result.body, cacheable);
  sendJson(res, result.error.status, errorBody(result.error, requestIds(req.headers['client-request-id']?.toString()), new Date()));
}

/** The request listener: /_simulator/* control API, then /{tenant}/… Entra endpoints, else 404. */
export function createRequestListener(ctx: SimulatorContext, control: ControlTarget) {
  const routes = tenantRoutes(ctx);
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    try {
      const url = new URL(req.url ?? '/', ctx.baseUrl);
      const path = url.pathname;
      if (path.startsWith('/_simulator/')) return await handleControl(control, req, res, path.slice('/_simulator/'.length));
      // Browsers ask for it on every page; an empty answer keeps their consoles free of noise.
      if (path === '/favicon.ico') return sendEmpty(res, 204);
      const slash = path.indexOf('/', 1);
      const tenant = decodeURIComponent(path.slice(1, slash < 0 ? undefined : slash));
      const rest = slash < 0 ? '' : path.slice(slash + 1);
      const route = routes.find((r) => r.path === rest);
      if (!route) return sendJson(res, 404, { error: 'not_found', error_description: 'No such endpoint on the local identity simulator.' });
      if (!route.methods.includes(req.method ?? '')) return sendEmpty(res, 405, { Allow: route.methods.join(', ') });
      if (!isKnownTenantSegment(tenant)) {
        const err = entraErrors.invalidTenant(tenant);
        const ids = requestIds(undefined);
        if (route.page) return sendHtml(res, err.status, errorPage({ aadsts: err.aadsts, message: err.message, ...ids }), pageCsp());
        return sendJson(res, err.status, errorBody(err, ids, new Date()));
      }
      await route.handle(req, res, url, tenant);
    } catch (err) {
      if (res.headersSent) return void res.destroy();
      if (err instanceof HttpError) return sendJson(res, err.status, { error: 'invalid_request', error_description: err.message });
      // Our own bug: say so without echoing anything the request carried.
      console.error('identity simulator: internal error', err instanceof Error ? err.stack : String(err));
      sendJson(res, 500, { error: 'server_error', error_description: 'Internal error in the local identity simulator.' });
    }
  };
}
