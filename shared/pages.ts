/**
 * The pages a distributor's admin sees. Plain HTML, no third-party resources, readable at phone
 * width; every interpolation is escaped by html``.
 */
import { html, literal, type Html } from './html';
import { AppError } from './errors';
import { notFoundExplanation } from './marketplaces';
import type { Environment } from './settings';

const styles = literal`
:root { color-scheme: light; font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; line-height: 1.5; }
body { margin: 0; background: #f5f6f8; color: #1b1f24; }
.banner { padding: .5rem 1rem; font-weight: 600; letter-spacing: .02em; color: #fff; }
.banner.test { background: #8a5a00; }
.banner.production { background: #0b5cad; }
main { max-width: 40rem; margin: 1.5rem auto; padding: 1.5rem; background: #fff; border-radius: 8px; box-shadow: 0 1px 3px rgba(0,0,0,.12); }
h1 { font-size: 1.4rem; margin-top: 0; }
label { display: block; font-weight: 600; margin: 1rem 0 .25rem; }
input[type=text], textarea { box-sizing: border-box; width: 100%; padding: .6rem; font: inherit; border: 1px solid #6b7280; border-radius: 4px; }
textarea { font-family: ui-monospace, Consolas, monospace; font-size: .85rem; word-break: break-all; }
button, .button { display: inline-block; margin-top: 1rem; padding: .6rem 1.2rem; font: inherit; font-weight: 600; color: #fff; background: #0b5cad; border: 0; border-radius: 4px; cursor: pointer; text-decoration: none; }
button:focus-visible, a:focus-visible, input:focus-visible, textarea:focus-visible { outline: 3px solid #f59e0b; outline-offset: 2px; }
.hint { color: #4b5563; font-size: .9rem; margin: .25rem 0 0; }
.error { color: #a4161a; font-weight: 600; }
.notice { border-left: 4px solid #0b5cad; padding: .5rem 1rem; background: #eef4fb; }
.warn { border-left: 4px solid #a4161a; padding: .5rem 1rem; background: #fdf0f0; }
code { background: #eef0f3; padding: .1rem .3rem; border-radius: 3px; }
.banner code { background: rgba(0,0,0,.25); color: inherit; }
.nowrap { white-space: nowrap; }
.param { font-size: 1.05rem; }
.ref { color: #4b5563; font-size: .85rem; }
table { border-collapse: collapse; width: 100%; font-size: .9rem; }
th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid #e5e7eb; }
footer { max-width: 40rem; margin: 0 auto 2rem; padding: 0 1.5rem; color: #4b5563; font-size: .8rem; }
`;

const environmentNames: Record<Environment, string> = { test: 'Test environment', production: 'Production environment' };

export interface PageFrame {
  title: string;
  environment?: Environment;
  nonce: string;
  body: Html;
  script?: Html;
}

