/**
 * Connect marketplace IDs: `MP-` and five to eight digits. Checked before the ID is used
 * anywhere (secret names, logs, pages, URLs), so nothing downstream sees arbitrary input.
 */
const pattern = /^MP-[0-9]{5,8}$/;
export const marketplaceIdMaxLength = 11;

export type MarketplaceIdResult = { ok: true; id: string } | { ok: false; reason: string };

/** Validates what a person typed. Returns a result; it never throws. */
export function parseMarketplaceId(input: unknown): MarketplaceIdResult {
  if (typeof input !== 'string' || input.length === 0) {
    return { ok: false, reason: 'Enter a marketplace ID, for example MP-12345.' };
  }
  // Only surrounding spaces and tabs from copy-and-paste are forgiven; anything else must match exactly.
  const trimmed = input.length <= 64 ? input.replace(/^[ \t]+|[ \t]+$/g, '') : input;
  if (trimmed.length > marketplaceIdMaxLength || !pattern.test(trimmed)) {
    return {
      ok: false,
      reason: 'A marketplace ID is MP- followed by 5 to 8 digits, in capitals, for example MP-12345. Copy it from the Marketplaces page in Connect.',
    };
  }
  return { ok: true, id: trimmed };
}

export function isMarketplaceId(value: string): boolean {
  return pattern.test(value);
}
