/**
 * Fault switches of the Connect stand-in. Rules are queued and consumed one matching request at
 * a time, so a test can say "the next 2 writes answer 503" and nothing more.
 */
import { z } from 'zod';

const match = {
  /** Which calls it hits: the write (POST), the read-back (GET), or either (default). */
  method: z.enum(['POST', 'GET']).optional(),
  /** Only calls for this product. */
  product: z
    .string()
    .regex(/^PRD-[0-9]{3}-[0-9]{3}-[0-9]{3}$/)
    .optional(),
  /** How many matching calls it hits. */
  count: z.int().min(1).max(10_000).default(1),
};

/**
 * What an injected fault does:
 * - `unavailable`: 5xx (503 by default), with Retry-After when given;
 * - `throttle`: 429 with Retry-After (1 s by default);
 * - `reject`: 400 / 401 / 403 / 404 with a Connect-shaped body `{"error_code","errors"}`;
 * - `drop`: the connection is closed without an answer (a network failure);
 * - `hang`: never answers (the client's timeout decides);
 * - `lostWrite`: a POST answers 201 but stores nothing (only the read-back can tell).
 */
export const connectFaultSchema = z.discriminatedUnion('kind', [
  z
    .object({
      kind: z.literal('unavailable'),
      status: z.union([z.literal(500), z.literal(502), z.literal(503), z.literal(504)]).default(503),
      retryAfterSeconds: z.int().min(0).max(3600).optional(),
      ...match,
    })
    .strict(),
  z.object({ kind: z.literal('throttle'), retryAfterSeconds: z.int().min(0).max(3600).default(1), ...match }).strict(),
  z
    .object({
      kind: z.literal('reject'),
      status: z.union([z.literal(400), z.literal(401), z.literal(403), z.literal(404)]),
      errorCode: z
        .string()
        .regex(/^[A-Za-z0-9_.-]{1,40}$/)
        .optional(),
      ...match,
    })
    .strict(),
  z.object({ kind: z.literal('drop'), ...match }).strict(),
  z.object({ kind: z.literal('hang'), ...match }).strict(),
  z.object({ kind: z.literal('lostWrite'), ...match, method: z.literal('POST').default('POST') }).strict(),
]);
export type ConnectFault = z.infer<typeof connectFaultSchema>;
export type ConnectFaultInput = z.input<typeof connectFaultSchema>;

/** JSON body of `POST /_connect/faults`: one fault, a list, or `{ latencyMs }`. */
export const faultCommandSchema = z.union([
  connectFaultSchema,
  z.array(connectFaultSchema).max(100),
  z.object({ latencyMs: z.int().min(0).max(120_000) }).strict(),
]);

/** Error codes the stand-in answers with. Made up in Connect's shape; the real API's codes may differ. */
export const standInErrorCodes: Record<400 | 401 | 403 | 404, string> = {
  400: 'VAL_001',
  401: 'AUTH_001',
  403: 'AUTH_002',
  404: 'NFND_000',
};

/** The fault switches of one stand-in. */
export class ConnectFaults {
  latencyMs = 0;
  private rules: ConnectFault[] = [];

  /** Queues a fault; faults are consumed in the order they were added. */
  add(fault: ConnectFaultInput): void {
    this.rules.push(connectFaultSchema.parse(fault));
  }

  /** The next `count` calls answer 503 (or another 5xx), with Retry-After when given. */
  unavailable(
    count = 1,
    options: { status?: 500 | 502 | 503 | 504; retryAfterSeconds?: number; method?: 'POST' | 'GET'; product?: string } = {},
  ): void {
    this.add({ kind: 'unavailable', count, ...options });
  }

  /** The next `count` calls answer 429 with `Retry-After: retryAfterSeconds`. */
  throttle(count = 1, retryAfterSeconds = 1, options: { method?: 'POST' | 'GET'; product?: string } = {}): void {
    this.add({ kind: 'throttle', count, retryAfterSeconds, ...options });
  }

  /** The next `count` calls are refused with `status` and a Connect-shaped error body. */
  reject(status: 400 | 401 | 403 | 404, count = 1, options: { errorCode?: string; method?: 'POST' | 'GET'; product?: string } = {}): void {
    this.add({ kind: 'reject', status, count, ...options });
  }

  /** The next `count` calls lose their connection without an answer. */
  drop(count = 1, options: { method?: 'POST' | 'GET'; product?: string } = {}): void {
    this.add({ kind: 'drop', count, ...options });
  }

  clear(): void {
    this.rules = [];
    this.latencyMs = 0;
  }

  /** Faults still queued (for a test that wants to know all were consumed). */
  pending(): number {
    return this.rules.reduce((n, r) => n + r.count, 0);
  }

  /** Consumes one hit of the first rule matching this call. */
  take(method: string, product: string): ConnectFault | undefined {
    const index = this.rules.findIndex((r) => (r.method === undefined || r.method === method) && (r.product === undefined || r.product === product));
    if (index < 0) return undefined;
    const rule = this.rules[index] as ConnectFault;
    if (rule.count <= 1) this.rules.splice(index, 1);
    else this.rules[index] = { ...rule, count: rule.count - 1 };
    return rule;
  }
}
