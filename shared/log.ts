import type { EventName } from './events';

/** What the service logs to: an InvocationContext satisfies it. */
export interface Logger {
  info(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
}

/**
 * Fields a log event may carry. Deliberately no free-form objects: an event names IDs, classes
 * and counts, so a token, code, verifier, cookie or secret has no field to travel in.
 */
export type EventFields = Record<string, string | number | boolean | undefined>;

/** One structured line: `{"event":"…",…}`; the portal's queries parse it with parse_json(message). */
export function logEvent(logger: Logger, level: 'info' | 'warn' | 'error', event: EventName, fields: EventFields = {}): void {
  const clean: EventFields = {};
  for (const [key, value] of Object.entries(fields)) if (value !== undefined) clean[key] = value;
  logger[level](JSON.stringify({ event, ...clean }));
}
