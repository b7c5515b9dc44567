import { randomBytes } from 'node:crypto';
import { z } from 'zod';

/**
 * The secrets of the Key Vault fake, kept in memory with Key Vault's semantics: every set is a
 * new version, the latest version is the most recently created one, nothing is ever removed.
 */

/** Key Vault's limits on secrets ; the fake enforces them so local runs fail like Azure would. */
export const vaultLimits = {
  namePattern: /^[0-9a-zA-Z-]{1,127}$/,
  maxTags: 15,
  maxTagNameLength: 512,
  maxTagValueLength: 256,
  maxValueBytes: 25 * 1024,
} as const;

/** One stored version. Times are unix seconds, as Key Vault sends them. */
export interface FakeSecretVersion {
  name: string;
  version: string;
  value: string;
  contentType?: string;
  tags?: Record<string, string>;
  enabled: boolean;
  created: number;
  updated: number;
  exp?: number;
  nbf?: number;
  /** The backing secret of a Key Vault certificate (Key Vault marks those `managed`). */
  managed?: boolean;
}

/** A refusal the fake answers with Key Vault's error shape `{ error: { code, message, innererror? } }`. */
export class VaultError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** Key Vault's finer code, sent as `innererror.code` (e.g. `SecretDisabled` under `Forbidden`). */
    readonly innerCode?: string,
  ) {
    super(message);
  }
}

const tagsSchema = z
  .record(z.string().min(1).max(vaultLimits.maxTagNameLength), z.string().max(vaultLimits.maxTagValueLength))
  .refine((t) => Object.keys(t).length <= vaultLimits.maxTags, `at most ${vaultLimits.maxTags} tags`);

const attributesSchema = z
  .object({
    enabled: z.boolean().optional(),
    exp: z.number().int().optional(),
    nbf: z.number().int().optional(),
  })
  .partial();

/** Body of `PUT /secrets/{name}`. */
const setBodySchema = z.object({
  value: z.string(),
  contentType: z.string().max(255).optional(),
  tags: tagsSchema.optional(),
  attributes: attributesSchema.optional(),
});

/** Body of `PATCH /secrets/{name}/{version}`: only the fields present change. */
const updateBodySchema = z.object({
  contentType: z.string().max(255).optional(),
  tags: tagsSchema.optional(),
  attributes: attributesSchema.optional(),
});

function badParameter(message: string): VaultError {
  return new VaultError(400, 'BadParameter', message);
}

function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  const parsed = schema.safeParse(body);
  // Name the field, never echo the body: it carries the secret value.
  if (!parsed.success) throw badParameter(`Invalid request body: ${parsed.error.issues.map((i) => i.path.join('.') || 'body').join(', ')}`);
  return parsed.data;
}

/** Throws Key Vault's 400 for a name Key Vault would refuse. */
export function checkSecretName(name: string): void {
  if (!vaultLimits.namePattern.test(name)) {
    throw badParameter('The request URI contains an invalid name. Names must match ^[0-9a-zA-Z-]{1,127}$');
  }
}

function notFound(name: string, version?: string): VaultError {
  const what = version ? `${name}/${version}` : name;
  return new VaultError(404, 'SecretNotFound', `A secret with (name/id) ${what} was not found in this key vault.`);
}

/** Key Vault version ids are 32 lowercase hex characters. */
const versionIdPattern = /^[0-9a-f]{32}$/;

function newVersionId(): string {
  return randomBytes(16).toString('hex');
}

function copyOf(v: FakeSecretVersion): FakeSecretVersion {
  return { ...v, ...(v.tags ? { tags: { ...v.tags } } : {}) };
}

/** The fake's secret storage. All methods are synchronous; HTTP concerns live in server.ts. */
export class FakeVault {
  /** Versions of each secret in creation order (the last one is the latest). */
  private readonly secrets = new Map<string, FakeSecretVersion[]>();
  /** The names in listing order, kept between requests: a listing of 5,000 secrets asks for 200 pages. */
  private sortedNames: string[] | undefined;

  constructor(private readonly nowSeconds: () => number) {}

