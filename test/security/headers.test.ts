/**
 * Headers and caching on every response (docs/SECURITY.md 9, 10, 11). The walk starts from
 * the registrations the function files made (listRegistrations), so a route added later is
 * probed too, and fails here until it has scenarios of its own.
 */
import { HttpRequest, InvocationContext, type HttpResponseInit } from '@azure/functions';
import { listRegistrations, type Registration } from '../../local/functionsCore';
import { resetSettingsCache } from '../../shared/settings';
import { acceptedMethods } from '../../shared/web/requestGuards';
import { tenants } from '../fixtures/config';
import { signIn, request as fetchStep } from '../support/flow';
import { startWorld, unboundedSignIns, type World } from '../support/world';
import { header, headerProblems, htmlProblems, kindOf, type HeaderSource } from './support/checks';
import { trackRun, writeFigures } from './support/figures';
import { RawClient, type RawResponse } from './support/rawHttp';
import { originsOf } from './support/probe';

const form = 'application/x-www-form-urlencoded';
const sameOrigin = { 'sec-fetch-site': 'same-origin', origin: 'null' };

const run = trackRun();
let world: World;
let client: RawClient;

interface Observed {
  what: string;
  status: number;
  headers: HeaderSource;
  body: string;
}

/** Scenarios per registered function: at least one success and one error, HTML and JSON where the route has both. */
type Scenario = { what: string; run: () => Promise<Observed> };

function raw(what: string, r: RawResponse): Observed {
  return { what, status: r.status, headers: r.headers, body: r.body };
}

const scenarios: Record<string, () => Scenario[]> = {
  start: () => [
    { what: 'GET form', run: async () => raw('GET form', await client.send({ path: '/api/start' })) },
    { what: 'HEAD form', run: async () => raw('HEAD form', await client.send({ method: 'HEAD', path: '/api/start' })) },
    {
      what: 'POST valid → redirect',
      run: async () =>
        raw(
          'POST valid',
          await client.send({ method: 'POST', path: '/api/start', headers: { 'content-type': form, ...sameOrigin }, body: 'marketplace=MP-00001' }),
        ),
    },
    {
      what: 'POST invalid ID',
      run: async () =>
        raw(
          'POST invalid ID',
          await client.send({ method: 'POST', path: '/api/start', headers: { 'content-type': form, ...sameOrigin }, body: 'marketplace=mp-1' }),
        ),
    },
    {
      what: 'POST unknown marketplace',
      run: async () =>
        raw(
          'POST unknown',
          await client.send({ method: 'POST', path: '/api/start', headers: { 'content-type': form, ...sameOrigin }, body: 'marketplace=MP-99999' }),
        ),
    },
    {
      what: 'POST cross-site',
      run: async () =>
        raw(
          'POST cross-site',
          await client.send({
            method: 'POST',
            path: '/api/start',
            headers: { 'content-type': form, 'sec-fetch-site': 'cross-site' },
            body: 'marketplace=MP-00001',
          }),
        ),
    },
    {
      what: 'POST too large',
      run: async () =>
        raw(
          'POST too large',
          await client.send({
            method: 'POST',
            path: '/api/start',
            headers: { 'content-type': form, ...sameOrigin },
            body: `marketplace=${'A'.repeat(3000)}`,
          }),
        ),
    },
    {
      what: 'POST wrong type',
      run: async () =>
        raw(
          'POST wrong type',
          await client.send({ method: 'POST', path: '/api/start', headers: { 'content-type': 'application/json', ...sameOrigin }, body: '{}' }),
        ),
    },
  ],
  callback: () => [
    {
      what: 'token page',
      run: async () => {
        const r = await signIn(world, 'MP-00001');
        return { what: 'token page', status: r.callback.status, headers: r.callback.headers, body: r.callback.body };
      },
    },
    {
      what: 'consent needed (CPV)',
      run: async () => {
        const r = await signIn(world, 'MP-00002');
        return { what: 'consent needed', status: r.callback.status, headers: r.callback.headers, body: r.callback.body };
      },
    },
    {
      what: 'consent granted',
      run: async () => raw('consent granted', await client.send({ path: `/api/callback?admin_consent=True&tenant=${tenants.cpv}` })),
    },
    { what: 'no transaction', run: async () => raw('no transaction', await client.send({ path: '/api/callback?code=x&state=y' })) },
    {
      what: 'Entra unavailable (503)',
      run: async () => {
        world.simulator.faults.apply({ kind: 'transient', count: 1, status: 503 });
        const r = await signIn(world, 'MP-00001');
        return { what: 'Entra unavailable', status: r.callback.status, headers: r.callback.headers, body: r.callback.body };
      },
    },
  ],
  status: () => [
    { what: 'HTML', run: async () => raw('status HTML', await client.send({ path: '/api/status' })) },
    { what: 'JSON', run: async () => raw('status JSON', await client.send({ path: '/api/status?format=json' })) },
    {
      what: 'store unavailable (HTML)',
      run: async () => {
        world.vault?.faults.unavailable('list', 3);
        return raw('status store down HTML', await client.send({ path: '/api/status' }));
      },
    },
    {
      what: 'store unavailable (JSON)',
      run: async () => {
        world.vault?.faults.unavailable('list', 3);
        return raw('status store down JSON', await client.send({ path: '/api/status', headers: { accept: 'application/json' } }));
      },
    },
  ],
  rotateNow: () => [
    { what: 'rotate all', run: async () => raw('rotate all', await client.send({ method: 'POST', path: '/api/rotate' })) },
    {
      what: 'invalid marketplace',
      run: async () => raw('rotate invalid', await client.send({ method: 'POST', path: '/api/rotate?marketplace=MP-1%3Cx' })),
    },
  ],
};

