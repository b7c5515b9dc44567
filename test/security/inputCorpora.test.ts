/**
 * Hostile input corpora against every public parameter (docs/SECURITY.md 4, 5, 6, 8, 11).
 *
 * For each input: the answer is a clear refusal with the right status; the page reflects no
 * active markup (parsed: same elements and attributes as for a harmless input; the input only
 * escaped); no Location leaves the site or the authority (a refusal has none); the secret store
 * is unchanged; and the token endpoint is not called unless the input could be valid. The counts
 * go to docs/security-figures.json.
 */
import { transactionCookieName } from '../../shared/signIn/cookie';
import { openTransaction, stateKey } from '../../shared/signIn/transaction';
import { acceptedMethods } from '../../shared/web/requestGuards';
import { tenants } from '../fixtures/config';
import { startWorld, unboundedSignIns, type World } from '../support/world';
import { asHeaderValue, corpus, countByFamily, malformedPayloads, sample, xssPayloads } from './support/corpus';
import { trackRun, writeFigures } from './support/figures';
import { RawClient, type RawRequest } from './support/rawHttp';
import { judge, originsOf, parserRefusals, sealed, Shapes, storeSnapshot, Tally, testKey, tokenCalls, type Expectation } from './support/probe';
import { header } from './support/checks';

const form = 'application/x-www-form-urlencoded';
/** A browser's own same-origin form POST under Referrer-Policy: no-referrer (docs/SECURITY.md 6). */
const sameOrigin = { 'sec-fetch-site': 'same-origin', origin: 'null' };
/** What an authorization code can look like (RFC 6749 VSCHAR, as the service reads it): only these may reach Entra. */
const couldBeCode = (v: string) => /^[\x21-\x7e]{1,4096}$/.test(v);
const maxFormBody = 2048;

const run = trackRun();
let world: World;
let client: RawClient;
const shapes = new Shapes();
const tally = new Tally();
const distinctHeaderInputs = new Set<string>();

/** Sends one hostile request and records the verdict under `parameter`. */
async function probe(parameter: string, route: string, p: { family: string; value: string }, req: RawRequest, e: Expectation): Promise<void> {
  const storeBefore = storeSnapshot(world);
  const callsBefore = tokenCalls(world);
  const r = await client.send(req);
  const callsAfter = tokenCalls(world);
  const result = judge(r, e, {
    origins: originsOf(world),
    payload: p.value,
    shapes,
    route,
    storeBefore,
    storeAfter: storeSnapshot(world),
    callsBefore,
    callsAfter,
  });
  tally.add(parameter, p.family, p.value, result, callsAfter - callsBefore);
}

function formBody(value: string): string {
  return new URLSearchParams({ marketplace: value }).toString();
}

function callbackPath(params: Record<string, string>): string {
  return `/api/callback?${new URLSearchParams(params).toString()}`;
}

/** The status a refused start form gets for a body of this size. */
function startStatus(body: string): number[] {
  return Buffer.byteLength(body) > maxFormBody ? [413] : [400];
}

/** Query strings over node's 16 KB header limit are refused by the HTTP parser before any handler. */
function queryStatus(path: string, status: number[]): number[] {
  return path.length > 15_000 ? parserRefusals : status;
}

beforeAll(async () => {
  world = await startWorld({ store: 'keyvault', signInBounds: unboundedSignIns });
  client = new RawClient(world.baseUrl);
  // Baseline pages from harmless inputs, per route and status.
  const post = (body: string, headers: Record<string, string> = {}) =>
    client.send({ method: 'POST', path: '/api/start', headers: { 'content-type': form, ...sameOrigin, ...headers }, body });
  shapes.learn('start 400', await post(formBody('mp-1')));
  shapes.learn('start 413', await post(formBody('A'.repeat(3000))));
  shapes.learn('start 403', await post(formBody('MP-00001'), { 'sec-fetch-site': 'cross-site' }));
  shapes.learn('start 415', await post(formBody('MP-00001'), { 'content-type': 'text/plain' }));
  shapes.learn('start 400', await post(new URLSearchParams({ marketplace: 'MP-00001', prompt: 'none' }).toString()));
  shapes.learn('callback 400', await client.send({ path: callbackPath({ state: 'x' }) }));
  // A harmless code Entra refuses: the same error page, with Entra's ids for Microsoft support.
  const { cookie, tx } = await sealed('MP-00001');
  shapes.learn('callback 400', await client.send({ path: callbackPath({ code: '1.AXharmless-code', state: tx.state }), headers: { cookie } }));
  shapes.learn('callback 200', await client.send({ path: callbackPath({ admin_consent: 'True' }) }));
  shapes.learn('status 200', await client.send({ path: '/api/status' }));
  // The local host's own page for a body over its limit (the same error page as the functions').
  shapes.learn('rotate 413', await client.send({ method: 'POST', path: '/api/rotate', body: Buffer.alloc(1024 * 1024 + 1, 'a') }));
});