export function layout(p: PageFrame): Html {
  const banner = p.environment
    ? html`<div class="banner ${p.environment}" role="banner">${environmentNames[p.environment]} — tokens made here are for <code>refresh_token_${p.environment}</code></div>`
    : '';
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${p.title} · Microsoft refresh token for CloudBlue Connect</title>
<style nonce="${p.nonce}">${styles}</style>
</head>
<body>
${banner}
<main>
${p.body}
</main>
<footer>Microsoft refresh token service for CloudBlue Connect marketplaces.</footer>
${p.script ? html`<script nonce="${p.nonce}">${p.script}</script>` : ''}
</body>
</html>`;
}

export const startPath = 'start';

/** The correlation id a person can quote (security.md 11); the same id is in the logs. */
function reference(correlationId: string): Html {
  return html`<p class="ref">Reference: <code id="correlation-id">${correlationId}</code> — quote it when you contact support.</p>`;
}

export function startPage(p: { environment: Environment; nonce: string; value?: string; error?: string; correlationId?: string }): Html {
  const describedBy = p.error ? 'marketplace-hint marketplace-error' : 'marketplace-hint';
  return layout({
    title: 'Generate a refresh token',
    environment: p.environment,
    nonce: p.nonce,
    body: html`<h1>Generate a Microsoft refresh token</h1>
<p>For a CloudBlue Connect marketplace that sells Microsoft products. You will sign in at Microsoft with an administrator account of the partner tenant configured for the marketplace; you then get the refresh token to paste into Connect.</p>
<form method="post" action="${startPath}" novalidate>
<label for="marketplace">Marketplace ID</label>
<input type="text" id="marketplace" name="marketplace" value="${p.value ?? ''}" maxlength="64" autocomplete="off" spellcheck="false" autocapitalize="characters" required aria-describedby="${describedBy}"${p.error ? html` aria-invalid="true" autofocus` : ''}>
<p class="hint" id="marketplace-hint">As shown in Connect, for example MP-12345.</p>
${p.error ? html`<p class="error" id="marketplace-error" role="alert">${p.error}</p>` : ''}
<button type="submit">Generate Refresh Token</button>
</form>
${p.error && p.correlationId ? reference(p.correlationId) : ''}`,
  });
}

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

export function consentPage(p: { environment: Environment; nonce: string; marketplace: string; adminConsentUrl: string; correlationId?: string }): Html {
  return layout({
    title: 'Administrator approval needed',
    environment: p.environment,
    nonce: p.nonce,
    body: html`<h1>An administrator must approve access first</h1>
<p>Marketplace <strong>${p.marketplace}</strong> uses the CloudBlue application (CPV). The first time, an administrator of the partner tenant (Global Administrator or Privileged Role Administrator) must approve access to the Partner Center API for it.</p>
<p><a class="button" id="admin-consent" href="${p.adminConsentUrl}">Approve access as an administrator</a></p>
<p class="hint">If you are not an administrator of that tenant, send this page's link target to one. After approval, come back and generate the token again.</p>
${p.correlationId ? reference(p.correlationId) : ''}`,
  });
}

export function consentGrantedPage(p: { environment: Environment; nonce: string }): Html {
  return layout({
    title: 'Access approved',
    environment: p.environment,
    nonce: p.nonce,
    body: html`<h1>Access approved</h1>
<p>The administrator approved access for the partner tenant. Now try again: generate the refresh token.</p>
<p><a class="button" href="${startPath}">Try again</a></p>`,
  });
}

export interface ErrorPageInput {
  environment?: Environment;
  nonce: string;
  title: string;
  message: string;
  todo: string;
  correlationId: string;
  extra?: Html;
  retry?: boolean;
}

export function errorPage(p: ErrorPageInput): Html {
  return layout({
    title: p.title,
    ...(p.environment ? { environment: p.environment } : {}),
    nonce: p.nonce,
    body: html`<h1>${p.title}</h1>
<p>${p.message}</p>
<p><strong>What to do:</strong> ${p.todo}</p>
${p.extra ?? ''}
${p.retry === false ? '' : html`<p><a class="button" href="${startPath}">Start again</a></p>`}
${reference(p.correlationId)}`,
  });
}

/** What a person reads for each error: one place, stable per code. Never reflects input beyond a validated marketplace ID. */
export function describeError(err: AppError): { title: string; message: string; todo: string; extra?: Html } {
  const marketplace = typeof err.details.marketplace === 'string' ? err.details.marketplace : undefined;
  switch (err.code) {
    case 'marketplace_not_found':
      return {
        title: 'Marketplace not found',
        message: `${notFoundExplanation.what} (${marketplace ?? 'unknown'})`,
        todo: notFoundExplanation.todo,
        extra: html`<p>${notFoundExplanation.why}</p>`,
      };
    case 'marketplace_id_invalid':
      return { title: 'Invalid marketplace ID', message: 'A marketplace ID is MP- followed by 5 to 8 digits, in capitals, for example MP-12345.', todo: 'Copy the ID from the Marketplaces page in Connect.' };
    case 'marketplace_misconfigured':
      return {
        title: 'This marketplace is not configured correctly',
        message: `The configuration of marketplace ${marketplace ?? ''} in this service has a problem${typeof err.details.field === 'string' ? ` (${err.details.field})` : ''}.`,
        todo: 'Ask the operator of this service to correct the marketplace configuration file (npm run config:check lists the problems), then try again.',
      };
    case 'transaction_missing':
      return {
        title: 'Sign-in session not found',
        message: 'This browser has no sign-in in progress: the page was opened directly, the sign-in was already completed, or cookies are blocked.',
        todo: 'Start again from the start page in the same browser, and allow cookies for this site.',
      };
    case 'transaction_expired':
      return { title: 'Sign-in took too long', message: 'The sign-in must be completed within 10 minutes.', todo: 'Start again from the start page.' };
    case 'transaction_invalid':
    case 'state_mismatch':
      return {
        title: 'Sign-in could not be verified',
        message: 'The answer from Microsoft does not belong to the sign-in started in this browser.',
        todo: 'Start again from the start page, in one browser tab.',
      };
    case 'authorization_denied':
      return {
        title: 'Sign-in was not completed',
        message: 'Microsoft did not complete the sign-in (it was cancelled or refused).',
        todo: 'Start again and sign in with an administrator account of the partner tenant configured for this marketplace.',
      };
    case 'tenant_mismatch':
      return {
        title: 'Wrong Microsoft account',
        message: `The account you signed in with does not belong to the partner tenant configured for marketplace ${marketplace ?? ''}. No token was stored.`,
        todo: 'Start again and sign in with an account of the partner tenant configured for this marketplace (use a private window if you are signed in to several).',
      };
    case 'token_redemption_failed':
      return {
        title: 'Microsoft did not issue a token',
        message: `Microsoft refused to issue a refresh token${typeof err.details.aadsts === 'number' ? ` (AADSTS${err.details.aadsts})` : ''}.`,
        todo: 'Start again. If it fails again, send the reference below to the operator of this service.',
      };
    case 'identity_unavailable':
      return { title: 'Microsoft sign-in is unavailable', message: 'Microsoft Entra ID did not answer in time.', todo: 'Wait a minute and start again.' };
    case 'secret_store_failed':
      return {
        title: 'The token could not be stored',
        message: 'Microsoft issued a token, but the service could not store it safely, so it is not shown.',
        todo: 'Wait a minute and start again. If it keeps failing, send the reference below to the operator.',
      };
    case 'cross_site_request':
      return { title: 'Request refused', message: 'The form was sent from another site.', todo: 'Open the start page of this service directly and use its form.' };
    case 'method_not_allowed':
      return { title: 'Method not allowed', message: 'This address does not accept that kind of request.', todo: 'Open the start page of this service.' };
    case 'body_too_large':
      return { title: 'Request too large', message: 'The request is larger than this page accepts.', todo: 'Open the start page and enter only a marketplace ID.' };
    case 'unsupported_media_type':
      return { title: 'Unsupported request', message: 'The form must be sent as a normal web form.', todo: 'Open the start page and use its form.' };
    case 'not_found':
      return { title: 'Page not found', message: 'There is no page at this address.', todo: 'Open the start page of this service.' };
    default:
      return {
        title: 'Something went wrong',
        message: 'The service could not complete the request.',
        todo: 'Try again in a minute. If it keeps failing, send the reference below to the operator of this service.',
      };
  }
}

const connectStateText: Record<import('./connect').ProductHealth['state'], string> = {
  ok: 'holds the current token',
  pending: 'not yet, retrying',
  failed: 'refused',
  unknown: 'not pushed yet',
};

function connectCell(r: import('./rotation').TokenHealth): Html | string {
  if (!r.connect) return '';
  return html`${r.connect.map(
    (c) => html`<span class="${c.state === 'ok' ? 'connect-ok' : `connect-${c.state} error`}">${c.product}: ${connectStateText[c.state]}${c.code && c.state === 'failed' ? ` (${c.code})` : ''}</span><br>`,
  )}`;
}

/** `2026-11-27 11:50 UTC`: a person reads the minute, the JSON keeps the full ISO time. */
function shortTime(iso: string): string {
  return /^\d{4}-\d\d-\d\dT\d\d:\d\d/.test(iso) ? `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC` : iso;
}

export function statusPage(p: { environment: Environment; nonce: string; rows: import('./rotation').TokenHealth[]; generatedAt: string; connectPush?: boolean }): Html {
  const needsPerson = p.rows.filter((r) => r.status === 'needs-reauth').length;
  const connectRefused = p.rows.filter((r) => r.connect?.some((c) => c.state === 'failed')).length;
  const showConnect = p.connectPush === true;
  return layout({
    title: 'Token status',
    environment: p.environment,
    nonce: p.nonce,
    body: html`<h1>Refresh tokens (${p.rows.length})</h1>
<p>${needsPerson > 0 ? html`<strong class="error">${needsPerson} token(s) need a person:</strong> the partner's administrator must generate a new token on the start page.` : 'No token needs a person.'} Fewest days left first. As of ${p.generatedAt}.</p>
${
  showConnect && connectRefused > 0
    ? html`<p><strong class="error">Connect refused ${connectRefused} token(s):</strong> check the Connect API key and its access to the products (docs/CONNECT.md); a rotation (POST /api/rotate) pushes them again. Until then Connect holds the previous token, which stays valid.</p>`
    : ''
}
<table>
<thead><tr><th scope="col">Marketplace</th><th scope="col">Model</th><th scope="col">Status</th><th scope="col">Days left</th><th scope="col">Rotated</th><th scope="col">Issued</th><th scope="col">Last error</th>${showConnect ? html`<th scope="col">Connect (${'refresh_token_' + p.environment})</th>` : ''}</tr></thead>
<tbody>
${p.rows.map(
  (r) =>
    html`<tr><td>${r.marketplace}</td><td>${r.model}</td><td${r.status === 'active' ? '' : html` class="error"`}>${r.status}</td><td>${r.daysLeft ?? '—'}</td><td>${r.rotatedAt ? shortTime(r.rotatedAt) : 'never'}</td><td>${shortTime(r.issuedAt)}</td><td>${r.lastError ?? ''}</td>${showConnect ? html`<td>${connectCell(r)}</td>` : ''}</tr>\n`,
)}
</tbody>
</table>`,
  });
}
