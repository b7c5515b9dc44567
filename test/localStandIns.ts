/**
 * Drives the local stand-ins the way the service and a browser would, for the stand-ins' own tests: the sign-in
 * page (with its Account and MFA choices), code redemption and refresh with the real msal-node (a fresh client
 * per request, the refresh token read from that request's cache), and the loopback TLS material.
 * Run the tests through scripts/with-local-tls.mjs (it provides the certificate and makes Node trust it).
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { AuthError, ConfidentialClientApplication, type AuthenticationResult, type Configuration } from '@azure/msal-node';
import { PARTNER_CENTER_SCOPE, type AccountKind, type IdentitySimulator, type SimulatedClient } from '../local/identitySimulator';

export const REDIRECT = 'http://localhost:7071/api/callback';
/** How the app proves itself to the token endpoint: one of msal-node's three credentials. */
export type Credential = Pick<Configuration['auth'], 'clientSecret' | 'clientAssertion' | 'clientCertificate'>;
export const SCOPES = [PARTNER_CENTER_SCOPE];

export function tlsFromEnv(): { cert: string; key: string } {
  const cert = process.env.LOCAL_TLS_CERT;
  const key = process.env.LOCAL_TLS_KEY;
  if (!cert || !key) throw new Error('Run the tests with: node scripts/with-local-tls.mjs npx jest');
  return { cert: readFileSync(cert, 'utf8'), key: readFileSync(key, 'utf8') };
}

