import { CompactEncrypt } from 'jose';
import { readTransactionCookie, transactionCookieName } from '../../shared/signIn/cookie';
import { newTransaction, openTransaction, pkceChallenge, sealTransaction, stateMatches, transactionKey } from '../../shared/signIn/transaction';

const key = transactionKey('k'.repeat(48));
const otherKey = transactionKey('o'.repeat(48));

describe('sign-in transaction cookie', () => {
  it('round-trips and carries ≥ 256-bit state, nonce and verifier', async () => {
    const tx = newTransaction('MP-00001', 'test');
    expect(Buffer.from(tx.state, 'base64url').length).toBeGreaterThanOrEqual(32);
    expect(tx.verifier).toMatch(/^[A-Za-z0-9_-]{43,128}$/);
    const sealed = await sealTransaction(tx, key);
    expect(sealed).not.toContain(tx.verifier);
    expect(await openTransaction(sealed, key)).toEqual({ ok: true, transaction: tx });
  });

  it('never shows the verifier in clear: the cookie is encrypted, the challenge is S256', async () => {
    const tx = newTransaction('MP-00001', 'test');
    const sealed = await sealTransaction(tx, key);
    const decodedParts = sealed
      .split('.')
      .map((p) => Buffer.from(p, 'base64url').toString('latin1'))
      .join('|');
    expect(decodedParts).not.toContain(tx.verifier);
    expect(decodedParts).not.toContain('MP-00001');
    // RFC 7636 appendix B test vector.
    expect(pkceChallenge('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk')).toBe('E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM');
  });

  it('refuses a tampered cookie (one byte of ciphertext flipped)', async () => {
    const sealed = await sealTransaction(newTransaction('MP-00001', 'test'), key);
    const parts = sealed.split('.');
    const ct = Buffer.from(parts[3] ?? '', 'base64url');
    ct[0] = (ct[0] ?? 0) ^ 1;
    parts[3] = ct.toString('base64url');
    expect(await openTransaction(parts.join('.'), key)).toEqual({ ok: false, reason: 'invalid' });
  });

  it('refuses a truncated, oversized, foreign or other-key cookie', async () => {
    const sealed = await sealTransaction(newTransaction('MP-00001', 'test'), key);
    expect(await openTransaction(sealed.slice(0, -5), key)).toEqual({ ok: false, reason: 'invalid' });
    expect(await openTransaction(sealed + 'A'.repeat(2000), key)).toEqual({ ok: false, reason: 'invalid' });
    expect(await openTransaction('not-a-jwe', key)).toEqual({ ok: false, reason: 'invalid' });
    expect(await openTransaction(sealed, otherKey)).toEqual({ ok: false, reason: 'invalid' });
    expect(await openTransaction(undefined, key)).toEqual({ ok: false, reason: 'missing' });
  });

  it('refuses a well-sealed payload that is not a transaction', async () => {
    const forged = await new CompactEncrypt(new TextEncoder().encode('{"state":1}')).setProtectedHeader({ alg: 'dir', enc: 'A256GCM' }).encrypt(key);
    expect(await openTransaction(forged, key)).toEqual({ ok: false, reason: 'invalid' });
  });

  it('refuses a transaction older than 10 minutes', async () => {
    const created = Date.now();
    const sealed = await sealTransaction(newTransaction('MP-00001', 'test', created), key);
    expect((await openTransaction(sealed, key, created + 9 * 60_000)).ok).toBe(true);
    expect(await openTransaction(sealed, key, created + 10 * 60_000 + 1)).toEqual({ ok: false, reason: 'expired' });
  });

  it('compares state exactly', () => {
    const tx = newTransaction('MP-00001', 'test');
    expect(stateMatches(tx, tx.state)).toBe(true);
    expect(stateMatches(tx, tx.state.slice(1))).toBe(false);
    expect(stateMatches(tx, `${tx.state}x`)).toBe(false);
    expect(stateMatches(tx, null)).toBe(false);
  });

  it('reads exactly one copy of the cookie', () => {
    expect(readTransactionCookie(`a=1; ${transactionCookieName}=abc; b=2`)).toEqual({ value: 'abc', duplicated: false });
    expect(readTransactionCookie(`${transactionCookieName}=abc; ${transactionCookieName}=def`)).toEqual({ duplicated: true });
    expect(readTransactionCookie(null)).toEqual({ duplicated: false });
  });
});