const methods = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD', 'TRACE', 'PROPFIND', 'MKCOL'];

function httpRoutes(): { r: Registration; path: string; methods: string[] }[] {
  return listRegistrations()
    .filter((r) => r.trigger.type.toLowerCase() === 'httptrigger')
    .map((r) => ({ r, path: `/api/${r.trigger.route ?? r.name}`, methods: (r.trigger.methods ?? []).map((m) => m.toUpperCase()) }));
}

const observed: Observed[] = [];
const problems: string[] = [];

/** Everything docs/SECURITY.md 9–11 asks of one response. */
function check(o: Observed): void {
  const say = (p: string) => problems.push(`${o.what} (${o.status}): ${p}`);
  const h = headerProblems(o.headers, { authority: world.simulator.url, https: false });
  h.problems.forEach(say);
  if (kindOf(o.headers) === 'html' && o.body) {
    htmlProblems(o.body, { origins: originsOf(world), ...(h.nonce ? { nonce: h.nonce } : {}) }).problems.forEach(say);
  }
  if (o.status >= 400) {
    const id = header(o.headers, 'x-correlation-id');
    if (!id) say('no X-Correlation-Id');
    else {
      // The user can quote it (it is on the page), and the operator finds it (it is in the logs).
      // HEAD answers have no body to show it in.
      const onPage =
        o.body === '' ||
        (kindOf(o.headers) === 'json' ? (JSON.parse(o.body) as { correlationId?: string }).correlationId === id : o.body.includes(id));
      // A typing mistake answered on the start form itself is not a failure page: it shows no
      // reference (docs/SECURITY.md 11), and the log still has the id.
      const answeredOnForm = kindOf(o.headers) === 'html' && o.body.includes('id="marketplace-error"');
      if (answeredOnForm && o.body.includes(id)) say('a typing mistake answered on the form shows a reference');
      if (!answeredOnForm && !onPage) say('the correlation id is not in the body');
      if (!world.logs.some((l) => l.message.includes(id))) say('the correlation id is not in the logs');
    }
  }
  if (o.status === 405 && !header(o.headers, 'allow')) say('405 without Allow');
  observed.push(o);
}

beforeAll(async () => {
  // Every start submission counts against the sign-in bound (docs/SECURITY.md 29); this suite sends dozens to prove other things.
  world = await startWorld({ store: 'keyvault', signInBounds: unboundedSignIns });
  client = new RawClient(world.baseUrl);
  // One token to rotate, so "rotate all" does real work.
  await signIn(world, 'MP-00001');
});

afterAll(async () => {
  client?.close();
  await world?.close();
  if (run.complete())
    writeFigures('headers', {
      test: 'test/security/headers.test.ts',
      routes: httpRoutes().map((r) => r.r.name),
      responsesChecked: observed.length,
      byStatus: observed.reduce<Record<string, number>>((acc, o) => ((acc[String(o.status)] = (acc[String(o.status)] ?? 0) + 1), acc), {}),
      problems: problems.length,
    });
});

