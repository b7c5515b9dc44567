import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, readdir, rename, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import * as z from 'zod';
import { AppError } from '../shared/errors';
import { isSecretName, prepareTokenWrite, secretWriteProblem } from '../shared/secrets/limits';
import { invalidSecretError, notATokenError, SecretStoreError, type SecretStoreOperation } from '../shared/secrets/storeErrors';
import {
  legacyRunRecordName,
  marketplaceOfTokenName,
  tokenContentType,
  tokenSecretName,
  type PutTokenInput,
  type SecretStore,
  type SecretProperties,
  type StoredToken,
  type TokenListing,
  type TokenTags,
  type TokenVersionRef,
} from '../shared/secrets/store';
import { addToListing, storedTokenFrom } from '../shared/secrets/tags';
import type { Environment } from '../shared/settings';

/**
 * The secret store of local mode (LOCAL_SECRET_STORE_DIR): one JSON file per secret holding
 * every version, oldest first, with Key Vault's semantics: a put appends a version, the latest
 * is the last one, tags change in place, times are whole seconds, nothing is ever removed.
 * Local mode only: never in the deployment package, and it refuses to open on Azure.
 */

/** One version as the file keeps it. Times are unix seconds, as Key Vault keeps them. */
export interface FileSecretVersion {
  version: string;
  value: string;
  contentType?: string;
  tags?: Record<string, string>;
  created: number;
  updated: number;
  exp?: number;
  /** Absent means enabled (files written before versions could be disabled). */
  enabled?: boolean;
}

const versionSchema = z.object({
  version: z.string().regex(/^[0-9a-f]{32}$/),
  value: z.string(),
  contentType: z.string().optional(),
  tags: z.record(z.string(), z.string()).optional(),
  created: z.number().int(),
  updated: z.number().int(),
  exp: z.number().int().optional(),
  enabled: z.boolean().optional(),
});
const secretFileSchema = z.object({ name: z.string(), versions: z.array(versionSchema) });
type SecretFile = z.infer<typeof secretFileSchema>;

export interface FileStoreOptions {
  dir: string;
  /** Clock (tests move time without waiting). */
  now?: () => Date;
}

/** Opens the file store in `options.dir` (created on first write). */
export function openFileStore(options: FileStoreOptions): FileSecretStore {
  return new FileSecretStore(options.dir, options.now === undefined ? {} : { now: options.now });
}

/**
 * App Service and Functions set these on every instance they run; a developer machine has none.
 * Tokens on an instance's disk would be readable by anyone with the app's deployment rights and
 * lost on every scale-in, so the file store refuses to run there.
 */
const azureInstanceVariables = ['WEBSITE_INSTANCE_ID', 'WEBSITE_SITE_NAME'];

export function runningInAzure(env: Record<string, string | undefined> = process.env): boolean {
  return azureInstanceVariables.some((name) => Boolean(env[name]));
}

/**
 * Writes per file are serialized within the process, across every store instance (local mode
 * seeds with one instance and serves with another). Separate processes writing the same secret
 * at once are not supported; each write is still atomic, so readers never see half a file.
 */
const fileLocks = new Map<string, Promise<unknown>>();

async function withFileLock<T>(path: string, fn: () => Promise<T>): Promise<T> {
  const previous = fileLocks.get(path) ?? Promise.resolve();
  const run = previous.then(fn, fn);
  const settled = run.catch(() => undefined);
  fileLocks.set(path, settled);
  try {
    return await run;
  } finally {
    if (fileLocks.get(path) === settled) fileLocks.delete(path);
  }
}

const toSeconds = (date: Date) => Math.floor(date.getTime() / 1000);
const fromSeconds = (seconds: number) => new Date(seconds * 1000);

/** SecretStore on local files, for local mode and tests. */
export class FileSecretStore implements SecretStore {
  private readonly dir: string;
  private readonly now: () => Date;

  constructor(dir: string, options: { now?: () => Date; env?: Record<string, string | undefined> } = {}) {
    if (runningInAzure(options.env))
      throw new AppError('settings_invalid', 'The file secret store is for local mode only; set KEY_VAULT_URL on Azure', {
        field: 'LOCAL_SECRET_STORE_DIR',
      });
    this.dir = resolve(dir);
    this.now = options.now ?? (() => new Date());
  }

  async getSecret(name: string): Promise<string | undefined> {
    const latest = (await this.read('getSecret', name))?.versions.at(-1);
    return latest && readable('getSecret', name, latest).value;
  }

  /** Local-mode seeding of plain secrets (client secrets, certificates, the Connect API key): appends a version. */
  async setSecret(
    name: string,
    value: string,
    options: { contentType?: string; tags?: Record<string, string>; expiresOn?: Date } = {},
  ): Promise<FileSecretVersion> {
    const problem = secretWriteProblem(name, value, options.tags);
    if (problem) throw invalidSecretError('setSecret', isSecretName(name) ? name : undefined, problem);
    return this.append('setSecret', name, {
      value,
      ...(options.contentType !== undefined ? { contentType: options.contentType } : {}),
      ...(options.tags !== undefined ? { tags: { ...options.tags } } : {}),
      ...(options.expiresOn !== undefined ? { exp: toSeconds(options.expiresOn) } : {}),
    });
  }

