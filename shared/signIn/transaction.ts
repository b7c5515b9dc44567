import { createHash, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { loadJose } from '../jose';
import type { Environment } from '../settings';

/**
 * The one-time sign-in transaction: created by POST /api/start, consumed by GET /api/callback.
 * It travels in a sealed (AES-256-GCM, JWE `dir`) `__Host-` cookie, so any instance can serve the
 * callback (scale-out, restarts) and nothing is kept in memory between the two requests.
 * A CPV marketplace whose tenant has not consented gets a second one, for the admin-consent
 * return: that return is bound to this browser the same way (docs/SECURITY.md 27).
 */
export interface Transaction {
  /** What the return from Microsoft completes: a sign-in, or an administrator's approval. */
  purpose: 'sign-in' | 'consent';
  /** Sent to Entra and compared on return; binds the callback to this browser (CSRF). */
  state: string;
  /** PKCE code verifier; only its S256 challenge leaves the server in clear. */
  verifier: string;
  /** Compared with the id token's nonce (replay of an id token). */
  nonce: string;
  marketplace: string;
  environment: Environment;
  /** Epoch milliseconds. */
  createdAt: number;
}

/** MUST (docs/SECURITY.md 2): a transaction older than this is refused. */
export const transactionMaxAgeSeconds = 600;
/** A sealed transaction is ~400 characters; anything much larger is not ours. */
export const transactionCookieMaxLength = 1024;

function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

/** New transaction with ≥ 256-bit state, nonce and verifier (RFC 7636: 43–128 chars). */
export function newTransaction(
  marketplace: string,
  environment: Environment,
  now = Date.now(),
  purpose: Transaction['purpose'] = 'sign-in',
): Transaction {
  return { purpose, state: randomToken(), verifier: randomToken(), nonce: randomToken(), marketplace, environment, createdAt: now };
}

/** RFC 7636 S256 challenge of a verifier. */
export function pkceChallenge(verifier: string): string {
  return createHash('sha256').update(verifier).digest('base64url');
}

const keys = new Map<string, Uint8Array>();
/** The 256-bit sealing key, derived once per process from the TRANSACTION_COOKIE_KEY setting. */
export function transactionKey(secret: string): Uint8Array {
  let key = keys.get(secret);
  if (!key) {
    key = new Uint8Array(hkdfSync('sha256', secret, 'connect-ms-auth', 'transaction-cookie-v1', 32));
    keys.set(secret, key);
  }
  return key;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export async function sealTransaction(tx: Transaction, key: Uint8Array): Promise<string> {
  return new (loadJose().CompactEncrypt)(encoder.encode(JSON.stringify(tx))).setProtectedHeader({ alg: 'dir', enc: 'A256GCM' }).encrypt(key);
}

export type OpenResult = { ok: true; transaction: Transaction } | { ok: false; reason: 'missing' | 'invalid' | 'expired' };

/**
 * Opens a sealed transaction. Tampered, truncated, oversized or foreign values are `invalid`;
 * too old is `expired`. Never throws.
 */
export async function openTransaction(sealed: string | undefined, key: Uint8Array, now = Date.now()): Promise<OpenResult> {
  if (!sealed) return { ok: false, reason: 'missing' };
  if (sealed.length > transactionCookieMaxLength || !/^[A-Za-z0-9_.-]+$/.test(sealed)) return { ok: false, reason: 'invalid' };
  let tx: Transaction;
  try {
    const { plaintext, protectedHeader } = await loadJose().compactDecrypt(sealed, key, {
      keyManagementAlgorithms: ['dir'],
      contentEncryptionAlgorithms: ['A256GCM'],
    });
    if (protectedHeader.alg !== 'dir' || protectedHeader.enc !== 'A256GCM') return { ok: false, reason: 'invalid' };
    tx = JSON.parse(decoder.decode(plaintext)) as Transaction;
  } catch {
    return { ok: false, reason: 'invalid' };
  }
  if (
    (tx.purpose !== 'sign-in' && tx.purpose !== 'consent') ||
    typeof tx.state !== 'string' ||
    typeof tx.verifier !== 'string' ||
    typeof tx.nonce !== 'string' ||
    typeof tx.marketplace !== 'string' ||
    typeof tx.createdAt !== 'number'
  ) {
    return { ok: false, reason: 'invalid' };
  }
  const age = now - tx.createdAt;
  if (age < -60_000 || age > transactionMaxAgeSeconds * 1000) return { ok: false, reason: 'expired' };
  return { ok: true, transaction: tx };
}

/** Constant-time comparison of the returned `state` with the transaction's. */
export function stateMatches(tx: Transaction, returned: string | null | undefined): boolean {
  if (typeof returned !== 'string') return false;
  const a = Buffer.from(tx.state);
  const b = Buffer.from(returned);
  return a.length === b.length && timingSafeEqual(a, b);
}
