/** Public types of the identity simulator (re-exported by index.ts). */

/** An app registration in the simulated Entra ID directory. */
export interface SimulatedClient {
  clientId: string;
  /** The app's name as its owner registered it: what Entra's consent prompt and "Need admin approval" show. Absent, the pages show the client ID. */
  displayName?: string;
  /** Publisher verification: a verified publisher's name is shown with "verified"; absent, Entra shows "unverified". */
  verifiedPublisher?: string;
  /** Absent: the app has no secret and must prove itself with a client assertion (certificate or federated credential). */
  clientSecret?: string;
  redirectUris: string[];
  /** CPV: multi-tenant app that needs admin consent per tenant */
  multiTenant: boolean;
  /** Workload identity federation: the app trusts tokens of these issuers/subjects as its credential (no secret). */
  federatedCredentials?: FederatedIdentityCredential[];
  /** Certificates registered on the app (PEM, public part only): assertions signed with their private keys are accepted. */
  certificates?: string[];
  /**
   * The delegated permissions configured on the app registration: what an admin consent without `scope`
   * (or with `{resource}/.default`) grants. Default: Partner Center's `user_impersonation`.
   */
  permissions?: string[];
}

/** A federated identity credential on an app registration, as Entra stores it. */
export interface FederatedIdentityCredential {
  /** Must equal the assertion's `iss` exactly, e.g. `https://localhost:PORT/{home tenant}/v2.0` for a managed identity. */
  issuer: string;
  /** Must equal the assertion's `sub` exactly (case-sensitive); for a managed identity its principal (object) id. */
  subject: string;
  /** Must be in the assertion's `aud`; `api://AzureADTokenExchange` when absent. */
  audience?: string;
  name?: string;
}

/** How to start the simulator. */
export interface SimulatorOptions {
  /** 0 or absent = a random free port */
  port?: number;
  /** PEM strings; the certificate must cover "localhost" */
  tls: { cert: string; key: string };
  clients: SimulatedClient[];
  /** Tenants whose administrator has already consented to a multi-tenant client (for `scopes`, default the app's permissions). */
  consentedTenants?: { clientId: string; tenant: string; scopes?: string[] }[];
  /** Optional: persist state (consents, refresh tokens, revocations, signing key, clock) across restarts, for local mode. */
  stateFile?: string;
}

/** The accounts of each tenant's directory, as the sign-in page's **Account** select offers them. */
export type AccountKind = 'adminAgent' | 'noPartnerCenterRole' | 'guest' | 'guestAdminAgent' | 'adminAgentNotDirectoryAdmin';