  async getToken(marketplace: string, environment: Environment, version?: string): Promise<StoredToken | undefined> {
    const name = tokenSecretName(marketplace, environment);
    const versions = (await this.read('getToken', name))?.versions ?? [];
    const found = version === undefined ? versions.at(-1) : versions.find((v) => v.version === version);
    if (!found) return undefined;
    const token = toStoredToken(readable('getToken', name, found), marketplace, environment);
    if (!token) throw notATokenError('getToken', name);
    return token;
  }

  async putToken(input: PutTokenInput): Promise<StoredToken> {
    const { name, record: tags } = prepareTokenWrite('putToken', input, input.tags, input.value);
    const stored = await this.append('putToken', name, { value: input.value, contentType: tokenContentType, tags, exp: toSeconds(input.expiresOn) });
    const token = toStoredToken(stored, input.marketplace, input.environment);
    if (!token) throw new AppError('internal', `File store wrote secret '${name}' but cannot read it back as a token`);
    return token;
  }

  async updateTokenTags(token: TokenVersionRef, tags: TokenTags): Promise<void> {
    const { name, record } = prepareTokenWrite('updateTokenTags', token, tags);
    await this.patchVersion('updateTokenTags', name, token.version, (version) => {
      // Like a Key Vault PATCH with only tags: the tag set is replaced, nothing else changes.
      version.tags = record;
    });
  }

  async disableTokenVersion(token: TokenVersionRef): Promise<void> {
    const name = tokenSecretName(token.marketplace, token.environment);
    await this.patchVersion('disableTokenVersion', name, token.version, (version) => {
      version.enabled = false;
    });
  }

  async listTokens(environment: Environment): Promise<TokenListing> {
    const listing: TokenListing = { tokens: [], attention: [], others: [] };
    for (const name of await this.secretNames()) {
      const file = await this.readForListing('listTokens', name);
      if (file === 'unreadable') {
        // One file the process may not read is that secret's problem, never the whole listing's
        // (a Key Vault listing never fails for one secret): a token needs the operator, another
        // secret is listed as unreadable, and everything else carries on.
        const marketplace = marketplaceOfTokenName(name, environment);
        if (marketplace) listing.attention.push({ marketplace, environment, reason: 'unreadable' });
        else if (name !== legacyRunRecordName(environment)) listing.others.push({ name, enabled: true, unreadable: true });
        continue;
      }
      const latest = file?.versions.at(-1);
      if (!latest) continue;
      // The same rules as the Key Vault store's listing (shared/secrets/tags.ts).
      addToListing(
        listing,
        {
          name,
          enabled: latest.enabled !== false,
          contentType: latest.contentType,
          tags: latest.tags,
          createdOn: fromSeconds(latest.created),
          expiresOn: latest.exp === undefined ? undefined : fromSeconds(latest.exp),
        },
        environment,
      );
    }
    return listing;
  }

  /** The name of every secret in the store, sorted. */
  async listSecretNames(): Promise<string[]> {
    return this.secretNames();
  }

  async listSecretProperties(): Promise<SecretProperties[]> {
    const all: SecretProperties[] = [];
    for (const name of await this.secretNames()) {
      const file = await this.readForListing('listSecretProperties', name);
      if (file === 'unreadable') {
        all.push({ name, enabled: true, unreadable: true });
        continue;
      }
      const latest = file?.versions.at(-1);
      if (!latest) continue;
      all.push({
        name,
        enabled: latest.enabled !== false,
        ...(latest.contentType !== undefined ? { contentType: latest.contentType } : {}),
        ...(latest.exp !== undefined ? { expiresOn: fromSeconds(latest.exp) } : {}),
      });
    }
    return all;
  }

  /** Every version of a secret, oldest first; empty when it was never set. */
  async listVersions(name: string): Promise<FileSecretVersion[]> {
    return (await this.read('getSecret', name))?.versions ?? [];
  }

  // ---------------------------------------------------------------- files

  private async patchVersion(
    operation: SecretStoreOperation,
    name: string,
    versionId: string,
    change: (version: FileSecretVersion) => void,
  ): Promise<void> {
    await withFileLock(this.pathOf(name), async () => {
      const file = await this.read(operation, name);
      const version = file?.versions.find((v) => v.version === versionId);
      if (!file || !version) {
        throw new SecretStoreError(
          operation,
          name,
          { statusCode: 404, errorCode: 'SecretNotFound', transient: false },
          `File store ${operation}: secret '${name}' has no version '${versionId}'`,
        );
      }
      change(version);
      version.updated = toSeconds(this.now());
      await this.write(operation, name, file);
    });
  }

