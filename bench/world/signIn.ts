/** The sign-in a distributor's admin does, over loopback: start page → simulator's Sign in → callback. */
import { cookiesOf, formPost, send, type Answer, type SendInit } from '../lib/http';

export interface SignIn {
  /** Start of the callback request and end of its answer (performance.now()). */
  callbackStart: number;
  callbackEnd: number;
  status: number;
}

let clients = 0;

/**
 * Sends a request of the sign-in, waiting out the service's bounds on sign-ins (docs/SECURITY.md
 * 29: 429 with Retry-After, before anything else is done) rather than failing the bench. Each
 * sign-in comes from an address of its own (X-Forwarded-For, as Azure's front end sets it): the
 * bench is many admins, not one; the overall bound still applies.
 */
async function sendBounded(url: string, init: SendInit): Promise<Answer> {
  for (let attempt = 0; ; attempt++) {
    const answer = await send(url, init);
    if (answer.status !== 429 || attempt >= 30) return answer;
    await new Promise((r) => setTimeout(r, 1000 * Math.max(1, Number(answer.headers['retry-after']) || 1)));
  }
}

/** POST /api/start → the simulator's authorize page → its Sign in POST → GET /api/callback with the cookies of the start answer. */
export async function signIn(appUrl: string, marketplace: string): Promise<SignIn> {
  clients += 1;
  const client = { 'x-forwarded-for': `198.51.100.${1 + (clients % 250)}` };
  const form = formPost(`marketplace=${encodeURIComponent(marketplace)}`);
  const started = await sendBounded(`${appUrl}/api/start`, { ...form, headers: { ...form.headers, ...client } });
  if (started.status !== 303) throw new Error(`POST /api/start answered ${started.status}`);
  const cookie = cookiesOf(started).join('; ');
  const authorize = String(started.headers.location);
  const page = await send(authorize);
  if (page.status !== 200 || !page.body.includes('Sign in')) throw new Error(`authorize page answered ${page.status}`);
  // The sign-in form's defaults: MFA on, the Admin agent account.
  const signedIn = await send(authorize, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: '' });
  if (signedIn.status !== 303) throw new Error(`Sign in answered ${signedIn.status}`);
  const back = new URL(String(signedIn.headers.location));

  let callbackStart = performance.now();
  let answer = await send(`${appUrl}${back.pathname}${back.search}`, { headers: { cookie, ...client } });
  let callbackEnd = performance.now();
  // Refused by the bound, the callback did nothing (not even spend the code): wait, then time it again.
  for (let attempt = 0; answer.status === 429 && attempt < 30; attempt++) {
    await new Promise((r) => setTimeout(r, 1000 * Math.max(1, Number(answer.headers['retry-after']) || 1)));
    callbackStart = performance.now();
    answer = await send(`${appUrl}${back.pathname}${back.search}`, { headers: { cookie, ...client } });
    callbackEnd = performance.now();
  }
  if (answer.status !== 200 || !answer.body.includes('refresh_token_test')) throw new Error(`callback answered ${answer.status}`);
  return { callbackStart, callbackEnd, status: answer.status };
}
