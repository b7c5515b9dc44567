/**
 * Key Vault's limits on a secret name, value and tags, checked before a write by both stores, so
 * local mode fails like Azure and nothing is half-written.
 */
import { secretNameSchema, type Environment } from '../settings';
import { invalidSecretError, tagsMismatchError } from './storeErrors';
import { tokenSecretName, type TokenTags } from './store';
import { tagsBelongTo, tokenTagsToRecord } from './tags';

/** Key Vault's limits on a secret. The file store enforces them too, so local mode fails like Azure. */
export const secretLimits = {
  maxTags: 15,
  maxTagNameLength: 512,
  maxTagValueLength: 256,
  maxValueBytes: 25 * 1024,
} as const;

/** True for a name Key Vault accepts (`^[0-9a-zA-Z-]{1,127}$`). Also what keeps file-store paths inside their folder. */
export function isSecretName(name: string): boolean {
  return secretNameSchema.safeParse(name).success;
}

/** What is wrong with a write before it is sent, or undefined. Never mentions the value itself. */
export function secretWriteProblem(name: string, value: string, tags: Record<string, string> | undefined): string | undefined {
  if (!isSecretName(name)) return 'the secret name is not a valid Key Vault name';
  if (Buffer.byteLength(value, 'utf8') > secretLimits.maxValueBytes) return `the value is larger than ${secretLimits.maxValueBytes} bytes`;
  const entries = Object.entries(tags ?? {});
  if (entries.length > secretLimits.maxTags) return `more than ${secretLimits.maxTags} tags`;
  const long = entries.find(([k, v]) => k.length > secretLimits.maxTagNameLength || v.length > secretLimits.maxTagValueLength);
  if (long) return `tag '${long[0].slice(0, 64)}' is longer than Key Vault allows`;
  return undefined;
}

/**
 * The checks both stores make before writing a token or its tags: the tags belong to that
 * marketplace and environment, and Key Vault's limits hold. Returns the secret name and the
 * tags as stored; throws an AppError that never mentions the value.
 */
export function prepareTokenWrite(
  operation: 'putToken' | 'updateTokenTags',
  target: { marketplace: string; environment: Environment },
  tags: TokenTags,
  value = '',
): { name: string; record: Record<string, string> } {
  const name = tokenSecretName(target.marketplace, target.environment);
  if (!tagsBelongTo(tags, target.marketplace, target.environment)) throw tagsMismatchError(operation, name);
  const record = tokenTagsToRecord(tags);
  const problem = secretWriteProblem(name, value, record);
  if (problem) throw invalidSecretError(operation, name, problem);
  return { name, record };
}