afterAll(async () => {
  client?.close();
  await world?.close();
  const parameters = Object.fromEntries([...tally.rows].map(([name, row]) => [name, row]));
  const tried = [...tally.rows.values()].reduce((n, r) => n + r.tried, 0);
  const accepted = [...tally.rows.values()].reduce((n, r) => n + r.accepted, 0);
  if (run.complete())
    writeFigures('inputCorpora', {
      test: 'test/security/inputCorpora.test.ts',
      distinctInputs: { corpus: corpus.length, byFamily: countByFamily(corpus), headerValues: distinctHeaderInputs.size },
      requests: tried,
      accepted,
      failures: tally.failures.length,
      parameters,
    });
});

describe('the marketplace ID (docs/SECURITY.md 5, 8)', () => {
  run.it('POST /api/start refuses every hostile ID with the form again (400) or 413, reflecting it only escaped', async () => {
    for (const p of corpus) {
      const body = formBody(p.value);
      const reflected = Buffer.from(p.value.slice(0, 64)).toString('utf8');
      await probe(
        'marketplace (POST /api/start form)',
        'start',
        p,
        { method: 'POST', path: '/api/start', headers: { 'content-type': form, ...sameOrigin }, body },
        {
          status: startStatus(body),
          ...(Buffer.byteLength(body) > maxFormBody ? {} : { reflected }),
        },
      );
    }
    // Parameter pollution: a second marketplace field does not smuggle a valid ID past the first.
    for (const p of sample(40, malformedPayloads)) {
      const body = `marketplace=${encodeURIComponent(p.value)}&marketplace=MP-00001`;
      await probe(
        'marketplace (POST /api/start form)',
        'start',
        { ...p, value: `${p.value}&marketplace=MP-00001` },
        { method: 'POST', path: '/api/start', headers: { 'content-type': form, ...sameOrigin }, body },
        { status: [400] },
      );
    }
    expect(tally.failuresFor('marketplace (POST /api/start form)')).toEqual([]);
  });

  run.it('POST /api/start refuses every prompt but login (the "Sign in again" field) with 400 or 413: no cookie, nothing sent to Entra', async () => {
    for (const p of corpus) {
      if (p.value === '' || p.value === 'login') continue;
      const body = new URLSearchParams({ marketplace: 'MP-00001', prompt: p.value }).toString();
      await probe(
        'prompt (POST /api/start form)',
        'start',
        p,
        { method: 'POST', path: '/api/start', headers: { 'content-type': form, ...sameOrigin }, body },
        { status: startStatus(body) },
      );
    }
    expect(tally.failuresFor('prompt (POST /api/start form)')).toEqual([]);
  });

  run.it('POST /api/rotate?marketplace= refuses every hostile ID with a JSON 400 and rotates nothing', async () => {
    for (const p of corpus) {
      const path = `/api/rotate?marketplace=${encodeURIComponent(p.value)}`;
      await probe('marketplace (POST /api/rotate query)', 'rotate', p, { method: 'POST', path }, { status: queryStatus(path, [400]) });
    }
    expect(tally.failuresFor('marketplace (POST /api/rotate query)')).toEqual([]);
  });

  run.it('an ID as a person types it (lower case, spaces around it) begins the same sign-in as MP-00001, and nothing else', async () => {
    for (const typed of ['mp-00001', 'Mp-00001', 'mP-00001', '  MP-00001 ', '\tmp-00001  ']) {
      const r = await client.send({ method: 'POST', path: '/api/start', headers: { 'content-type': form, ...sameOrigin }, body: formBody(typed) });
      expect(r.status).toBe(303);
      const authorize = new URL(r.headers.location ?? '');
      expect(authorize.pathname).toBe(`/${tenants.csp}/oauth2/v2.0/authorize`);
      const value = /^[^=]+=([^;]+)/.exec(r.headers['set-cookie']?.[0] ?? '')?.[1];
      const opened = await openTransaction(value, testKey());
      expect(opened.ok && opened.transaction.marketplace).toBe('MP-00001');
    }
  });

  run.it('the controls are accepted: the same requests with a real ID do begin a sign-in', async () => {
    for (const id of ['MP-00001', ' MP-00001', 'MP-00001\t']) {
      const r = await client.send({ method: 'POST', path: '/api/start', headers: { 'content-type': form, ...sameOrigin }, body: formBody(id) });
      expect(r.status).toBe(303);
      expect(new URL(r.headers.location ?? '').origin).toBe(world.simulator.url);
    }
  });
});

