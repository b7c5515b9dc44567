import { z } from 'zod';

/**
 * Fault injection and throttling for the Key Vault fake. Rules are queued and consumed one
 * request at a time, so a test can say "the next 2 writes get 429" and nothing more.
 */

/** What a request does, as the fake counts and faults it. `msi` is the managed-identity endpoint. */
export const requestKinds = ['read', 'write', 'list', 'patch', 'msi'] as const;
export type RequestKind = (typeof requestKinds)[number];

/**
 * What an injected fault does:
 * - `throttle`: 429 Throttled with Retry-After;
 * - `unavailable`: 503 ServiceUnavailable (Retry-After only when given);
 * - `error`: 500 InternalServerError;
 * - `hang`: never answers (the client's timeout decides).
 */
export const faultEffects = ['throttle', 'unavailable', 'error', 'hang'] as const;
export type FaultEffect = (typeof faultEffects)[number];

/** JSON shape of one fault rule (also what `POST /_fake/faults` accepts in `add`). */
export const faultRuleSchema = z.object({
  /** Which requests it hits; `any` means any vault request (not `msi`). */
  kind: z.enum([...requestKinds, 'any']),
  effect: z.enum(faultEffects),
  /** How many of the next matching requests it hits. */
  count: z.number().int().min(1).max(1_000_000).default(1),
  retryAfterSeconds: z.number().int().min(0).max(3600).optional(),
  /**
   * Writes and patches only: apply the change first, then fail or hang. Proves that a caller
   * which saw an error re-reads instead of assuming nothing was written.
   */
  afterCommit: z.boolean().default(false),
});
export type FaultRule = z.infer<typeof faultRuleSchema>;
export type FaultRuleInput = z.input<typeof faultRuleSchema>;

/** A fault as applied to one request. */
export type AppliedFault = Omit<FaultRule, 'count'>;

/** JSON body of `POST /_fake/faults`. */
export const faultCommandSchema = z.object({
  clear: z.boolean().optional(),
  add: z.union([faultRuleSchema, z.array(faultRuleSchema)]).optional(),
  latency: z.object({ ms: z.number().int().min(0).max(600_000), kind: z.enum([...requestKinds, 'any']).default('any') }).optional(),
});
export type FaultCommand = z.input<typeof faultCommandSchema>;

/** What the fault switches are set to right now. */
export interface FaultState {
  rules: FaultRule[];
  latencyMs: Partial<Record<RequestKind | 'any', number>>;
}

function matches(rule: FaultRule, kind: RequestKind): boolean {
  return rule.kind === kind || (rule.kind === 'any' && kind !== 'msi');
}

/** The fault switches of one fake; tests use the methods, other processes `POST /_fake/faults`. */
export class FaultControl {
  private rules: FaultRule[] = [];
  private latency: Partial<Record<RequestKind | 'any', number>> = {};

  /** Queues a rule; rules are consumed in the order they were added. */
  add(rule: FaultRuleInput): void {
    this.rules.push(faultRuleSchema.parse(rule));
  }

  /** The next `count` requests of `kind` get 429 Throttled with `Retry-After: retryAfterSeconds`. */
  throttle(kind: RequestKind | 'any', count = 1, retryAfterSeconds = 1): void {
    this.add({ kind, effect: 'throttle', count, retryAfterSeconds });
  }

  /** The next `count` requests of `kind` get 503 (with Retry-After when given). */
  unavailable(kind: RequestKind | 'any', count = 1, retryAfterSeconds?: number): void {
    this.add({ kind, effect: 'unavailable', count, ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }) });
  }

  /** The next `count` requests of `kind` get 500; with afterCommit the write is applied first. */
  error(kind: RequestKind | 'any', count = 1, options: { afterCommit?: boolean } = {}): void {
    this.add({ kind, effect: 'error', count, afterCommit: options.afterCommit ?? false });
  }

  /** The next `count` requests of `kind` are never answered; with afterCommit the write is applied first. */
  hang(kind: RequestKind | 'any', count = 1, options: { afterCommit?: boolean } = {}): void {
    this.add({ kind, effect: 'hang', count, afterCommit: options.afterCommit ?? false });
  }

  /** Adds `ms` of delay to every request of `kind` (0 turns it off). */
  setLatency(ms: number, kind: RequestKind | 'any' = 'any'): void {
    if (ms > 0) this.latency[kind] = ms;
    else delete this.latency[kind];
  }

  /** Removes every rule and all latency. */
  clear(): void {
    this.rules = [];
    this.latency = {};
  }

  /** Applies a `POST /_fake/faults` command. */
  apply(command: FaultCommand): void {
    const parsed = faultCommandSchema.parse(command);
    if (parsed.clear) this.clear();
    const added = parsed.add === undefined ? [] : Array.isArray(parsed.add) ? parsed.add : [parsed.add];
    this.rules.push(...added);
    if (parsed.latency) this.setLatency(parsed.latency.ms, parsed.latency.kind);
  }

  /** A copy of the current switches. */
  state(): FaultState {
    return { rules: this.rules.map((r) => ({ ...r })), latencyMs: { ...this.latency } };
  }

  /** Consumes one hit of the first rule matching `kind`, if any. */
  take(kind: RequestKind): AppliedFault | undefined {
    const index = this.rules.findIndex((r) => matches(r, kind));
    const rule = this.rules[index];
    if (!rule) return undefined;
    if (rule.count <= 1) this.rules.splice(index, 1);
    else rule.count -= 1;
    const { count: _count, ...applied } = rule;
    return applied;
  }

  /** Delay for a request of `kind`: the kind's own setting, else the `any` one (vault kinds only). */
  latencyFor(kind: RequestKind): number {
    return this.latency[kind] ?? (kind === 'msi' ? 0 : (this.latency.any ?? 0));
  }
}

/**
 * Key Vault's service limit: at most `max` accepted requests per sliding `windowMs`.
 * Refused requests do not count, as with the real service.
 */
export class SlidingWindowLimiter {
  private accepted: number[] = [];

  constructor(
    readonly max: number,
    readonly windowMs: number,
    private readonly now: () => number,
  ) {}

  /** Counts a request if the window has room; else says how long until it will. */
  tryAcquire(): { ok: true } | { ok: false; retryAfterSeconds: number } {
    const now = this.now();
    this.accepted = this.accepted.filter((t) => t > now - this.windowMs);
    const oldest = this.accepted[0];
    if (this.accepted.length >= this.max && oldest !== undefined) {
      return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((oldest + this.windowMs - now) / 1000)) };
    }
    this.accepted.push(now);
    return { ok: true };
  }

  /** Empties the window. */
  reset(): void {
    this.accepted = [];
  }
}
