/**
 * The app's own storage account in tests: Azurite (Microsoft's Storage emulator), one per test
 * file (process), shared by the worlds of the file and emptied for each, so no world sees another
 * world's leases, records or queue messages.
 */
import { createServer, type AddressInfo } from 'node:net';
import { BlobServiceClient } from '@azure/storage-blob';
import { TableServiceClient } from '@azure/data-tables';
import { QueueServiceClient } from '@azure/storage-queue';
import { startAzurite, type Azurite } from '../../local/azurite';
import { resetSettingsCache } from '../../shared/settings';
import { leaseContainerName } from '../../shared/storage/blobLeases';
import { resetSharedState } from '../../shared/storage/open';

let azurite: Promise<Azurite> | undefined;

/** This file's Azurite, started on first use. */
export function sharedAzurite(): Promise<Azurite> {
  azurite ??= startAzurite();
  return azurite;
}

// Registered while the test file loads (jest allows hooks only then), stopped after its last test.
if (typeof afterAll === 'function')
  afterAll(async () => {
    const started = azurite;
    azurite = undefined;
    await (await started)?.stop();
  });

/** Deletes every table, container and queue of the account: a fresh storage account. */
export async function emptyStorage(connectionString: string): Promise<void> {
  const tables = TableServiceClient.fromConnectionString(connectionString, { allowInsecureConnection: true });
  for await (const t of tables.listTables()) if (t.name) await tables.deleteTable(t.name);
  const blobs = BlobServiceClient.fromConnectionString(connectionString);
  for await (const c of blobs.listContainers()) {
    // A leased blob keeps its container from being deleted: break the leases first.
    const container = blobs.getContainerClient(c.name);
    for await (const b of container.listBlobsFlat()) {
      if (b.properties.leaseState === 'leased') await container.getBlobClient(b.name).getBlobLeaseClient().breakLease(0);
    }
    await container.delete();
  }
  const queues = QueueServiceClient.fromConnectionString(connectionString);
  for await (const q of queues.listQueues()) await queues.deleteQueue(q.name);
}

/**
 * Ends a lease as if the 15 s it lives without renewal had passed since its holder died (Lease
 * Blob's break, with no break period): tests of a crash need not wait them out.
 */
export async function expireLease(connectionString: string, blobName: string): Promise<void> {
  const blob = BlobServiceClient.fromConnectionString(connectionString).getContainerClient(leaseContainerName).getBlobClient(blobName);
  await blob.getBlobLeaseClient().breakLease(0);
}

/**
 * Runs `fn` while the app's storage account does not answer (the service's settings point at a
 * port nobody listens on), as an instance would see an outage of Storage; then restores it.
 */
export async function withStorageDown<T>(fn: () => Promise<T>): Promise<T> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  const saved = process.env.AzureWebJobsStorage;
  process.env.AzureWebJobsStorage = (saved ?? '').replace(
    /(Blob|Queue|Table)Endpoint=http:\/\/127\.0\.0\.1:\d+/g,
    `$1Endpoint=http://127.0.0.1:${port}`,
  );
  resetSettingsCache();
  resetSharedState();
  try {
    return await fn();
  } finally {
    process.env.AzureWebJobsStorage = saved;
    resetSettingsCache();
    resetSharedState();
  }
}
