/**
 * A Microsoft Entra ID (v2) identity simulator on loopback HTTPS: it stands in for login.microsoftonline.com
 * in tests, local mode and benchmarks. The real @azure/msal-node works against it, and a browser can click
 * through its sign-in and consent pages.
 */
import type { Server } from 'node:https';
import { accountFor, accountsOf, amrOf } from './accounts';
import { managedIdentityTokenClaims, MANAGED_IDENTITY_TOKEN_SECONDS } from './claims';
import { TOKEN_EXCHANGE_AUDIENCE } from './clientAssertion';
import { scopesGrantedBy } from './consent';
import { consentCoversRequest, type SimulatorContext } from './context';
import type { ControlTarget } from './control';
import { issuerFor, jwks } from './discovery';
import { FaultBook } from './faults';
import { isGuid } from './ids';
import { PARTNER_CENTER_SCOPE } from './scopes';
import { closeServers, listenLoopback } from '../loopbackHttps';
import { createRequestListener } from './server';
import { signJwt } from './signing';
import { SimulatorState } from './state';
import { StatsCounter } from './stats';
import type { AccountKind, Fault, SimulatedAccount, SimulatedClient, SimulatedClock, SimulatorOptions, SimulatorStats } from './types';

export type {
  AccountKind,
  Fault,
  FederatedIdentityCredential,
  InvalidClientReason,
  SimulatedAccount,
  SimulatedClient,
  SimulatedClock,
  SimulatorOptions,
  SimulatorStats,
  TokenTarget,
} from './types';
export { ACCOUNT_CHOICES, ACCOUNT_KINDS, partnerCenterRolesOf } from './accounts';
export { TOKEN_EXCHANGE_AUDIENCE } from './clientAssertion';
export { JWT_BEARER } from './entraErrors';
/** The Partner Center grant the service asks for; the default for minted refresh tokens. */
export { PARTNER_CENTER_RESOURCE, PARTNER_CENTER_SCOPE } from './scopes';

/** What to mint a refresh token for without a browser. */
export interface RefreshTokenRequest {
  clientId: string;
  tenant: string;
  /** Default: Partner Center's user_impersonation with openid, profile and offline_access. */
  scope?: string;
  /** Which of the tenant's accounts signed in; default the admin agent. */
  account?: AccountKind;
  /** As the sign-in page's checkbox: the tokens carry no `mfa` in `amr`. Default false. */
  withoutMfa?: boolean;
}

/** What Entra issues to an Azure managed identity (see mintManagedIdentityToken). */
export interface ManagedIdentityTokenRequest {
  /** The identity's home tenant (issuer `{simulator}/{tenant}/v2.0`, `tid`). */
  tenant: string;
  /** The identity's principal (object) id: `sub` and `oid`, the subject its federated credentials name. */
  principalId: string;
  /** The identity's client id: `azp`. */
  clientId: string;
  /** Default `api://AzureADTokenExchange` (the token is then a federated client assertion). */
  audience?: string;
  /** Default 24 h, as App Service hands them out. */
  lifetimeSeconds?: number;
  /** Azure resource id of the user-assigned identity, carried as `xms_mirid`. */
  resourceId?: string;
}

/** A minted token and its expiry in unix seconds, as a managed-identity endpoint answers (`access_token`, `expires_on`). */
export interface MintedToken {
  accessToken: string;
  expiresOn: number;
}

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
  /** Mints a valid refresh token as if one of the tenant's accounts had signed in (rotation tests and benchmarks without a browser). */
  issueRefreshTokenFor(p: RefreshTokenRequest): string;
  /**
   * Records admin consent of a tenant for a (multi-tenant) client, as the Accept button does: for `scopes`, or
   * (default) the app's configured permissions. Consent is per scope: it covers nothing else.
   */
  grantConsent(clientId: string, tenant: string, scopes?: string[]): void;
  /** Removes that consent: sign-in answers consent_required, refresh answers AADSTS65001. */
  revokeConsent(clientId: string, tenant: string): void;
  /** Whether the tenant consented at all, or (with `scope`, space-separated) to every resource scope named. */
  hasConsent(clientId: string, tenant: string, scope?: string): boolean;
  /** One account of a tenant (default the admin agent, who the simulator signed in before accounts could be chosen). */
  accountFor(tenant: string, kind?: AccountKind): SimulatedAccount;
  /** The tenant's accounts, in the order of the sign-in page's select. */
  accountsOf(tenant: string): SimulatedAccount[];
  /** Adds or replaces an app registration (e.g. to add a federated credential whose issuer names this simulator's port). */
  registerClient(client: SimulatedClient): void;
  /** The issuer of v2 tokens (and of managed-identity tokens) of a tenant: `${url}/${tenant}/v2.0`. */
  issuer(tenant: string): string;
  /** The JWKS the simulator signs with (the same document as `/{tenant}/discovery/v2.0/keys`). */
  jwks(): { keys: Record<string, unknown>[] };
  /** `${url}/common/discovery/v2.0/keys` */
  readonly jwksUrl: string;
  /**
   * Mints the access token Entra would issue to an Azure managed identity: issuer `${url}/${tenant}/v2.0`, signed
   * with the simulator's keys. For audience `api://AzureADTokenExchange` it is the client assertion a federated
   * identity credential trusts; hand this function to the Key Vault fake's managed-identity endpoint.
   */
  mintManagedIdentityToken(p: ManagedIdentityTokenRequest): MintedToken;
  /** Stops listening and writes the state file. */
  close(): Promise<void>;
}

