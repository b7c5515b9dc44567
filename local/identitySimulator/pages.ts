/**
 * The simulator's HTML pages: sign-in, the consent prompt, "Need admin approval", admin consent, error, signed out.
 * Plain accessible HTML, no script; every value is escaped, and a strict CSP allows only the one stylesheet.
 */
import { createHash } from 'node:crypto';
import { ACCOUNT_CHOICES, accountLabel } from './accounts';
import { permissionsOf } from './permissions';
import type { SimulatedAccount, SimulatedClient } from './types';

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const STYLE = `
body{font-family:system-ui,Segoe UI,Arial,sans-serif;background:#f2f2f2;margin:0;color:#1b1b1b}
main{max-width:28rem;margin:3rem auto;background:#fff;padding:2rem 2.5rem;box-shadow:0 2px 6px rgba(0,0,0,.2)}
.banner{background:#fff4ce;border-left:4px solid #c19c00;padding:.5rem .75rem;font-size:.9rem}
h1{font-size:1.5rem;font-weight:600}
dt{font-weight:600;margin-top:.5rem}dd{margin:0;word-break:break-all}
label{display:block;font-weight:600;margin-top:1rem}input,select{width:100%;padding:.4rem;font:inherit;box-sizing:border-box}
.check{display:flex;gap:.5rem;align-items:center;margin-top:1rem}.check input{width:auto;margin:0}.check label{margin:0;font-weight:400}
.actions{margin-top:1.5rem;display:flex;gap:.5rem;justify-content:flex-end}
button{font:inherit;padding:.45rem 1.6rem;border:1px solid #8a8886;background:#fff;cursor:pointer}
button.primary{background:#0067b8;border-color:#0067b8;color:#fff}
button:focus-visible{outline:2px solid #000;outline-offset:2px}
.error{color:#a4262c}
.user{font-size:.9rem;margin:0 0 .5rem}
.lead{margin-top:-.5rem}
.app{display:flex;flex-wrap:wrap;gap:.25rem .75rem;align-items:baseline;margin:.75rem 0}
.app-name{font-size:1.1rem;font-weight:600}
.publisher{color:#3b3b3b;font-size:.9rem}
.permissions{list-style:none;padding:0;margin:.5rem 0}
.permissions li{border-top:1px solid #e1dfdd;padding:.35rem 0}
.permissions summary{cursor:pointer}
.permissions p{margin:.25rem 0 0 1rem;color:#3b3b3b;font-size:.9rem}
.fine{font-size:.8rem;color:#3b3b3b}
details.tech{margin-top:1.25rem;font-size:.85rem}
summary:focus-visible,a:focus-visible,select:focus-visible,input:focus-visible{outline:2px solid #000;outline-offset:2px}
`;
const STYLE_HASH = `'sha256-${createHash('sha256').update(STYLE).digest('base64')}'`;

/**
 * No script at all; the only style is the inline sheet above (by hash). form-action must also allow the
 * client's redirect origin: Chromium applies form-action to the redirect that follows the form POST.
 */
export function pageCsp(redirectOrigin?: string): string {
  const formAction = redirectOrigin ? `'self' ${redirectOrigin}` : "'self'";
  return `default-src 'none'; style-src ${STYLE_HASH}; img-src 'self'; form-action ${formAction}; frame-ancestors 'none'; base-uri 'none'`;
}

function layout(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} – Local Microsoft identity simulator</title>
<style>${STYLE}</style>
</head>
<body>
<main>
<p class="banner" role="note">Local Microsoft identity simulator. This is not login.microsoftonline.com; nothing here reaches Microsoft.</p>
${body}
</main>
</body>
</html>`;
}

function facts(rows: [string, string][]): string {
  return `<dl>${rows.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`).join('')}</dl>`;
}

export interface SignInPageInput {
  /** The exact URL (path and query) the form posts back to. */
  action: string;
  client: SimulatedClient;
  scope: string;
  /** The tenant of the authorize path, or undefined for common/organizations (then the user types it). */
  tenant: string | undefined;
  suggestedTenant: string;
  /** The tenant's accounts (known when the tenant is in the path). */
  accounts: SimulatedAccount[] | undefined;
  /** The request's `prompt`, shown so a person (and a test) sees what the app asked for. */
  prompt: string | null;
}

const hidden = (name: string, value: string) => `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`;

function tenantInput(tenant: string | undefined, suggested: string): string {
  return tenant
    ? ''
    : `<label for="tenant">Directory (tenant) ID</label><input id="tenant" name="tenant" required value="${escapeHtml(suggested)}" autocomplete="off" spellcheck="false">`;
}

