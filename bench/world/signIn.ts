/** The sign-in a distributor's admin does, over loopback: start page → simulator's Sign in → callback. */
import { cookiesOf, formPost, send } from '../lib/http';

export interface SignIn {
  /** Start of the callback request and end of its answer (performance.now()). */
  callbackStart: number;
  callbackEnd: number;
  status: number;
}

/** POST /api/start → the simulator's authorize page → its Sign in POST → GET /api/callback with the cookies of the start answer. */
export async function signIn(appUrl: string, marketplace: string): Promise<SignIn> {
  const started = await send(`${appUrl}/api/start`, formPost(`marketplace=${encodeURIComponent(marketplace)}`));
  if (started.status !== 303) throw new Error(`POST /api/start answered ${started.status}`);
  const cookie = cookiesOf(started).join('; ');
  const authorize = String(started.headers.location);
  const page = await send(authorize);
  if (page.status !== 200 || !page.body.includes('Sign in')) throw new Error(`authorize page answered ${page.status}`);
  // The sign-in form's defaults: MFA on, the Admin agent account.
  const signedIn = await send(authorize, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: '' });
  if (signedIn.status !== 303) throw new Error(`Sign in answered ${signedIn.status}`);
  const back = new URL(String(signedIn.headers.location));

  const callbackStart = performance.now();
  const answer = await send(`${appUrl}${back.pathname}${back.search}`, { headers: { cookie } });
  const callbackEnd = performance.now();
  if (answer.status !== 200 || !answer.body.includes('refresh_token_test')) throw new Error(`callback answered ${answer.status}`);
  return { callbackStart, callbackEnd, status: answer.status };
}
