/**
 * Key Vault's SecretNearExpiry as the near-expiry queue hands it over: one Event Grid event per
 * message (Event Grid schema: `subject` is the secret's name, `data` is `{ Id, VaultName,
 * ObjectType, ObjectName, Version, NBF, EXP }`, times in unix seconds). Parsing returns a result
 * and never throws: whatever is not such an event for a token of this environment is dropped.
 */
import * as z from '../zod';
import { parseTokenSecretName } from '../secrets/store';
import type { Environment } from '../settings';

export { nearExpiryQueueName } from './nearExpiryQueue';

export const secretNearExpiryEventType = 'Microsoft.KeyVault.SecretNearExpiry';

/**
 * How the message arrived. The Functions host hands a JSON message over parsed (`object`);
 * Microsoft's documentation disagrees on whether Event Grid writes the event as plain JSON or as
 * base64 of it, so a JSON string (`json`) and base64 of JSON (`base64`) are read too. Logged, so
 * the telemetry says which form Event Grid really writes.
 */
export type MessageForm = 'object' | 'json' | 'base64';

export interface NearExpiryEvent {
  environment: Environment;
  /** A valid marketplace ID: the secret name is exactly tokenSecretName(marketplace, environment). */
  marketplace: string;
  /** The Key Vault version near its expiry: an identifier, not a value. */
  version: string;
  /** That version's `exp`, ISO. */
  expiresAt?: string;
  /** Event Grid's id of the event, when it is a GUID. */
  eventId?: string;
}

export type DropReason =
  /** Neither a JSON object nor a JSON or base64 string of one. */
  | 'unreadable'
  /** JSON, but not an Event Grid event about a Key Vault secret. */
  | 'not-an-event'
  /** Another event type than SecretNearExpiry. */
  | 'other-event-type'
  /** A secret that is not a refresh token's (the name is not exactly `refresh-token-{env}-{MP-…}`). */
  | 'not-a-token-secret'
  /** A token of the other environment: not this deployment's to rotate. */
  | 'other-environment';

export type ParsedNearExpiry =
  | { kind: 'event'; form: MessageForm; event: NearExpiryEvent }
  | { kind: 'dropped'; reason: DropReason; form?: MessageForm; eventId?: string; environment?: Environment; marketplace?: string };

/** A queue message is at most 64 KiB; its base64 is 4/3 of that. Anything longer is not one event. */
const maxMessageChars = 90_000;

/** The largest time a Date holds, in unix seconds. */
const maxUnixSeconds = 8_640_000_000_000;

const guid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const envelopeSchema = z.object({ id: z.optional(z.string()), eventType: z.string(), subject: z.string(), data: z.unknown() });

const secretDataSchema = z.object({
  ObjectType: z.literal('Secret'),
  ObjectName: z.string(),
  // Key Vault version ids are 32 hex digits; nothing else reaches a log.
  Version: z.string().check(z.regex(/^[0-9a-f]{32}$/i)),
  EXP: z.optional(z.nullable(z.int())),
});

/** The message as a value, and the form it came in; undefined when it is none of the three forms. */
export function decodeQueueMessage(message: unknown): { value: object; form: MessageForm } | undefined {
  if (message instanceof Uint8Array) return decodeText(Buffer.from(message).toString('utf8'));
  if (typeof message === 'string') return decodeText(message);
  if (typeof message === 'object' && message !== null && !Array.isArray(message)) return { value: message, form: 'object' };
  return undefined;
}

function decodeText(raw: string): { value: object; form: MessageForm } | undefined {
  const text = raw.trim();
  if (text.length === 0 || text.length > maxMessageChars) return undefined;
  if (text.startsWith('{')) return jsonObject(text, 'json');
  if (text.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(text)) return undefined;
  return jsonObject(Buffer.from(text, 'base64').toString('utf8').trim(), 'base64');
}

function jsonObject(text: string, form: MessageForm): { value: object; form: MessageForm } | undefined {
  if (!text.startsWith('{')) return undefined;
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? { value, form } : undefined;
  } catch {
    return undefined;
  }
}

/** Reads one queue message as a SecretNearExpiry of a token of `environment`, or says why it is dropped. */
export function parseNearExpiryMessage(message: unknown, environment: Environment): ParsedNearExpiry {
  const decoded = decodeQueueMessage(message);
  if (!decoded) return { kind: 'dropped', reason: 'unreadable' };
  const { form } = decoded;
  const envelope = envelopeSchema.safeParse(decoded.value);
  if (!envelope.success) return { kind: 'dropped', reason: 'not-an-event', form };
  const id = envelope.data.id;
  const eventId = id !== undefined && guid.test(id) ? id : undefined;
  const dropped = (reason: DropReason, extra: { environment?: Environment; marketplace?: string } = {}): ParsedNearExpiry => ({
    kind: 'dropped',
    reason,
    form,
    ...(eventId ? { eventId } : {}),
    ...extra,
  });
  if (envelope.data.eventType !== secretNearExpiryEventType) return dropped('other-event-type');
  const data = secretDataSchema.safeParse(envelope.data.data);
  if (!data.success || data.data.ObjectName !== envelope.data.subject) return dropped('not-an-event');
  const token = parseTokenSecretName(envelope.data.subject);
  if (!token) return dropped('not-a-token-secret');
  if (token.environment !== environment) return dropped('other-environment', token);
  const exp = data.data.EXP;
  return {
    kind: 'event',
    form,
    event: {
      environment,
      marketplace: token.marketplace,
      version: data.data.Version.toLowerCase(),
      ...(typeof exp === 'number' && Math.abs(exp) <= maxUnixSeconds ? { expiresAt: new Date(exp * 1000).toISOString() } : {}),
      ...(eventId ? { eventId } : {}),
    },
  };
}
