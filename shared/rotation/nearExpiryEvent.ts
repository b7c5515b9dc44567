/**
 * Key Vault's SecretNearExpiry as the near-expiry queue hands it over: an Event Grid event
 * (Event Grid schema: `subject` is the secret's name, `data` is `{ Id, VaultName, ObjectType,
 * ObjectName, Version, NBF, EXP }`, times in unix seconds). Event Grid writes one event per queue
 * message; an array of events (the form Microsoft Learn prints its examples in) is read as well,
 * each element on its own. `NBF`/`EXP` are numbers in the SDK types and in the Event Grid
 * specification, strings (`"1559082102"`) in Learn's example and in the specification's own
 * example (test/contracts/azure-rest-api-specs): both are read. Parsing returns results and never
 * throws: whatever is not such an event for a token of this environment is dropped.
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
  /** Neither a JSON object (or array) nor a JSON or base64 string of one. */
  | 'unreadable'
  /** JSON, but not an Event Grid event about a Key Vault secret (an empty array, an array in an array). */
  | 'not-an-event'
  /** Another event type than SecretNearExpiry. */
  | 'other-event-type'
  /** A secret that is not a refresh token's (the name is not exactly `refresh-token-{env}-{MP-…}`). */
  | 'not-a-token-secret'
  /** A token of the other environment: not this deployment's to rotate. */
  | 'other-environment';

/** Where an event sat in its message: `batchSize` only for an array, so the logs say whether arrays ever arrive. */
interface Placement {
  form: MessageForm;
  /** The number of elements of the array the event came in. */
  batchSize?: number;
}

export type ParsedNearExpiry =
  | ({ kind: 'event'; event: NearExpiryEvent } & Placement)
  | ({ kind: 'dropped'; reason: DropReason; eventId?: string; environment?: Environment; marketplace?: string } & Partial<Placement>);

/** A queue message is at most 64 KiB; its base64 is 4/3 of that. Anything longer is not one event. */
const maxMessageChars = 90_000;

/** The largest time a Date holds, in unix seconds. */
const maxUnixSeconds = 8_640_000_000_000;

const guid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const envelopeSchema = z.object({ id: z.optional(z.string()), eventType: z.string(), subject: z.string(), data: z.unknown() });

// Only the name and version decide; `EXP` is only logged and `NBF` not read, so neither form, nor
// a value neither form fits, drops an event: that would silently remove the second trigger.
const secretDataSchema = z.object({
  ObjectType: z.literal('Secret'),
  ObjectName: z.string(),
  // Key Vault version ids are 32 hex digits; nothing else reaches a log.
  Version: z.string().check(z.regex(/^[0-9a-f]{32}$/i)),
  EXP: z.optional(z.unknown()),
});

/** `EXP` as an ISO time: unix seconds as a number or as the decimal string Learn's example writes; undefined otherwise. */
function expiryOf(exp: unknown): string | undefined {
  const seconds = typeof exp === 'number' ? exp : typeof exp === 'string' && /^-?[0-9]{1,16}$/.test(exp) ? Number(exp) : undefined;
  return seconds !== undefined && Number.isInteger(seconds) && Math.abs(seconds) <= maxUnixSeconds
    ? new Date(seconds * 1000).toISOString()
    : undefined;
}

type Decoded = { value: object; form: MessageForm };

/** The message as a value (an object, or an array of them), and the form it came in; undefined when it is none of the three forms. */
export function decodeQueueMessage(message: unknown): Decoded | undefined {
  if (message instanceof Uint8Array) return decodeText(Buffer.from(message).toString('utf8'));
  if (typeof message === 'string') return decodeText(message);
  if (typeof message === 'object' && message !== null) return { value: message, form: 'object' };
  return undefined;
}

function decodeText(raw: string): Decoded | undefined {
  const text = raw.trim();
  if (text.length === 0 || text.length > maxMessageChars) return undefined;
  if (isJsonContainer(text)) return jsonValue(text, 'json');
  if (text.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(text)) return undefined;
  return jsonValue(Buffer.from(text, 'base64').toString('utf8').trim(), 'base64');
}

const isJsonContainer = (text: string) => text.startsWith('{') || text.startsWith('[');

function jsonValue(text: string, form: MessageForm): Decoded | undefined {
  if (!isJsonContainer(text)) return undefined;
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null ? { value, form } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Reads one queue message: each SecretNearExpiry of a token of `environment` in it, or why it is
 * dropped. One result for an event (or for a message that is none); one per element for an array.
 */
export function parseNearExpiryMessage(message: unknown, environment: Environment): ParsedNearExpiry[] {
  const decoded = decodeQueueMessage(message);
  if (!decoded) return [{ kind: 'dropped', reason: 'unreadable' }];
  const { value, form } = decoded;
  if (!Array.isArray(value)) return [parseEvent(value, environment, { form })];
  // An empty array says nothing at all; logged like any message that is not an event.
  if (value.length === 0) return [{ kind: 'dropped', reason: 'not-an-event', form, batchSize: 0 }];
  return value.map((element: unknown) => parseEvent(element, environment, { form, batchSize: value.length }));
}

/** One element: an Event Grid event, never an array in an array. */
function parseEvent(value: unknown, environment: Environment, placement: Placement): ParsedNearExpiry {
  const envelope = envelopeSchema.safeParse(value);
  if (!envelope.success || Array.isArray(value)) return { kind: 'dropped', reason: 'not-an-event', ...placement };
  const id = envelope.data.id;
  const eventId = id !== undefined && guid.test(id) ? id : undefined;
  const dropped = (reason: DropReason, extra: { environment?: Environment; marketplace?: string } = {}): ParsedNearExpiry => ({
    kind: 'dropped',
    reason,
    ...placement,
    ...(eventId ? { eventId } : {}),
    ...extra,
  });
  if (envelope.data.eventType !== secretNearExpiryEventType) return dropped('other-event-type');
  const data = secretDataSchema.safeParse(envelope.data.data);
  if (!data.success || data.data.ObjectName !== envelope.data.subject) return dropped('not-an-event');
  const token = parseTokenSecretName(envelope.data.subject);
  if (!token) return dropped('not-a-token-secret');
  if (token.environment !== environment) return dropped('other-environment', token);
  const expiresAt = expiryOf(data.data.EXP);
  return {
    kind: 'event',
    ...placement,
    event: {
      environment,
      marketplace: token.marketplace,
      version: data.data.Version.toLowerCase(),
      ...(expiresAt ? { expiresAt } : {}),
      ...(eventId ? { eventId } : {}),
    },
  };
}
