/** The operator's status page: every token's health, tokens that need a person first. */
import type { ProductHealth } from '../../connect/tag';
import type { StatusReport } from '../../status/report';
import type { TokenHealth } from '../../status/tokenHealth';
import { html, type Html } from '../html';
import { contactsSection } from './contactsSection';
import { credentialsSection } from './credentialsSection';
import { layout } from './layout';
import { localTimeScript, utcTime } from './localTime';
import { nowrap } from './unbreakable';

/**
 * Only what the service knows: it wrote the product parameter and read it back. Whether Connect's
 * connector reads that parameter is Connect's business (CloudBlue's Microsoft Management Settings
 * extension migrates credentials out of it; docs/CONNECT.md).
 */
const connectStateText: Record<ProductHealth['state'], string> = {
  ok: 'written to the product parameter and read back',
  pending: 'not yet, retrying',
  failed: 'refused',
  unknown: 'not pushed yet',
};

/** Failures a new sign-in does not cure, in the words of the page (the tag keeps the short form). */
const lastErrorText: Record<string, string> = {
  'needs-reauth:conditional-access':
    "blocked by a Conditional Access policy of the partner tenant (AADSTS53003): signing in again does not help; the partner's administrator must change the policy or exclude this account or application from it",
};

function connectCell(r: TokenHealth): Html | string {
  if (!r.connect) return '';
  return html`${r.connect.map(
    (c) =>
      html`<span class="${c.state === 'ok' ? 'connect-ok' : `connect-${c.state} error`}">${nowrap(c.product)}: ${connectStateText[c.state]}${c.code && c.state === 'failed' ? ` (${c.code})` : ''}</span><br>`,
  )}`;
}

/** A time as the page shows it: UTC, with the viewer's local time beside it where script runs (localTime.ts). */
const shortTime = utcTime;

const statusText: Record<string, string> = {
  active: 'active',
  pending: 'pending (not yet proven)',
  'needs-reauth': 'needs a person',
  'needs-attention': 'needs the operator',
  'not-configured': 'no usable configuration entry',
  'connect-sync-failed': 'Connect refused it',
};

/** The timer's skip reasons (shared/rotation/rotateToken.ts) in the words of the page. */
const skipReasonText: Record<string, string> = {
  'recently-rotated': 'generated or rotated less than 12 hours ago',
  'needs-reauth': 'waiting for a person to generate them again',
  'in-progress': 'already being rotated by another run',
};

function skippedText(skipped: Record<string, number>): string {
  const parts = Object.entries(skipped).map(([reason, n]) => `${n} ${skipReasonText[reason] ?? reason}`);
  return parts.length > 0 ? parts.join(', ') : 'none';
}

function runSection(report: StatusReport): Html {
  const run = report.lastRun;
  const next = report.nextRunAt ? shortTime(report.nextRunAt) : `unknown (schedule ${report.schedule})`;
  return html`<h2>Rotation</h2>
    <dl class="facts" id="runs">
      <dt>Last run</dt>
      <dd id="last-run">
        ${
          run
            ? html`${shortTime(run.startedAt)} (${run.trigger}): ${run.rotated} rotated, ${run.failed} failed, ${run.notReached} not reached of ${run.total}`
            : 'none recorded yet'
        }
      </dd>
      ${run ? html`<dt>Skipped</dt><dd id="last-run-skipped">${skippedText(run.skipped)}</dd>` : ''}
      <dt>Next run</dt>
      <dd id="next-run">${next}</dd>
    </dl>`;
}

/** The last error, why and since when the token is parked, and refusals not yet final. */
function lastErrorCell(r: TokenHealth): Html {
  const last = r.lastError ? (lastErrorText[r.lastError] ?? r.lastError) : 'none';
  return html`${last}${r.parked ? html`<br>Not rotated since ${shortTime(r.parked.since)}: waiting for a person to generate it again.` : ''}${
    r.refusals
      ? html`<br>Partner Center refused it ${r.refusals.count} time${r.refusals.count === 1 ? '' : 's'} since ${shortTime(r.refusals.since)}; another refusal an hour or more later parks it.`
      : ''
  }`;
}

