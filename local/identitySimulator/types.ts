/** Public types of the identity simulator (re-exported by index.ts). */

/** An app registration in the simulated Entra ID directory. */
export interface SimulatedClient {
  clientId: string;
  clientSecret: string;
  redirectUris: string[];
  /** CPV: multi-tenant app that needs admin consent per tenant */
  multiTenant: boolean;
}

/** How to start the simulator. */
export interface SimulatorOptions {
  /** 0 or absent = a random free port */
  port?: number;
  /** PEM strings; the certificate must cover "localhost" */
  tls: { cert: string; key: string };
  clients: SimulatedClient[];
  /** Tenants whose administrator has already consented to a multi-tenant client. */
  consentedTenants?: { clientId: string; tenant: string }[];
  /** Optional: persist state (consents, refresh tokens, revocations, signing key, clock) across restarts, for local mode. */
  stateFile?: string;
}

/** The one user the simulator signs in for a tenant (deterministic, so tests can predict it). */
export interface SimulatedAccount {
  username: string;
  name: string;
  /** object id, also `uid` in client_info */
  oid: string;
  tenant: string;
}

/** Which refresh tokens a token fault hits: one token (by value) or every token of a tenant. */
export type TokenTarget = { refreshToken: string; tenant?: undefined } | { tenant: string; refreshToken?: undefined };

/**
 * A failure the simulator plays back, as Entra ID would produce it.
 * Token faults (`refreshTokenExpired` … `consentRequired`) apply to the refresh_token grant.
 */
export type Fault =
  /** AADSTS700082: the token is dead, as after 90 days of inactivity (changes the tokens themselves; reset() does not revive them). */
  | ({ kind: 'refreshTokenExpired' } & TokenTarget)
  /** AADSTS50173: the grant was revoked, e.g. password reset or admin "revoke sessions" (changes the tokens themselves). */
  | ({ kind: 'refreshTokenRevoked' } & TokenTarget)
  /** AADSTS70043: Conditional Access sign-in frequency (standing policy until reset). */
  | ({ kind: 'signInFrequency' } & TokenTarget)
  /** AADSTS50076: MFA required (standing policy until reset). */
  | ({ kind: 'mfaRequired' } & TokenTarget)
  /** AADSTS53003: blocked by Conditional Access (standing policy until reset). */
  | ({ kind: 'conditionalAccessBlocked' } & TokenTarget)
  /** AADSTS65001 on refresh for a tenant (any client, or one client), standing until reset. */
  | { kind: 'consentRequired'; tenant: string; clientId?: string }
  /** Removes the recorded admin consent: multi-tenant clients then fail sign-in and refresh until consent is granted again. */
  | { kind: 'consentRevoked'; tenant: string; clientId: string }
  /** The next `count` token calls fail with 503 temporarily_unavailable or 429 with Retry-After. */
  | { kind: 'transient'; count: number; status: 503 | 429; retryAfterSeconds?: number }
  /** The next `count` token calls lose their connection (socket destroyed, no response). */
  | { kind: 'networkFailure'; count: number }
  /** Every token call of this client fails with invalid_client: AADSTS7000215 (wrong secret) or AADSTS7000222 (expired secret). */
  | { kind: 'invalidClient'; clientId: string; reason: 'invalidSecret' | 'expiredSecret' }
  /** Added before every token call answers (0 clears). */
  | { kind: 'latency'; ms: number }
  /** The next sign-in issues tokens for this other tenant (tid, iss, client_info utid), to test the caller's tenant check. */
  | { kind: 'idTokenTenantOverride'; tenant: string };

/** Counters since start or the last reset(). */
export interface SimulatorStats {
  tokenCalls: { authorization_code: number; refresh_token: number; other: number; total: number };
  /** Token endpoint errors by OAuth error code, e.g. { invalid_grant: 2 }. */
  tokenErrors: Record<string, number>;
  codesIssued: number;
  refreshTokensIssued: number;
  consentsGranted: number;
}

/** The simulator's clock: real time plus an offset tests can move forward (refresh-token inactivity, code expiry). */
export interface SimulatedClock {
  now(): number;
  advanceMs(ms: number): void;
  advanceDays(days: number): void;
}
