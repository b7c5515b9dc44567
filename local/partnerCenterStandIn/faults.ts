/**
 * Fault switches of the Partner Center stand-in. A fault may be limited to one partner tenant (the `tid` of
 * the call's token). Refusals (MFA missing, 403, 401) stand until cleared unless given a `count` — as when a
 * partner loses MFA or a role; 5xx, 429 and dropped connections hit the next `count` calls (default 1).
 */
import { z } from 'zod';

const tenant = z
  .string()
  .regex(/^[0-9a-fA-F-]{36}$/)
  .transform((t) => t.toLowerCase())
  .optional();
const count = z.int().min(1).max(10_000);

export const partnerCenterFaultSchema = z.discriminatedUnion('kind', [
  /** 401 with 900421 whatever the token's amr says (the partner's MFA claim lost on the way). */
  z.object({ kind: z.literal('mfaMissing'), tenant, count: count.optional() }).strict(),
  /** 403: the account lost its Partner Center role. */
  z.object({ kind: z.literal('forbidden'), tenant, count: count.optional() }).strict(),
  /** 401 invalid_token: Partner Center does not accept the token (revoked session, clock, …). */
  z.object({ kind: z.literal('unauthorized'), tenant, count: count.optional() }).strict(),
  /** 5xx, with Retry-After when given. */
  z
    .object({
      kind: z.literal('serverError'),
      status: z.union([z.literal(500), z.literal(502), z.literal(503), z.literal(504)]).default(503),
      count: count.default(1),
      retryAfterSeconds: z.int().min(0).max(3600).optional(),
      tenant,
    })
    .strict(),
  /** 429 with Retry-After. */
  z.object({ kind: z.literal('throttle'), count: count.default(1), retryAfterSeconds: z.int().min(0).max(3600).default(1), tenant }).strict(),
  /** The connection is closed without an answer. */
  z.object({ kind: z.literal('networkFailure'), count: count.default(1), tenant }).strict(),
  /** Delay before every answer (0 turns it off). */
  z.object({ kind: z.literal('latency'), ms: z.int().min(0).max(120_000) }).strict(),
]);
export type PartnerCenterFault = z.infer<typeof partnerCenterFaultSchema>;
export type PartnerCenterFaultInput = z.input<typeof partnerCenterFaultSchema>;
/** A fault that decides a call's answer (every kind but latency). */
export type CallFault = Exclude<PartnerCenterFault, { kind: 'latency' }>;

/** JSON body of `POST /_partnercenter/faults`: one fault or a list. */
export const faultCommandSchema = z.union([partnerCenterFaultSchema, z.array(partnerCenterFaultSchema).max(100)]);

export class PartnerCenterFaults {
  latencyMs = 0;
  private rules: CallFault[] = [];

  add(input: PartnerCenterFaultInput): void {
    const fault = partnerCenterFaultSchema.parse(input);
    if (fault.kind === 'latency') this.latencyMs = fault.ms;
    else this.rules.push(fault);
  }

  clear(): void {
    this.rules = [];
    this.latencyMs = 0;
  }

  /** The rules still active (copies). */
  pending(): CallFault[] {
    return this.rules.map((r) => ({ ...r }));
  }

  /** The first rule for this call's tenant (or for every tenant), consuming one hit of a counted rule. */
  take(tenantId: string | undefined): CallFault | undefined {
    const index = this.rules.findIndex((r) => r.tenant === undefined || r.tenant === tenantId);
    const rule = this.rules[index];
    if (!rule) return undefined;
    if (rule.count !== undefined) {
      if (rule.count <= 1) this.rules.splice(index, 1);
      else this.rules[index] = { ...rule, count: rule.count - 1 };
    }
    return rule;
  }
}
