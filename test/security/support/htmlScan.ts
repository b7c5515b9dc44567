/**
 * A small HTML tokenizer for the security tests: it reads markup the way a browser's tokenizer
 * does (tags, attributes with quoted or unquoted values, comments, raw-text and RCDATA elements),
 * so a test can say "this page has exactly these elements and attributes" instead of grepping.
 * Not a full HTML5 parser: it does not build a tree, only the start tags in document order.
 */

export interface ScannedElement {
  name: string;
  /** Attributes in source order, values entity-decoded. Duplicates kept (a browser uses the first). */
  attrs: [string, string][];
  /** Text content of raw-text / RCDATA elements (script, style, textarea, title), decoded for RCDATA. */
  text?: string;
}

export interface ScannedPage {
  elements: ScannedElement[];
  /** Decoded text outside tags (data state). */
  text: string;
}

const rawText = new Set(['script', 'style']);
const rcdata = new Set(['textarea', 'title']);
const named: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0' };

export function decodeEntities(s: string): string {
  return s.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (whole, ref: string) => {
    if (ref[0] === '#') {
      const code = ref[1] === 'x' || ref[1] === 'X' ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
      return Number.isFinite(code) && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    }
    return named[ref.toLowerCase()] ?? whole;
  });
}

const isSpace = (c: string | undefined) => c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f';
const isAlpha = (c: string | undefined) => c !== undefined && /[A-Za-z]/.test(c);

export function scanHtml(html: string): ScannedPage {
  const elements: ScannedElement[] = [];
  let text = '';
  let i = 0;
  const n = html.length;
  while (i < n) {
    const c = html[i];
    if (c !== '<') {
      const next = html.indexOf('<', i);
      const end = next < 0 ? n : next;
      text += decodeEntities(html.slice(i, end));
      i = end;
      continue;
    }
    if (html.startsWith('<!--', i)) {
      const end = html.indexOf('-->', i + 4);
      i = end < 0 ? n : end + 3;
      continue;
    }
    if (html[i + 1] === '!' || html[i + 1] === '?') {
      // Doctype or bogus comment: up to the next '>'.
      const end = html.indexOf('>', i);
      i = end < 0 ? n : end + 1;
      continue;
    }
    if (html[i + 1] === '/' && isAlpha(html[i + 2])) {
      const end = html.indexOf('>', i);
      i = end < 0 ? n : end + 1;
      continue;
    }
    if (!isAlpha(html[i + 1])) {
      text += '<';
      i++;
      continue;
    }
    // Start tag.
    i++;
    let name = '';
    while (i < n && !isSpace(html[i]) && html[i] !== '/' && html[i] !== '>') name += html[i++];
    name = name.toLowerCase();
    const attrs: [string, string][] = [];
    for (;;) {
      while (i < n && (isSpace(html[i]) || html[i] === '/')) i++;
      if (i >= n) break;
      if (html[i] === '>') {
        i++;
        break;
      }
      let attr = html[i++] ?? '';
      while (i < n && !isSpace(html[i]) && html[i] !== '/' && html[i] !== '>' && html[i] !== '=') attr += html[i++];
      while (i < n && isSpace(html[i])) i++;
      let value = '';
      if (html[i] === '=') {
        i++;
        while (i < n && isSpace(html[i])) i++;
        const q = html[i];
        if (q === '"' || q === "'") {
          const end = html.indexOf(q, i + 1);
          value = html.slice(i + 1, end < 0 ? n : end);
          i = end < 0 ? n : end + 1;
        } else {
          const start = i;
          while (i < n && !isSpace(html[i]) && html[i] !== '>') i++;
          value = html.slice(start, i);
        }
      }
      attrs.push([attr.toLowerCase(), decodeEntities(value)]);
    }
    const element: ScannedElement = { name, attrs };
    if (rawText.has(name) || rcdata.has(name)) {
      const close = new RegExp(`</${name}[\\s/>]`, 'i');
      const rest = html.slice(i);
      const m = close.exec(rest);
      const inner = m ? rest.slice(0, m.index) : rest;
      element.text = rcdata.has(name) ? decodeEntities(inner) : inner;
      i += inner.length;
    }
    elements.push(element);
  }
  return { elements, text };
}

/** Tag names with their attribute names, in order: two pages with the same shape have the same signature. */
export function shapeOf(page: ScannedPage): string {
  return page.elements.map((e) => `${e.name}[${e.attrs.map(([a]) => a).join(',')}]`).join(' ');
}

export function attr(e: ScannedElement, name: string): string | undefined {
  return e.attrs.find(([a]) => a === name)?.[1];
}
