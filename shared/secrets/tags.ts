/**
 * The tags of a token secret: how they are written and read back, and what makes a secret one of
 * this service's tokens (content type, tags, name). Shared by every store, so they behave alike.
 */
import * as z from '../zod';
import { environments, type Environment } from '../settings';
import {
  marketplaceOfTokenName,
  legacyRunRecordName,
  tokenContentType,
  tokenSecretName,
  type ListedToken,
  type Model,
  type StoredToken,
  type TokenListing,
  type TokenStatus,
  type TokenTags,
} from './store';

// Records keyed by the unions make the compiler flag a status or model added in store.ts but not here.
const tokenStatuses: Record<TokenStatus, true> = { pending: true, active: true, 'needs-reauth': true, 'connect-sync-failed': true };
const models: Record<Model, true> = { CPV: true, CSP: true };
const nonEmpty = () => z.string().check(z.minLength(1));
const enumOf = <T extends string>(record: Record<T, true>) => z.enum(Object.keys(record) as [T, ...T[]]);

/** Tags that make a secret one of our tokens. Unknown extra tags are dropped (Key Vault stores strings only). */
const tokenTagsSchema = z.object({
  marketplace: nonEmpty(),
  environment: z.enum(environments),
  model: enumOf(models),
  tenant: nonEmpty(),
  issuedAt: nonEmpty(),
  rotatedAt: z.optional(nonEmpty()),
  verifiedAt: z.optional(nonEmpty()),
  signer: z.optional(nonEmpty()),
  partner: z.optional(nonEmpty()),
  status: enumOf(tokenStatuses),
  lastError: z.optional(z.string()),
  lastErrorAt: z.optional(z.string()),
  connect: z.optional(z.string()),
  fallback: z.optional(nonEmpty()),
  retire: z.optional(nonEmpty()),
});

const optionalTags = ['rotatedAt', 'verifiedAt', 'signer', 'partner', 'lastError', 'lastErrorAt', 'connect', 'fallback', 'retire'] as const;

/** Token tags as stored: string values only, unset ones left out (Key Vault has no null tags). */
export function tokenTagsToRecord(tags: TokenTags): Record<string, string> {
  const record: Record<string, string> = {};
  for (const [key, value] of Object.entries(tags)) if (value !== undefined) record[key] = String(value);
  return record;
}

/** Tags read back from a secret, or undefined when they are not a token's (such a secret is left alone). */
export function parseTokenTags(record: Record<string, string> | undefined): TokenTags | undefined {
  const parsed = tokenTagsSchema.safeParse(record ?? {});
  if (!parsed.success) return undefined;
  const tags: TokenTags = {
    marketplace: parsed.data.marketplace,
    environment: parsed.data.environment,
    model: parsed.data.model,
    tenant: parsed.data.tenant,
    issuedAt: parsed.data.issuedAt,
    status: parsed.data.status,
  };
  // exactOptionalPropertyTypes-safe: only copy what is present.
  for (const key of optionalTags) {
    const value = parsed.data[key];
    if (value !== undefined) tags[key] = value;
  }
  return tags;
}

/** What a store knows about one version of a secret, in the shape both stores can give. */
export interface SecretVersionParts {
  value: string | undefined;
  version: string | undefined;
  contentType: string | undefined;
  tags: Record<string, string> | undefined;
  createdOn: Date | undefined;
  expiresOn: Date | undefined;
}

/** A stored version as this marketplace's token, or undefined when it is not one (wrong content type, tags or owner). */
export function storedTokenFrom(parts: SecretVersionParts, marketplace: string, environment: Environment): StoredToken | undefined {
  const tags = parseTokenTags(parts.tags);
  if (parts.contentType !== tokenContentType || !tags || !tagsBelongTo(tags, marketplace, environment)) return undefined;
  if (parts.value === undefined || !parts.version || !parts.createdOn) return undefined;
  return {
    marketplace,
    environment,
    value: parts.value,
    version: parts.version,
    tags,
    createdOn: parts.createdOn,
    ...(parts.expiresOn ? { expiresOn: parts.expiresOn } : {}),
  };
}

/** What the listing says of a secret, or undefined when it is not one of this environment's tokens under its own name. */
export function listedTokenFrom(
  parts: {
    name: string;
    contentType?: string | undefined;
    tags?: Record<string, string> | undefined;
    createdOn?: Date | undefined;
    expiresOn?: Date | undefined;
  },
  environment: Environment,
): ListedToken | undefined {
  const tags = parseTokenTags(parts.tags);
  if (parts.contentType !== tokenContentType || !tags || tags.environment !== environment || !parts.createdOn) return undefined;
  // A token's tags under some other name (a copy) are not that marketplace's token.
  if (parts.name !== tokenSecretName(tags.marketplace, environment)) return undefined;
  return { marketplace: tags.marketplace, environment, tags, createdOn: parts.createdOn, ...(parts.expiresOn ? { expiresOn: parts.expiresOn } : {}) };
}

/** What one listed secret adds to an environment's listing, the same way for every store. */
export function addToListing(
  listing: TokenListing,
  parts: {
    name: string;
    enabled?: boolean | undefined;
    contentType?: string | undefined;
    tags?: Record<string, string> | undefined;
    createdOn?: Date | undefined;
    expiresOn?: Date | undefined;
    notBefore?: Date | undefined;
  },
  environment: Environment,
): void {
  if (parts.name === legacyRunRecordName(environment)) return;
  const marketplace = marketplaceOfTokenName(parts.name, environment);
  if (!marketplace) {
    listing.others.push({
      name: parts.name,
      enabled: parts.enabled !== false,
      ...(parts.contentType ? { contentType: parts.contentType } : {}),
      ...(parts.expiresOn ? { expiresOn: parts.expiresOn } : {}),
      ...(parts.notBefore ? { notBefore: parts.notBefore } : {}),
    });
    return;
  }
  if (parts.enabled === false) {
    if (marketplace)
      listing.attention.push({
        marketplace,
        environment,
        reason: 'latest-version-disabled',
        ...(parts.createdOn ? { createdOn: parts.createdOn } : {}),
      });
    return;
  }
  const listed = listedTokenFrom(parts, environment);
  if (listed) listing.tokens.push(listed);
  else if (marketplace)
    listing.attention.push({
      marketplace,
      environment,
      reason: 'not-written-by-this-service',
      ...(parts.createdOn ? { createdOn: parts.createdOn } : {}),
    });
}

/** Versions named in a `retire` tag (or several), without duplicates. */
export function versionList(...values: (string | undefined)[]): string[] {
  return [...new Set(values.flatMap((v) => (v ?? '').split(' ')).filter((v) => /^[0-9A-Za-z]{1,64}$/.test(v)))];
}

/** True when tags describe the token of exactly this marketplace and environment. */
export function tagsBelongTo(tags: TokenTags, marketplace: string, environment: Environment): boolean {
  return tags.marketplace === marketplace && tags.environment === environment;
}
