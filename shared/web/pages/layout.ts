/**
 * The frame every page shares: banner naming the environment, styles, footer. Plain HTML, no
 * third-party resources, readable at phone width; every interpolation is escaped by html``.
 */
import type { Environment } from '../../settings';
import { html, literal, type Html } from '../html';

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
button:focus-visible, a:focus-visible, input:focus-visible, textarea:focus-visible, summary:focus-visible { outline: 3px solid #f59e0b; outline-offset: 2px; }
summary { cursor: pointer; font-weight: 600; padding: .25rem 0; }
.actions { display: flex; flex-wrap: wrap; gap: .75rem 1rem; align-items: baseline; }
.actions .button { margin-top: 0; }
ul.requirements { padding-left: 1.25rem; margin: .5rem 0 1rem; }
ul.requirements li { margin: .25rem 0; }
blockquote { margin: .5rem 0; padding: .25rem 1rem; border-left: 4px solid #9ca3af; background: #f9fafb; }
.hint { color: #4b5563; font-size: .9rem; margin: .25rem 0 0; }
.error { color: #a4161a; font-weight: 600; }
.notice { border-left: 4px solid #0b5cad; padding: .5rem 1rem; background: #eef4fb; }
.warn { border-left: 4px solid #a4161a; padding: .5rem 1rem; background: #fdf0f0; }
form + .notice { margin-top: 1.5rem; }
code { background: #eef0f3; padding: .1rem .3rem; border-radius: 3px; }
.banner code { background: rgba(0,0,0,.25); color: inherit; }
.nowrap { white-space: nowrap; }
.param { font-size: 1.05rem; }
.ref { color: #4b5563; font-size: .85rem; }
main.wide { max-width: 80rem; }
table { border-collapse: collapse; width: 100%; font-size: .9rem; }
/* Words break between each other only: a column is never narrower than its longest word, so
   "Marketplace", an ID or an e-mail address is never split (overflow-wrap: anywhere let the table
   squeeze columns below that). Only a word longer than the whole line may still wrap. */
th, td { text-align: left; vertical-align: top; padding: .35rem .5rem; border-bottom: 1px solid #e5e7eb; overflow-wrap: break-word; }
th { overflow-wrap: normal; }
td .local-time { display: block; }
/* Narrow screens: each row becomes a card of labelled values, so nothing scrolls sideways. */
@media (max-width: 64rem) {
  table.cards, table.cards tbody, table.cards tr, table.cards td { display: block; width: 100%; box-sizing: border-box; }
  table.cards thead { position: absolute; width: 1px; height: 1px; overflow: hidden; clip-path: inset(50%); }
  table.cards tr { border: 1px solid #e5e7eb; border-radius: 6px; margin-bottom: .75rem; padding: .25rem .5rem; }
  table.cards td { border: 0; padding: .15rem 0; }
  table.cards td::before { content: attr(data-label) ": "; font-weight: 600; }
}
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; margin: .5rem 0; }
dl.facts dt { font-weight: 600; }
dl.facts dd { margin: 0; overflow-wrap: break-word; }
footer { max-width: 40rem; margin: 0 auto 2rem; padding: 0 1.5rem; color: #4b5563; font-size: .8rem; }
/* The footer's text starts where the main section's does, on the operator's wide page too. */
footer.wide { max-width: 80rem; }
`;

const environmentNames: Record<Environment, string> = { test: 'Test environment', production: 'Production environment' };

export interface PageFrame {
  title: string;
  environment?: Environment;
  nonce: string;
  body: Html;
  script?: Html;
  /** A wider card, for the operator's tables. */
  wide?: boolean;
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
<main${p.wide ? html` class="wide"` : ''}>
${p.body}
</main>
<footer${p.wide ? html` class="wide"` : ''}>Microsoft refresh token service for CloudBlue Connect marketplaces.</footer>
${p.script ? html`<script nonce="${p.nonce}">${p.script}</script>` : ''}
</body>
</html>`;
}

/** Relative to /api/: every page lives under the same prefix as the start page. */
export const startPath = 'start';

/**
 * The correlation id a person can quote (docs/SECURITY.md 11); the same id is in the logs. Only
 * failure pages carry one: an input mistake answered on the form needs none.
 */
export function reference(correlationId: string): Html {
  return html`<p class="ref">Reference: <code id="correlation-id">${correlationId}</code> — quote it when you contact support.</p>`;
}
