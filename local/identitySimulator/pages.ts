/**
 * The simulator's HTML pages: sign-in, the consent prompt, "Need admin approval", admin consent, error, signed out.
 * Plain accessible HTML, no script; every value is escaped, and a strict CSP allows only the one stylesheet.
 */
import { createHash } from 'node:crypto';
import { ACCOUNT_CHOICES, accountLabel } from './accounts';
import type { SimulatedAccount } from './types';

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
  clientId: string;
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

/**
 * The sign-in page. Its controls are part of local mode's contract: a select **Account** (Admin agent by default,
 * then the other accounts of accounts.ts), a checkbox **Sign in without MFA** (unchecked) and **Sign in**.
 */
export function signInPage(p: SignInPageInput): string {
  const rows: [string, string][] = [
    ...(p.tenant ? ([['Tenant', p.tenant]] as [string, string][]) : []),
    ['Application (client) ID', p.clientId],
    ['Permissions', p.scope],
    ['Prompt', p.prompt === 'login' ? 'login (credentials asked again, no single sign-on)' : (p.prompt ?? 'none sent')],
    ...(p.accounts ?? []).map((a): [string, string] => [`${accountLabel(a.kind)} user name`, a.upn]),
  ];
  const who = p.tenant ? facts(rows) : `${facts(rows)}<p>The accounts signed in belong to the tenant you enter.</p>`;
  return layout(
    'Sign in',
    `<h1>Sign in</h1>
${who}
<form method="post" action="${escapeHtml(p.action)}">
${tenantInput(p.tenant, p.suggestedTenant)}
${accountSelect()}
<div class="check"><input type="checkbox" id="withoutMfa" name="withoutMfa" value="on"><label for="withoutMfa">Sign in without MFA</label></div>
<div class="actions"><button type="submit" class="primary">Sign in</button></div>
</form>`,
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
  clientId: string;
  scope: string;
  tenant: string;
  choice: SignInChoice;
}

/**
 * The consent prompt Entra shows a directory administrator during sign-in to an app the tenant has not consented
 * to: the permissions, a checkbox **Consent on behalf of your organization** (unchecked, as Entra shows it), and
 * **Cancel** / **Accept**.
 */
export function consentPromptPage(p: ConsentPromptInput): string {
  return layout(
    'Permissions requested',
    `<h1>Permissions requested</h1>
${facts([
  ['Signed in as', p.choice.account.upn],
  ['Tenant', p.tenant],
  ['Application (client) ID', p.clientId],
  ['Permissions', p.scope],
])}
<form method="post" action="${escapeHtml(p.action)}">
${hidden('step', 'consent')}${choiceFields(p.choice)}
<div class="check"><input type="checkbox" id="forOrganization" name="forOrganization" value="on"><label for="forOrganization">Consent on behalf of your organization</label></div>
<div class="actions">
<button type="submit" name="decision" value="cancel">Cancel</button>
<button type="submit" name="decision" value="accept" class="primary">Accept</button>
</div>
</form>`,
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
    `<h1>Need admin approval</h1>
<p class="error" role="alert">AADSTS${p.aadsts}: ${escapeHtml(p.message)}</p>
${facts([
  ['Signed in as', p.account.upn],
  ['Trace ID', p.traceId],
  ['Correlation ID', p.correlationId],
])}
<p><a href="${escapeHtml(p.signInAgain)}">Have an admin account? Sign in with that account</a></p>
${back}`,
  );
}

export interface ConsentPageInput {
  action: string;
  tenant: string | undefined;
  suggestedTenant: string;
  clientId: string;
  scope: string;
}

/** The admin-consent endpoint's page: who signs in (**Account**), then **Cancel** / **Accept** for the organization. */
export function consentPage(p: ConsentPageInput): string {
  return layout(
    'Permissions requested',
    `<h1>Permissions requested</h1>
<p>Accept for your organization: an administrator grants this application access for the whole organization.</p>
${facts([
  ['Tenant', p.tenant ?? '(entered below)'],
  ['Application (client) ID', p.clientId],
  ['Permissions', p.scope || 'the permissions configured on the application'],
])}
<form method="post" action="${escapeHtml(p.action)}">
${tenantInput(p.tenant, p.suggestedTenant)}
${accountSelect()}
<div class="actions">
<button type="submit" name="decision" value="cancel">Cancel</button>
<button type="submit" name="decision" value="accept" class="primary">Accept</button>
</div>
</form>`,
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