describe('the callback parameters (docs/SECURITY.md 2, 8)', () => {
  run.it('state: a hostile state never matches the transaction (400, no token call)', async () => {
    const { cookie } = await sealed('MP-00001');
    for (const p of corpus) {
      const path = callbackPath({ code: '1.AXcode', state: p.value });
      await probe('state', 'callback', p, { path, headers: { cookie } }, { status: queryStatus(path, [400]) });
    }
    expect(tally.failuresFor('state')).toEqual([]);
  });

  run.it('code: a malformed code never reaches Entra; one that could be a code is refused by Entra and nothing is stored', async () => {
    for (const p of corpus) {
      const { cookie, tx } = await sealed('MP-00001');
      const path = callbackPath({ code: p.value, state: tx.state });
      await probe(
        'code',
        'callback',
        p,
        { path, headers: { cookie } },
        { status: queryStatus(path, [400]), tokenCalls: couldBeCode(p.value) ? 1 : 0 },
      );
    }
    expect(tally.failuresFor('code')).toEqual([]);
  });

  run.it('error: a hostile error code is named "other", never shown (400, no token call)', async () => {
    for (const p of corpus) {
      const { cookie, tx } = await sealed('MP-00001');
      const path = callbackPath({ error: p.value, state: tx.state });
      await probe('error', 'callback', p, { path, headers: { cookie } }, { status: queryStatus(path, [400]) });
    }
    expect(tally.failuresFor('error')).toEqual([]);
  });

  run.it('error_description: never reflected, never logged (400, no token call)', async () => {
    for (const p of corpus) {
      const { cookie, tx } = await sealed('MP-00001');
      const path = callbackPath({ error: 'access_denied', error_description: p.value, state: tx.state });
      await probe('error_description', 'callback', p, { path, headers: { cookie } }, { status: queryStatus(path, [400]) });
    }
    expect(tally.failuresFor('error_description')).toEqual([]);
    // Not in the logs either: the description is foreign text (log forging, or a phishing message).
    const logged = world.logs.map((l) => l.message).join('\n');
    for (const p of xssPayloads) expect(logged).not.toContain(p.value);
  });

  run.it('admin_consent: anything but exactly True is "not granted" (400)', async () => {
    for (const p of corpus) {
      const path = callbackPath({ admin_consent: p.value });
      await probe('admin_consent', 'callback', p, { path }, { status: queryStatus(path, [400]) });
    }
    expect(tally.failuresFor('admin_consent')).toEqual([]);
  });

  run.it('tenant: never reflected or used (400 with admin_consent=False)', async () => {
    for (const p of corpus) {
      const path = callbackPath({ admin_consent: 'False', error: 'access_denied', tenant: p.value });
      await probe('tenant', 'callback', p, { path }, { status: queryStatus(path, [400]) });
    }
    // admin_consent=True without this browser's consent transaction is not an approval (400, docs/SECURITY.md 27): the tenant is still not shown or used.
    for (const p of sample(60)) {
      const path = callbackPath({ admin_consent: 'True', tenant: p.value });
      await probe('tenant (admin_consent=True)', 'callback', p, { path }, { status: queryStatus(path, [400]) });
    }
    expect(tally.failuresFor('tenant')).toEqual([]);
    expect(tally.failuresFor('tenant (admin_consent=True)')).toEqual([]);
  });

  run.it('the transaction cookie: a hostile value under the name of the returned state is missing or invalid (400, no token call)', async () => {
    const state = 'x'.repeat(43);
    // The name the callback looks for: so every hostile value is really opened, never just passed over.
    const name = transactionCookieName(stateKey(state));
    for (const p of corpus) {
      const value = asHeaderValue(p.value);
      const path = callbackPath({ code: '1.AXcode', state });
      await probe(
        'transaction cookie',
        'callback',
        p,
        { path, headers: { cookie: `${name}=${value}` } },
        { status: value.length > 15_000 ? parserRefusals : [400] },
      );
    }
    expect(tally.failuresFor('transaction cookie')).toEqual([]);
  });
});

