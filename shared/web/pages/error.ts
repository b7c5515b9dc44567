/** The page for every error: what happened, what to do, and a reference to quote. */
import type { Environment } from '../../settings';
import { html, type Html } from '../html';
import { layout, reference, startPath } from './layout';

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
