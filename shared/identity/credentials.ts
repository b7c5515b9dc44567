/**
 * The one rule for which Entra application redeems a marketplace's codes and tokens, and with
 * which credential: the service's own multi-tenant app for CPV, the distributor's app for CSP.
 */
import { AppError } from '../errors';
import type { Marketplace } from '../marketplaces/marketplace';
import type { Settings } from '../settings';

/** The Entra application that redeems: the CPV app or the partner's own (CSP). */
export interface AppCredentials {
  authorityHost: string;
  tenantId: string;
  clientId: string;
  clientSecret: string;
}

/** Where a marketplace's application and its secret come from (no secret read yet). */
export interface AppIdentity {
  clientId: string;
  /** Key Vault secret name of the client secret. */
  secretName: string;
  /** The configuration field or app setting an operator fixes when the secret is missing. */
  field: string;
}

/** The application of a marketplace; throws marketplace_misconfigured when CPV is not set up. */
export function appIdentityOf(settings: Settings, marketplace: Marketplace): AppIdentity {
  if (marketplace.model === 'CSP') {
    return { clientId: marketplace.clientId, secretName: marketplace.clientSecretName, field: `partner_client_secret_${marketplace.environment}` };
  }
  if (!settings.CPV_CLIENT_ID || !settings.CPV_CLIENT_SECRET_NAME) {
    throw new AppError('marketplace_misconfigured', `Marketplace ${marketplace.id} is CPV but CPV_CLIENT_ID is not set`, {
      marketplace: marketplace.id,
      field: 'CPV_CLIENT_ID',
    });
  }
  return { clientId: settings.CPV_CLIENT_ID, secretName: settings.CPV_CLIENT_SECRET_NAME, field: 'CPV_CLIENT_SECRET_NAME' };
}

/**
 * The credentials to redeem with. `readSecret` reads a secret by name (the secret store, or a
 * per-run cache of it); a secret the store does not hold is an operator error.
 */
export async function appCredentialsFor(
  settings: Settings,
  marketplace: Marketplace,
  readSecret: (name: string) => Promise<string | undefined>,
): Promise<AppCredentials> {
  const app = appIdentityOf(settings, marketplace);
  const clientSecret = await readSecret(app.secretName);
  if (!clientSecret) {
    throw new AppError('marketplace_misconfigured', `Client secret ${app.secretName} for marketplace ${marketplace.id} is not in the secret store`, {
      marketplace: marketplace.id,
      field: app.field,
    });
  }
  return { authorityHost: settings.AUTHORITY_HOST, tenantId: marketplace.tenantId, clientId: app.clientId, clientSecret };
}
