/** The page for every error: what happened, what to do, and a reference to quote. */
import type { Environment } from '../../settings';
import { html, type Html } from '../html';
import { layout, reference, startPath } from './layout';
import { unbreakable } from './unbreakable';

export interface ErrorPageInput {
  environment?: Environment;
  nonce: string;
  title: string;
  message: string;
  todo: string;
  correlationId: string;
  extra?: Html;
  /** Replaces message, todo and extra, for a page that needs more (shared/web/errorCatalog.ts). */
  body?: Html;
  retry?: boolean;
  /** Microsoft's own identifiers of the failed call (Entra's trace and correlation ids, Partner Center's MS-CorrelationId): what Microsoft support asks for. */
  microsoftIds?: { label: string; value: string }[];
}

export function errorPage(p: ErrorPageInput): Html {
  return layout({
    title: p.title,
    ...(p.environment ? { environment: p.environment } : {}),
    nonce: p.nonce,
    body: html`<h1>${p.title}</h1>
${
  p.body ??
  html`<p>${unbreakable(p.message)}</p>
<p><strong>What to do:</strong> ${unbreakable(p.todo)}</p>
${p.extra ?? ''}`
}
${p.retry === false ? '' : html`<p><a class="button" href="${startPath}">Start again</a></p>`}
${reference(p.correlationId)}
${
  p.microsoftIds && p.microsoftIds.length > 0
    ? html`<p class="ref" id="microsoft-ids">For Microsoft support: ${p.microsoftIds.map((id, i) => html`${i > 0 ? ', ' : ''}${id.label} <code>${id.value}</code>`)}.</p>`
    : ''
}`,
  });
}
