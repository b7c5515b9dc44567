/**
 * The only file that imports @azure/storage-blob: Lease Blob on the app's own storage account,
 * one empty blob per token in the container `token-leases`. shared/storage/open.ts loads it on
 * first use, so a cold start that takes no lease never loads the SDK.
 */
import type { TokenCredential } from '@azure/core-auth';
import { BlobServiceClient, type ContainerClient, type StoragePipelineOptions } from '@azure/storage-blob';
import type { StorageConnection } from './connection';
import type { LeaseBlobs } from './lease';
import { statusOf, storageError, storageErrorCode } from './storageError';

/** The container of the lease blobs (infra/core/storage.bicep creates it in Azure; a local account gets it on first use). */
export const leaseContainerName = 'token-leases';

/**
 * Few, short tries: a lease is asked for while a person waits, or by a run that will simply try
 * the token later. The SDK's default (4 tries, long timeouts) could hold a page for a minute.
 */
const pipelineOptions: StoragePipelineOptions = {
  retryOptions: { maxTries: 3, tryTimeoutInMs: 5_000, retryDelayInMs: 200, maxRetryDelayInMs: 1_000 },
};

export function blobLeases(connection: StorageConnection, credential: () => TokenCredential): LeaseBlobs {
  const service =
    connection.kind === 'connection-string'
      ? BlobServiceClient.fromConnectionString(connection.connectionString, pipelineOptions)
      : new BlobServiceClient(connection.blobUrl, credential(), pipelineOptions);
  const container = service.getContainerClient(leaseContainerName);
  let ready: Promise<ContainerClient> | undefined = connection.kind === 'identity' ? Promise.resolve(container) : undefined;
  const containerReady = () => {
    ready ??= container.createIfNotExists().then(
      () => container,
      (err: unknown) => {
        ready = undefined;
        throw storageError('createContainer', err);
      },
    );
    return ready;
  };

  return {
    async acquire(name, seconds) {
      const blob = (await containerReady()).getBlockBlobClient(name);
      const lease = blob.getBlobLeaseClient();
      try {
        return (await lease.acquireLease(seconds)).leaseId;
      } catch (err) {
        if (storageErrorCode(err) === 'LeaseAlreadyPresent') return undefined;
        if (statusOf(err) !== 404) throw storageError('acquireLease', err);
      }
      // The token's first lease: its blob is created once, then leased. Two instances may both
      // create it; the second finds it there (409, or 412 if the first already leased it).
      try {
        await blob.upload('', 0, { conditions: { ifNoneMatch: '*' } });
      } catch (err) {
        const status = statusOf(err);
        if (status !== 409 && status !== 412) throw storageError('createLeaseBlob', err);
      }
      try {
        return (await lease.acquireLease(seconds)).leaseId;
      } catch (err) {
        if (storageErrorCode(err) === 'LeaseAlreadyPresent') return undefined;
        throw storageError('acquireLease', err);
      }
    },
    async renew(name, leaseId) {
      try {
        await container.getBlockBlobClient(name).getBlobLeaseClient(leaseId).renewLease();
        return true;
      } catch (err) {
        // The lease lapsed and another holder took it, or it was broken: it is not ours any more.
        if (statusOf(err) === 409) return false;
        throw storageError('renewLease', err);
      }
    },
    async release(name, leaseId) {
      try {
        await container.getBlockBlobClient(name).getBlobLeaseClient(leaseId).releaseLease();
      } catch (err) {
        throw storageError('releaseLease', err);
      }
    },
  };
}
