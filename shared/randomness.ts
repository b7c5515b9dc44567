/**
 * How much randomness a string shows, whatever its alphabet (docs/SECURITY.md 12): the one rule
 * behind "is this cookie key random enough" and "is this a secret pasted where a name belongs".
 *
 * A character set says little: a secret may be lowercase, hex, or split by dashes, and a name may
 * hold capitals and digits. What tells them apart is how predictable each character is. The
 * estimate charges every character the bits a simple model needs to guess it, and takes the
 * lower of that and the Shannon entropy of the characters:
 *
 * - a character that continues a run (`abc…`, `123…`, `zzz…`) costs 1 bit;
 * - a letter that makes a common English letter pair with the one before costs 2 bits: words are
 *   cheap, a random string rarely makes such pairs (not in hex, whose letters are all a–f);
 * - four characters seen earlier in the same part cost 1 bit each (a repeated pattern);
 * - a digit after a digit costs log2(10) (a number);
 * - anything else costs log2 of the value's alphabet (16 for hex, 36 for lowercase and digits, …).
 *
 * Measured on random strings and realistic Key Vault names in test/security/secretShapes.test.ts.
 */

/**
 * English letter pairs that are common in words (the most frequent bigrams of English text, as
 * tabulated from the Google Books corpus in Peter Norvig's "English Letter Frequency Counts:
 * Mayzner Revisited"). A random pair of letters is one of these about once in four.
 */
const commonPairs = new Set(
  (
    'th he in er an re on at en nd ti es or te of ed is it al ar st to nt ng se ha as ou io le ve co me de hi ri ro ic ne ea ra ce li ch ll ' +
    'be ma si om ur ca el ta la ns di fo ho pe ec pr no ct us ac ot il tr ly nc et ut ss so rs un lo wa ge ie wh ee wi em ad ol rt po we na ' +
    'ul ni ts mo ow pa im mi ai sh ir su id os iv ia am fi ci vi pl ig tu ev ld ry mp fe bl ab gh ty op wo sa ay ex ke fr oo av ag if ap gr ' +
    'od bo sp rd do uc bu ei ov by rm ep tt oc fa ef cu rn sc gi da yo cr cl du ga qu ue ff ba ey ls va um pp ua up lu go ht ru ug ds lt ' +
    'pi rc rr eg au ck ew mu br bi pt ak pu'
  ).split(' '),
);

const isLetter = (c: string | undefined) => c !== undefined && /[A-Za-z]/.test(c);
const isDigit = (c: string | undefined) => c !== undefined && /[0-9]/.test(c);

/** How many symbols the letters and digits of a value are drawn from, judged from the classes it uses. */
function alphabetSize(chars: string): number {
  if (/^[0-9]*$/.test(chars)) return 10;
  if (/^[0-9a-f]*$/.test(chars) || /^[0-9A-F]*$/.test(chars)) return 16;
  return (/[0-9]/.test(chars) ? 10 : 0) + (/[a-z]/.test(chars) ? 26 : 0) + (/[A-Z]/.test(chars) ? 26 : 0);
}

/** Shannon entropy of the characters, in bits for the whole string: a bound for short alphabets and repetitions. */
function shannonBits(value: string): number {
  const counts = new Map<string, number>();
  for (const c of value) counts.set(c, (counts.get(c) ?? 0) + 1);
  let perChar = 0;
  for (const n of counts.values()) perChar -= (n / value.length) * Math.log2(n / value.length);
  return perChar * value.length;
}

/** What the model charges for the characters of one part (a run without separators). */
function modelBits(part: string, perChar: number, words: boolean): number {
  let bits = 0;
  for (let i = 0; i < part.length; i++) {
    const c = part[i] ?? '';
    const prev = part[i - 1];
    const step = i > 0 ? part.charCodeAt(i) - part.charCodeAt(i - 1) : NaN;
    const previousStep = i > 1 ? part.charCodeAt(i - 1) - part.charCodeAt(i - 2) : NaN;
    if (Math.abs(step) <= 1 && step === previousStep) bits += 1;
    else if (words && isLetter(prev) && isLetter(c) && commonPairs.has(`${prev}${c}`.toLowerCase())) bits += 2;
    else if (i >= 3 && part.slice(0, i - 2).includes(part.slice(i - 3, i + 1))) bits += 1;
    else if (isDigit(prev) && isDigit(c)) bits += Math.log2(10);
    else bits += perChar;
  }
  return bits;
}

/** Estimated bits of randomness in a string (see above). Separators (`-`, `_`, …) cost nothing. */
export function estimatedBits(value: string): number {
  const text = value.slice(0, maxAnalysedLength);
  const parts = text.split(/[^0-9A-Za-z]+/).filter(Boolean);
  const alphabet = alphabetSize(parts.join(''));
  const perChar = Math.log2(Math.max(2, alphabet));
  // In hex, letter pairs say nothing about words: every letter is one of a–f.
  const model = parts.reduce((sum, part) => sum + modelBits(part, perChar, alphabet > 16), 0);
  return Math.min(model, shannonBits(text));
}

/** Longer input is judged on its start: enough for any key or name, and the cost stays bounded. */
const maxAnalysedLength = 1024;

/** Entra tenant and application IDs: identifiers, not secrets, and meant to stay readable in logs and pages. */
const guidPattern = /[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}/g;
/** Connect marketplace IDs: public identifiers, often part of a secret's name. */
const marketplaceIdPattern = /MP-[0-9]{5,8}/gi;

/**
 * Whether a value looks like a secret rather than a name or an identifier. Characters no Key
 * Vault name can hold (`~ . _ + / = :`, as in Entra secrets, base64 and API keys) give it away;
 * otherwise its randomness does: at least 64 bits at 3.2 bits a character, or 96 bits at 2.9.
 * Names made of words and numbers stay far below both (a 50-character name of six words and a
 * year shows about 2.6 a character); random strings of 32 characters in any alphabet reach them.
 * GUIDs and marketplace IDs inside a value are identifiers and count for nothing.
 */
export function looksLikeSecret(value: string): boolean {
  if (/[~._+/=:]/.test(value)) return true;
  const rest = value.replace(guidPattern, '-').replace(marketplaceIdPattern, '-');
  const characters = rest.replace(/[^0-9A-Za-z]/g, '').length;
  if (characters === 0) return false;
  const bits = estimatedBits(rest);
  const perCharacter = bits / characters;
  return (bits >= 64 && perCharacter >= 3.2) || (bits >= 96 && perCharacter >= 2.9);
}
