/**
 * The way on from a page that ends a sign-in: **Done** (back to the start page, for the next
 * marketplace) and a link to CloudBlue Connect, where the token is used. A plain link: nothing is
 * loaded from Connect, and no page waits for it.
 */
import { html, type Html } from '../html';
import { startPath } from './layout';

/** CloudBlue Connect's portal, where a distributor's admin opens Products → Configuration. */
export const connectPortalUrl = 'https://connect.cloudblue.com/';

export function doneActions(connectUrl: string): Html {
  return html`<p class="actions" id="done-actions"><a class="button" id="done" href="${startPath}">Done</a> <a id="open-connect" href="${connectUrl}" rel="noreferrer">Open CloudBlue Connect</a></p>`;
}
