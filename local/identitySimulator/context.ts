/** What every endpoint handler of the simulator works with. */
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