describe('every registered route, success and error, HTML and JSON (docs/SECURITY.md 9–11)', () => {
  run.it('has scenarios for every registered HTTP function (a new route must add its own here)', () => {
    const names = httpRoutes().map((r) => r.r.name);
    expect(names.length).toBeGreaterThanOrEqual(4);
    expect(names.filter((n) => !scenarios[n])).toEqual([]);
  });

  run.it('route scenarios: protective headers, exact CSP with a fresh nonce, no-store, correlation ids', async () => {
    const from = problems.length;
    for (const { r } of httpRoutes()) for (const s of scenarios[r.name]?.() ?? []) check(await s.run());
    world.simulator.faults.clear();
    world.vault?.faults.clear();
    // Each scenario produced what it names: successes and errors, HTML and JSON.
    const statuses = observed.map((o) => `${o.status} ${kindOf(o.headers)}`);
    expect(statuses).toEqual(
      expect.arrayContaining([
        '200 html',
        '200 json',
        '303 none',
        '400 html',
        '400 json',
        '403 html',
        '404 html',
        '413 html',
        '415 html',
        '503 html',
        '503 json',
      ]),
    );
    expect(problems.slice(from)).toEqual([]);
  });

  run.it('every route, every method: what it serves is what Allow says, HEAD included; 405 for the rest, with the same headers', async () => {
    const before = observed.length;
    const from = problems.length;
    for (const route of httpRoutes()) {
      for (const method of methods) {
        for (const accept of ['text/html', 'application/json']) {
          const r = await client.send({ method, path: route.path, headers: { accept, 'content-type': form, ...sameOrigin } });
          check(raw(`${method} ${route.path} (${accept})`, r));
        }
      }
    }
    // One answer whoever gives it (the handler, or the host for a method no registration can
    // declare, such as PROPFIND): Allow names exactly what the route serves, every method it names
    // is served, every other one is refused.
    const seen: Record<string, { served: string[]; allow: string[] }> = {};
    for (const route of httpRoutes()) {
      const answers = observed.slice(before).filter((o) => o.what.split(' ')[1] === route.path);
      const allow = [...new Set(answers.filter((o) => o.status === 405).map((o) => header(o.headers, 'allow') ?? '(none)'))];
      const served = [...new Set(answers.filter((o) => o.status !== 405).map((o) => o.what.split(' ')[0] ?? ''))];
      seen[route.r.name] = { served: served.sort(), allow };
    }
    expect(seen).toEqual(
      Object.fromEntries(
        Object.entries(acceptedMethods).map(([name, accepted]) => [name, { served: [...accepted].sort(), allow: [accepted.join(', ')] }]),
      ),
    );
    expect(problems.slice(from)).toEqual([]);
  });

  run.it('every route: a body over the host limit is refused (413) before any handler, with the same headers', async () => {
    const big = Buffer.alloc(1024 * 1024 + 1, 'a');
    const from = problems.length;
    for (const route of httpRoutes()) {
      const r = await client.send({ method: 'POST', path: route.path, headers: { 'content-type': form, ...sameOrigin }, body: big });
      expect(r.status).toBe(413);
      check(raw(`POST 1 MB ${route.path}`, r));
    }
    expect(problems.slice(from)).toEqual([]);
  });

  run.it(
    "the local host's own answers (404, 405, 413, 421) are the service's pages: language, title, the same headers, a logged reference",
    async () => {
      const from = problems.length;
      // A handler's error page, to compare with.
      const handlerPage = await client.send({
        method: 'POST',
        path: '/api/start',
        headers: { 'content-type': 'application/json', ...sameOrigin },
        body: '{}',
      });
      expect(handlerPage.status).toBe(415);
      const answers = [
        raw('host 404 /', await client.send({ path: '/' })),
        raw('host 404 /api/nothing', await client.send({ path: '/api/nothing?x=1' })),
        raw('host 405 TRACE', await client.send({ method: 'TRACE', path: '/api/start' })),
        raw(
          'host 413',
          await client.send({
            method: 'POST',
            path: '/api/callback',
            headers: { 'content-type': form, ...sameOrigin },
            body: Buffer.alloc(1024 * 1024 + 1, 'a'),
          }),
        ),
        raw('host 421', await client.send({ path: '/api/start', headers: { host: 'rebound.example' } })),
      ];
      expect(answers.map((a) => a.status)).toEqual([404, 404, 405, 413, 421]);
      const protective = [
        'content-type',
        'x-content-type-options',
        'referrer-policy',
        'cache-control',
        'pragma',
        'x-frame-options',
        'cross-origin-opener-policy',
        'cross-origin-resource-policy',
        'permissions-policy',
        'strict-transport-security',
      ];
      const policy = (h: HeaderSource) => header(h, 'content-security-policy')?.replace(/'nonce-[^']+'/g, "'nonce'");
      for (const a of answers) {
        check(a);
        expect({ what: a.what, kind: kindOf(a.headers) }).toEqual({ what: a.what, kind: 'html' });
        expect(a.body).toMatch(/^<!doctype html>\n<html lang="en">/);
        expect(/<title>([^<]+)<\/title>/.exec(a.body)?.[1]).toMatch(/\S/);
        expect(/<h1>([^<]+)<\/h1>/.exec(a.body)?.[1]).toMatch(/\S/);
        for (const name of protective)
          expect({ what: a.what, name, value: header(a.headers, name) }).toEqual({ what: a.what, name, value: header(handlerPage.headers, name) });
        expect({ what: a.what, csp: policy(a.headers) }).toEqual({ what: a.what, csp: policy(handlerPage.headers) });
      }
      // The foreign name is not echoed.
      expect(answers[4]?.body).not.toContain('rebound.example');
      expect(problems.slice(from)).toEqual([]);
    },
  );

  run.it('the nonce differs in every HTML response', () => {
    const nonces = observed
      .filter((o) => kindOf(o.headers) === 'html')
      .map((o) => /'nonce-([^']+)'/.exec(header(o.headers, 'content-security-policy') ?? '')?.[1]);
    expect(nonces.length).toBeGreaterThan(10);
    expect(nonces.every(Boolean)).toBe(true);
    expect(new Set(nonces).size).toBe(nonces.length);
  });

  run.it('pages cannot be framed: frame-ancestors none on every response', () => {
    for (const o of observed) expect(header(o.headers, 'content-security-policy')).toMatch(/frame-ancestors 'none'/);
  });

  run.it('the consent page and the simulator links stay on the authority; the token page is no-store', async () => {
    const consent = observed.find((o) => o.what === 'consent needed');
    expect(consent?.status).toBe(403);
    const token = observed.find((o) => o.what === 'token page');
    expect(token?.status).toBe(200);
    expect(header(token?.headers ?? {}, 'cache-control')).toBe('no-store');
    // The admin-consent link works as a plain link (no script needed) and points at the authority.
    const link = /id="admin-consent" href="([^"]+)"/.exec(consent?.body ?? '')?.[1]?.replace(/&amp;/g, '&');
    expect(new URL(link ?? '').origin).toBe(world.simulator.url);
    const page = await fetchStep(new URL(link ?? '').toString());
    expect(page.status).toBe(200);
  });
});

