/**
 * Which storage account holds the service's shared state, read from the same settings the
 * Functions host reads for `AzureWebJobsStorage`: in Azure an identity-based connection
 * (`AzureWebJobsStorage__accountName`, or the service URIs, with the managed identity named by
 * `AzureWebJobsStorage__clientId`), locally a connection string (Azurite). Pure: no SDK.
 */
import { AppError } from '../errors';
import type { Settings } from '../settings';

export type StorageConnection =
  /** A connection string (Azurite in local mode and tests). It may hold an account key: never logged. */
  | { kind: 'connection-string'; connectionString: string }
  /** The account's endpoints, reached with the Function App's managed identity. */
  | { kind: 'identity'; blobUrl: string; tableUrl: string; clientId?: string };

/** The shared-state account these settings name; throws `settings_invalid` when they name none. */
export function storageConnectionOf(settings: Settings): StorageConnection {
  const connectionString = settings.AzureWebJobsStorage;
  if (connectionString) return { kind: 'connection-string', connectionString };
  const account = settings.AzureWebJobsStorage__accountName;
  const blobUrl = settings.AzureWebJobsStorage__blobServiceUri ?? (account ? `https://${account}.blob.core.windows.net` : undefined);
  const tableUrl = settings.AzureWebJobsStorage__tableServiceUri ?? (account ? `https://${account}.table.core.windows.net` : undefined);
  if (!blobUrl || !tableUrl) {
    throw new AppError(
      'settings_invalid',
      'No storage account for shared state: set AzureWebJobsStorage__accountName (with the managed identity) or AzureWebJobsStorage',
      { field: 'AzureWebJobsStorage' },
    );
  }
  const clientId = settings.AzureWebJobsStorage__clientId;
  return { kind: 'identity', blobUrl, tableUrl, ...(clientId ? { clientId } : {}) };
}

/** A key that tells connections apart in a cache, without the account key a connection string may hold. */
export function connectionKey(connection: StorageConnection): string {
  if (connection.kind === 'identity') return `identity:${connection.blobUrl}|${connection.tableUrl}|${connection.clientId ?? ''}`;
  const endpoints = connection.connectionString
    .split(';')
    .filter((part) => !/^\s*(AccountKey|SharedAccessSignature)\s*=/i.test(part))
    .join(';');
  return `connection-string:${endpoints}`;
}
