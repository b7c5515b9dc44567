/** The CPV admin-consent pages: approval needed (or declined), and approval given. */
import type { Environment } from '../../settings';
import { html, type Html } from '../html';
import { approvalLinkBlock, approvalLinkScript } from './approvalLink';
import { layout, reference, startPath } from './layout';
import { nowrap } from './unbreakable';

export function consentPage(p: {
  environment: Environment;
  nonce: string;
  marketplace: string;
  /** The admin-consent link bound to this browser (its return confirms the approval here). */
  adminConsentUrl: string;
  /** The same approval without a binding, for an administrator in another browser. */
  approvalLink?: string;
  /** Microsoft said access was not approved (a cancelled consent prompt, or a way back from "Need admin approval"). */
  declined?: boolean;
  correlationId?: string;
}): Html {
  return layout({
    title: 'Administrator approval needed',
    environment: p.environment,
    nonce: p.nonce,
    ...(p.approvalLink ? { script: approvalLinkScript } : {}),
    body: html`<h1>An administrator must approve access first</h1>
${
  p.declined
    ? html`<p id="consent-declined">Microsoft answered that access was not approved: the approval was cancelled, or the account that signed in may not approve it.</p>`
    : ''
}
<p>Marketplace ${nowrap(p.marketplace)} signs in through CloudBlue's application (the CPV model). Before it can be used for the first time, an administrator of the partner tenant, your company's Microsoft tenant (a Global Administrator or a Privileged Role Administrator), must approve that application once. No token was stored.</p>
<p><a class="button" id="admin-consent" href="${p.adminConsentUrl}">Approve access as an administrator</a></p>
<p class="hint">If you are that administrator: sign in there and accept. Or generate the token again signed in as the administrator, and on Microsoft's prompt tick "Consent on behalf of your organization" before you accept.</p>
${
  p.approvalLink
    ? html`<p>Not an administrator? Copy the approval link below and send it to one. Once they have approved, generate the token again.</p>
${approvalLinkBlock(p.approvalLink)}`
    : html`<p>Not an administrator? Ask one to approve, then generate the token again.</p>`
}
${p.correlationId ? reference(p.correlationId) : ''}`,
  });
}

export function consentGrantedPage(p: { environment: Environment; nonce: string; marketplace: string }): Html {
  return layout({
    title: 'Access approved',
    environment: p.environment,
    nonce: p.nonce,
    body: html`<h1>Access approved</h1>
<p>The administrator approved access for the partner tenant of marketplace ${nowrap(p.marketplace)}. Now try again: generate the refresh token.</p>
<p><a class="button" id="try-again" href="${startPath}?marketplace=${encodeURIComponent(p.marketplace)}">Try again</a></p>`,
  });
}
