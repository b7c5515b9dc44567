/** The page that shows a new refresh token once, with the Connect parameter it belongs in. */
import type { Environment } from '../../settings';
import type { Signer } from '../../signIn/signer';
import { html, literal, type Html } from '../html';
import { shownMarkQuery } from '../responses';
import { layout, startPath } from './layout';

/**
 * Copy, and keep the token off the page once the person leaves it: Chromium keeps pages in its
 * back/forward cache even with `Cache-Control: no-store`, so Back would show the token again.
 * On `pagehide` the token is removed from the DOM before the page can be cached (docs/SECURITY.md 30).
 * Without script, the stylesheet the page links first keeps it out of that cache (shownMarkResponse).
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
    var block = document.getElementById('token-block');
    if (!block) return;
    var gone = document.createElement('p');
    gone.id = 'token-gone';
    gone.className = 'notice';
    gone.textContent = 'The token is no longer shown: this page was left. It is stored in this service; if you still need to paste it, generate a new one.';
    block.replaceWith(gone);
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
  connect?: { updated: string[]; failed: string[]; pending?: string[] };
}

function connectFailures(p: TokenPageInput): Html | '' {
  const connect = p.connect;
  if (!connect) return '';
  const pending = connect.pending ?? [];
  if (connect.failed.length === 0 && pending.length === 0) return '';
  return html`<div class="warn" id="connect-status" role="alert">
<p><strong>Connect was not updated for ${[...connect.failed, ...pending].join(', ')}.</strong></p>
<ul>
${connect.failed.map((id) => html`<li>${id}: Connect refused the update. The operator of this service has been alerted.</li>\n`)}
${pending.map((id) => html`<li>${id}: Connect did not answer in time. The service tries again on its next run; pasting it yourself does no harm.</li>\n`)}
</ul>
${connect.updated.length > 0 ? html`<p>Updated: ${connect.updated.join(', ')}.</p>` : ''}
</div>`;
}

function tokenBlock(p: TokenPageInput): Html {
  return html`<label for="token">Refresh token</label>
<textarea id="token" rows="${rowsFor(p.token)}" readonly>${p.token}</textarea>
<button type="button" id="copy">Copy</button> <span id="copy-status" role="status" aria-live="polite"></span>`;
}

export function tokenPage(p: TokenPageInput): Html {
  const updated = p.connect?.updated ?? [];
  const notUpdated = [...(p.connect?.failed ?? []), ...(p.connect?.pending ?? [])];
  const allUpdated = p.connect !== undefined && updated.length > 0 && notUpdated.length === 0;
  const where = html`the parameter <code id="parameter-name">${p.parameterName}</code> of marketplace <strong class="nowrap">${p.marketplace}</strong>`;
  const products = notUpdated.length > 0 ? notUpdated.join(', ') : 'the Microsoft product';
  return layout({
    title: 'Your refresh token',
    environment: p.environment,
    nonce: p.nonce,
    script: tokenScript,
    // First in the body, so nothing after it is painted before the mark is set (docs/SECURITY.md 30).
    body: html`<link rel="stylesheet" href="${startPath}?${shownMarkQuery}=1" nonce="${p.nonce}">
<h1>Refresh token for <span class="nowrap">${p.marketplace}</span></h1>
<p class="notice" id="verified">Verified with Partner Center: it works for <strong>${p.partner}</strong>. Signed in as <span class="nowrap">${p.signer.userName}</span>.</p>
${
  p.replacedSigner
    ? html`<p class="warn" id="replaced-signer" role="alert">This token replaces one generated by another account (<span class="nowrap">${p.replacedSigner.userName}</span>). If that is not what you meant, tell the operator of this service.</p>`
    : ''
}
${
  allUpdated
    ? html`<p class="notice" id="next-step"><strong>Nothing to do:</strong> the token was written to ${where} in ${updated.join(', ')} and read back. The service writes it there again after every rotation.</p>
<div id="token-block"><details id="token-details"><summary>Show the token</summary>
${tokenBlock(p)}
</details></div>`
    : html`<h2>Next step</h2>
<p id="next-step">In Connect, open <strong>Products</strong>, then ${products}, then <strong>Configuration</strong>, and paste the token into ${where}.</p>
${connectFailures(p)}
<div id="token-block">
${tokenBlock(p)}
<p id="copy-lifetime">The copy you paste stays valid until <strong class="nowrap">${dayOf(p.expiresOn)}</strong> (90 days after it was issued), unless Connect uses it and refreshes it first. This service also renews the token it keeps; generate a new one here if Connect's copy has expired.</p>
</div>`
}
<p class="notice">The token is stored in this service's Key Vault and renewed automatically before Microsoft's 90-day inactivity limit. This page is shown once: when you leave it, the token is gone from it.</p>`,
  });
}