function accountSelect(): string {
  const options = ACCOUNT_CHOICES.map((c, i) => `<option value="${c.kind}"${i === 0 ? ' selected' : ''}>${escapeHtml(c.label)}</option>`).join('');
  return `<label for="account">Account</label>
<select id="account" name="account">${options}</select>`;
}

/** The application as Entra's pages name it: its registered name, or (unnamed in this simulator) its client ID. */
export function appName(client: SimulatedClient): string {
  return client.displayName ?? client.clientId;
}

/** Publisher verification as the consent prompt shows it: the verified publisher's name, or "unverified". */
function publisherLine(client: SimulatedClient): string {
  return client.verifiedPublisher
    ? `<span class="publisher">${escapeHtml(client.verifiedPublisher)} <span aria-label="verified publisher">(verified)</span></span>`
    : '<span class="publisher">unverified</span>';
}

/** What only this simulator shows: the request's identifiers and raw scopes, folded away as Microsoft shows none of them. */
function technicalDetails(rows: [string, string][]): string {
  return `<details class="tech"><summary>Request details (shown by this simulator only)</summary>${facts(rows)}</details>`;
}

/**
 * The sign-in page. Its controls are part of local mode's contract: a select **Account** (Admin agent by default,
 * then the other accounts of accounts.ts), a checkbox **Sign in without MFA** (unchecked) and **Sign in**.
 * The application is named as Entra names it ("to continue to …"); client ID, tenant and scopes are folded away.
 */
export function signInPage(p: SignInPageInput): string {
  const accounts = (p.accounts ?? []).map((a): [string, string] => [`${accountLabel(a.kind)} user name`, a.username]);
  const prompt = p.prompt === 'login' ? 'login (credentials asked again, no single sign-on)' : (p.prompt ?? 'none sent');
  return layout(
    'Sign in',
    `<h1>Sign in</h1>
<p class="lead">to continue to <strong>${escapeHtml(appName(p.client))}</strong></p>
<p>Prompt: ${escapeHtml(prompt)}</p>
${p.tenant ? '' : '<p>The accounts signed in belong to the tenant you enter.</p>'}
<form method="post" action="${escapeHtml(p.action)}">
${tenantInput(p.tenant, p.suggestedTenant)}
${accountSelect()}
${accounts.length > 0 ? facts(accounts) : ''}
<div class="check"><input type="checkbox" id="withoutMfa" name="withoutMfa" value="on"><label for="withoutMfa">Sign in without MFA</label></div>
<div class="actions"><button type="submit" class="primary">Sign in</button></div>
</form>
${technicalDetails([
  ...(p.tenant ? ([['Tenant', p.tenant]] as [string, string][]) : []),
  ['Application (client) ID', p.client.clientId],
  ['Scopes', p.scope],
])}`,
  );
}

/** What the person chose on the sign-in page, carried through the consent prompt as hidden fields. */
export interface SignInChoice {
  /** The tenant typed on the sign-in page (common/organizations), else undefined. */
  typedTenant: string | undefined;
  account: SimulatedAccount;
  withoutMfa: boolean;
}

function choiceFields(c: SignInChoice): string {
  return [
    ...(c.typedTenant ? [hidden('tenant', c.typedTenant)] : []),
    hidden('account', c.account.kind),
    ...(c.withoutMfa ? [hidden('withoutMfa', 'on')] : []),
  ].join('');
}

export interface ConsentPromptInput {
  action: string;
  client: SimulatedClient;
  scope: string;
  tenant: string;
  choice: SignInChoice;
}

/** The permission list of a consent page: each by its published name, its description behind a chevron. */
function permissionList(scope: string, flow: 'user' | 'admin'): string {
  const items = permissionsOf(scope, flow)
    .map((p) => `<li><details><summary>${escapeHtml(p.name)}</summary><p>${escapeHtml(p.description)} (${escapeHtml(p.api)})</p></details></li>`)
    .join('');
  return `<p>This app would like to:</p><ul class="permissions" id="permissions">${items}</ul>`;
}

/** Who the application is: its name, its publisher (verified or not), and that Microsoft did not publish it. */
function appBlock(client: SimulatedClient): string {
  return `<div class="app" id="app"><span class="app-name">${escapeHtml(appName(client))}</span>${publisherLine(client)}</div>
<p class="fine">This application is not published by Microsoft.</p>`;
}

/**
 * The consent prompt Entra shows a directory administrator during sign-in to an app the tenant has not consented
 * to, built from its documented blocks: who signs in, "Permissions requested", the app's name and publisher, the
 * permissions by name, a checkbox **Consent on behalf of your organization** (unchecked, as Entra shows it), and
 * **Cancel** / **Accept**.
 */
