/**
 * The start page: what a sign-in needs, said before anything is asked, then the form with
 * **Marketplace ID** and **Generate Refresh Token**. A typing mistake is answered here, on the
 * form, without a reference: it is not a failure anyone must look up (docs/SECURITY.md 11).
 */
import type { Environment } from '../../settings';
import { html, type Html } from '../html';
import { approvalLinkBlock, approvalLinkScript } from './approvalLink';
import { layout, startPath } from './layout';
import { nowrap, unbreakable } from './unbreakable';

/** What a person needs before they click: Partner Center refuses a token without the first three, and CPV may need the fourth. */
function requirements(cpv: boolean): Html {
  return html`<h2 id="requirements-heading">Before you start</h2>
<p>You need:</p>
<ul class="requirements" id="requirements" aria-labelledby="requirements-heading">
<li>an account of your company's Microsoft partner tenant, the one set up for this marketplace (a guest account of that tenant works too);</li>
<li>multi-factor authentication (MFA) when that account signs in: Partner Center accepts no sign-in without it;</li>
<li>the Partner Center role <strong>Admin Agent</strong> for that account${cpv ? html`;` : html`.`}</li>
${cpv ? html`<li>for some marketplaces, the first time only: approval by an administrator of the partner tenant (see below).</li>` : ''}
</ul>`;
}

export function startPage(p: {
  environment: Environment;
  nonce: string;
  value?: string;
  error?: string;
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
<p>CloudBlue Connect needs a Microsoft refresh token for each marketplace that sells Microsoft products, to work in Partner Center on your company's behalf. Enter the marketplace ID, sign in at Microsoft, and you get the token; this service then keeps it alive.</p>
${requirements(p.approvalLink !== undefined)}
<form method="post" action="${startPath}" novalidate>
<label for="marketplace">Marketplace ID</label>
<input type="text" id="marketplace" name="marketplace" value="${p.value ?? ''}" maxlength="64" autocomplete="off" spellcheck="false" autocapitalize="characters" required aria-describedby="${describedBy}"${p.error ? html` aria-invalid="true" autofocus` : ''}>
<p class="hint" id="marketplace-hint">As shown in Connect, for example ${nowrap('MP-12345')}.</p>
${p.error ? html`<p class="error" id="marketplace-error" role="alert">${unbreakable(p.error)}</p>` : ''}
<button type="submit">Generate Refresh Token</button>
</form>
${
  p.approvalLink
    ? html`<div class="notice" id="approval-note">
<p>The first time, an administrator of the partner tenant may have to approve CloudBlue's application, for marketplaces that sign in through it (the CPV model). An administrator approves it on Microsoft's own page during sign-in; anyone else is stopped there at "Need admin approval". If you are not an administrator of that tenant, copy this link and send it to one, then generate the token again once they have approved.</p>
${approvalLinkBlock(p.approvalLink)}
</div>`
    : ''
}`,
  });
}
