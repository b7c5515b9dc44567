/**
 * A Microsoft Entra ID (v2) identity simulator on loopback HTTPS: it stands in for login.microsoftonline.com
 * in tests, local mode and benchmarks. The real @azure/msal-node works against it, and a browser can click
 * through its sign-in and consent pages.
 */
import type { Server } from 'node:https';
import type { SimulatorContext } from './context';
import type { ControlTarget } from './control';
import { FaultBook } from './faults';
import { accountFor, isGuid } from './ids';
import { closeServers, createRequestListener, listen } from './server';
import { SimulatorState } from './state';
import { StatsCounter } from './stats';
import type { Fault, SimulatedAccount, SimulatedClient, SimulatedClock, SimulatorOptions, SimulatorStats } from './types';

export type { Fault, SimulatedAccount, SimulatedClient, SimulatedClock, SimulatorOptions, SimulatorStats, TokenTarget } from './types';

/** The Partner Center grant the service asks for; the default for minted refresh tokens. */
export const PARTNER_CENTER_SCOPE = 'https://api.partnercenter.microsoft.com/user_impersonation';

/** The fault switches of a running simulator. */
export interface FaultSwitches {
  /** Turns on one or more faults (see {@link Fault}). */
  apply(fault: Fault | Fault[]): void;
  /** Turns all switches off; tokens already expired or revoked stay dead. */
  clear(): void;
}

/** A running simulator. */
export interface IdentitySimulator {
  /** https://localhost:PORT */
  readonly url: string;
  /** The authority msal-node needs for a tenant: `${url}/${tenant}`. */
  authority(tenant: string): string;
  /** The value for msal-node's knownAuthorities: `localhost:PORT`. */
  readonly host: string;
  readonly faults: FaultSwitches;
  /** A snapshot of the counters. */
  readonly stats: SimulatorStats;
  /** Clears faults and stats (not consents, tokens or the clock). */
  reset(): void;
  /** Simulated time for token inactivity and code expiry. */
  readonly clock: SimulatedClock;
  /** Mints a valid refresh token as if the tenant's admin had signed in (rotation tests and benchmarks without a browser). */
  issueRefreshTokenFor(p: { clientId: string; tenant: string; scope?: string }): string;
  /** Records admin consent of a tenant for a (multi-tenant) client, as the Accept button does. */
  grantConsent(clientId: string, tenant: string): void;
  /** Removes that consent: sign-in answers consent_required, refresh answers AADSTS65001. */
  revokeConsent(clientId: string, tenant: string): void;
  hasConsent(clientId: string, tenant: string): boolean;
  /** The user the simulator signs in for a tenant. */
  accountFor(tenant: string): SimulatedAccount;
  /** Stops listening and writes the state file. */
  close(): Promise<void>;
}

/** Starts the simulator on https://localhost:PORT (listening on loopback only). */
export async function startIdentitySimulator(opts: SimulatorOptions): Promise<IdentitySimulator> {
  const clients = new Map<string, SimulatedClient>();
  for (const c of opts.clients) clients.set(c.clientId.toLowerCase(), c);
  const state = SimulatorState.open(opts.stateFile);
  for (const c of opts.consentedTenants ?? []) if (!state.hasConsent(c.clientId, c.tenant)) state.grantConsent(c.clientId, c.tenant);
  const faults = new FaultBook(state);
  const stats = new StatsCounter();

  const ctx: SimulatorContext = { baseUrl: '', clients, state, faults, stats };
  let servers: Server[] = [];

  const issueRefreshTokenFor = (p: { clientId: string; tenant: string; scope?: string }): string => {
    const client = clients.get(p.clientId.toLowerCase());
    if (!client) throw new Error(`Unknown client ${p.clientId}`);
    if (!isGuid(p.tenant)) throw new Error('tenant must be a GUID');
    const scope = p.scope ?? `${PARTNER_CENTER_SCOPE} openid profile offline_access`;
    const token = state.issueRefreshToken({ clientId: client.clientId, tenant: p.tenant, oid: accountFor(p.tenant).oid, scope });
    stats.refreshTokenIssued();
    return token;
  };
  const reset = () => {
    faults.clear();
    stats.reset();
  };

  const control: ControlTarget = {
    applyFaults: (list) => list.forEach((f) => faults.apply(f)),
    clearFaults: () => faults.clear(),
    reset,
    stats: () => stats.snapshot(),
    advanceClock: (ms) => {
      state.clock.advanceMs(ms);
      return state.clock.now();
    },
    setConsent: (clientId, tenant, granted) => (granted ? state.grantConsent(clientId, tenant) : state.revokeConsent(clientId, tenant)),
    issueRefreshTokenFor,
  };

  const listening = await listen(opts.tls, opts.port ?? 0, createRequestListener(ctx, control));
  servers = listening.servers;
  const host = `localhost:${listening.port}`;
  ctx.baseUrl = `https://${host}`;

  return {
    url: ctx.baseUrl,
    host,
    authority: (tenant) => `${ctx.baseUrl}/${tenant}`,
    faults: {
      apply: (f) => (Array.isArray(f) ? f : [f]).forEach((one) => faults.apply(one)),
      clear: () => faults.clear(),
    },
    get stats() {
      return stats.snapshot();
    },
    reset,
    clock: state.clock,
    issueRefreshTokenFor,
    grantConsent: (clientId, tenant) => state.grantConsent(clientId, tenant),
    revokeConsent: (clientId, tenant) => state.revokeConsent(clientId, tenant),
    hasConsent: (clientId, tenant) => state.hasConsent(clientId, tenant),
    accountFor,
    close: async () => {
      await closeServers(servers);
      state.flush();
    },
  };
}
