/**
 * The one rule for which Entra application redeems a marketplace's codes and tokens, and with
 * which credential. A refresh token is bound to the client that obtained it, so it is always the
 * application Connect redeems with: for CPV the Connect Microsoft connector's CPV application
 * (CPV_CLIENT_ID), to which this deployment added its own credential (a token of this app's managed
 * identity, or a client secret), the distributor's app for CSP (a client secret or a certificate).
 */
import { AppError } from '../errors';
import type { Marketplace } from '../marketplaces/marketplace';
import type { Settings } from '../settings';
import { AppCredentialError } from './credentialError';
import { readCertificateSecret, type ClientCertificate } from './certificate';
import { federatedAssertion } from './federated';

/** How an application proves itself to Entra's token endpoint: what msal-node is handed. */
export type ClientCredential =
  | { kind: 'secret'; secret: string }
  /**
   * A client assertion (RFC 7523) asked for on every token request: the managed identity's
   * token, which the app trusts as a federated credential. `refused` drops a cached one.
   */
  | { kind: 'assertion'; assertion: () => Promise<string>; refused?: () => void }
  | { kind: 'certificate'; certificate: ClientCertificate };

/** The Entra application that redeems: the CPV app or the partner's own (CSP). */
export interface AppCredentials {
  authorityHost: string;
  tenantId: string;
  clientId: string;
  credential: ClientCredential;
}

/** Where a marketplace's application and its credential come from (nothing read yet). */
export interface AppIdentity {
  clientId: string;
  credential: 'secret' | 'certificate' | 'federated';
  /** Key Vault name of the client secret, or of the certificate (whose secret has the same name); absent for federated. */
  secretName?: string;
  /** The configuration field or app setting an operator fixes when the credential is missing or refused. */
  field: string;
}

/** The application of a marketplace; throws marketplace_misconfigured when CPV is not set up. */
export function appIdentityOf(settings: Settings, marketplace: Marketplace): AppIdentity {
  const environment = marketplace.environment;
  if (marketplace.model === 'CSP') {
    const clientId = marketplace.clientId;
    return marketplace.clientCertificateName !== undefined
      ? { clientId, credential: 'certificate', secretName: marketplace.clientCertificateName, field: `partner_client_certificate_${environment}` }
      : { clientId, credential: 'secret', secretName: marketplace.clientSecretName, field: `partner_client_secret_${environment}` };
  }
  if (!settings.CPV_CLIENT_ID) {
    throw new AppError('marketplace_misconfigured', `Marketplace ${marketplace.id} is CPV but CPV_CLIENT_ID is not set`, {
      marketplace: marketplace.id,
      field: 'CPV_CLIENT_ID',
    });
  }
  // Federated: nothing is stored, so nothing can be missing; a wrong trust shows up as Entra's invalid_client.
  if (settings.CPV_CREDENTIAL === 'federated') return { clientId: settings.CPV_CLIENT_ID, credential: 'federated', field: 'AZURE_CLIENT_ID' };
  if (!settings.CPV_CLIENT_SECRET_NAME) {
    throw new AppError('marketplace_misconfigured', `Marketplace ${marketplace.id} is CPV but CPV_CLIENT_SECRET_NAME is not set`, {
      marketplace: marketplace.id,
      field: 'CPV_CLIENT_SECRET_NAME',
    });
  }
  return { clientId: settings.CPV_CLIENT_ID, credential: 'secret', secretName: settings.CPV_CLIENT_SECRET_NAME, field: 'CPV_CLIENT_SECRET_NAME' };
}

/**
 * The credentials to redeem with. `readSecret` reads a secret by name (the secret store, or a
 * per-run cache of it); a secret the store does not hold, or a certificate that cannot be used,
 * is an operator error (AppCredentialError).
 */
export async function appCredentialsFor(
  settings: Settings,
  marketplace: Marketplace,
  readSecret: (name: string) => Promise<string | undefined>,
): Promise<AppCredentials> {
  const app = appIdentityOf(settings, marketplace);
  const base = { authorityHost: settings.AUTHORITY_HOST, tenantId: marketplace.tenantId, clientId: app.clientId };
  if (app.credential === 'federated' || app.secretName === undefined) {
    const source = federatedAssertion(settings.AZURE_CLIENT_ID);
    return { ...base, credential: { kind: 'assertion', assertion: source.assertion, refused: source.forget } };
  }
  const where = { marketplace: marketplace.id, field: app.field };
  const value = await readSecret(app.secretName);
  if (!value) {
    const what = app.credential === 'certificate' ? 'Certificate' : 'Client secret';
    throw new AppCredentialError('secret-missing', `${what} ${app.secretName} for marketplace ${marketplace.id} is not in the secret store`, where);
  }
  if (app.credential === 'secret') return { ...base, credential: { kind: 'secret', secret: value } };
  const certificate = readCertificateSecret(value);
  if ('problem' in certificate) {
    throw new AppCredentialError(
      'certificate-unreadable',
      `Certificate ${app.secretName} for marketplace ${marketplace.id} cannot be used: ${certificate.problem}`,
      where,
    );
  }
  return {
    ...base,
    credential: { kind: 'certificate', certificate: { thumbprintSha256: certificate.thumbprintSha256, privateKey: certificate.privateKey } },
  };
}