/** A user of a simulated tenant (deterministic, so tests can predict it; see accounts.ts). */
export interface SimulatedAccount {
  kind: AccountKind;
  /** The name the person signs in with: `preferred_username` (v2) and `unique_name` (v1). */
  username: string;
  /** userPrincipalName in this directory (`upn` of v1 tokens); a guest's is `someone_contoso.com#EXT#@…`. */
  upn: string;
  name: string;
  givenName: string;
  familyName: string;
  /** object id, also `uid` in client_info */
  oid: string;
  tenant: string;
  guest: boolean;
  /** Guests only: the tenant the guest comes from (their tokens' `idp`). */
  homeTenant?: string;
  /** Holds a directory role that may consent for the whole organization (sees Entra's consent prompt, not "Need admin approval"). */
  directoryAdmin: boolean;
  /** Roles in the partner's Partner Center organization (what Partner Center decides by). */
  partnerCenterRoles: string[];
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
  /** invalid_scope AADSTS70011: the scope is no longer valid for the app (standing policy until reset). */
  | ({ kind: 'invalidScope' } & TokenTarget)
  /** invalid_resource AADSTS500011: the resource's service principal is missing from the tenant (standing policy until reset). */
  | ({ kind: 'resourceNotFound' } & TokenTarget)
  /** access_denied AADSTS50105: the user is not assigned to the app any more (standing policy until reset). */
  | ({ kind: 'accessDenied' } & TokenTarget)
  /** AADSTS65001 on refresh for a tenant (any client, or one client), standing until reset. */
  | { kind: 'consentRequired'; tenant: string; clientId?: string }
  /** Removes the recorded admin consent: multi-tenant clients then fail sign-in and refresh until consent is granted again. */
  | { kind: 'consentRevoked'; tenant: string; clientId: string }
  /**
   * The app's service principal was deleted from one tenant: its token calls there answer unauthorized_client
   * AADSTS700016 and its consent there is gone. A new admin consent (Accept) brings it back.
   */
  | { kind: 'appRemovedFromTenant'; tenant: string; clientId: string }
  /** The next `count` token calls fail with 503 temporarily_unavailable or 429 with Retry-After. */
  | { kind: 'transient'; count: number; status: 503 | 429; retryAfterSeconds?: number }
  /** The next `count` token calls lose their connection (socket destroyed, no response). */
  | { kind: 'networkFailure'; count: number }
  /**
   * Every token call of this client fails with invalid_client, whatever credential it presents: AADSTS7000215
   * (wrong secret), AADSTS7000222 (expired secret), AADSTS700213 (no federated credential matches) or
   * AADSTS700027 (the registered certificate expired).
   */
  | { kind: 'invalidClient'; clientId: string; reason: InvalidClientReason }
  /** Added before every token call answers (0 clears). */
  | { kind: 'latency'; ms: number }
  /** The next sign-in issues tokens for this other tenant (tid, iss, client_info utid), to test the caller's tenant check. */
  | { kind: 'idTokenTenantOverride'; tenant: string }
  /** No directory has this tenant id (a mistyped GUID): its pages and its token endpoint answer AADSTS90002, as Entra does. */
  | { kind: 'tenantNotFound'; tenant: string }
  /**
   * The client's federated identity credential was just added and has not propagated: its next `count`
   * token calls with a federated assertion answer AADSTS70021, as Entra does for several minutes.
   */
  | { kind: 'federatedCredentialPropagating'; clientId: string; count: number };

export type InvalidClientReason = 'invalidSecret' | 'expiredSecret' | 'noMatchingFederatedCredential' | 'certificateExpired';

/** Counters since start or the last reset(). */
export interface SimulatorStats {
  tokenCalls: { authorization_code: number; refresh_token: number; other: number; total: number };
  /** Token endpoint errors by OAuth error code, e.g. { invalid_grant: 2 }. */
  tokenErrors: Record<string, number>;
  codesIssued: number;
  refreshTokensIssued: number;
  /** Admin consents recorded by the admin-consent endpoint (its Accept). */
  consentsGranted: number;
  /** Sign-ins (the Sign in button): how many went without MFA, by account, and by the authorize request's `prompt` (`(none)` when absent). */
  signIns: { total: number; withoutMfa: number; byAccount: Record<AccountKind, number>; byPrompt: Record<string, number> };
  /**
   * What an unconsented multi-tenant sign-in met: the consent prompt (a directory admin), granted for the
   * organization or for the admin alone, declined; Entra's "Need admin approval" page (anyone else).
   */
  interactiveConsent: { prompted: number; grantedForOrganization: number; grantedForUser: number; declined: number; needAdminApproval: number };
  /** Authorize requests refused for a parameter the v2 endpoint does not support (`amr_values`, `resource`): AADSTS901002. */
  unsupportedParameters: Record<string, number>;
  /** Successful client authentications at the token endpoint, by credential. */
  clientAuthentications: { secret: number; certificate: number; federated: number };
  managedIdentityTokensMinted: number;
}

/** The simulator's clock: real time plus an offset tests can move forward (refresh-token inactivity, code expiry). */
export interface SimulatedClock {
  now(): number;
  advanceMs(ms: number): void;
  advanceDays(days: number): void;
}
