import { refreshTokenFromCache } from '../../shared/identity/cache';
import { checkIdToken } from '../../shared/signIn/idToken';

const authority = 'https://login.example';
const marketplace = { id: 'MP-00001', tenantId: '0b7c1f5e-0000-4000-8000-000000000001' };
const clientId = 'c5900000-0000-4000-8000-00000000c590';
const good = { nonce: 'n-1', aud: clientId, tid: marketplace.tenantId, iss: `${authority}/${marketplace.tenantId}/v2.0` };
const check = (claims: Record<string, string>) => () => checkIdToken(claims, { nonce: 'n-1' }, marketplace, clientId, authority);

describe('the id token of a sign-in', () => {
  it('passes when it belongs to this transaction, application, tenant and authority', () => {
    expect(check(good)).not.toThrow();
    expect(check({ ...good, aud: clientId.toUpperCase() })).not.toThrow();
  });
  it.each([
    ['another nonce (a replayed id token)', { nonce: 'n-2' }, 'transaction_invalid'],
    ['another audience (a token issued to another application)', { aud: '00000000-0000-4000-8000-000000000bad' }, 'transaction_invalid'],
    ['no audience', { aud: '' }, 'transaction_invalid'],
    [
      'another tenant',
      { tid: '0b7c1f5e-0000-4000-8000-000000000009', iss: `${authority}/0b7c1f5e-0000-4000-8000-000000000009/v2.0` },
      'tenant_mismatch',
    ],
    ['another authority (mix-up)', { iss: `https://elsewhere.example/${marketplace.tenantId}/v2.0` }, 'transaction_invalid'],
  ])('refuses %s', (_what, change, code) => {
    expect(check({ ...good, ...change })).toThrow(expect.objectContaining({ code }));
  });
});

describe('the refresh token from msal-node’s cache', () => {
  const cache = (entries: Record<string, unknown>) => JSON.stringify({ RefreshToken: entries });
  it('takes the entry of the account and this client', () => {
    const serialized = cache({
      a: { home_account_id: 'u.t', client_id: clientId, secret: 'rt-1' },
      b: { home_account_id: 'x.t', client_id: clientId, secret: 'rt-2' },
    });
    expect(refreshTokenFromCache(serialized, 'u.t', clientId)).toBe('rt-1');
  });
  it('keeps the new token of a refresh answer without an id token (no account): the fresh cache holds only this request’s token', () => {
    expect(refreshTokenFromCache(cache({ a: { home_account_id: '', client_id: clientId, secret: 'rt-3' } }), undefined, clientId)).toBe('rt-3');
  });
  it('refuses to guess when there is none, or more than one', () => {
    expect(() => refreshTokenFromCache(cache({}), undefined, clientId)).toThrow(expect.objectContaining({ code: 'refresh_token_missing' }));
    const two = cache({
      a: { home_account_id: '', client_id: clientId, secret: 'rt-4' },
      b: { home_account_id: 'z', client_id: clientId, secret: 'rt-5' },
    });
    expect(() => refreshTokenFromCache(two, undefined, clientId)).toThrow(expect.objectContaining({ code: 'refresh_token_missing' }));
  });
});