  private pathOf(name: string): string {
    // Safe to join: the name matched ^[0-9a-zA-Z-]{1,127}$ (no separators, no dots).
    return join(this.dir, `${name}.json`);
  }

  private async secretNames(): Promise<string[]> {
    let entries: string[];
    try {
      entries = await readdir(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw fileError('listTokens', undefined, err);
    }
    return entries
      .filter((f) => f.endsWith('.json'))
      .map((f) => f.slice(0, -'.json'.length))
      .filter(isSecretName)
      .sort();
  }

  /** For a listing: the file, undefined when it vanished, or `unreadable` (not permitted, broken) instead of failing the whole listing. */
  private async readForListing(operation: SecretStoreOperation, name: string): Promise<SecretFile | undefined | 'unreadable'> {
    try {
      return await this.read(operation, name);
    } catch (err) {
      if (err instanceof SecretStoreError) return 'unreadable';
      throw err;
    }
  }

  /** The secret's file, or undefined when it does not exist. */
  private async read(operation: SecretStoreOperation, name: string): Promise<SecretFile | undefined> {
    if (!isSecretName(name)) throw invalidSecretError(operation, undefined, 'the secret name is not a valid Key Vault name');
    let text: string;
    try {
      text = await readFile(this.pathOf(name), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw fileError(operation, name, err);
    }
    const file = parseSecretFile(text);
    if (file?.name !== name) {
      // No parse details: they could quote the file, which holds secret values.
      throw new SecretStoreError(
        operation,
        name,
        { errorCode: 'CorruptFile', transient: false },
        `File store ${operation}: the file of secret '${name}' is not a valid secret file`,
      );
    }
    return file;
  }

  /** Appends a version (the only way a value is ever written). */
  private async append(
    operation: SecretStoreOperation,
    name: string,
    input: Omit<FileSecretVersion, 'version' | 'created' | 'updated'>,
  ): Promise<FileSecretVersion> {
    return withFileLock(this.pathOf(name), async () => {
      const file = (await this.read(operation, name)) ?? { name, versions: [] };
      const now = toSeconds(this.now());
      const version: FileSecretVersion = { version: randomBytes(16).toString('hex'), ...input, created: now, updated: now };
      file.versions.push(version);
      await this.write(operation, name, file);
      return { ...version };
    });
  }

  /**
   * Atomic replace: write a temporary file, flush it to disk, rename it over the old one. A crash
   * at any point leaves either the old file or the new one, never a torn one (docs/SECURITY.md 15).
   */
  private async write(operation: SecretStoreOperation, name: string, file: SecretFile): Promise<void> {
    const target = this.pathOf(name);
    const temp = join(this.dir, `.${name}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
    try {
      await mkdir(this.dir, { recursive: true, mode: 0o700 });
      const handle = await open(temp, 'wx', 0o600); // the files hold tokens: owner only
      try {
        await handle.writeFile(JSON.stringify(file, null, 2) + '\n', 'utf8');
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temp, target);
    } catch (err) {
      await rm(temp, { force: true }).catch(() => undefined); // only our own temporary file
      throw fileError(operation, name, err);
    }
  }
}

// ---------------------------------------------------------------- mapping and errors (pure)

/** A disabled version cannot be read, as in Key Vault (403 Forbidden). */
function readable(operation: SecretStoreOperation, name: string, version: FileSecretVersion): FileSecretVersion {
  if (version.enabled === false) {
    throw new SecretStoreError(
      operation,
      name,
      { statusCode: 403, errorCode: 'Forbidden', transient: false },
      `File store ${operation}: version '${version.version}' of secret '${name}' is disabled`,
    );
  }
  return version;
}

/** A secret file's content, or undefined when it is not one. */
function parseSecretFile(text: string): SecretFile | undefined {
  try {
    const parsed = secretFileSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

function toStoredToken(v: FileSecretVersion, marketplace: string, environment: Environment): StoredToken | undefined {
  return storedTokenFrom(
    {
      value: v.value,
      version: v.version,
      contentType: v.contentType,
      tags: v.tags,
      createdOn: fromSeconds(v.created),
      expiresOn: v.exp === undefined ? undefined : fromSeconds(v.exp),
    },
    marketplace,
    environment,
  );
}

const transientFileErrors = new Set(['EBUSY', 'EAGAIN', 'EMFILE', 'ENFILE', 'EPERM']); // EPERM: Windows rename races with scanners

function fileError(operation: SecretStoreOperation, secretName: string | undefined, err: unknown): SecretStoreError {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const subject = secretName === undefined ? '' : ` for secret '${secretName}'`;
  return new SecretStoreError(
    operation,
    secretName,
    { ...(code ? { errorCode: code } : {}), transient: code !== undefined && transientFileErrors.has(code) },
    `File store ${operation}${subject} failed: ${code ?? 'unexpected error'}`,
    { cause: err },
  );
}
