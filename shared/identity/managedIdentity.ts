/**
 * The one file that imports @azure/identity for the Function App's managed identity: the CPV
 * app's federated credential and the app's own storage account (Key Vault access has its own
 * importer, shared/secrets/keyVaultStore.ts). federated.ts and storage/open.ts load it on first
 * use only, so the start page never loads the SDK.
 */
import { ManagedIdentityCredential } from '@azure/identity';

/** The audience Entra expects of a managed-identity token presented as a federated credential. */
export const tokenExchangeScope = 'api://AzureADTokenExchange/.default';

/** One credential per identity per process: the SDK keeps the endpoint's connection and its own cache. */
const credentials = new Map<string, ManagedIdentityCredential>();

/**
 * Few, short retries, as for Key Vault: the SDK's defaults (3 retries from 800 ms, more on 404 and
 * 410) can hold a person at the callback for seconds, and a rotation run retries later itself.
 */
const retryOptions = { maxRetries: 2, retryDelayInMs: 200, maxRetryDelayInMs: 2000 };

/** The managed identity `clientId` names (undefined: the system-assigned one), one per process. */
export function managedIdentityCredential(clientId: string | undefined): ManagedIdentityCredential {
  const key = clientId ?? '';
  let credential = credentials.get(key);
  if (!credential) {
    credential = clientId ? new ManagedIdentityCredential({ clientId, retryOptions }) : new ManagedIdentityCredential({ retryOptions });
    credentials.set(key, credential);
  }
  return credential;
}

/**
 * A token of this app's managed identity for `api://AzureADTokenExchange`: the assertion Entra
 * accepts from the CPV app once the app trusts the identity. `clientId` names the user-assigned
 * identity (AZURE_CLIENT_ID); undefined asks for the system-assigned one.
 */
export async function tokenExchangeToken(clientId: string | undefined): Promise<{ token: string; expiresOnTimestamp: number }> {
  const token = await managedIdentityCredential(clientId).getToken(tokenExchangeScope);
  return { token: token.token, expiresOnTimestamp: token.expiresOnTimestamp };
}
