/** The checks an id token must pass before the sign-in it ends may set a marketplace's token. */
import { AppError } from '../errors';
import { issuerOf } from '../identity/authority';
import type { IdTokenClaims } from '../identity/msal';
import type { Marketplace } from '../marketplaces/marketplace';
import type { Transaction } from './transaction';

/** MUST: the id token belongs to this transaction, this application, the configured tenant and authority. */
export function checkIdToken(
  idToken: IdTokenClaims = {},
  tx: Pick<Transaction, 'nonce'>,
  marketplace: Pick<Marketplace, 'id' | 'tenantId'>,
  clientId: string,
  authorityHost: string,
): void {
  const where = { marketplace: marketplace.id };
  // The nonce binds the id token to this transaction (replayed id token).
  if (idToken.nonce !== tx.nonce) throw new AppError('transaction_invalid', 'id token nonce does not match', where);
  // An id token issued to another application is not our sign-in (token substitution).
  if ((idToken.aud ?? '').toLowerCase() !== clientId.toLowerCase())
    throw new AppError('transaction_invalid', 'id token audience is not this application', where);
  // MUST (docs/SECURITY.md 7): only an account of the configured partner tenant may set this marketplace's token.
  const tid = (idToken.tid ?? '').toLowerCase();
  if (tid !== marketplace.tenantId) throw new AppError('tenant_mismatch', 'id token tenant differs from the configured partner tenant', where);
  // The issuer is the configured authority's, for that tenant (mix-up).
  if (idToken.iss !== issuerOf(authorityHost, idToken.tid ?? ''))
    throw new AppError('transaction_invalid', 'id token issuer is not the configured authority', where);
}
