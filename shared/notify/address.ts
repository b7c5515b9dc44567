/**
 * An e-mail address, as the configuration file names a marketplace's contacts and the settings
 * name the sender: the one rule for both, and the one way an address may appear in a log.
 */
import * as z from '../zod';

/**
 * A plain `local@domain.tld`, ASCII, without a display name, spaces or angle brackets, at most
 * 254 characters (RFC 5321). Strict on purpose: an address the mail service refuses would fail
 * every message to that marketplace, and the operator learns it only from an alert.
 */
export const emailAddressSchema = z
  .string()
  .check(
    z.maxLength(254, 'must be an e-mail address of at most 254 characters'),
    z.regex(
      /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/,
      'must be an e-mail address like admin@contoso.com (no name, spaces or angle brackets)',
    ),
  );

/**
 * How an address appears in a log line: its first character and its domain (`a…@contoso.com`).
 * Enough to tell which distributor was written to; a whole address is personal data that the
 * status page shows behind its function key, never the logs (docs/SECURITY.md 35).
 */
export function maskAddress(address: string): string {
  const at = address.lastIndexOf('@');
  if (at <= 0) return '…';
  return `${address[0]}…${address.slice(at)}`;
}