  /**
   * `PUT /secrets/{name}`: appends a new version. `origin` is for seeding only, never from a request:
   * `managed` marks a certificate's secret (no client can set it), `version` replays a published
   * example's version id (test/contracts).
   */
  set(name: string, body: unknown, origin: { managed?: boolean; version?: string } = {}): FakeSecretVersion {
    checkSecretName(name);
    const input = parseBody(setBodySchema, body);
    if (Buffer.byteLength(input.value, 'utf8') > vaultLimits.maxValueBytes) {
      throw badParameter(`Secret value is larger than ${vaultLimits.maxValueBytes} bytes.`);
    }
    if (
      origin.version !== undefined &&
      (!versionIdPattern.test(origin.version) || this.secrets.get(name)?.some((v) => v.version === origin.version))
    ) {
      throw new Error(`A seeded version id must be 32 lowercase hex digits, new for ${name}.`);
    }
    const now = this.nowSeconds();
    const version: FakeSecretVersion = {
      name,
      version: origin.version ?? newVersionId(),
      value: input.value,
      enabled: input.attributes?.enabled ?? true,
      created: now,
      updated: now,
      ...(input.contentType !== undefined ? { contentType: input.contentType } : {}),
      ...(input.tags !== undefined ? { tags: { ...input.tags } } : {}),
      ...(input.attributes?.exp !== undefined ? { exp: input.attributes.exp } : {}),
      ...(input.attributes?.nbf !== undefined ? { nbf: input.attributes.nbf } : {}),
      ...(origin.managed ? { managed: true } : {}),
    };
    const versions = this.secrets.get(name) ?? [];
    if (versions.length === 0) this.sortedNames = undefined;
    versions.push(version);
    this.secrets.set(name, versions);
    return copyOf(version);
  }

  /** `GET /secrets/{name}/{version?}`: the given version, or the latest when version is empty. */
  get(name: string, version?: string): FakeSecretVersion {
    checkSecretName(name);
    const found = this.find(name, version);
    if (!found.enabled) {
      throw new VaultError(403, 'Forbidden', 'Operation get is not allowed on a disabled secret.', 'SecretDisabled');
    }
    return copyOf(found);
  }

  /** `PATCH /secrets/{name}/{version}`: replaces the fields present in the body (tags as a whole). */
  update(name: string, version: string, body: unknown): FakeSecretVersion {
    checkSecretName(name);
    const input = parseBody(updateBodySchema, body);
    const found = this.find(name, version);
    if (input.contentType !== undefined) found.contentType = input.contentType;
    if (input.tags !== undefined) found.tags = { ...input.tags };
    if (input.attributes?.enabled !== undefined) found.enabled = input.attributes.enabled;
    if (input.attributes?.exp !== undefined) found.exp = input.attributes.exp;
    if (input.attributes?.nbf !== undefined) found.nbf = input.attributes.nbf;
    found.updated = this.nowSeconds();
    return copyOf(found);
  }

  /** The latest version of each named secret: one page of `GET /secrets`, copied page by page, not vault by vault. */
  latestOf(names: readonly string[]): FakeSecretVersion[] {
    return names.map((name) => copyOf(this.latest(name)));
  }

  /** Every version of one secret, oldest first; 404 when the name was never set. */
  versionsOf(name: string): FakeSecretVersion[] {
    checkSecretName(name);
    const versions = this.secrets.get(name);
    if (!versions) throw notFound(name);
    return versions.map(copyOf);
  }

  /** Every version of one secret, oldest first; empty when the name was never set. */
  peek(name: string): FakeSecretVersion[] {
    return (this.secrets.get(name) ?? []).map(copyOf);
  }

  /** Names of every stored secret, sorted: the order `GET /secrets` pages through them. */
  names(): readonly string[] {
    this.sortedNames ??= [...this.secrets.keys()].sort();
    return this.sortedNames;
  }

  /** Forgets everything (tests call this between cases). */
  clear(): void {
    this.secrets.clear();
    this.sortedNames = undefined;
  }

  private latest(name: string): FakeSecretVersion {
    const versions = this.secrets.get(name);
    const last = versions?.[versions.length - 1];
    if (!last) throw notFound(name);
    return last;
  }

  private find(name: string, version?: string): FakeSecretVersion {
    if (!version) return this.latest(name);
    const found = this.secrets.get(name)?.find((v) => v.version === version);
    if (!found) throw notFound(name, version);
    return found;
  }
}
