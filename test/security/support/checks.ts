/**
 * What every response of the service must look like (docs/SECURITY.md 8–11), as functions that return
 * the list of problems found: a test prints them all at once instead of stopping at the first.
 */
import { attr, scanHtml, shapeOf, type ScannedPage } from './htmlScan';
import { connectPortalUrl } from '../../../shared/web/pages/done';

/** Reads a header whatever the response type (fetch Headers or node's IncomingHttpHeaders). */
export type HeaderSource = { get(name: string): string | null } | Record<string, string | string[] | undefined>;

export function header(h: HeaderSource, name: string): string | undefined {
  if (typeof (h as { get?: unknown }).get === 'function') return (h as { get(n: string): string | null }).get(name) ?? undefined;
  const v = (h as Record<string, string | string[] | undefined>)[name.toLowerCase()];
  return Array.isArray(v) ? v.join(', ') : v;
}

export interface Origins {
  /** The service, e.g. http://localhost:PORT. */
  app: string;
  /** The configured Entra authority (the identity simulator in tests). */
  authority: string;
}

/** docs/SECURITY.md 9: the exact policy of an HTML response. Returns the nonce, or a problem. */
export function cspNonce(csp: string | undefined, authority: string): { nonce: string } | { problem: string } {
  if (!csp) return { problem: 'no Content-Security-Policy' };
  const esc = authority.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  const m = new RegExp(
    `^default-src 'none'; style-src 'self' 'nonce-([A-Za-z0-9+/=]{22,})'; script-src 'nonce-([A-Za-z0-9+/=]{22,})'; form-action 'self' ${esc}; frame-ancestors 'none'; base-uri 'none'$`,
  ).exec(csp);
  if (!m) return { problem: `Content-Security-Policy is not the specified one: ${csp}` };
  if (m[1] !== m[2]) return { problem: 'style-src and script-src nonces differ' };
  return { nonce: m[1] ?? '' };
}

export type BodyKind = 'html' | 'json' | 'none';

export function kindOf(h: HeaderSource): BodyKind {
  const type = header(h, 'content-type') ?? '';
  if (type.startsWith('text/html')) return 'html';
  if (type.startsWith('application/json')) return 'json';
  return 'none';
}

/** Headers every response carries (docs/SECURITY.md 9–11); HTML responses get the full policy. */
export function headerProblems(h: HeaderSource, o: { authority: string; https: boolean }): { problems: string[]; nonce?: string } {
  const problems: string[] = [];
  const expect = (name: string, ok: (v: string | undefined) => boolean, what: string) => {
    const v = header(h, name);
    if (!ok(v)) problems.push(`${name}: ${what} (got ${v === undefined ? 'nothing' : JSON.stringify(v)})`);
  };
  expect('x-content-type-options', (v) => v === 'nosniff', 'must be nosniff');
  expect('referrer-policy', (v) => v === 'no-referrer', 'must be no-referrer');
  expect(
    'cache-control',
    (v) =>
      v !== undefined &&
      v
        .split(',')
        .map((s) => s.trim())
        .includes('no-store'),
    'must include no-store',
  );
  if (o.https) expect('strict-transport-security', (v) => v !== undefined && /max-age=\d{7,}/.test(v), 'must be set on https');
  else expect('strict-transport-security', (v) => v === undefined, 'must not be set on plain http');
  let nonce: string | undefined;
  if (kindOf(h) === 'html') {
    const r = cspNonce(header(h, 'content-security-policy'), o.authority);
    if ('problem' in r) problems.push(r.problem);
    else nonce = r.nonce;
  } else {
    expect(
      'content-security-policy',
      (v) => v !== undefined && /(^|;\s*)default-src 'none'/.test(v) && /(^|;\s*)frame-ancestors 'none'/.test(v),
      "must be default-src 'none' with frame-ancestors 'none'",
    );
  }
  return nonce === undefined ? { problems } : { problems, nonce };
}

