/**
 * Observing the whole service around one hostile request: what the secret store holds, how often
 * "Microsoft" was asked for tokens, and what the response looks like. A probe returns problems as
 * text, so a run over hundreds of inputs reports every failure at once.
 */
import { authorizeUrl } from '../../../shared/signIn/entraUrls';
import { transactionCookieName } from '../../../shared/signIn/cookie';
import { newTransaction, pkceChallenge, sealTransaction, stateKey, transactionKey, type Transaction } from '../../../shared/signIn/transaction';
import type { Environment } from '../../../shared/settings';
import { request, submitForm } from '../../support/flow';
import type { World } from '../../support/world';
import { headerProblems, htmlProblems, kindOf, shapeOf, type Origins } from './checks';
import type { RawResponse } from './rawHttp';

/** Every version of every secret in the Key Vault fake, as one comparable string. */
export function storeSnapshot(world: World): string {
  const vault = world.vault;
  if (!vault) throw new Error('the security tests run against the Key Vault fake');
  return vault
    .secretNames()
    .map(
      (name) =>
        `${name}:${vault
          .versions(name)
          .map((v) => `${v.version}/${JSON.stringify(v.tags ?? {})}`)
          .join(',')}`,
    )
    .join('\n');
}

export function tokenCalls(world: World): number {
  return world.simulator.stats.tokenCalls.total;
}

export function originsOf(world: World): Origins {
  return { app: world.baseUrl, authority: world.simulator.url };
}

/** The key the world's service seals transactions with (startWorld sets it). */
export function testKey(): Uint8Array {
  const secret = process.env.TRANSACTION_COOKIE_KEY;
  if (!secret) throw new Error('TRANSACTION_COOKIE_KEY is not set: start the world first');
  return transactionKey(secret);
}

/** A transaction sealed as POST /api/start would seal it, with any field overridden (createdAt for expiry). */
export async function sealed(
  marketplace = 'MP-00001',
  overrides: Partial<Transaction> = {},
  environment: Environment = 'test',
): Promise<{ tx: Transaction; cookie: string; value: string; name: string }> {
  const tx = { ...newTransaction(marketplace, environment), ...overrides };
  const value = await sealTransaction(tx, testKey());
  const name = transactionCookieName(stateKey(tx.state));
  return { tx, value, name, cookie: `${name}=${value}` };
}

/**
 * Signs in at the simulator for a transaction this test sealed itself (so its createdAt, verifier
 * and state are known) and returns the callback URL the simulator redirects to.
 */
export async function authorizeFor(world: World, tx: Transaction, app: { tenant: string; clientId: string }): Promise<URL> {
  const url = authorizeUrl({
    authorityHost: world.simulator.url,
    tenantId: app.tenant,
    clientId: app.clientId,
    redirectUri: world.callbackUrl,
    state: tx.state,
    nonce: tx.nonce,
    codeChallenge: pkceChallenge(tx.verifier),
  });
  const page = await request(url);
  const signedIn = await submitForm(url, page.body, 'Sign in');
  if (!signedIn.location) throw new Error(`the simulator answered ${signedIn.status}`);
  return new URL(signedIn.location);
}

export interface Expectation {
  /** Statuses that count as the right, refusing answer. */
  status: number[];
  /** Token endpoint calls this input may cause (default 0). */
  tokenCalls?: number;
  /** The decoded value the page may show back (the start form re-displays what was typed). */
  reflected?: string;
}

export interface ProbeResult {
  problems: string[];
  /** The service acted on the input as valid: not refused, redirected, stored, or asked Entra beyond what was expected. */
  accepted: boolean;
  status: number;
}

/** Statuses produced by node's HTTP parser before any handler runs (a request line or header over 16 KB). */
export const parserRefusals = [414, 431];

/**
 * Baseline page shapes (tag and attribute names in order) per route and status, taken from
 * harmless inputs: an injected element or attribute changes the shape.
 */
export class Shapes {
  private readonly shapes = new Map<string, Set<string>>();
  /** Learns one more harmless page for a route and status (an error page, say, with and without Microsoft's ids). */
  learn(key: string, r: RawResponse): void {
    if (kindOf(r.headers) !== 'html') return;
    const known = this.shapes.get(key) ?? new Set<string>();
    known.add(shapeOf(htmlProblems(r.body, { origins: { app: '', authority: '' } }).page));
    this.shapes.set(key, known);
  }
  get(key: string): ReadonlySet<string> | undefined {
    return this.shapes.get(key);
  }
}