function row(r: TokenHealth, showConnect: boolean): Html {
  const cell = (label: string, value: Html | string | number, cls?: string) =>
    html`<td data-label="${label}"${cls ? html` class="${cls}"` : ''}>${value}</td>`;
  return html`<tr>
    ${cell('Marketplace', html`<span class="nowrap">${r.marketplace}</span>`)}
    ${cell('Status', statusText[r.status] ?? r.status, r.status === 'active' ? undefined : 'error')}
    ${cell('Days left', r.daysLeft ?? '—')}
    ${cell('Expires', r.expiresAt ? shortTime(r.expiresAt) : '—')}
    ${cell('Verified', r.verifiedAt ? shortTime(r.verifiedAt) : r.status === 'pending' ? 'pending' : 'never')}
    ${cell('Rotated', r.rotatedAt ? shortTime(r.rotatedAt) : 'never')}
    ${cell('Generated', html`${r.issuedAt ? shortTime(r.issuedAt) : '—'}${r.signer ? html` by ${nowrap(r.signer.userName)}` : ''}`)}
    ${cell('Model', r.model)}
    ${cell('Versions enabled', r.enabledVersions)}
    ${cell('Last error', lastErrorCell(r))}
    ${showConnect ? cell('Connect', connectCell(r)) : ''}
  </tr>`;
}

export function statusPage(p: { nonce: string; report: StatusReport }): Html {
  const { report } = p;
  const rows = report.tokens;
  const needsPerson = rows.filter((r) => r.status === 'needs-reauth').length;
  const needsOperator = rows.filter((r) => r.status === 'needs-attention').length;
  const unconfigured = rows.filter((r) => r.status === 'not-configured').length;
  const connectRefused = rows.filter((r) => r.connect?.some((c) => c.state === 'failed')).length;
  const showConnect = report.connectPush;
  return layout({
    title: 'Token status',
    environment: report.environment,
    nonce: p.nonce,
    wide: true,
    script: localTimeScript,
    body: html`<h1>Refresh tokens (${rows.length})</h1>
      ${
        report.configuration.usable
          ? ''
          : html`<div class="warn" id="configuration-problem" role="alert">
              <p><strong>The marketplace configuration file cannot be used:</strong> every sign-in is refused and rotation stops until it is fixed.</p>
              <ul>${report.configuration.problems.map((m) => html`<li>${m}</li>`)}</ul>
            </div>`
      }
      ${
        report.configuration.usable && report.configuration.problems.length > 0
          ? html`<div class="warn" id="configuration-problem" role="alert">
              <p><strong>${report.configuration.problems.length} problem(s) in the marketplace configuration file</strong> (those marketplaces are refused; <code>npm run config:check</code> lists them):</p>
              <ul>${report.configuration.problems.map((m) => html`<li>${m}</li>`)}</ul>
            </div>`
          : ''
      }
      <p id="summary">
        ${needsPerson > 0 ? html`<strong class="error">${needsPerson} token(s) need a person:</strong> the partner's administrator must generate a new token on the start page. ` : ''}
        ${needsOperator > 0 ? html`<strong class="error">${needsOperator} token(s) need the operator:</strong> the secret under the token's name was written by hand or disabled in Key Vault. ` : ''}
        ${unconfigured > 0 ? html`<strong class="error">${unconfigured} token(s) have no usable entry in the configuration file:</strong> nothing rotates them, and each dies 90 days after its last use; fix or restore the entry (<code>npm run config:check</code>). ` : ''}
        ${needsPerson + needsOperator + unconfigured === 0 ? 'No token needs a person. ' : ''}Tokens that need someone first, then fewest days left. As of ${shortTime(report.generatedAt)}.
      </p>
      ${
        showConnect && connectRefused > 0
          ? html`<p>
              <strong class="error">Connect refused ${connectRefused} token(s):</strong> check the Connect API key and its access to the products
              (docs/CONNECT.md); a rotation (POST /api/rotate) pushes them again. Until then Connect holds the previous token, which stays valid.
            </p>`
          : ''
      }
      ${runSection(report)}
      <h2>Tokens</h2>
      <p id="token-binding">
        A refresh token works only for the application that obtained it. CPV tokens are bound to the CPV application${
          report.cpvClientId ? html` <code>${report.cpvClientId}</code>` : ''
        } (<code>CPV_CLIENT_ID</code>: the Connect Microsoft connector's, which Connect redeems them with); CSP tokens to each marketplace's
        <code>partner_client_id_${report.environment}</code>, the application in its Connect parameters.
      </p>
      <table class="cards" id="tokens">
        <thead>
          <tr>
            <th scope="col">Marketplace</th>
            <th scope="col">Status</th>
            <th scope="col">Days left</th>
            <th scope="col">Expires</th>
            <th scope="col">Verified</th>
            <th scope="col">Rotated</th>
            <th scope="col">Generated</th>
            <th scope="col">Model</th>
            <th scope="col">Versions enabled</th>
            <th scope="col">Last error</th>
            ${showConnect ? html`<th scope="col">Connect (${'refresh_token_' + report.environment})</th>` : ''}
          </tr>
        </thead>
        <tbody>
          ${rows.map((r) => row(r, showConnect))}
        </tbody>
      </table>
      ${credentialsSection(report.credentials)}
      ${contactsSection(report.notifications)}`,
  });
}