/** Starts the simulator on https://localhost:PORT (listening on loopback only). */
export async function startIdentitySimulator(opts: SimulatorOptions): Promise<IdentitySimulator> {
  const clients = new Map<string, SimulatedClient>();
  for (const c of opts.clients) clients.set(c.clientId.toLowerCase(), c);
  const state = SimulatorState.open(opts.stateFile);
  const faults = new FaultBook(state);
  const stats = new StatsCounter();

  const ctx: SimulatorContext = { baseUrl: '', clients, state, faults, stats };
  let servers: Server[] = [];

  const clientOf = (clientId: string): SimulatedClient => {
    const client = clients.get(clientId.toLowerCase());
    if (!client) throw new Error(`Unknown client ${clientId}`);
    return client;
  };
  const issueRefreshTokenFor = (p: RefreshTokenRequest): string => {
    const client = clientOf(p.clientId);
    if (!isGuid(p.tenant)) throw new Error('tenant must be a GUID');
    const scope = p.scope ?? `${PARTNER_CENTER_SCOPE} openid profile offline_access`;
    const account = p.account ?? 'adminAgent';
    const token = state.issueRefreshToken({
      clientId: client.clientId,
      tenant: p.tenant,
      oid: accountFor(p.tenant, account).oid,
      scope,
      account,
      amr: amrOf(p.withoutMfa ?? false),
    });
    stats.refreshTokenIssued();
    return token;
  };
  const grantConsent = (clientId: string, tenant: string, scopes?: string[]): void => {
    const client = clients.get(clientId.toLowerCase());
    // An unknown client can still be given consent (a state file may name one); it gets exactly what was asked.
    const granted = client ? scopesGrantedBy(client, scopes?.join(' ')) : (scopes ?? [PARTNER_CENTER_SCOPE]);
    state.grantConsent(clientId, tenant, granted);
    faults.appRestored(clientId, tenant);
  };
  const mintManagedIdentityToken = (p: ManagedIdentityTokenRequest): MintedToken => {
    if (!isGuid(p.tenant)) throw new Error('tenant must be a GUID');
    const iat = Math.floor(Date.now() / 1000); // real time, like every JWT the simulator signs
    const lifetime = p.lifetimeSeconds ?? MANAGED_IDENTITY_TOKEN_SECONDS;
    const claims = managedIdentityTokenClaims(
      issuerFor(ctx.baseUrl, p.tenant.toLowerCase()),
      {
        tenant: p.tenant.toLowerCase(),
        principalId: p.principalId,
        clientId: p.clientId,
        audience: p.audience ?? TOKEN_EXCHANGE_AUDIENCE,
        ...(p.resourceId ? { resourceId: p.resourceId } : {}),
      },
      iat,
      lifetime,
    );
    stats.managedIdentityTokenMinted();
    return { accessToken: signJwt(state.signingKey, claims), expiresOn: iat + lifetime };
  };
  for (const c of opts.consentedTenants ?? []) if (!state.hasConsent(c.clientId, c.tenant)) grantConsent(c.clientId, c.tenant, c.scopes);
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
    setConsent: (clientId, tenant, granted, scopes) => (granted ? grantConsent(clientId, tenant, scopes) : state.revokeConsent(clientId, tenant)),
    issueRefreshTokenFor,
    mintManagedIdentityToken,
  };

  const listening = await listenLoopback(opts.tls, opts.port ?? 0, createRequestListener(ctx, control));
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
    grantConsent,
    revokeConsent: (clientId, tenant) => state.revokeConsent(clientId, tenant),
    hasConsent: (clientId, tenant, scope) => {
      if (scope === undefined) return state.hasConsent(clientId, tenant);
      const client = clients.get(clientId.toLowerCase());
      return client !== undefined && consentCoversRequest(ctx, client, tenant, scope);
    },
    accountFor: (tenant, kind) => accountFor(tenant, kind),
    accountsOf,
    registerClient: (client) => void clients.set(client.clientId.toLowerCase(), client),
    issuer: (tenant) => issuerFor(ctx.baseUrl, tenant),
    jwks: () => jwks(ctx.baseUrl, state.signingKey),
    jwksUrl: `${ctx.baseUrl}/common/discovery/v2.0/keys`,
    mintManagedIdentityToken,
    close: async () => {
      await closeServers(servers);
      state.flush();
    },
  };
}
