/** What every endpoint handler of the simulator works with. */
import { consentCovers, permissionsOf } from './consent';
import type { FaultBook } from './faults';
import type { SimulatorState } from './state';
import type { StatsCounter } from './stats';
import type { SimulatedClient } from './types';

export interface SimulatorContext {
  /** https://localhost:PORT, the advertised origin (issuer, endpoints). */
  baseUrl: string;
  /** Registered clients by lower-cased client id. */
  clients: ReadonlyMap<string, SimulatedClient>;
  state: SimulatorState;
  faults: FaultBook;
  stats: StatsCounter;
}

export function findClient(ctx: SimulatorContext, clientId: string | null | undefined): SimulatedClient | undefined {
  return clientId ? ctx.clients.get(clientId.toLowerCase()) : undefined;
}

/**
 * Whether consent for the app covers every resource scope of the request: the tenant's admin consent, or
 * (with `oid`) that user's consent for themself.
 */
export function consentCoversRequest(ctx: SimulatorContext, client: SimulatedClient, tenant: string, scope: string, oid?: string): boolean {
  const consent = ctx.state.consentOf(client.clientId, tenant);
  // A consent from an older state file has no scope list: it covered the app's configured permissions.
  if (consent !== undefined && consentCovers(consent.scopes ?? permissionsOf(client), scope)) return true;
  const own = oid === undefined ? undefined : ctx.state.userConsentOf(client.clientId, tenant, oid);
  return own !== undefined && consentCovers(own.scopes, scope);
}
