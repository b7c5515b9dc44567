/**
 * Every credential this deployment uses, from its settings and its marketplace configuration:
 * the CPV app's (a client secret, or the managed identity's federated credential), each CSP
 * app's client secret or certificate, and the Connect API key. Nothing is read here.
 */
import { appIdentityOf } from '../identity/credentials';
import type { MarketplaceConfig } from '../marketplaces/config';
import { forEnvironment } from '../marketplaces/marketplace';
import type { Settings } from '../settings';

export type CredentialKind = 'cpv-federated' | 'cpv-client-secret' | 'partner-client-secret' | 'partner-certificate' | 'connect-api-key';

export interface CredentialInUse {
  kind: CredentialKind;
  /** Key Vault name of the secret or certificate; absent for the federated credential (nothing is stored, nothing expires). */
  name?: string;
  /** The app setting or configuration field that names it. */
  field: string;
  /** Who fails when it expires: marketplace IDs, or `Connect push`. */
  usedBy: string[];
}

/** Every credential in use, one entry per stored secret (CSP apps may share one), in a stable order. */
export function credentialsInUse(settings: Settings, config: MarketplaceConfig): CredentialInUse[] {
  const environment = settings.SERVICE_ENVIRONMENT;
  const found = new Map<string, CredentialInUse>();
  const add = (c: Omit<CredentialInUse, 'usedBy'>, user: string | undefined) => {
    const key = `${c.kind}:${c.name ?? ''}`;
    const entry = found.get(key) ?? { ...c, usedBy: [] };
    if (user !== undefined && !entry.usedBy.includes(user)) entry.usedBy.push(user);
    found.set(key, entry);
  };

  const marketplaces = [...config.entries.values()].map((entry) => forEnvironment(entry, environment));
  const cpv = marketplaces.filter((m) => m.model === 'CPV').map((m) => m.id);
  if (settings.CPV_CLIENT_ID) {
    const credential: Omit<CredentialInUse, 'usedBy'> =
      settings.CPV_CREDENTIAL === 'federated'
        ? { kind: 'cpv-federated', field: 'AZURE_CLIENT_ID' }
        : {
            kind: 'cpv-client-secret',
            field: 'CPV_CLIENT_SECRET_NAME',
            ...(settings.CPV_CLIENT_SECRET_NAME ? { name: settings.CPV_CLIENT_SECRET_NAME } : {}),
          };
    if (cpv.length === 0) add(credential, undefined);
    for (const id of cpv) add(credential, id);
  }
  for (const marketplace of marketplaces) {
    if (marketplace.model !== 'CSP') continue;
    const app = appIdentityOf(settings, marketplace);
    add(
      { kind: app.credential === 'certificate' ? 'partner-certificate' : 'partner-client-secret', name: app.secretName ?? '', field: app.field },
      marketplace.id,
    );
  }
  if (settings.CONNECT_API_KEY_SECRET_NAME) {
    add({ kind: 'connect-api-key', name: settings.CONNECT_API_KEY_SECRET_NAME, field: 'CONNECT_API_KEY_SECRET_NAME' }, 'Connect push');
  }
  return [...found.values()];
}