export function pkce() {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

export interface AuthorizeParams {
  client: SimulatedClient;
  tenant: string;
  redirectUri?: string;
  challenge?: string | null;
  state?: string;
  nonce?: string;
  /** Extra query parameters, e.g. { prompt: 'login' }. */
  extra?: Record<string, string>;
  scope?: string;
}

export function authorizeUrl(sim: IdentitySimulator, p: AuthorizeParams): string {
  const q = new URLSearchParams({
    client_id: p.client.clientId,
    response_type: 'code',
    redirect_uri: p.redirectUri ?? REDIRECT,
    scope: p.scope ?? `${PARTNER_CENTER_SCOPE} offline_access openid profile`,
    state: p.state ?? 'state-123',
    nonce: p.nonce ?? 'nonce-456',
    response_mode: 'query',
    prompt: 'select_account',
    client_info: '1',
    ...p.extra,
  });
  if (p.challenge !== null) {
    q.set('code_challenge', p.challenge ?? pkce().challenge);
    q.set('code_challenge_method', 'S256');
  }
  return `${sim.authority(p.tenant)}/oauth2/v2.0/authorize?${q}`;
}

/** What a person chooses on the sign-in page before pressing Sign in. */
export interface SignInChoices {
  account?: AccountKind;
  withoutMfa?: boolean;
}

/** Where a page form led: another page (consent prompt, "Need admin approval") or a redirect. */
export interface PageStep {
  status: number;
  html: string;
  location?: URL;
}

/** Posts the first form of a page as a browser would: its hidden fields, then `fields` (a pressed button's name and value). */
export async function submitPage(sim: IdentitySimulator, html: string, fields: Record<string, string> = {}, formIndex = 0): Promise<PageStep> {
  const form = [...html.matchAll(/<form method="post" action="([^"]+)">([\s\S]*?)<\/form>/g)][formIndex];
  if (!form) throw new Error('no form on the page');
  const body = new URLSearchParams();
  for (const m of form[2]!.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) body.append(m[1]!, m[2]!.replace(/&amp;/g, '&'));
  for (const [k, v] of Object.entries(fields)) body.set(k, v);
  const posted = await fetch(new URL(form[1]!.replace(/&amp;/g, '&'), sim.url), {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body,
  });
  const location = posted.headers.get('location');
  return { status: posted.status, html: await posted.text(), ...(location ? { location: new URL(location) } : {}) };
}

/** Opens the sign-in page, makes the choices and presses Sign in: a redirect, or the next page (consent prompt, "Need admin approval"). */
export async function signInStep(sim: IdentitySimulator, url: string, choices: SignInChoices = {}): Promise<PageStep> {
  const page = await fetch(url);
  if (page.status !== 200) throw new Error(`sign-in page answered ${page.status}`);
  // A browser posts the select's value and, only when it is ticked, the checkbox's.
  const fields: Record<string, string> = {};
  if (choices.account) fields.account = choices.account;
  if (choices.withoutMfa) fields.withoutMfa = 'on';
  return submitPage(sim, await page.text(), fields);
}

/** Does what the browser does: open the sign-in page, make the choices, press Sign in, return where it redirects to. */
export async function signIn(sim: IdentitySimulator, url: string, choices: SignInChoices = {}): Promise<URL> {
  const step = await signInStep(sim, url, choices);
  if (step.status !== 303 || !step.location) throw new Error(`Sign in answered ${step.status}`);
  return step.location;
}

/** A fresh msal client per request, as the service does (a shared cache can hand over another partner's token). */
export function newCca(sim: IdentitySimulator, client: SimulatedClient, tenant: string, credential?: Credential) {
  return new ConfidentialClientApplication({
    auth: {
      clientId: client.clientId,
      authority: sim.authority(tenant),
      knownAuthorities: [sim.host],
      ...(credential ?? { clientSecret: client.clientSecret }),
    },
  });
}

export function refreshTokenOf(cca: ConfidentialClientApplication, result: AuthenticationResult): string {
  const cache = JSON.parse(cca.getTokenCache().serialize()) as {
    RefreshToken: Record<string, { home_account_id: string; client_id: string; secret: string }>;
  };
  const entry = Object.values(cache.RefreshToken).find((rt) => rt.home_account_id === result.account?.homeAccountId);
  if (!entry) throw new Error('no refresh token in the cache');
  return entry.secret;
}

export interface Redemption {
  result: AuthenticationResult;
  refreshToken: string;
}

/** Signs in and redeems the code with msal-node (PKCE, state and nonce as the service sends them). */
export async function redeemCode(
  sim: IdentitySimulator,
  p: { client: SimulatedClient; tenant: string; choices?: SignInChoices; extra?: Record<string, string>; credential?: Credential },
): Promise<Redemption> {
  const { verifier, challenge } = pkce();
  const back = await signIn(
    sim,
    authorizeUrl(sim, { client: p.client, tenant: p.tenant, challenge, ...(p.extra ? { extra: p.extra } : {}) }),
    p.choices,
  );
  const code = back.searchParams.get('code');
  if (!code) throw new Error(`no code: ${back.searchParams.get('error')}`);
  const cca = newCca(sim, p.client, p.tenant, p.credential);
  // msal-node 7 takes the expected nonce from the request (not the payload) and always checks it.
  const result = await cca.acquireTokenByCode(
    { code, scopes: SCOPES, redirectUri: REDIRECT, codeVerifier: verifier, state: 'state-123', nonce: 'nonce-456' },
    { code, state: back.searchParams.get('state')! },
  );
  return { result, refreshToken: refreshTokenOf(cca, result) };
}

export async function refresh(
  sim: IdentitySimulator,
  refreshToken: string,
  client: SimulatedClient,
  tenant: string,
  credential?: Credential,
): Promise<Redemption> {
  const cca = newCca(sim, client, tenant, credential);
  // forceCache: without it a fresh client (no account in its cache) drops the rotated refresh token.
  const result = await cca.acquireTokenByRefreshToken({ refreshToken, scopes: SCOPES, forceCache: true });
  if (!result) throw new Error('no result');
  return { result, refreshToken: refreshTokenOf(cca, result) };
}

/** Awaits a failure and returns the msal error (its class and fields are what the service classifies). */
export async function msalError(promise: Promise<unknown>): Promise<AuthError & { errorNo?: string | number; status?: number; claims?: string }> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof AuthError)) throw new Error(`expected an msal AuthError, got ${String(err)}`);
  return err;
}

/** The claims of a JWT, unverified (tests verify signatures separately where that is the point). */
export function claimsOf(jwt: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
}