export function consentPromptPage(p: ConsentPromptInput): string {
  return layout(
    'Permissions requested',
    `<p class="user" id="signed-in-as">${escapeHtml(p.choice.account.username)}</p>
<h1>Permissions requested</h1>
${appBlock(p.client)}
${permissionList(p.scope, 'user')}
<form method="post" action="${escapeHtml(p.action)}">
${hidden('step', 'consent')}${choiceFields(p.choice)}
<div class="check"><input type="checkbox" id="forOrganization" name="forOrganization" value="on"><label for="forOrganization">Consent on behalf of your organization</label></div>
<p class="fine">Accepting these permissions means that you allow this app to use your data as its publisher says. You can change these permissions at https://myapps.microsoft.com.</p>
<div class="actions">
<button type="submit" name="decision" value="cancel">Cancel</button>
<button type="submit" name="decision" value="accept" class="primary">Accept</button>
</div>
</form>
${technicalDetails([
  ['Tenant', p.tenant],
  ['Application (client) ID', p.client.clientId],
  ['Scopes', p.scope],
])}`,
  );
}

export interface NeedAdminApprovalInput {
  aadsts: number;
  message: string;
  traceId: string;
  correlationId: string;
  account: SimulatedAccount;
  /** The sign-in page again (another account). */
  signInAgain: string;
  /** Sign-in only: the form that goes back to the app without consent (absent on the admin-consent endpoint). */
  back?: { action: string; choice: SignInChoice };
}

/**
 * Entra's own "Need admin approval" page: a person who may not consent stays here; nothing is sent to the app
 * unless they choose to go back without consent.
 */
export function needAdminApprovalPage(p: NeedAdminApprovalInput): string {
  const back = p.back
    ? `<form method="post" action="${escapeHtml(p.back.action)}">
${hidden('step', 'return')}${choiceFields(p.back.choice)}
<div class="actions"><button type="submit">Return to the application without granting consent</button></div>
</form>`
    : '';
  return layout(
    'Need admin approval',
    `<p class="user" id="signed-in-as">${escapeHtml(p.account.username)}</p>
<h1>Need admin approval</h1>
<p class="error" role="alert">${escapeHtml(p.message)}</p>
<p class="fine">Error code: AADSTS${p.aadsts}</p>
<p><a href="${escapeHtml(p.signInAgain)}">Have an admin account? Sign in with that account</a></p>
${back}
${technicalDetails([
  ['Trace ID', p.traceId],
  ['Correlation ID', p.correlationId],
])}`,
  );
}

export interface ConsentPageInput {
  action: string;
  tenant: string | undefined;
  suggestedTenant: string;
  client: SimulatedClient;
  scope: string;
}

/**
 * The admin-consent endpoint's page: "Permissions requested" with the second line "Accept for your organization",
 * the app's name and publisher, the permissions by their admin-consent names; who signs in (**Account**), then
 * **Cancel** / **Accept**.
 */
export function consentPage(p: ConsentPageInput): string {
  return layout(
    'Permissions requested',
    `<h1>Permissions requested<br><span class="lead">Accept for your organization</span></h1>
${appBlock(p.client)}
${p.scope ? permissionList(p.scope, 'admin') : '<p>This app would like the permissions configured on the application.</p>'}
<p>If you accept, this app gets access to the specified resources for all users in your organization. No one else will be prompted to review these permissions.</p>
<form method="post" action="${escapeHtml(p.action)}">
${tenantInput(p.tenant, p.suggestedTenant)}
${accountSelect()}
<div class="actions">
<button type="submit" name="decision" value="cancel">Cancel</button>
<button type="submit" name="decision" value="accept" class="primary">Accept</button>
</div>
</form>
${technicalDetails([
  ['Tenant', p.tenant ?? '(entered above)'],
  ['Application (client) ID', p.client.clientId],
  ['Scopes', p.scope || '(the permissions configured on the application)'],
])}`,
  );
}

export interface ErrorPageInput {
  aadsts: number;
  message: string;
  traceId: string;
  correlationId: string;
}

/** Entra's error page: it never redirects to an address it cannot trust, it tells the person what went wrong. */
export function errorPage(p: ErrorPageInput): string {
  return layout(
    'Sign-in error',
    `<h1>Sorry, but we’re having trouble signing you in.</h1>
<p class="error" role="alert">AADSTS${p.aadsts}: ${escapeHtml(p.message)}</p>
${facts([
  ['Trace ID', p.traceId],
  ['Correlation ID', p.correlationId],
])}`,
  );
}

export function signedOutPage(): string {
  return layout('Signed out', '<h1>You signed out of your account</h1><p>It is a good idea to close all browser windows.</p>');
}
