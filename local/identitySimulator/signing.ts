/** The simulator's token-signing key: RS256 JWTs and the JWKS that verifies them (node:crypto only). */
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, type JsonWebKey, type KeyObject } from 'node:crypto';
import { base64url, sha256Hex } from './ids';

/** Stands in for Entra's signing key (one key; Entra rotates several). */
export interface SigningKey {
  kid: string;
  privateKey: KeyObject;
  /** The public half as a JWKS entry. */
  publicJwk: JsonWebKey & { kid: string };
}

export function createSigningKey(): SigningKey {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return signingKeyFrom(privateKey);
}

/** Restores a key saved with exportPrivateJwk (local mode keeps its key so old id tokens still verify after a restart). */
export function importSigningKey(privateJwk: JsonWebKey): SigningKey {
  return signingKeyFrom(createPrivateKey({ key: privateJwk, format: 'jwk' }));
}

export function exportPrivateJwk(key: SigningKey): JsonWebKey {
  return key.privateKey.export({ format: 'jwk' });
}

function signingKeyFrom(privateKey: KeyObject): SigningKey {
  const pub = createPublicKey(privateKey).export({ format: 'jwk' });
  // Entra's kid is the certificate thumbprint; a hash of the modulus is as stable and as opaque.
  const kid = base64url(Buffer.from(sha256Hex(`${pub.n}.${pub.e}`).slice(0, 40), 'hex'));
  return { kid, privateKey, publicJwk: { kty: 'RSA', use: 'sig', kid, n: pub.n, e: pub.e } };
}

/** A compact JWS, RS256, with the kid the JWKS publishes. */
export function signJwt(key: SigningKey, claims: Record<string, unknown>): string {
  const header = base64url(JSON.stringify({ typ: 'JWT', alg: 'RS256', kid: key.kid }));
  const payload = base64url(JSON.stringify(claims));
  const signature = sign('sha256', Buffer.from(`${header}.${payload}`), key.privateKey);
  return `${header}.${payload}.${base64url(signature)}`;
}
