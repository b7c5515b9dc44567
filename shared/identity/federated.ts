/**
 * The CPV app's credential without a secret (docs/SECURITY.md 32): the app registration trusts
 * this Function App's managed identity as a federated identity credential, so the client
 * assertion msal-node sends is a token of that identity for `api://AzureADTokenExchange`.
 *
 * One assertion source per identity per process, cached until shortly before the token expires
 * (msal-node asks for the assertion on every token request; a rotation run makes hundreds).
 * The SDK (managedIdentity.ts) is loaded on first use only.
 */
import { withRetries, type Backoff, type Sleep } from '../retry';
import type * as ManagedIdentityModule from './managedIdentity';
import { TokenRequestError } from './tokenFailure';

/** A token and when it expires (epoch ms), as @azure/identity gives it. */
export interface ExpiringToken {
  token: string;
  expiresOnTimestamp: number;
}

export type TokenSource = () => Promise<ExpiringToken>;

/** What msal-node's `clientAssertion` callback calls, and how a refused assertion is dropped. */
export interface AssertionSource {
  assertion: () => Promise<string>;
  /** Entra refused the cached assertion: the next request fetches a fresh one. */
  forget: () => void;
}

/**
 * A cached token is renewed this long before it expires: Entra checks `exp` when the assertion
 * arrives, and a request may take a while to get there (retries, latency).
 */
export const renewBeforeExpiryMs = 5 * 60_000;

/** Caches the source's token until `renewBeforeExpiryMs` before it expires; concurrent callers share one request. */
export function cachedAssertion(source: TokenSource, now: () => number = Date.now): AssertionSource {
  let cached: ExpiringToken | undefined;
  let inFlight: Promise<ExpiringToken> | undefined;
  return {
    async assertion() {
      if (cached && now() < cached.expiresOnTimestamp - renewBeforeExpiryMs) return cached.token;
      inFlight ??= source()
        .then((token) => (cached = token))
        .finally(() => (inFlight = undefined));
      return (await inFlight).token;
    },
    forget() {
      cached = undefined;
    },
  };
}

let sdk: typeof ManagedIdentityModule | undefined;
function loadSdk(): typeof ManagedIdentityModule {
  // A deferred require (not import()), as in lazy.ts: @azure/identity costs cold start.
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- deferred on purpose: the Azure SDKs cost cold start
  sdk ??= require('./managedIdentity') as typeof ManagedIdentityModule;
  return sdk;
}

/**
 * The managed-identity endpoint gave no token (down, restarting, or the identity is not assigned
 * to the app): a failed token request like any other, transient, so rotation tries again later
 * and marks nothing. The SDK's error stays as the cause; it never carries a token.
 */
function managedIdentitySource(clientId: string | undefined): TokenSource {
  return async () => {
    try {
      return await loadSdk().tokenExchangeToken(clientId);
    } catch (cause) {
      throw new TokenRequestError({ class: 'transient', reason: 'managed-identity' }, { cause });
    }
  };
}

const sources = new Map<string, AssertionSource>();

/** The assertion source of a managed identity (AZURE_CLIENT_ID; undefined: the system-assigned one), one per process. */
export function federatedAssertion(identityClientId: string | undefined): AssertionSource {
  const key = identityClientId ?? '';
  let source = sources.get(key);
  if (!source) {
    source = cachedAssertion(managedIdentitySource(identityClientId));
    sources.set(key, source);
  }
  return source;
}

/** Forgets every cached assertion (tests). */
export function resetFederatedAssertions(): void {
  sources.clear();
}

/**
 * AADSTS70021 ("No matching federated identity record found for presented assertion") is also what
 * a federated credential answers for several minutes after it was added, while it propagates;
 * Microsoft advises retrying (Learn, "Important considerations and restrictions for federated
 * identity credentials"; docs/STAND-INS.md). So a token request that gets it is tried again with
 * backoff for up to `windowMs`; only then does the caller treat it as the operator's problem
 * (InvalidClient, nothing marked). A credential that is simply wrong is alerted a minute later, and
 * the next run tries again anyway.
 */
export interface PropagationRetry {
  windowMs: number;
  backoff: Backoff;
  sleep?: Sleep;
  now?: () => number;
}

export const defaultPropagationRetry: PropagationRetry = { windowMs: 60_000, backoff: { baseMs: 2_000, maxMs: 15_000 } };
let propagationRetry = defaultPropagationRetry;

/** Shorter waits for tests; no argument restores the production values. */
export function setPropagationRetry(retry: PropagationRetry = defaultPropagationRetry): void {
  propagationRetry = retry;
}

export const federatedCredentialNotFound = 70021;

function isPropagating(err: unknown): boolean {
  return err instanceof TokenRequestError && err.failure.class === 'invalid-client' && err.failure.aadsts === federatedCredentialNotFound;
}

/** Runs a token request of an app that proves itself with an assertion, retrying AADSTS70021 within the window. */
export async function retryWhilePropagating<T>(request: () => Promise<T>, onRetry?: (attempt: number, waitMs: number) => void): Promise<T> {
  const { windowMs, backoff, sleep } = propagationRetry;
  const now = propagationRetry.now ?? Date.now;
  const deadline = now() + windowMs;
  return withRetries(request, {
    attempts: Number.MAX_SAFE_INTEGER,
    backoff,
    isTransient: isPropagating,
    retryAfterMs: () => undefined,
    timeLeft: () => deadline - now(),
    ...(sleep ? { sleep } : {}),
    ...(onRetry ? { onRetry } : {}),
  });
}
