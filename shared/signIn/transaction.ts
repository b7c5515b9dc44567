import { createHash, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { loadJose } from '../jose';
import type { Environment } from '../settings';

/**
 * The one-time sign-in transaction: created by POST /api/start, consumed by GET /api/callback.
 * It travels in a sealed (AES-256-GCM, JWE `dir`) `__Host-` cookie of its own, named after its
 * state (cookie.ts), so any instance can serve the callback (scale-out, restarts), nothing is kept
 * in memory between the two requests, and sign-ins in several tabs never overwrite each other
 * (inFlight.ts bounds how many a browser holds). A CPV marketplace whose tenant has not consented
 * gets a second one, for the admin-consent return: that return is bound to this browser the same
 * way (docs/SECURITY.md 27).
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

/**
 * What is left of a sign-in once its token is stored: enough for the same browser, coming back
 * by Reload or Back, to be told that it finished, and when (docs/SECURITY.md 2). Nothing secret:
 * no state, verifier, nonce or token; the state only as its key, which names the cookie.
 */
export interface FinishedSignIn {
  purpose: 'finished';
  /** `stateKey` of the finished sign-in's state. */
  key: string;
  marketplace: string;
  environment: Environment;
  /** Epoch milliseconds: when the token was stored. */
  finishedAt: number;
}

/** MUST (docs/SECURITY.md 2): a transaction older than this is refused. */
export const transactionMaxAgeSeconds = 600;
/** How long a finished sign-in is remembered in its browser: long enough for a Reload or Back that same hour. */
export const finishedMaxAgeSeconds = 3600;
/** A sealed transaction is ~400 characters; anything much larger is not ours. */
export const transactionCookieMaxLength = 1024;

/**
 * The key of a state: a hash, short enough to name a cookie (96 bits: no two sign-ins of one
 * browser share one). A cookie is found by the state Microsoft sends back, and the state itself
 * never has to be kept once it is spent.
 */
export function stateKey(state: string): string {
  return createHash('sha256').update(state).digest('base64url').slice(0, 16);
}
export const stateKeyPattern = /^[A-Za-z0-9_-]{16}$/;

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

async function seal(record: Transaction | FinishedSignIn, key: Uint8Array): Promise<string> {
  return new (loadJose().CompactEncrypt)(encoder.encode(JSON.stringify(record))).setProtectedHeader({ alg: 'dir', enc: 'A256GCM' }).encrypt(key);
}

export function sealTransaction(tx: Transaction, key: Uint8Array): Promise<string> {
  return seal(tx, key);
}

export function sealFinished(finished: FinishedSignIn, key: Uint8Array): Promise<string> {
  return seal(finished, key);
}

type Refusal = { ok: false; reason: 'missing' | 'invalid' | 'expired' };
export type OpenResult = { ok: true; transaction: Transaction } | Refusal;
export type OpenedRecord =
  { ok: true; kind: 'transaction'; transaction: Transaction } | { ok: true; kind: 'finished'; finished: FinishedSignIn } | Refusal;

function isTransaction(v: Record<string, unknown>): boolean {
  return (
    (v.purpose === 'sign-in' || v.purpose === 'consent') &&
    typeof v.state === 'string' &&
    typeof v.verifier === 'string' &&
    typeof v.nonce === 'string' &&
    typeof v.marketplace === 'string' &&
    typeof v.createdAt === 'number'
  );
}

function isFinished(v: Record<string, unknown>): boolean {
  return (
    v.purpose === 'finished' &&
    typeof v.key === 'string' &&
    stateKeyPattern.test(v.key) &&
    typeof v.marketplace === 'string' &&
    typeof v.finishedAt === 'number'
  );
}

/** Whether a time lies within `maxAgeSeconds` before `now` (a minute of clock skew allowed the other way). */
function fresh(at: number, now: number, maxAgeSeconds: number): boolean {
  const age = now - at;
  return age >= -60_000 && age <= maxAgeSeconds * 1000;
}

/**
 * Opens one of this service's sealed sign-in records: a transaction in flight, or a finished
 * sign-in. Tampered, truncated, oversized or foreign values are `invalid`; too old is `expired`.
 * Never throws.
 */
export async function openRecord(sealed: string | undefined, key: Uint8Array, now = Date.now()): Promise<OpenedRecord> {
  if (!sealed) return { ok: false, reason: 'missing' };
  if (sealed.length > transactionCookieMaxLength || !/^[A-Za-z0-9_.-]+$/.test(sealed)) return { ok: false, reason: 'invalid' };
  let value: Record<string, unknown>;
  try {
    const { plaintext, protectedHeader } = await loadJose().compactDecrypt(sealed, key, {
      keyManagementAlgorithms: ['dir'],
      contentEncryptionAlgorithms: ['A256GCM'],
    });
    if (protectedHeader.alg !== 'dir' || protectedHeader.enc !== 'A256GCM') return { ok: false, reason: 'invalid' };
    const parsed: unknown = JSON.parse(decoder.decode(plaintext));
    if (typeof parsed !== 'object' || parsed === null) return { ok: false, reason: 'invalid' };
    value = parsed as Record<string, unknown>;
  } catch {
    return { ok: false, reason: 'invalid' };
  }
  if (isTransaction(value)) {
    const tx = value as unknown as Transaction;
    return fresh(tx.createdAt, now, transactionMaxAgeSeconds) ? { ok: true, kind: 'transaction', transaction: tx } : { ok: false, reason: 'expired' };
  }
  if (isFinished(value)) {
    const finished = value as unknown as FinishedSignIn;
    return fresh(finished.finishedAt, now, finishedMaxAgeSeconds) ? { ok: true, kind: 'finished', finished } : { ok: false, reason: 'expired' };
  }
  return { ok: false, reason: 'invalid' };
}

/** Opens a sealed transaction in flight; anything else (a finished sign-in included) is refused as `openRecord` refuses. */
export async function openTransaction(sealed: string | undefined, key: Uint8Array, now = Date.now()): Promise<OpenResult> {
  const opened = await openRecord(sealed, key, now);
  if (!opened.ok) return opened;
  return opened.kind === 'transaction' ? { ok: true, transaction: opened.transaction } : { ok: false, reason: 'invalid' };
}

/** Constant-time comparison of the returned `state` with the transaction's. */
export function stateMatches(tx: Transaction, returned: string | null | undefined): boolean {
  if (typeof returned !== 'string') return false;
  const a = Buffer.from(tx.state);
  const b = Buffer.from(returned);
  return a.length === b.length && timingSafeEqual(a, b);
}
