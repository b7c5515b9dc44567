/**
 * The only file that imports @azure/data-tables: the tables of the app's own storage account,
 * behind a narrow port (get, insert-if-absent, replace with an ETag, list a partition, delete).
 * shared/storage/open.ts loads it on first use.
 */
import type { TokenCredential } from '@azure/core-auth';
import { odata, TableClient, type TableServiceClientOptions } from '@azure/data-tables';
import type { StorageConnection } from './connection';
import { statusOf, storageError } from './storageError';

/** What an entity holds besides its keys: strings, numbers and booleans only (no secret, ever). */
export type EntityProperties = Record<string, string | number | boolean>;

export interface Entity {
  partitionKey: string;
  rowKey: string;
  properties: EntityProperties;
  /** The service's version of the entity, for optimistic concurrency. */
  etag: string;
}

/** One table: every call maps Storage failures to StorageError (transient or not), never leaking an entity. */
export interface EntityTable {
  readonly name: string;
  get(partitionKey: string, rowKey: string): Promise<Entity | undefined>;
  /** Inserts unless an entity with these keys exists: `exists` then, and nothing is written. */
  insert(partitionKey: string, rowKey: string, properties: EntityProperties): Promise<'inserted' | 'exists'>;
  /**
   * Writes the entity whole. With `etag`: only if it is still that version (else `conflict`);
   * with `etag: null`: only if it does not exist yet (else `conflict`); without: unconditionally.
   */
  replace(partitionKey: string, rowKey: string, properties: EntityProperties, etag?: string | null): Promise<'written' | 'conflict'>;
  /** The entities of a partition in row-key order: all, the first `top`, or those last written before `olderThan`. */
  list(partitionKey: string, options?: { top?: number; olderThan?: Date }): Promise<Entity[]>;
  delete(partitionKey: string, rowKey: string): Promise<void>;
}

/**
 * Few, short retries: a person may be waiting (the callback's replay check), and a rotation run
 * retries later itself.
 */
const clientOptions: TableServiceClientOptions = { retryOptions: { maxRetries: 2, retryDelayInMs: 200, maxRetryDelayInMs: 1_000 } };

/** No table call outlives this: a hung connection must not hold a person at the callback. */
const requestTimeoutMs = 5_000;
const timeout = () => ({ abortSignal: AbortSignal.timeout(requestTimeoutMs) });

const systemProperties = new Set(['partitionKey', 'rowKey', 'etag', 'timestamp', 'odata.metadata']);

function propertiesOf(entity: Record<string, unknown>): EntityProperties {
  const properties: EntityProperties = {};
  for (const [key, value] of Object.entries(entity)) {
    if (systemProperties.has(key)) continue;
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') properties[key] = value;
  }
  return properties;
}

function isLoopbackHttp(connectionString: string): boolean {
  return /(Table|Blob)Endpoint=http:\/\/(127\.0\.0\.1|localhost)[:/]/i.test(connectionString) || /UseDevelopmentStorage=true/i.test(connectionString);
}

/**
 * Opens tables of the account. In Azure they exist before the code does (infra/core/storage.bicep)
 * and the app's role covers their entities only; a local account (a connection string: Azurite)
 * gets each table created on first use in this process.
 */
export function storageTables(connection: StorageConnection, credential: () => TokenCredential): (name: string) => EntityTable {
  const open = (name: string): TableClient =>
    connection.kind === 'connection-string'
      ? TableClient.fromConnectionString(connection.connectionString, name, {
          ...clientOptions,
          // Azurite serves plain http on loopback; the SDK refuses http unless told.
          ...(isLoopbackHttp(connection.connectionString) ? { allowInsecureConnection: true } : {}),
        })
      : new TableClient(connection.tableUrl, name, credential(), clientOptions);
  const tables = new Map<string, EntityTable>();
  return (name) => {
    let table = tables.get(name);
    if (!table) {
      table = entityTable(name, open(name), connection.kind === 'connection-string');
      tables.set(name, table);
    }
    return table;
  };
}

function entityTable(name: string, client: TableClient, create: boolean): EntityTable {
  let ready: Promise<void> | undefined = create ? undefined : Promise.resolve();
  const exists = () => {
    // createTable does nothing when the table exists (the SDK swallows TableAlreadyExists).
    ready ??= client.createTable(timeout()).catch((err: unknown) => {
      ready = undefined;
      throw storageError(`createTable ${name}`, err);
    });
    return ready;
  };
  const call = async <T>(operation: string, fn: () => Promise<T>): Promise<T> => {
    await exists();
    try {
      return await fn();
    } catch (err) {
      throw storageError(`${operation} ${name}`, err);
    }
  };

  return {
    name,
    async get(partitionKey, rowKey) {
      await exists();
      try {
        const entity = await client.getEntity(partitionKey, rowKey, timeout());
        return { partitionKey, rowKey, properties: propertiesOf(entity), etag: entity.etag };
      } catch (err) {
        if (statusOf(err) === 404) return undefined;
        throw storageError(`get ${name}`, err);
      }
    },
    async insert(partitionKey, rowKey, properties) {
      await exists();
      try {
        await client.createEntity({ partitionKey, rowKey, ...properties }, timeout());
        return 'inserted';
      } catch (err) {
        if (statusOf(err) === 409) return 'exists';
        throw storageError(`insert ${name}`, err);
      }
    },
    async replace(partitionKey, rowKey, properties, etag) {
      await exists();
      const entity = { partitionKey, rowKey, ...properties };
      try {
        if (etag === null) await client.createEntity(entity, timeout());
        else if (etag === undefined) await client.upsertEntity(entity, 'Replace', timeout());
        else await client.updateEntity(entity, 'Replace', { etag, ...timeout() });
        return 'written';
      } catch (err) {
        const status = statusOf(err);
        // 412: someone wrote it since we read it; 409: someone created it first.
        if ((etag !== undefined && status === 412) || (etag === null && status === 409)) return 'conflict';
        throw storageError(`replace ${name}`, err);
      }
    },
    list(partitionKey, options = {}) {
      return call('list', async () => {
        const clauses = [odata`PartitionKey eq ${partitionKey}`];
        if (options.olderThan !== undefined) clauses.push(odata`Timestamp lt ${options.olderThan}`);
        const found: Entity[] = [];
        const pages = client
          .listEntities({ queryOptions: { filter: clauses.join(' and ') }, ...timeout() })
          .byPage({ maxPageSize: Math.min(options.top ?? 1000, 1000) });
        for await (const page of pages) {
          for (const e of page) {
            found.push({ partitionKey: e.partitionKey ?? partitionKey, rowKey: e.rowKey ?? '', properties: propertiesOf(e), etag: e.etag });
            if (options.top !== undefined && found.length >= options.top) return found;
          }
        }
        return found;
      });
    },
    async delete(partitionKey, rowKey) {
      await exists();
      try {
        await client.deleteEntity(partitionKey, rowKey, timeout());
      } catch (err) {
        if (statusOf(err) === 404) return;
        throw storageError(`delete ${name}`, err);
      }
    },
  };
}