const allowedTags = new Set([
  'html',
  'head',
  'meta',
  'title',
  'style',
  'body',
  'div',
  'main',
  'header',
  'footer',
  'section',
  'nav',
  'h1',
  'h2',
  'h3',
  'p',
  'span',
  'strong',
  'em',
  'small',
  'code',
  'pre',
  'kbd',
  'br',
  'ul',
  'ol',
  'li',
  'table',
  'thead',
  'tbody',
  'tr',
  'th',
  'td',
  'dl',
  'dt',
  'dd',
  'details',
  'summary',
  'form',
  'label',
  'input',
  'button',
  'textarea',
  'a',
  'script',
  // The token page's mark (docs/SECURITY.md 30): one stylesheet of the app's own, checked below.
  'link',
  // A time in UTC, which the page's own script may follow with the viewer's local time (shared/web/pages/localTime.ts).
  'time',
  'blockquote',
]);
const allowedAttrs = new Set([
  'lang',
  'charset',
  'name',
  'content',
  'nonce',
  'class',
  'role',
  'id',
  'for',
  'type',
  'value',
  'maxlength',
  'autocomplete',
  'spellcheck',
  'autocapitalize',
  'autofocus',
  'required',
  'readonly',
  'rows',
  'scope',
  'href',
  'method',
  'action',
  'novalidate',
  'colspan',
  // Labels of the status table's cells on narrow screens (CSS reads them with attr()).
  'data-label',
  'rel',
  'datetime',
]);

export interface PageCheck {
  origins: Origins;
  /** The CSP nonce of this response; every script and style element must carry it. */
  nonce?: string;
  /** The input under test: it may appear only escaped. */
  payload?: string;
}

/** Active markup a page must not have: unknown elements or attributes, event handlers, foreign URLs, scripts without the nonce. */
export function htmlProblems(body: string, c: PageCheck): { problems: string[]; page: ScannedPage } {
  const page = scanHtml(body);
  const problems: string[] = [];
  let scripts = 0;
  for (const e of page.elements) {
    if (!allowedTags.has(e.name)) problems.push(`element <${e.name}> is not one the service writes`);
    const seen = new Set<string>();
    for (const [a, v] of e.attrs) {
      if (seen.has(a)) problems.push(`<${e.name}> has attribute ${a} twice`);
      seen.add(a);
      if (a.startsWith('on')) problems.push(`<${e.name}> has event handler ${a}`);
      else if (!allowedAttrs.has(a) && !a.startsWith('aria-')) problems.push(`<${e.name}> has attribute ${a}`);
      if (a === 'href' || a === 'action') {
        let url: URL | undefined;
        try {
          url = new URL(v, `${c.origins.app}/api/`);
        } catch {
          problems.push(`<${e.name} ${a}> is not a URL: ${v.slice(0, 80)}`);
        }
        // Besides the site and the authority, a page links only to CloudBlue Connect's portal (shared/web/pages/done.ts).
        if (
          url &&
          (!/^https?:$/.test(url.protocol) || ![c.origins.app, c.origins.authority, new URL(connectPortalUrl).origin].includes(url.origin))
        ) {
          problems.push(`<${e.name} ${a}> points outside the site and the authority: ${v.slice(0, 80)}`);
        }
      }
    }
    if (e.name === 'script' || e.name === 'style') {
      if (e.name === 'script') scripts++;
      if (attr(e, 'nonce') === undefined || (c.nonce !== undefined && attr(e, 'nonce') !== c.nonce))
        problems.push(`<${e.name}> without this response's nonce`);
      if (c.payload && c.payload.length >= 6 && /[^A-Za-z0-9 -]/.test(c.payload) && (e.text ?? '').includes(c.payload))
        problems.push(`the input appears inside <${e.name}>`);
    }
    if (e.name === 'link') {
      const href = attr(e, 'href') ?? '';
      const target = new URL(href, `${c.origins.app}/api/`);
      if (attr(e, 'rel') !== 'stylesheet' || target.origin !== c.origins.app || target.pathname !== '/api/start' || target.search !== '?shown=1')
        problems.push(`<link> other than the token page's mark: ${href.slice(0, 80)}`);
      if (attr(e, 'nonce') === undefined || (c.nonce !== undefined && attr(e, 'nonce') !== c.nonce))
        problems.push("<link> without this response's nonce");
    }
    if (e.name === 'meta' && !(attr(e, 'charset') !== undefined || ['viewport', 'robots'].includes(attr(e, 'name') ?? '')))
      problems.push('unexpected <meta>');
  }
  if (scripts > 1) problems.push(`${scripts} script elements (the service writes at most one)`);
  // The input may appear only escaped: its markup characters never reach the page as markup.
  if (c.payload && c.payload.length >= 6 && /[<>"'`]/.test(c.payload) && body.includes(c.payload)) problems.push('the input appears unescaped');
  return { problems, page };
}

export { shapeOf, scanHtml };
