/**
 * The service's shared state for these settings: token leases and tables in the app's own
 * storage account, one set per account per process (SDK clients keep connections worth reusing).
 * The Storage SDKs are loaded on first use only: the start page never takes a lease or reads a
 * table, so its cold start never pays for them.
 */
import type * as ManagedIdentityModule from '../identity/managedIdentity';
import type { Settings } from '../settings';
import type * as BlobLeasesModule from './blobLeases';
import { connectionKey, storageConnectionOf } from './connection';
import { TokenLocks } from './lease';
import type * as TablesModule from './tables';
import type { EntityTable } from './tables';

export interface SharedState {
  /** One writer per token, across instances. */
  locks: TokenLocks;
  /** A table of the account, created on first use. */
  table(name: string): EntityTable;
}

const opened = new Map<string, SharedState>();

/** The shared state of this deployment, one per process; throws `settings_invalid` when no storage account is set. */
export function openSharedState(settings: Settings): SharedState {
  const key = connectionKey(storageConnectionOf(settings));
  let state = opened.get(key);
  if (!state) {
    state = newSharedState(settings);
    opened.set(key, state);
  }
  return state;
}

/** A shared state of its own (its own leases and clients): what another instance would have. */
export function newSharedState(settings: Settings): SharedState {
  const connection = storageConnectionOf(settings);
  /* eslint-disable @typescript-eslint/no-require-imports -- deferred on purpose: the Storage SDKs cost cold start */
  const credential = () => {
    const { managedIdentityCredential } = require('../identity/managedIdentity') as typeof ManagedIdentityModule;
    return managedIdentityCredential(connection.kind === 'identity' ? connection.clientId : undefined);
  };
  const { blobLeases } = require('./blobLeases') as typeof BlobLeasesModule;
  const { storageTables } = require('./tables') as typeof TablesModule;
  /* eslint-enable @typescript-eslint/no-require-imports -- only these */
  return { locks: new TokenLocks(blobLeases(connection, credential)), table: storageTables(connection, credential) };
}

/** Forgets the opened accounts (tests that change settings, or play a restarted instance). */
export function resetSharedState(): void {
  for (const state of opened.values()) state.locks.abandonAll();
  opened.clear();
}
