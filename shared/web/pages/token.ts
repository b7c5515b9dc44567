/** The page that shows a new refresh token once, with the Connect parameter it belongs in. */
import type { Environment } from '../../settings';
import type { Signer } from '../../signIn/signer';
import { html, literal, type Html } from '../html';
import { shownMarkQuery } from '../responses';
import { connectPortalUrl, doneActions } from './done';
import { layout, startPath } from './layout';
import { nowrap } from './unbreakable';

/**
 * Copy, and keep the token off the page once the person leaves it: Chromium keeps pages in its
 * back/forward cache even with `Cache-Control: no-store`, so Back would show the token again.
 * On `pagehide` everything under the heading is replaced by one notice before the page can be
 * cached: the token, and the words around it that only made sense while it was shown
 * (docs/SECURITY.md 30). Without script, the stylesheet the page links first keeps it out of that
 * cache (shownMarkResponse), and the server then says the sign-in already finished.
 */
const tokenScript = literal`(function () {
  var button = document.getElementById('copy');
  var field = document.getElementById('token');
  var status = document.getElementById('copy-status');
  if (button && field) {
    button.addEventListener('click', function () {
      function done() { status.textContent = 'Copied to the clipboard.'; }
      function fallback() { field.focus(); field.select(); try { document.execCommand('copy'); done(); } catch (e) { status.textContent = 'Select the text and copy it.'; } }
      if (navigator.clipboard && navigator.clipboard.writeText) { navigator.clipboard.writeText(field.value).then(done, fallback); } else { fallback(); }
    });
  }
  window.addEventListener('pagehide', function () {
    var shown = document.getElementById('token-shown');
    if (!shown) return;
    var gone = document.createElement('p');
    gone.id = 'token-gone';
    gone.className = 'notice';
    gone.textContent = 'The token is no longer shown: you left this page. This service keeps it; if you still need to paste it, generate a new one.';
    shown.replaceWith(gone);
  });
})();`;

/** Rows enough to show the whole token without scrolling inside the box (about 56 characters a row at phone width). */
function rowsFor(token: string): number {
  return Math.max(3, Math.ceil(token.length / 56) + 1);
}

/** `1 March 2027`: the day a pasted copy dies if nothing uses it. */
function dayOf(date: Date): string {
  return date.toLocaleDateString('en-GB', { day: 'numeric', month: 'long', year: 'numeric', timeZone: 'UTC' });
}

/** A Connect product as a person reads it: the name the operator gave it, with its ID; or the ID alone. */
export interface ProductRef {
  id: string;
  name?: string;
}

function product(p: ProductRef): Html {
  return p.name ? html`<strong>${p.name}</strong> (${nowrap(p.id)})` : html`product ${nowrap(p.id)}`;
}

function products(list: ProductRef[]): Html {
  return html`${list.map((p, i) => html`${i === 0 ? '' : i === list.length - 1 ? ' and ' : ', '}${product(p)}`)}`;
}

export interface TokenPageInput {
  environment: Environment;
  nonce: string;
  marketplace: string;
  token: string;
  parameterName: string;
  /** The partner organization Partner Center named when it accepted the token. */
  partner: string;
  /** Who signed in. */
  signer: Signer;
  /** Who generated the token this one replaced, when that was another account. */
  replacedSigner?: Signer;
  /** When this token value dies if nothing uses it (issued + 90 days). */
  expiresOn: Date;
  /**
   * Connect push outcome, when the push is on and the marketplace has Connect products:
   * `updated`: written to the product parameter and read back (whether the connector reads that
   * parameter is Connect's business, docs/CONNECT.md); `failed` refused it (operator alerted);
   * `pending` did not answer (the service retries on its next run).
   */
  connect?: { updated: ProductRef[]; failed: ProductRef[]; pending?: ProductRef[] };
}

function connectFailures(p: TokenPageInput): Html | '' {
  const connect = p.connect;
  if (!connect) return '';
  const pending = connect.pending ?? [];
  if (connect.failed.length === 0 && pending.length === 0) return '';
  return html`<div class="warn" id="connect-status" role="alert">
<p><strong>Connect was not updated for ${products([...connect.failed, ...pending])}.</strong></p>
<ul>
${connect.failed.map((ref) => html`<li>${product(ref)}: Connect refused the update. The operator of this service has been told.</li>\n`)}
${pending.map((ref) => html`<li>${product(ref)}: Connect did not answer in time. The service tries again on its next run; pasting the token yourself does no harm.</li>\n`)}
</ul>
${connect.updated.length > 0 ? html`<p>Updated: ${products(connect.updated)}.</p>` : ''}
</div>`;
}

function tokenBlock(p: TokenPageInput): Html {
  return html`<label for="token">Refresh token</label>
<textarea id="token" rows="${rowsFor(p.token)}" readonly>${p.token}</textarea>
<button type="button" id="copy">Copy</button> <span id="copy-status" role="status" aria-live="polite"></span>`;
}

/** One sentence on how long a pasted copy lives, and who keeps the service's own copy alive. */
function lifetime(p: TokenPageInput): Html {
  return html`<p id="copy-lifetime">A token you paste works until it goes 90 days without being used (if nothing uses it, until ${nowrap(dayOf(p.expiresOn))}); this service renews its own copy by itself.</p>`;
}

export function tokenPage(p: TokenPageInput): Html {
  const updated = p.connect?.updated ?? [];
  const notUpdated = [...(p.connect?.failed ?? []), ...(p.connect?.pending ?? [])];
  const allUpdated = p.connect !== undefined && updated.length > 0 && notUpdated.length === 0;
  const where = html`the parameter <code id="parameter-name">${p.parameterName}</code> of marketplace ${nowrap(p.marketplace)}`;
  return layout({
    title: 'Your refresh token',
    environment: p.environment,
    nonce: p.nonce,
    script: tokenScript,
    // First in the body, so nothing after it is painted before the mark is set (docs/SECURITY.md 30).
    body: html`<link rel="stylesheet" href="${startPath}?${shownMarkQuery}=1" nonce="${p.nonce}">
<h1>Refresh token for ${nowrap(p.marketplace)}</h1>
<div id="token-shown">
<p class="notice" id="verified">Verified with Partner Center: it works for <strong>${p.partner}</strong>. Signed in as ${nowrap(p.signer.userName)}.</p>
${
  p.replacedSigner
    ? html`<p class="warn" id="replaced-signer" role="alert">This token replaces one generated by another account (${nowrap(p.replacedSigner.userName)}). If that is not what you meant, tell the operator of this service.</p>`
    : ''
}
${
  allUpdated
    ? html`<p id="next-step"><strong>Nothing to do:</strong> the token was written to ${where} in ${products(updated)} in Connect, and read back. After every renewal this service writes the new token there again.</p>
<details id="token-details"><summary>Show the token</summary>
${tokenBlock(p)}
${lifetime(p)}
</details>`
    : html`<h2>Next step</h2>
<p id="next-step">In Connect, open <strong>Products</strong>, then ${notUpdated.length > 0 ? products(notUpdated) : html`the Microsoft product`}, then <strong>Configuration</strong>, and paste the token into ${where}.</p>
${connectFailures(p)}
${tokenBlock(p)}
${lifetime(p)}`
}
<p class="hint" id="shown-once">This service keeps the token and renews it before Microsoft's 90-day limit. It is shown only here: once you leave this page, it is gone from it.</p>
</div>
${doneActions(connectPortalUrl)}`,
  });
}
