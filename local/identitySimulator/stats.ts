/** Counters that tests and benchmarks read to see what the service actually asked of "Microsoft". */
import { ACCOUNT_KINDS } from './accounts';
import type { AccountKind, SimulatorStats } from './types';

export class StatsCounter {
  private s: SimulatorStats = StatsCounter.empty();

  static empty(): SimulatorStats {
    return {
      tokenCalls: { authorization_code: 0, refresh_token: 0, other: 0, total: 0 },
      tokenErrors: {},
      codesIssued: 0,
      refreshTokensIssued: 0,
      consentsGranted: 0,
      signIns: {
        total: 0,
        withoutMfa: 0,
        byAccount: Object.fromEntries(ACCOUNT_KINDS.map((k) => [k, 0])) as Record<AccountKind, number>,
        byPrompt: {},
      },
      interactiveConsent: { prompted: 0, grantedForOrganization: 0, grantedForUser: 0, declined: 0, needAdminApproval: 0 },
      unsupportedParameters: {},
      clientAuthentications: { secret: 0, certificate: 0, federated: 0 },
      managedIdentityTokensMinted: 0,
    };
  }

  tokenCall(grantType: string | null): void {
    const key = grantType === 'authorization_code' || grantType === 'refresh_token' ? grantType : 'other';
    this.s.tokenCalls[key]++;
    this.s.tokenCalls.total++;
  }

  tokenError(error: string): void {
    this.s.tokenErrors[error] = (this.s.tokenErrors[error] ?? 0) + 1;
  }

  codeIssued(): void {
    this.s.codesIssued++;
  }

  refreshTokenIssued(): void {
    this.s.refreshTokensIssued++;
  }

  consentGranted(): void {
    this.s.consentsGranted++;
  }

  signedIn(account: AccountKind, withoutMfa: boolean, prompt: string | null): void {
    this.s.signIns.total++;
    this.s.signIns.byAccount[account]++;
    const key = prompt ?? '(none)';
    this.s.signIns.byPrompt[key] = (this.s.signIns.byPrompt[key] ?? 0) + 1;
    if (withoutMfa) this.s.signIns.withoutMfa++;
  }

  interactiveConsent(what: keyof SimulatorStats['interactiveConsent']): void {
    this.s.interactiveConsent[what]++;
  }

  unsupportedParameter(name: string): void {
    this.s.unsupportedParameters[name] = (this.s.unsupportedParameters[name] ?? 0) + 1;
  }

  clientAuthenticated(method: 'secret' | 'certificate' | 'federated'): void {
    this.s.clientAuthentications[method]++;
  }

  managedIdentityTokenMinted(): void {
    this.s.managedIdentityTokensMinted++;
  }

  /** A copy: callers compare snapshots without seeing later changes. */
  snapshot(): SimulatorStats {
    return structuredClone(this.s);
  }

  reset(): void {
    this.s = StatsCounter.empty();
  }
}