/** Checks one response against everything the issue asks of a refused input. */
export function judge(
  r: RawResponse,
  e: Expectation,
  c: {
    origins: Origins;
    payload: string;
    shapes: Shapes;
    route: string;
    storeBefore: string;
    storeAfter: string;
    callsBefore: number;
    callsAfter: number;
  },
): ProbeResult {
  const problems: string[] = [];
  let accepted = false;
  if (!e.status.includes(r.status)) {
    problems.push(`status ${r.status}, expected ${e.status.join(' or ')}`);
    if (r.status < 400) accepted = true;
  }
  if (c.storeAfter !== c.storeBefore) {
    problems.push('the secret store changed');
    accepted = true;
  }
  const calls = c.callsAfter - c.callsBefore;
  if (calls > (e.tokenCalls ?? 0)) {
    problems.push(`${calls} token endpoint call(s), at most ${e.tokenCalls ?? 0} allowed`);
    accepted = true;
  }
  const location = r.headers.location;
  if (location !== undefined) {
    let origin: string;
    try {
      origin = new URL(location, c.origins.app).origin;
    } catch {
      origin = '(unparseable)';
    }
    problems.push(
      `Location ${origin === c.origins.app || origin === c.origins.authority ? 'on a refusal' : 'leaves the site'}: ${location.slice(0, 80)}`,
    );
    accepted = true;
  }
  const setCookies = r.headers['set-cookie'] ?? [];
  for (const sc of setCookies) {
    // Only ever the spent transaction's cookie, cleared.
    if (!/^__Host-ms-auth-tx-[A-Za-z0-9_-]{16}=; Path=\/; Max-Age=0;/.test(sc)) {
      problems.push(`sets a cookie: ${sc.slice(0, 60)}`);
      accepted = true;
    }
  }
  if (parserRefusals.includes(r.status)) return { problems, accepted, status: r.status };

  const headers = headerProblems(r.headers, { authority: c.origins.authority, https: false });
  problems.push(...headers.problems);
  if (kindOf(r.headers) === 'html') {
    const page = htmlProblems(r.body, { origins: c.origins, payload: c.payload, ...(headers.nonce ? { nonce: headers.nonce } : {}) });
    problems.push(...page.problems);
    const expected = c.shapes.get(`${c.route} ${r.status}`);
    if (expected === undefined) problems.push(`no baseline page for ${c.route} ${r.status}`);
    else if (!expected.has(shapeOf(page.page))) problems.push('the page has other elements or attributes than the same page for a harmless input');
    if (e.reflected !== undefined) {
      const input = page.page.elements.find((el) => el.name === 'input' && el.attrs.some(([a, v]) => a === 'name' && v === 'marketplace'));
      const shown = input?.attrs.find(([a]) => a === 'value')?.[1];
      if (shown !== e.reflected) problems.push(`the form shows ${JSON.stringify(shown?.slice(0, 40))} instead of the typed value`);
    }
  } else if (r.body.includes(c.payload) && c.payload.length >= 6 && /[<>"'`]/.test(c.payload)) {
    problems.push('the input appears in a non-HTML body');
  }
  return { problems, accepted, status: r.status };
}

/** Per parameter: inputs tried, accepted, and how they were refused. */
export class Tally {
  readonly rows = new Map<
    string,
    { tried: number; accepted: number; families: Record<string, number>; statuses: Record<string, number>; tokenCalls: number }
  >();
  readonly failures: string[] = [];
  add(parameter: string, family: string, value: string, result: ProbeResult, calls = 0): void {
    let row = this.rows.get(parameter);
    if (!row) {
      row = { tried: 0, accepted: 0, families: {}, statuses: {}, tokenCalls: 0 };
      this.rows.set(parameter, row);
    }
    row.tried++;
    if (result.accepted) row.accepted++;
    row.families[family] = (row.families[family] ?? 0) + 1;
    row.statuses[String(result.status)] = (row.statuses[String(result.status)] ?? 0) + 1;
    row.tokenCalls += calls;
    for (const p of result.problems)
      this.failures.push(`${parameter} [${family}] ${JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…(${value.length})` : value)}: ${p}`);
  }
  failuresFor(parameter: string): string[] {
    return this.failures.filter((f) => f.startsWith(`${parameter} [`));
  }
}

/** Start → sign in at the simulator, stopping before the callback: the callback URL (code, state) and the cookie. */
export async function signInUntilCallback(
  world: World,
  marketplace: string,
): Promise<{ callback: URL; cookie: string; cookieName: string; cookieValue: string; authorize: URL }> {
  const start = await request(world.startUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin', origin: 'null' },
    body: new URLSearchParams({ marketplace }).toString(),
  });
  if (start.status !== 303 || !start.location) throw new Error(`start answered ${start.status}`);
  const page = await request(start.location);
  const signedIn = await submitForm(start.location, page.body, 'Sign in');
  if (!signedIn.location) throw new Error(`sign in answered ${signedIn.status}`);
  const cookie = start.setCookies.map((c) => c.split(';')[0]).join('; ');
  return {
    callback: new URL(signedIn.location),
    cookie,
    cookieName: cookie.slice(0, cookie.indexOf('=')),
    cookieValue: cookie.slice(cookie.indexOf('=') + 1),
    authorize: new URL(start.location),
  };
}

/** The text of the page's first heading: which refusal this is. */
export function headingOf(body: string): string | undefined {
  return /<h1>(.*?)<\/h1>/s.exec(body)?.[1]?.replace(/<[^>]+>/g, '');
}
