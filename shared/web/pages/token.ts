/** The page that shows a new refresh token once, with the Connect parameter it belongs in. */
import type { Environment } from '../../settings';
import { html, literal, type Html } from '../html';
import { layout } from './layout';

const copyScript = literal`(function () {
  var button = document.getElementById('copy');
  var field = document.getElementById('token');
  var status = document.getElementById('copy-status');
  button.addEventListener('click', function () {
    function done() { status.textContent = 'Copied to the clipboard.'; }
    function fallback() { field.focus(); field.select(); try { document.execCommand('copy'); done(); } catch (e) { status.textContent = 'Select the text and copy it.'; } }
    if (navigator.clipboard && navigator.clipboard.writeText) { navigator.clipboard.writeText(field.value).then(done, fallback); } else { fallback(); }
  });
})();`;

export interface TokenPageInput {
  environment: Environment;
  nonce: string;
  marketplace: string;
  token: string;
  parameterName: string;
  /**
   * Connect push outcome, when the push is on and the marketplace has Connect products:
   * `updated` hold the token now (read back); `failed` refused it (operator alerted);
   * `pending` did not answer (the service retries on its next run).
   */
  connect?: { updated: string[]; failed: string[]; pending?: string[] };
}

function connectNotice(p: TokenPageInput): Html | '' {
  const connect = p.connect;
  if (!connect) return '';
  const pending = connect.pending ?? [];
  if (connect.failed.length === 0 && pending.length === 0) {
    return connect.updated.length > 0
      ? html`<p class="notice" id="connect-status">Connect was updated: ${connect.updated.join(', ')} now hold${connect.updated.length === 1 ? 's' : ''} this token in <code>${p.parameterName}</code> for marketplace ${p.marketplace}. Nothing to paste.</p>`
      : '';
  }
  return html`<div class="warn" id="connect-status" role="alert">
<p><strong>Connect was not updated for ${[...connect.failed, ...pending].join(', ')}.</strong> Paste the token into the parameter <code>${p.parameterName}</code> of marketplace ${p.marketplace} in ${connect.failed.length + pending.length === 1 ? 'that product' : 'those products'} yourself.</p>
<ul>
${connect.failed.map((id) => html`<li>${id}: Connect refused the update. The operator of this service has been alerted.</li>\n`)}
${pending.map((id) => html`<li>${id}: Connect did not answer in time. The service tries again on its next run; pasting it yourself does no harm.</li>\n`)}
</ul>
${connect.updated.length > 0 ? html`<p>Updated: ${connect.updated.join(', ')}.</p>` : ''}
</div>`;
}

export function tokenPage(p: TokenPageInput): Html {
  const allUpdated = p.connect !== undefined && p.connect.updated.length > 0 && p.connect.failed.length === 0 && (p.connect.pending ?? []).length === 0;
  return layout({
    title: 'Your refresh token',
    environment: p.environment,
    nonce: p.nonce,
    script: copyScript,
    body: html`<h1>Refresh token for <span class="nowrap">${p.marketplace}</span></h1>
<p class="param">${allUpdated ? 'It belongs in' : 'Paste it into'} the Connect parameter <code id="parameter-name">${p.parameterName}</code> of marketplace <strong>${p.marketplace}</strong>.</p>
<label for="token">Refresh token</label>
<textarea id="token" rows="7" readonly>${p.token}</textarea>
<button type="button" id="copy">Copy</button> <span id="copy-status" role="status" aria-live="polite"></span>
${connectNotice(p)}
<p class="notice">The token is stored in this service's Key Vault and renewed automatically before Microsoft's 90-day inactivity limit. This page is shown once: if you lose the token, generate a new one.</p>`,
  });
}

