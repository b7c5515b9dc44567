/** The fault switches: what goes wrong on the next calls, and which standing policies refuse which tokens. */
import { sha256Hex } from './ids';
import type { RefreshTokenRecord, SimulatorState } from './state';
import type { Fault, InvalidClientReason, TokenTarget } from './types';

/** How the next token call fails before it is even looked at. */
export type CallFailure = { kind: 'status'; status: 503 | 429; retryAfterSeconds: number } | { kind: 'network' };

/** A standing policy that refuses matching refresh tokens until reset (Conditional Access, or the app's own registration). */
export type PolicyKind = 'signInFrequency' | 'mfaRequired' | 'conditionalAccessBlocked' | 'invalidScope' | 'resourceNotFound' | 'accessDenied';

interface PolicyRule {
  kind: PolicyKind;
  tokenHash?: string;
  tenant?: string;
}

/** Holds the active faults. Token death (expire, revoke) and consent revocation change the directory state itself. */
export class FaultBook {
  latencyMs = 0;
  private callFailures: CallFailure[] = [];
  private readonly invalidClients = new Map<string, InvalidClientReason>();
  /** `clientId|tenant` of apps whose service principal was deleted from a tenant. */
  private readonly removedApps = new Set<string>();
  private policies: PolicyRule[] = [];
  private consentRules: { tenant: string; clientId?: string }[] = [];
  private tenantOverride: string | undefined;
  private readonly missingTenants = new Set<string>();
  /** Client id → federated token calls still to be refused while its new credential propagates. */
  private readonly propagating = new Map<string, number>();

  constructor(private readonly state: SimulatorState) {}

  apply(fault: Fault): void {
    switch (fault.kind) {
      case 'refreshTokenExpired':
        for (const r of this.state.refreshTokensMatching(fault)) r.expired = true;
        this.state.changed();
        return;
      case 'refreshTokenRevoked': {
        const now = this.state.clock.now();
        for (const r of this.state.refreshTokensMatching(fault)) r.revokedAt ??= now;
        this.state.changed();
        return;
      }
      case 'signInFrequency':
      case 'mfaRequired':
      case 'conditionalAccessBlocked':
      case 'invalidScope':
      case 'resourceNotFound':
      case 'accessDenied':
        this.policies.push({ kind: fault.kind, ...ruleTarget(fault) });
        return;
      case 'consentRequired':
        this.consentRules.push({ tenant: fault.tenant.toLowerCase(), ...(fault.clientId ? { clientId: fault.clientId.toLowerCase() } : {}) });
        return;
      case 'consentRevoked':
        this.state.revokeConsent(fault.clientId, fault.tenant);
        return;
      case 'appRemovedFromTenant':
        // Deleting the service principal deletes its permission grants with it.
        this.state.revokeConsent(fault.clientId, fault.tenant);
        this.removedApps.add(appKey(fault.clientId, fault.tenant));
        return;
      case 'transient':
        for (let i = 0; i < positiveInt(fault.count); i++) {
          this.callFailures.push({ kind: 'status', status: fault.status, retryAfterSeconds: fault.retryAfterSeconds ?? 1 });
        }
        return;
      case 'networkFailure':
        for (let i = 0; i < positiveInt(fault.count); i++) this.callFailures.push({ kind: 'network' });
        return;
      case 'invalidClient':
        this.invalidClients.set(fault.clientId.toLowerCase(), fault.reason);
        return;
      case 'latency':
        this.latencyMs = Math.max(0, fault.ms);
        return;
      case 'idTokenTenantOverride':
        this.tenantOverride = fault.tenant.toLowerCase();
        return;
      case 'tenantNotFound':
        this.missingTenants.add(fault.tenant.toLowerCase());
        return;
      case 'federatedCredentialPropagating':
        this.propagating.set(fault.clientId.toLowerCase(), positiveInt(fault.count));
        return;
      default: {
        const unknown: never = fault;
        throw new Error(`Unknown fault ${JSON.stringify(unknown)}`);
      }
    }
  }

  /** Clears the switches; tokens already expired or revoked stay dead (as in Entra). */
  clear(): void {
    this.latencyMs = 0;
    this.callFailures = [];
    this.invalidClients.clear();
    this.removedApps.clear();
    this.policies = [];
    this.consentRules = [];
    this.tenantOverride = undefined;
    this.missingTenants.clear();
    this.propagating.clear();
  }

  /** Whether no directory has this tenant id (the tenantNotFound fault). */
  isTenantMissing(tenant: string): boolean {
    return this.missingTenants.has(tenant.toLowerCase());
  }

  /** Consumes one refusal of a federated assertion while the client's new credential propagates. */
  takeFederatedPropagation(clientId: string): boolean {
    const key = clientId.toLowerCase();
    const left = this.propagating.get(key) ?? 0;
    if (left <= 0) return false;
    if (left === 1) this.propagating.delete(key);
    else this.propagating.set(key, left - 1);
    return true;
  }

  takeCallFailure(): CallFailure | undefined {
    return this.callFailures.shift();
  }

  invalidClientReason(clientId: string): InvalidClientReason | undefined {
    return this.invalidClients.get(clientId.toLowerCase());
  }

  /** Whether the app's service principal is gone from the tenant (the appRemovedFromTenant fault). */
  isAppRemoved(clientId: string, tenant: string): boolean {
    return this.removedApps.has(appKey(clientId, tenant));
  }

  /** An admin consent creates the service principal again. */
  appRestored(clientId: string, tenant: string): void {
    this.removedApps.delete(appKey(clientId, tenant));
  }

  /** The first policy that refuses this token, if any. */
  policyFor(refreshToken: string, record: RefreshTokenRecord): PolicyKind | undefined {
    const hash = sha256Hex(refreshToken);
    return this.policies.find((p) => (p.tokenHash !== undefined ? p.tokenHash === hash : p.tenant === record.tenant))?.kind;
  }

  consentRequiredFor(record: RefreshTokenRecord): boolean {
    return this.consentRules.some((c) => c.tenant === record.tenant && (c.clientId === undefined || c.clientId === record.clientId.toLowerCase()));
  }

  /** One-shot: the tenant the next sign-in's tokens claim to come from. */
  takeTenantOverride(): string | undefined {
    const t = this.tenantOverride;
    this.tenantOverride = undefined;
    return t;
  }
}

const appKey = (clientId: string, tenant: string) => `${clientId.toLowerCase()}|${tenant.toLowerCase()}`;

/** Rules keep the token's hash, never its value. */
function ruleTarget(target: TokenTarget): { tokenHash: string } | { tenant: string } {
  return target.refreshToken !== undefined ? { tokenHash: sha256Hex(target.refreshToken) } : { tenant: target.tenant.toLowerCase() };
}

function positiveInt(n: number): number {
  if (!Number.isInteger(n) || n < 1 || n > 10_000) throw new RangeError('count must be an integer from 1 to 10000');
  return n;
}
