/** The status page's credentials section: days left on every secret and certificate the service signs in with (docs/SECURITY.md 32). */
import type { CredentialHealth } from '../../credentials/expiry';
import type { CredentialKind } from '../../credentials/inUse';
import { html, type Html } from '../html';
import { unbreakable } from './unbreakable';

const kindText: Record<CredentialKind, string> = {
  'cpv-federated': 'CPV app: managed identity (federated credential)',
  'cpv-client-secret': 'CPV app: client secret',
  'partner-client-secret': 'CSP app: client secret',
  'partner-certificate': 'CSP app: certificate',
  'connect-api-key': 'Connect API key',
};

function daysLeftCell(c: CredentialHealth): Html | string {
  switch (c.state) {
    case 'nothing-expires':
      return 'nothing expires';
    case 'expiry-unknown':
      return 'expiry unknown';
    case 'missing':
      return html`<span class="error">not in Key Vault</span>`;
    case 'disabled':
      return html`<span class="error">disabled in Key Vault</span>`;
    case 'unreadable':
      return html`<span class="error">cannot be read from the secret store</span>`;
    case 'unusable':
      return html`<span class="error">unusable: ${c.problem ?? 'the certificate cannot be read'}</span>`;
    case 'expired':
      return html`<span class="error">expired</span>`;
    case 'expiring':
      return html`<span class="error">${c.daysLeft ?? ''}</span>`;
    case 'ok':
      return String(c.daysLeft ?? '');
  }
}

/** `MP-00001, MP-00002 and 3 more`: the table stays readable with hundreds of marketplaces. */
function usedByText(usedBy: string[]): string {
  if (usedBy.length === 0) return 'nothing yet';
  const shown = usedBy.slice(0, 3).join(', ');
  return usedBy.length > 3 ? `${shown} and ${usedBy.length - 3} more` : shown;
}

export function credentialsSection(rows: CredentialHealth[]): Html {
  const dueSoon = rows.filter((r) => r.state === 'expiring' || r.state === 'expired').length;
  const broken = rows.filter((r) => r.state === 'missing' || r.state === 'disabled' || r.state === 'unreadable').length;
  const unusable = rows.filter((r) => r.state === 'unusable').length;
  const unknown = rows.filter((r) => r.state === 'expiry-unknown').length;
  return html`<h2>Credentials (${rows.length})</h2>
    <p>
      ${dueSoon > 0 ? html`<strong class="error">${dueSoon} credential(s) expire within 30 days or have expired:</strong> add a new one and store it in Key Vault under the same name before the old one expires (docs/DEPLOY.md).` : 'No credential expires within 30 days.'}
      ${broken > 0 ? html`<strong class="error">${broken} credential(s) cannot be read from Key Vault.</strong>` : ''}
      ${unusable > 0 ? html`<strong class="error">${unusable} certificate(s) cannot be used to sign in:</strong> every sign-in and rotation of the marketplaces that use them fails; store a usable one under the same name (docs/DEPLOY.md).` : ''}
      ${unknown > 0 ? `${unknown} stored without an expiry date: store the next version with --expires.` : ''}
    </p>
    <table class="cards" id="credentials">
      <thead>
        <tr>
          <th scope="col">Credential</th>
          <th scope="col">Key Vault name</th>
          <th scope="col">Used by</th>
          <th scope="col">Expires</th>
          <th scope="col">Days left</th>
        </tr>
      </thead>
      <tbody>
        ${rows.map(
          (c) =>
            html`<tr>
              <td data-label="Credential">${kindText[c.kind]}</td>
              <td data-label="Key Vault name">${c.name ? html`<span class="nowrap">${c.name}</span>` : '—'}</td>
              <td data-label="Used by">${unbreakable(usedByText(c.usedBy))}</td>
              <td data-label="Expires">${c.expiresAt ? c.expiresAt.slice(0, 10) : '—'}</td>
              <td data-label="Days left">${daysLeftCell(c)}</td>
            </tr> `,
        )}
      </tbody>
    </table>`;
}
