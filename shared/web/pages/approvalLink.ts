/**
 * The approval link a person hands to an administrator of their partner tenant (CPV): shown in a
 * read-only box with a **Copy approval link** button. The link is Entra's admin-consent address,
 * not a secret (shared/signIn/entraUrls.ts approvalLinkUrl).
 */
import { html, literal, type Html } from '../html';

/** Copies the box's text; without the clipboard API, selects it so the person can copy it by hand. */
export const approvalLinkScript = literal`(function () {
  var button = document.getElementById('copy-approval-link');
  var field = document.getElementById('approval-link');
  var status = document.getElementById('approval-link-status');
  if (!button || !field) return;
  button.addEventListener('click', function () {
    function done() { status.textContent = 'Approval link copied.'; }
    function fallback() { field.focus(); field.select(); status.textContent = 'Select the link and copy it.'; }
    if (navigator.clipboard && navigator.clipboard.writeText) { navigator.clipboard.writeText(field.value).then(done, fallback); } else { fallback(); }
  });
})();`;

export function approvalLinkBlock(link: string): Html {
  return html`<label for="approval-link">Approval link for an administrator</label>
<input type="text" id="approval-link" value="${link}" readonly spellcheck="false">
<button type="button" id="copy-approval-link">Copy approval link</button> <span id="approval-link-status" role="status" aria-live="polite"></span>`;
}
