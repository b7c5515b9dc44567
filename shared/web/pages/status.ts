/** The operator's status page: every token's health, tokens that need a person first. */
import type { ProductHealth } from '../../connect/tag';
import type { CredentialHealth } from '../../credentials/expiry';
import type { Environment } from '../../settings';
import type { TokenHealth } from '../../status/tokenHealth';
import { html, type Html } from '../html';
import { credentialsSection } from './credentialsSection';
import { layout } from './layout';

const connectStateText: Record<ProductHealth['state'], string> = {
  ok: 'holds the current token',
  pending: 'not yet, retrying',
  failed: 'refused',
  unknown: 'not pushed yet',
};

function connectCell(r: TokenHealth): Html | string {
  if (!r.connect) return '';
  return html`${r.connect.map(
    (c) =>
      html`<span class="${c.state === 'ok' ? 'connect-ok' : `connect-${c.state} error`}"
          >${c.product}: ${connectStateText[c.state]}${c.code && c.state === 'failed' ? ` (${c.code})` : ''}</span
        ><br />`,
  )}`;
}

/** `2026-11-27 11:50 UTC`: a person reads the minute, the JSON keeps the full ISO time. */
function shortTime(iso: string): string {
  return /^\d{4}-\d\d-\d\dT\d\d:\d\d/.test(iso) ? `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC` : iso;
}

export function statusPage(p: {
  environment: Environment;
  nonce: string;
  rows: TokenHealth[];
  generatedAt: string;
  connectPush?: boolean;
  credentials?: CredentialHealth[];
}): Html {
  const needsPerson = p.rows.filter((r) => r.status === 'needs-reauth').length;
  const connectRefused = p.rows.filter((r) => r.connect?.some((c) => c.state === 'failed')).length;
  const showConnect = p.connectPush === true;
  return layout({
    title: 'Token status',
    environment: p.environment,
    nonce: p.nonce,
    body: html`<h1>Refresh tokens (${p.rows.length})</h1>
      <p>
        ${needsPerson > 0 ? html`<strong class="error">${needsPerson} token(s) need a person:</strong> the partner's administrator must generate a new token on the start page.` : 'No token needs a person.'}
        Fewest days left first. As of ${p.generatedAt}.
      </p>
      ${
        showConnect && connectRefused > 0
          ? html`<p>
              <strong class="error">Connect refused ${connectRefused} token(s):</strong> check the Connect API key and its access to the products
              (docs/CONNECT.md); a rotation (POST /api/rotate) pushes them again. Until then Connect holds the previous token, which stays valid.
            </p>`
          : ''
      }
      <table>
        <thead>
          <tr>
            <th scope="col">Marketplace</th>
            <th scope="col">Model</th>
            <th scope="col">Status</th>
            <th scope="col">Days left</th>
            <th scope="col">Verified</th>
            <th scope="col">Rotated</th>
            <th scope="col">Issued by</th>
            <th scope="col">Versions</th>
            <th scope="col">Last error</th>
            ${showConnect ? html`<th scope="col">Connect (${'refresh_token_' + p.environment})</th>` : ''}
          </tr>
        </thead>
        <tbody>
          ${p.rows.map(
            (r) =>
              html`<tr><td>${r.marketplace}</td><td>${r.model}</td><td${r.status === 'active' ? '' : html` class="error"`}>${r.status}</td><td>${r.daysLeft ?? '—'}</td><td>${r.verifiedAt ? shortTime(r.verifiedAt) : r.status === 'pending' ? 'pending' : 'never'}</td><td>${r.rotatedAt ? shortTime(r.rotatedAt) : 'never'}</td><td>${shortTime(r.issuedAt)}${r.signer ? html`<br />${r.signer.userName}` : ''}</td><td>${r.enabledVersions}</td><td>${r.lastError ?? ''}</td>${showConnect ? html`<td>${connectCell(r)}</td>` : ''}</tr>\n`,
          )}
        </tbody>
      </table>
      ${p.credentials ? credentialsSection(p.credentials) : ''}`,
  });
}
