/**
 * Which client a request is counted against (docs/SECURITY.md 29), from X-Forwarded-For.
 *
 * In Azure, the App Service front end appends the address of the TCP peer that reached it to
 * X-Forwarded-For (as `ip:port`, after whatever the request already carried); only that rightmost
 * entry is the front end's own word. Everything to its left came from the client and can say
 * anything, so trusting it would let one client pose as any number of others. The local host
 * appends its socket's peer the same way (local/host.ts), so both run this code.
 *
 * IPv6 clients are keyed by their /64: one subscriber gets at least a /64, so counting single
 * addresses would hand one client 2^64 identities.
 */
import { isIP } from 'node:net';

/** All requests without a readable address share this one key, and so one bound. */
export const unknownClient = 'unknown';

/** The key of the client that sent a request: `ipv4:a.b.c.d`, `ipv6:x:x:x:x::/64`, or `unknown`. */
export function clientKeyOf(headers: { get(name: string): string | null }): string {
  const forwarded = headers.get('x-forwarded-for');
  const rightmost = forwarded?.split(',').pop()?.trim();
  const address = rightmost ? addressOf(rightmost) : undefined;
  return address ? keyOf(address) : unknownClient;
}

/** The address in one X-Forwarded-For entry: `a.b.c.d`, `a.b.c.d:port`, `[v6]`, `[v6]:port` or a bare v6 address. */
export function addressOf(entry: string): string | undefined {
  if (isIP(entry)) return entry;
  const bracketed = /^\[([^\]]+)\](?::\d{1,5})?$/.exec(entry);
  if (bracketed?.[1] && isIP(bracketed[1]) === 6) return bracketed[1];
  const withPort = /^([0-9.]+):\d{1,5}$/.exec(entry);
  if (withPort?.[1] && isIP(withPort[1]) === 4) return withPort[1];
  return undefined;
}

function keyOf(address: string): string {
  if (isIP(address) === 4) return `ipv4:${address}`;
  const hextets = expandIPv6(address);
  if (!hextets) return unknownClient;
  // An IPv4-mapped address (::ffff:a.b.c.d) is that IPv4 client, whichever way the stack wrote it.
  if (hextets.slice(0, 5).every((h) => h === 0) && hextets[5] === 0xffff) {
    const [hi = 0, lo = 0] = hextets.slice(6);
    return `ipv4:${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;
  }
  return `ipv6:${hextets
    .slice(0, 4)
    .map((h) => h.toString(16))
    .join(':')}::/64`;
}

/** The eight 16-bit groups of an IPv6 address (zone dropped, embedded IPv4 read), or undefined. */
function expandIPv6(address: string): number[] | undefined {
  let text: string;
  try {
    // The URL parser validates and canonicalises (lower case, embedded IPv4 as hex, one `::`).
    text = new URL(`http://[${address.split('%')[0] ?? ''}]/`).hostname.slice(1, -1);
  } catch {
    return undefined;
  }
  const [head = '', tail] = text.split('::');
  const left = head ? head.split(':') : [];
  const right = tail === undefined ? [] : tail ? tail.split(':') : [];
  const missing = 8 - left.length - right.length;
  if (missing < 0 || (tail === undefined && missing !== 0)) return undefined;
  return [...left, ...Array<string>(missing).fill('0'), ...right].map((h) => parseInt(h, 16));
}