describe('HSTS only on https (docs/SECURITY.md 9), by direct invocation of every handler', () => {
  async function invokeAll(callbackUrl: string): Promise<{ name: string; method: string; response: HttpResponseInit }[]> {
    const saved = process.env.CALLBACK_URL;
    process.env.CALLBACK_URL = callbackUrl;
    resetSettingsCache();
    const out: { name: string; method: string; response: HttpResponseInit }[] = [];
    try {
      const origin = new URL(callbackUrl).origin;
      for (const { r, path } of httpRoutes()) {
        for (const method of ['GET', 'PUT']) {
          const request = new HttpRequest({ method, url: `${origin}${path}`, headers: { accept: 'text/html' } });
          const context = new InvocationContext({ invocationId: `hsts-${r.name}-${method}`, functionName: r.name, logHandler: () => undefined });
          out.push({ name: r.name, method, response: (await r.handler(request, context)) as HttpResponseInit });
        }
      }
    } finally {
      process.env.CALLBACK_URL = saved;
      resetSettingsCache();
    }
    return out;
  }

  run.it('https callback: every answer of every handler carries Strict-Transport-Security', async () => {
    const answers = await invokeAll('https://connect-ms-auth.example/api/callback');
    expect(answers.length).toBe(httpRoutes().length * 2);
    for (const a of answers) {
      const h = (a.response.headers ?? {}) as Record<string, string>;
      expect({ route: a.name, method: a.method, hsts: h['Strict-Transport-Security'] }).toEqual({
        route: a.name,
        method: a.method,
        hsts: 'max-age=31536000; includeSubDomains',
      });
    }
  });

  run.it('http callback (local mode): no handler sends Strict-Transport-Security', async () => {
    const answers = await invokeAll(world.callbackUrl);
    for (const a of answers)
      expect({ route: a.name, method: a.method, hsts: ((a.response.headers ?? {}) as Record<string, string>)['Strict-Transport-Security'] }).toEqual({
        route: a.name,
        method: a.method,
        hsts: undefined,
      });
  });
});
