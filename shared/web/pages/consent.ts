/** The CPV admin-consent pages: approval needed (or declined), and approval given. */
import type { Environment } from '../../settings';
import { html, type Html } from '../html';
import { approvalLinkBlock, approvalLinkScript } from './approvalLink';
import { layout, reference, startPath } from './layout';

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
    ? html`<p id="consent-declined">Microsoft answered that access to the partner tenant was not approved: the consent prompt was cancelled, or the account that signed in may not approve it.</p>`
    : ''
}
<p>Marketplace <strong>${p.marketplace}</strong> uses the CloudBlue application (CPV). The first time, an administrator of the partner tenant (Global Administrator or Privileged Role Administrator) must approve access to the Partner Center API for it. No token was stored.</p>
<p><a class="button" id="admin-consent" href="${p.adminConsentUrl}">Approve access as an administrator</a></p>
<p class="hint">An administrator can also approve during sign-in: generate the token again signed in as that administrator, and accept Microsoft's prompt (with "Consent on behalf of your organization"). If you are not an administrator of that tenant, send one the approval link below; after they approved, generate the token again.</p>
${p.approvalLink ? approvalLinkBlock(p.approvalLink) : ''}
${p.correlationId ? reference(p.correlationId) : ''}`,
  });
}

export function consentGrantedPage(p: { environment: Environment; nonce: string; marketplace: string }): Html {
  return layout({
    title: 'Access approved',
    environment: p.environment,
    nonce: p.nonce,
    body: html`<h1>Access approved</h1>
<p>The administrator approved access for the partner tenant of marketplace <strong>${p.marketplace}</strong>. Now try again: generate the refresh token.</p>
<p><a class="button" id="try-again" href="${startPath}?marketplace=${encodeURIComponent(p.marketplace)}">Try again</a></p>`,
  });
}
