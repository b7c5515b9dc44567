/**
 * Connect marketplace IDs: `MP-` and five to eight digits. Checked before the ID is used
 * anywhere (secret names, logs, pages, URLs), so nothing downstream sees arbitrary input.
 */
const pattern = /^MP-[0-9]{5,8}$/;
export const marketplaceIdMaxLength = 11;

export type MarketplaceIdResult = { ok: true; id: string } | { ok: false; reason: string };

/**
 * Validates what a person typed, and returns it in the one form everything downstream uses
 * (`MP-` in capitals). Forgiven: spaces and tabs around it (copy and paste), and the case of the
 * letters `MP` (`mp-00001` is what a person types; no two marketplaces differ by it, and Key Vault
 * names are case-insensitive anyway). Anything else must match exactly: a Cyrillic `М`, a
 * full-width digit, a line break or an invisible character is refused. Never throws.
 */
export function parseMarketplaceId(input: unknown): MarketplaceIdResult {
  if (typeof input !== 'string' || input.length === 0) {
    return { ok: false, reason: 'Enter a marketplace ID, for example MP-12345.' };
  }
  const trimmed = input.length <= 64 ? input.replace(/^[ \t]+|[ \t]+$/g, '') : input;
  const id = /^mp-/i.test(trimmed) ? `MP-${trimmed.slice(3)}` : trimmed;
  if (id.length > marketplaceIdMaxLength || !pattern.test(id)) {
    return {
      ok: false,
      reason: 'A marketplace ID is MP- followed by 5 to 8 digits, for example MP-12345. Copy it from the Marketplaces page in Connect.',
    };
  }
  return { ok: true, id };
}

export function isMarketplaceId(value: string): boolean {
  return pattern.test(value);
}

/** Letters of other alphabets that are drawn like the Latin letters of `MP`: Cyrillic and Greek capitals and small letters. */
const confusableLetters: Record<string, string> = {
  '\u041c': 'M',
  '\u043c': 'M',
  '\u039c': 'M',
  '\u0420': 'P',
  '\u0440': 'P',
  '\u03a1': 'P',
  '\u03c1': 'P',
};
/** Dashes and minus signs that are drawn like `-`. */
const dashLike = /[\u2010-\u2015\u2212\ufe58\ufe63\uff0d]/g;
/** Characters nobody sees: zero-width spaces and joiners, the byte-order mark, soft hyphens, direction marks. */
const invisible = /[\u00ad\u200b-\u200f\u2060\ufeff\u202a-\u202e]/g;

/** The value of a decimal digit of any script (`٣` → 3): digits come in runs of ten from zero. */
function digitValue(c: string): string {
  let zero = c.codePointAt(0) ?? 0;
  while (zero > 0 && /\p{Nd}/u.test(String.fromCodePoint(zero - 1)) && (c.codePointAt(0) ?? 0) - (zero - 1) < 10) zero--;
  return String((c.codePointAt(0) ?? 0) - zero);
}

/**
 * When a configured ID is not a marketplace ID but a person would read it as one (`MP-12345`
 * with a Cyrillic `М`, a trailing newline, fullwidth digits, a lower-case `mp`): the ID it
 * imitates and what is different, in words (never the value itself). Undefined otherwise.
 */
export function lookAlikeOf(value: string): { id: string; difference: string } | undefined {
  if (value.length > 64 || isMarketplaceId(value)) return undefined;
  const differences = new Set<string>();
  let text = value;
  if (/\s/.test(text.trim() === text ? '' : text) || /^\s|\s$/.test(text)) differences.add('spaces or line breaks around it');
  text = text.trim();
  if (invisible.test(text)) differences.add('invisible characters');
  text = text.replace(invisible, '');
  const normalized = text.normalize('NFKC');
  if (normalized !== text) differences.add('full-width or other compatibility characters');
  text = normalized;
  if (dashLike.test(text)) differences.add('a dash that is not the ASCII hyphen');
  text = text.replace(dashLike, '-');
  text = [...text]
    .map((c) => {
      if (confusableLetters[c]) {
        differences.add('letters of another alphabet (Cyrillic or Greek)');
        return confusableLetters[c];
      }
      if (/\p{Nd}/u.test(c) && !/[0-9]/.test(c)) {
        differences.add('digits of another script');
        return digitValue(c);
      }
      return c;
    })
    .join('');
  if (text !== text.toUpperCase() && isMarketplaceId(text.toUpperCase())) differences.add('lower-case letters');
  text = text.toUpperCase();
  if (!isMarketplaceId(text) || differences.size === 0) return undefined;
  return { id: text, difference: [...differences].join(', ') };
}