describe('headers the service reads (docs/SECURITY.md 4, 6, 11)', () => {
  const attackerOrigins = (site: string) => [
    'null',
    'https://evil.example',
    'http://evil.example',
    `${site}.evil.example`,
    `${site}@evil.example`,
    `${site}/`,
    `${site.toUpperCase()}`,
    site.replace('http:', 'https:'),
    site.replace('localhost', '127.0.0.1'),
    site.replace('localhost', 'localhost.'),
    site.replace(/:\d+$/, ''),
    site.replace(/:(\d+)$/, (_, port: string) => `:${Number(port) + 1}`),
    'file://',
    'chrome-extension://abcdefghijklmnop',
    'https://login.microsoftonline.com',
    '',
    ' ',
    `${site} ${site}`,
    `${site}, https://evil.example`,
  ];

  run.it('Origin (no Sec-Fetch-Site): any origin but the site itself is refused (403), nothing begins', async () => {
    const site = world.baseUrl;
    const values = [...attackerOrigins(site), ...sample(80).map((p) => asHeaderValue(p.value))];
    for (const value of new Set(values)) {
      distinctHeaderInputs.add(`origin:${value}`);
      await probe(
        'Origin',
        'start',
        { family: 'header', value },
        { method: 'POST', path: '/api/start', headers: { 'content-type': form, origin: value }, body: formBody('MP-00001') },
        { status: [403] },
      );
    }
    expect(tally.failuresFor('Origin')).toEqual([]);
  });

  run.it(
    'docs/SECURITY.md 6 as a table: Sec-Fetch-Site decides when sent, Origin otherwise; Origin: null alone does not refuse a same-origin post',
    async () => {
      const site = world.baseUrl;
      const table: [Record<string, string>, number][] = [
        [{ 'sec-fetch-site': 'same-origin', origin: 'null' }, 303],
        [{ 'sec-fetch-site': 'same-origin', origin: site }, 303],
        [{ 'sec-fetch-site': 'same-origin' }, 303],
        [{ 'sec-fetch-site': 'cross-site', origin: 'null' }, 403],
        [{ 'sec-fetch-site': 'cross-site', origin: site }, 403],
        [{ 'sec-fetch-site': 'same-site', origin: site }, 403],
        [{ 'sec-fetch-site': 'none' }, 403],
        [{ origin: site }, 303],
        [{ origin: 'null' }, 403],
        [{ origin: 'https://evil.example' }, 403],
        // Neither header: not a browser, so not a forged cross-site post.
        [{}, 303],
      ];
      const got = [];
      for (const [headers] of table) {
        const r = await client.send({
          method: 'POST',
          path: '/api/start',
          headers: { 'content-type': form, ...headers },
          body: formBody('MP-00001'),
        });
        got.push([headers, r.status]);
      }
      expect(got).toEqual(table);
    },
  );

  run.it('Sec-Fetch-Site: only same-origin passes, whatever Origin says (403 otherwise)', async () => {
    const values = [
      'cross-site',
      'same-site',
      'none',
      'Same-Origin',
      'SAME-ORIGIN',
      'same_origin',
      'sameorigin',
      'same-origin;',
      'same-origin, cross-site',
      'cross-site, same-origin',
      '"same-origin"',
      'same-origin\u0000'.replace('\u0000', '%00'),
      '*',
      ...sample(60).map((p) => asHeaderValue(p.value)),
    ];
    for (const value of new Set(values)) {
      distinctHeaderInputs.add(`sec-fetch-site:${value}`);
      // Origin claims the site itself: Sec-Fetch-Site must still decide.
      await probe(
        'Sec-Fetch-Site',
        'start',
        { family: 'header', value },
        {
          method: 'POST',
          path: '/api/start',
          headers: { 'content-type': form, 'sec-fetch-site': value, origin: world.baseUrl },
          body: formBody('MP-00001'),
        },
        { status: [403] },
      );
    }
    // Two header lines arrive joined ("same-origin, cross-site"): refused too.
    await probe(
      'Sec-Fetch-Site',
      'start',
      { family: 'header', value: 'same-origin + cross-site lines' },
      {
        method: 'POST',
        path: '/api/start',
        headers: { 'content-type': form, 'sec-fetch-site': ['same-origin', 'cross-site'] },
        body: formBody('MP-00001'),
      },
      { status: [403] },
    );
    expect(tally.failuresFor('Sec-Fetch-Site')).toEqual([]);
  });

  run.it('Content-Type: only a web form is read (415 otherwise)', async () => {
    const values = [
      'text/plain',
      'text/html',
      'application/json',
      'application/xml',
      'multipart/form-data; boundary=x',
      'application/x-www-form-urlencodedx',
      'application/x-www-form',
      'x-www-form-urlencoded',
      'application/x-www-form-urlencoded, text/plain',
      'text/plain; application/x-www-form-urlencoded',
      'application/*',
      '*/*',
      'application/octet-stream',
      ' ',
      'form',
      'application/x-www-form-urlencoded\u00a0'.replace('\u00a0', '%A0'),
      ...sample(40, xssPayloads).map((p) => asHeaderValue(p.value)),
    ];
    for (const value of new Set(values)) {
      distinctHeaderInputs.add(`content-type:${value}`);
      await probe(
        'Content-Type',
        'start',
        { family: 'header', value },
        { method: 'POST', path: '/api/start', headers: { 'content-type': value, ...sameOrigin }, body: formBody('MP-00001') },
        { status: [415] },
      );
    }
    await probe(
      'Content-Type',
      'start',
      { family: 'header', value: '(none)' },
      { method: 'POST', path: '/api/start', headers: { ...sameOrigin }, body: formBody('MP-00001') },
      { status: [415] },
    );
    expect(tally.failuresFor('Content-Type')).toEqual([]);
  });

  run.it('Content-Length: bodies over the form limit are refused (413) before they are read; over the host limit too', async () => {
    for (const size of [2049, 2100, 4096, 16 * 1024, 64 * 1024, 512 * 1024, 1024 * 1024 + 1, 2 * 1024 * 1024]) {
      distinctHeaderInputs.add(`content-length:${size}`);
      const body = `marketplace=MP-00001&pad=${'A'.repeat(size - 25)}`;
      await probe(
        'Content-Length',
        'start',
        { family: 'oversize', value: `${size} bytes` },
        {
          method: 'POST',
          path: '/api/start',
          headers: { 'content-type': form, ...sameOrigin, 'content-length': String(Buffer.byteLength(body)) },
          body,
        },
        { status: [413] },
      );
      await probe(
        'Content-Length',
        'rotate',
        { family: 'oversize', value: `${size} bytes to /api/rotate` },
        { method: 'POST', path: '/api/rotate?marketplace=MP-0', body },
        { status: size > 1024 * 1024 ? [413] : [400] },
      );
    }
    // Chunked (no Content-Length): the body is still measured.
    await probe(
      'Content-Length',
      'start',
      { family: 'oversize', value: 'chunked 8 KB' },
      {
        method: 'POST',
        path: '/api/start',
        headers: { 'content-type': form, ...sameOrigin, 'transfer-encoding': 'chunked' },
        body: formBody('A'.repeat(8192)),
      },
      { status: [413] },
    );
    expect(tally.failuresFor('Content-Length')).toEqual([]);
  });

  run.it('Cookie: duplicated, renamed or padded transaction cookies are refused (400, no token call)', async () => {
    const good = await sealed('MP-00001');
    const other = await sealed('MP-00001');
    const variants: [string, string][] = [
      ['duplicated (same value)', `${good.cookie}; ${good.cookie}`],

      ['lower-case prefix', good.cookie.replace('__Host-', '__host-')],
      ['without __Host- prefix', good.cookie.replace('__Host-', '')],
      ['__Secure- prefix', good.cookie.replace('__Host-', '__Secure-')],
      ['quoted value', `${good.name}="${good.value}"`],
      ['space in value', `${good.name}=${good.value.slice(0, 20)} ${good.value.slice(20)}`],
      ['value with trailing junk', `${good.cookie}x`],
      ['value with a leading dot', `${good.name}=.${good.value}`],
      ['empty value', `${good.name}=`],
      ['only the name', good.name],
      ['the value under the name of another state', `${other.name}=${good.value}`],
      ['the name without its state key (the single cookie of earlier versions)', `__Host-ms-auth-tx=${good.value}`],
      ['the state key one character off', `${good.name.slice(0, 18)}${good.name[18] === 'A' ? 'B' : 'A'}${good.name.slice(19)}=${good.value}`],
      ['a forged record of set-aside states naming this one', `__Host-ms-auth-evicted=${stateKey(good.tx.state)}`],
      ['another cookie carries the value', `other=${good.value}`],
      ['padded to 8 KB', `${good.cookie}${'A'.repeat(8192)}`],
      ['two Cookie lines', `${good.cookie}\n${other.cookie}`],
    ];
    // Two sign-ins of one browser (two tabs) are each their own cookie: the answer for one of them is read, and only Entra can refuse its code.
    distinctHeaderInputs.add('cookie:two transactions');
    await probe(
      'Cookie',
      'callback',
      { family: 'header', value: 'two transactions (two tabs): the code of the one answered goes to Entra, which refuses it' },
      { path: callbackPath({ code: '1.AXcode', state: good.tx.state }), headers: { cookie: `${other.cookie}; ${good.cookie}` } },
      { status: [400], tokenCalls: 1 },
    );
    for (const [name, cookie] of variants) {
      distinctHeaderInputs.add(`cookie:${name}`);
      const headers: Record<string, string | string[]> = { cookie: cookie.includes('\n') ? cookie.split('\n') : cookie };
      await probe(
        'Cookie',
        'callback',
        { family: 'header', value: name },
        { path: callbackPath({ code: '1.AXcode', state: good.tx.state }), headers },
        { status: [400] },
      );
    }
    expect(tally.failuresFor('Cookie')).toEqual([]);
  });

  run.it('Accept on /api/status: JSON or HTML, never reflected', async () => {
    const values = [
      'application/json',
      'text/html',
      '*/*',
      'application/json;q=0',
      'text/html, application/json',
      'application/xml',
      '',
      ...sample(40, xssPayloads).map((p) => asHeaderValue(p.value)),
    ];
    for (const value of new Set(values)) {
      distinctHeaderInputs.add(`accept:${value}`);
      await probe(
        'Accept (GET /api/status)',
        'status',
        { family: 'header', value },
        { path: '/api/status', headers: { accept: value } },
        { status: [200] },
      );
    }
    expect(tally.failuresFor('Accept (GET /api/status)')).toEqual([]);
  });

  run.it(
    'Host and X-Forwarded-Host never reach a URL: the redirect URI and every link stay the configured ones (a foreign Host is refused by the local host: 421)',
    async () => {
      const hosts = [
        'evil.example',
        'evil.example:443',
        'localhost.evil.example',
        'login.microsoftonline.com@evil.example',
        'evil.example/api/callback?',
        '127.0.0.1',
        'a b',
        '<script>',
        ...sample(20, xssPayloads).map((p) => asHeaderValue(p.value)),
      ];
      let influenced = 0;
      const problems: string[] = [];
      for (const value of new Set(hosts)) {
        for (const name of ['host', 'x-forwarded-host', 'x-original-host', 'forwarded']) {
          distinctHeaderInputs.add(`${name}:${value}`);
          const headerValue = name === 'forwarded' ? `host=${value};proto=https` : value;
          const extra = { [name]: headerValue, 'x-forwarded-proto': 'https' };
          const start = await client.send({
            method: 'POST',
            path: '/api/start',
            headers: { 'content-type': form, ...sameOrigin, ...extra },
            body: formBody('MP-00001'),
          });
          const page = await client.send({ path: '/api/start', headers: extra });
          const refused = await client.send({ path: callbackPath({ state: 'x' }), headers: extra });
          const location = header(start.headers, 'location') ?? '';
          const target = location ? new URL(location) : undefined;
          const reflected = [page.body, refused.body, location].some((text) => text.includes(value) || text.includes(encodeURIComponent(value)));
          // A Host that is not the host's own never reaches a function (DNS rebinding): 421, no redirect.
          const bad =
            name === 'host'
              ? [start, page, refused].some((r) => r.status !== 421) || location !== '' || reflected
              : start.status !== 303 ||
                target?.origin !== world.simulator.url ||
                target.searchParams.get('redirect_uri') !== world.callbackUrl ||
                reflected;
          if (bad) {
            influenced++;
            problems.push(`${name}: ${value} → ${start.status} ${location.slice(0, 80)}`);
          }
          tally.add(
            `${name === 'host' ? 'Host' : name === 'x-forwarded-host' ? 'X-Forwarded-Host' : name === 'forwarded' ? 'Forwarded' : 'X-Original-Host'}`,
            'header',
            value,
            { problems: bad ? ['influenced a URL'] : [], accepted: bad, status: start.status },
          );
        }
      }
      expect(problems).toEqual([]);
      expect(influenced).toBe(0);
      // The host's own names are served, and still redirect with the configured redirect URI.
      const port = new URL(world.baseUrl).port;
      for (const own of [`127.0.0.1:${port}`, `[::1]:${port}`, `LOCALHOST:${port}`]) {
        const start = await client.send({
          method: 'POST',
          path: '/api/start',
          headers: { 'content-type': form, ...sameOrigin, host: own },
          body: formBody('MP-00001'),
        });
        expect({
          own,
          status: start.status,
          redirectUri: new URL(header(start.headers, 'location') ?? 'x:').searchParams.get('redirect_uri'),
        }).toEqual({ own, status: 303, redirectUri: world.callbackUrl });
      }
    },
  );

  run.it('wrong methods: every route answers 405 with an Allow that names what it serves', async () => {
    const routes: [string, string, readonly string[]][] = [
      ['start', '/api/start', acceptedMethods.start],
      ['callback', '/api/callback', acceptedMethods.callback],
      ['status', '/api/status', acceptedMethods.status],
      ['rotate', '/api/rotate', acceptedMethods.rotateNow],
    ];
    for (const [route, path, allowed] of routes) {
      for (const method of ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE', 'PROPFIND', 'MKCOL', 'LOCK', 'PURGE', 'SEARCH']) {
        if (allowed.includes(method)) continue;
        distinctHeaderInputs.add(`method:${method}`);
        const r = await client.send({ method, path });
        const problems =
          r.status === 405 && header(r.headers, 'allow') === allowed.join(', ')
            ? []
            : [`${method} ${path}: ${r.status}, Allow ${header(r.headers, 'allow')}`];
        tally.add('HTTP method', 'method', `${method} ${route}`, { problems, accepted: r.status < 400, status: r.status });
      }
    }
    expect(tally.failuresFor('HTTP method')).toEqual([]);
  });
});

describe('the figures', () => {
  run.it('at least 500 distinct inputs, and none accepted', () => {
    expect(corpus.length).toBeGreaterThanOrEqual(500);
    for (const [parameter, row] of tally.rows) expect({ parameter, accepted: row.accepted }).toEqual({ parameter, accepted: 0 });
  });
});
