import { CompactEncrypt } from 'jose';
import { readSignInCookies, transactionCookieName } from '../../shared/signIn/cookie';
import { maxFinishedKept, maxSignInsInFlight } from '../../shared/signIn/browserBounds';
import { keepFinished, makeRoomFor } from '../../shared/signIn/inFlight';
import {
  newTransaction,
  openRecord,
  openTransaction,
  pkceChallenge,
  sealFinished,
  sealTransaction,
  stateKey,
  stateMatches,
  transactionKey,
} from '../../shared/signIn/transaction';

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

  it('reads every sign-in cookie by its state key, and the keys set aside', () => {
    const a = stateKey('state-a');
    const b = stateKey('state-b');
    expect(a).toMatch(/^[A-Za-z0-9_-]{16}$/);
    const read = readSignInCookies(
      `x=1; ${transactionCookieName(a)}=abc; __Host-ms-auth-tx-short=zzz; ${transactionCookieName(b)}=def; ${transactionCookieName(b)}=ghi; __Host-ms-auth-evicted=${a}.not-a-key.${b}`,
    );
    expect(read.records).toEqual(
      new Map([
        [a, ['abc']],
        [b, ['def', 'ghi']],
      ]),
    );
    expect(read.evicted).toEqual([a, b]);
    expect(readSignInCookies(null)).toEqual({ records: new Map(), evicted: [] });
  });

  it('opens at most 20 records of one request (a browser holds fewer; more was crafted): junk beyond is neither opened nor cleared', async () => {
    const junk = Array.from({ length: 100 }, (_, i) => `${transactionCookieName(stateKey(`s${i}`))}=junk`).join('; ');
    const cookies = await makeRoomFor(readSignInCookies(junk), key, { adding: stateKey('new'), now: Date.now() });
    expect(cookies).toHaveLength(20);
    expect(cookies.every((c) => c.maxAge === 0)).toBe(true);
  });
});

describe('finished sign-ins', () => {
  it('seal what a Reload needs and nothing secret: no state, verifier, nonce or token', async () => {
    const tx = newTransaction('MP-00001', 'test');
    const finished = {
      purpose: 'finished' as const,
      key: stateKey(tx.state),
      marketplace: 'MP-00001',
      environment: 'test' as const,
      finishedAt: Date.now(),
    };
    const sealed = await sealFinished(finished, key);
    expect(await openRecord(sealed, key)).toEqual({ ok: true, kind: 'finished', finished });
    expect(JSON.stringify(finished)).not.toContain(tx.state);
    // A finished record is never taken for a transaction.
    expect(await openTransaction(sealed, key)).toEqual({ ok: false, reason: 'invalid' });
    expect(await openRecord(sealed, key, finished.finishedAt + 3601_000)).toEqual({ ok: false, reason: 'expired' });
  });
});

describe('the sign-ins one browser holds', () => {
  async function browserWith(createdAts: number[]): Promise<{ header: string; keys: string[] }> {
    const keys: string[] = [];
    const parts: string[] = [];
    for (const createdAt of createdAts) {
      const tx = newTransaction('MP-00001', 'test', createdAt);
      keys.push(stateKey(tx.state));
      parts.push(`${transactionCookieName(stateKey(tx.state))}=${await sealTransaction(tx, key)}`);
    }
    return { header: parts.join('; '), keys };
  }

  it(`keeps ${maxSignInsInFlight} in flight: the oldest is set aside for a new one, and remembered`, async () => {
    const now = Date.now();
    // Listed newest first: the order of the header does not decide, the time each started does.
    const { header, keys } = await browserWith([now - 1_000, now - 2_000, now - 3_000, now - 4_000, now - 5_000]);
    const cookies = await makeRoomFor(readSignInCookies(header), key, { adding: stateKey('new'), now });
    expect(cookies.map((c) => [c.name, c.maxAge])).toEqual([
      [transactionCookieName(keys[4] ?? ''), 0],
      ['__Host-ms-auth-evicted', 600],
    ]);
    expect(cookies[1]?.value).toBe(keys[4]);
    // Fewer than the bound: nothing is set aside.
    const four = await browserWith([now - 1_000, now - 2_000, now - 3_000, now - 4_000]);
    expect(await makeRoomFor(readSignInCookies(four.header), key, { adding: stateKey('new'), now })).toEqual([]);
  });

  it('clears cookies of ours that do not open, and does not count a transaction this response spends', async () => {
    const now = Date.now();
    const { header, keys } = await browserWith([now - 1_000, now - 2_000, now - 3_000, now - 4_000, now - 5_000]);
    const junk = stateKey('junk');
    const cookies = await makeRoomFor(readSignInCookies(`${header}; ${transactionCookieName(junk)}=not-sealed`), key, {
      adding: stateKey('consent'),
      leaving: keys[0] ?? '',
      now,
    });
    expect(cookies).toEqual([expect.objectContaining({ name: transactionCookieName(junk), maxAge: 0 })]);
  });

  it(`remembers ${maxFinishedKept} finished sign-ins, dropping the oldest`, async () => {
    const now = Date.now();
    const parts: string[] = [];
    const keys: string[] = [];
    for (let i = 0; i < maxFinishedKept; i++) {
      const k = stateKey(`finished-${i}`);
      keys.push(k);
      parts.push(
        `${transactionCookieName(k)}=${await sealFinished({ purpose: 'finished', key: k, marketplace: 'MP-00001', environment: 'test', finishedAt: now - i * 1000 }, key)}`,
      );
    }
    const cookies = await keepFinished(readSignInCookies(parts.join('; ')), key, { adding: stateKey('newest'), now });
    expect(cookies.map((c) => [c.name, c.maxAge])).toEqual([[transactionCookieName(keys[maxFinishedKept - 1] ?? ''), 0]]);
  });
});
