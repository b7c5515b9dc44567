/** The status page's section on the messages to marketplace contacts: who was told, when and why (docs/SECURITY.md 35). */
import type { NotificationsHealth, ToldView } from '../../status/contacts';
import { html, type Html } from '../html';

const stateText: Record<ToldView['state'], string> = {
  queued: 'waiting to be sent',
  sending: 'being sent',
  sent: 'sent',
  failed: 'failed (alerted)',
};

/** `2026-11-27 11:50 UTC`, as the rest of the page writes times. */
const shortTime = (iso: string) => (/^\d{4}-\d\d-\d\dT\d\d:\d\d/.test(iso) ? `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC` : iso);

function toldCell(t: ToldView): Html {
  const when = t.state === 'sent' || t.state === 'failed' ? shortTime(t.updatedAt) : shortTime(t.at);
  const state = `${stateText[t.state]}${t.state === 'queued' && t.retryAt ? ` (deferred; again after ${shortTime(t.retryAt)})` : ''}`;
  return html`${t.state === 'failed' ? html`<span class="error">${state}</span>` : state}, ${when}: ${t.why}. To ${t.to.join(', ')}.`;
}

export function contactsSection(n: NotificationsHealth | undefined): Html {
  if (!n) return html``;
  const failed = n.marketplaces.filter((m) => m.told.some((t) => t.state === 'failed')).length;
  return html`<h2>Messages to marketplace contacts</h2>
    <p id="notifications-state">
      ${
        n.on
          ? html`On: sent from <code>${n.sender ?? ''}</code> when a token needs a person, and 14, 7, 3 and 1 days before a token that is not renewed expires; at most one message per marketplace and reason a day.`
          : html`<strong>Off:</strong> COMMUNICATION_SERVICES_ENDPOINT and NOTIFICATION_SENDER_ADDRESS are not set, so nobody is told (docs/DEPLOY.md).`
      }
      ${failed > 0 ? html` <strong class="error">Messages to ${failed} marketplace(s) failed:</strong> see the NotificationFailed alert.` : ''}
    </p>
    ${
      n.marketplaces.length === 0
        ? html`<p>No marketplace names contacts for this environment (<code>contacts_test</code> / <code>contacts_production</code> in the configuration file).</p>`
        : html`<table class="cards" id="contacts">
            <thead>
              <tr>
                <th scope="col">Marketplace</th>
                <th scope="col">Contacts</th>
                <th scope="col">Told</th>
              </tr>
            </thead>
            <tbody>
              ${n.marketplaces.map(
                (m) => html`<tr>
                  <td data-label="Marketplace"><span class="nowrap">${m.marketplace}</span></td>
                  <td data-label="Contacts">${m.contacts.length > 0 ? m.contacts.join(', ') : 'none (no longer configured)'}</td>
                  <td data-label="Told">${m.told.length > 0 ? html`${m.told.map((t) => html`${toldCell(t)}<br>`)}` : 'nobody yet'}</td>
                </tr>`,
              )}
            </tbody>
          </table>`
    }`;
}
