/** The CPV admin-consent pages: approval needed, and approval given. */
import type { Environment } from '../../settings';
import { html, type Html } from '../html';
import { layout, reference, startPath } from './layout';

export function consentPage(p: {
  environment: Environment;
  nonce: string;
  marketplace: string;
  adminConsentUrl: string;
  correlationId?: string;
}): Html {
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
