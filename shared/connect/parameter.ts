import type { Environment } from '../settings';

/** The Connect parameter a token of this environment belongs in: `refresh_token_test` / `refresh_token_production`. */
export function connectParameterOf(environment: Environment): string {
  return `refresh_token_${environment}`;
}
