/** The start page: the form with **Marketplace ID** and **Generate Refresh Token**. */
import type { Environment } from '../../settings';
import { html, type Html } from '../html';
import { approvalLinkBlock, approvalLinkScript } from './approvalLink';
import { layout, reference, startPath } from './layout';

export function startPage(p: {
  environment: Environment;
  nonce: string;
  value?: string;
  error?: string;
  correlationId?: string;
  /** Entra's admin-consent link for the CPV application, when this deployment serves CPV marketplaces. */
  approvalLink?: string;
}): Html {
  const describedBy = p.error ? 'marketplace-hint marketplace-error' : 'marketplace-hint';
  return layout({
    title: 'Generate a refresh token',
    environment: p.environment,
    nonce: p.nonce,
    ...(p.approvalLink ? { script: approvalLinkScript } : {}),
    body: html`<h1>Generate a Microsoft refresh token</h1>
<p>For a CloudBlue Connect marketplace that sells Microsoft products. You will sign in at Microsoft with an administrator account of the partner tenant configured for the marketplace; you then get the refresh token to paste into Connect.</p>
<form method="post" action="${startPath}" novalidate>
<label for="marketplace">Marketplace ID</label>
<input type="text" id="marketplace" name="marketplace" value="${p.value ?? ''}" maxlength="64" autocomplete="off" spellcheck="false" autocapitalize="characters" required aria-describedby="${describedBy}"${p.error ? html` aria-invalid="true" autofocus` : ''}>
<p class="hint" id="marketplace-hint">As shown in Connect, for example MP-12345.</p>
${p.error ? html`<p class="error" id="marketplace-error" role="alert">${p.error}</p>` : ''}
<button type="submit">Generate Refresh Token</button>
</form>
${
  p.approvalLink
    ? html`<div class="notice" id="approval-note">
<p>The first time for a marketplace of the CPV model, an administrator of the partner tenant may have to approve the CloudBlue application. An administrator approves it on Microsoft's own page during sign-in; anyone else is stopped there at "Need admin approval". If you are not an administrator of that tenant, send one this link, then generate the token again.</p>
${approvalLinkBlock(p.approvalLink)}
</div>`
    : ''
}
${p.error && p.correlationId ? reference(p.correlationId) : ''}`,
  });
}
