/**
 * Reload or Back after a sign-in finished, in the browser that signed in: the sign-in is not
 * repeated and the token is not shown again, but the person is told what happened, and when
 * (docs/SECURITY.md 2). Built from the small sealed record that replaced the transaction; nothing
 * secret is kept for it.
 */
import type { Environment } from '../../settings';
import { html, type Html } from '../html';
import { connectPortalUrl, doneActions } from './done';
import { layout } from './layout';
import { localTimeScript, utcTime } from './localTime';
import { nowrap } from './unbreakable';

export function finishedPage(p: { environment: Environment; nonce: string; marketplace: string; finishedAt: Date }): Html {
  return layout({
    title: 'This sign-in already finished',
    environment: p.environment,
    nonce: p.nonce,
    script: localTimeScript,
    body: html`<h1>This sign-in already finished</h1>
<p class="notice" id="finished">The token for marketplace ${nowrap(p.marketplace)} was stored at ${utcTime(p.finishedAt.toISOString())}.</p>
<p>It is not shown again: it was shown once, on the page you left. This service keeps it and renews it. If you did not copy it and Connect needs it, generate a new token from the start page.</p>
${doneActions(connectPortalUrl)}`,
  });
}
