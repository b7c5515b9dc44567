/**
 * Who a distributor's admin can reach when the page asks them to: the contact the operator
 * configured (`SUPPORT_CONTACT`: an https:// address or an e-mail address), or, unset, the
 * people they already know.
 */
import { html, type Html } from '../html';
import { nowrap } from './unbreakable';

export function supportContact(contact: string | undefined): Html {
  if (!contact) {
    return html`<p id="support-contact"><strong>Who to contact:</strong> the operator of this service (whoever sent you its address), or your CloudBlue contact.</p>`;
  }
  // The setting is an https:// address or an e-mail address, nothing else (shared/settings.ts isSupportContact).
  const link = contact.startsWith('https://') ? html`<a href="${contact}">${contact}</a>` : html`<a href="mailto:${contact}">${nowrap(contact)}</a>`;
  return html`<p id="support-contact"><strong>Who to contact:</strong> ${link}, the operator of this service.</p>`;
}
