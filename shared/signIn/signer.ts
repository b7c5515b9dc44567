/**
 * Who signed in to generate a token (docs/SECURITY.md 26): the account's object id and user
 * name, from the id token, kept in the token's `signer` tag as `<object id> <user name>`.
 */
import type { IdTokenClaims } from '../identity/msal';

export interface Signer {
  objectId: string;
  userName: string;
}

const unknown = 'unknown';

export function signerFromIdToken(idToken: IdTokenClaims | undefined): Signer {
  return { objectId: idToken?.oid ?? unknown, userName: (idToken?.preferredUsername ?? unknown).replace(/\s+/g, '') };
}

/** The tag value; Key Vault tags hold at most 256 characters. */
export function signerTag(signer: Signer): string {
  return `${signer.objectId} ${signer.userName}`.slice(0, 256);
}

export function signerFromTag(tag: string | undefined): Signer | undefined {
  if (!tag) return undefined;
  const space = tag.indexOf(' ');
  return space < 0 ? { objectId: tag, userName: unknown } : { objectId: tag.slice(0, space), userName: tag.slice(space + 1) };
}
