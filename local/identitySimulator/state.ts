/**
 * What the simulated directory remembers: admin consents, authorization codes, refresh tokens,
 * the signing key and the clock. Optionally persisted to a JSON file so that local mode survives a restart.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { z } from 'zod';
import { newAuthorizationCode, newRefreshToken, sha256Hex } from './ids';
import { createSigningKey, exportPrivateJwk, importSigningKey, type SigningKey } from './signing';
import { ACCOUNT_KINDS } from './accounts';
import type { AccountKind, SimulatedClock } from './types';

export const DAY_MS = 24 * 3600 * 1000;
/**
 * Entra refresh tokens die after 90 days without use. The limit runs per token value: redeeming a token issues a
 * new value with its own 90 days, and the redeemed value keeps the clock it had (redeeming it again does not reset it).
 */
export const REFRESH_TOKEN_INACTIVITY_DAYS = 90;
export const AUTH_CODE_LIFETIME_MS = 10 * 60 * 1000;
/** Records unused for this long are forgotten, so a long-running local mode does not grow without bound. */
const FORGET_AFTER_MS = 365 * DAY_MS;
const SAVE_DELAY_MS = 50;

/** A refresh token as the directory knows it. Stored under the SHA-256 of its value: the state file never holds a usable token. */
export interface RefreshTokenRecord {
  clientId: string;
  /** The tenant that issued it (the tid of its tokens). */
  tenant: string;
  oid: string;
  scope: string;
  /** Which account of the tenant signed in (absent in state files of older versions: the admin agent). */
  account?: AccountKind;
  /** The sign-in's authentication methods, carried into every token this refresh token yields (absent: pwd + mfa). */
  amr?: string[];
  /** The inactivity limit counts from here: a token value is never "used" again in a way that extends it. */
  issuedAt: number;
  /** Last redemption of this value (information only: it does not extend the value's life). */
  lastUsedAt: number;
  /** Set by the expire fault. */
  expired?: boolean;
  revokedAt?: number;
}

/** A one-time authorization code and everything it is bound to. Kept after redemption to answer a replay with AADSTS54005. */
export interface AuthCodeRecord {
  clientId: string;
  redirectUri: string;
  codeChallenge: string;
  nonce?: string;
  /** The tenant the user signed in to (the path of the authorize request, or the one chosen for common). */
  signInTenant: string;
  /** The tenant of the tokens (differs only under the idTokenTenantOverride fault). */
  tokenTenant: string;
  scope: string;
  /** The account chosen on the sign-in page and its authentication methods. */
  account: AccountKind;
  amr: string[];
  expiresAt: number;
  redeemed: boolean;
}

const refreshTokenRecordSchema = z.object({
  clientId: z.string(),
  tenant: z.string(),
  oid: z.string(),
  scope: z.string(),
  account: z.enum(ACCOUNT_KINDS).optional(),
  amr: z.array(z.string()).optional(),
  // Written by older versions (whether amr_values=mfa was sent); read and ignored.
  mfaRequested: z.boolean().optional(),
  issuedAt: z.number(),
  lastUsedAt: z.number(),
  expired: z.boolean().optional(),
  revokedAt: z.number().optional(),
});

const stateFileSchema = z.object({
  version: z.literal(1),
  clockOffsetMs: z.number(),
  signingKey: z.record(z.string(), z.unknown()),
  // `scopes` absent (files of older versions): the consent covers the app's configured permissions.
  consents: z.array(z.object({ clientId: z.string(), tenant: z.string(), scopes: z.array(z.string()).optional() })),
  // Absent in files of older versions: nobody had consented for themselves alone.
  userConsents: z.array(z.object({ clientId: z.string(), tenant: z.string(), oid: z.string(), scopes: z.array(z.string()) })).optional(),
  refreshTokens: z.record(z.string(), refreshTokenRecordSchema),
});

const consentKey = (clientId: string, tenant: string) => `${clientId.toLowerCase()}|${tenant.toLowerCase()}`;
const userConsentKey = (clientId: string, tenant: string, oid: string) => `${consentKey(clientId, tenant)}|${oid.toLowerCase()}`;

/** Adds scopes to a list, once each (case-insensitive): consents accumulate, as Entra's grants do. */
function mergeScopes(before: readonly string[], added: readonly string[]): string[] {
  return [...before, ...added].filter((s, i, all) => all.findIndex((o) => o.toLowerCase() === s.toLowerCase()) === i);
}

/** One user's consent for themself alone (an administrator who accepted without "Consent on behalf of your organization"). */
export interface UserConsentRecord {
  clientId: string;
  tenant: string;
  oid: string;
  scopes: string[];
}

/** An admin consent of one tenant for one app, with the scopes granted. */
export interface ConsentRecord {
  clientId: string;
  tenant: string;
  /** Absent only for consents loaded from older state files (they cover the app's configured permissions). */
  scopes?: string[];
}

export class SimulatorState {
  readonly clock: SimulatedClock;
  private clockOffsetMs = 0;
  private readonly consents = new Map<string, ConsentRecord>();
  private readonly userConsents = new Map<string, UserConsentRecord>();
  private readonly codes = new Map<string, AuthCodeRecord>();
  private readonly refreshTokens = new Map<string, RefreshTokenRecord>();
  private saveTimer: NodeJS.Timeout | undefined;

  private constructor(
    readonly signingKey: SigningKey,
    private readonly stateFile: string | undefined,
  ) {
    this.clock = {
      now: () => Date.now() + this.clockOffsetMs,
      advanceMs: (ms) => {
        this.clockOffsetMs += ms;
        this.changed();
      },
      advanceDays: (days) => this.clock.advanceMs(days * DAY_MS),
    };
  }

  /** Loads the state file if there is one; otherwise starts empty with a new signing key. */
  static open(stateFile: string | undefined): SimulatorState {
    if (!stateFile || !existsSync(stateFile)) return new SimulatorState(createSigningKey(), stateFile);
    const parsed = stateFileSchema.safeParse(JSON.parse(readFileSync(stateFile, 'utf8')));
    // Refuse rather than silently start over: starting over would kill every token local mode handed out.
    if (!parsed.success) throw new Error(`Identity simulator state file ${stateFile} is not valid; delete it to start with an empty directory.`);
    const data = parsed.data;
    const state = new SimulatorState(importSigningKey(data.signingKey), stateFile);
    state.clockOffsetMs = data.clockOffsetMs;
    for (const c of data.consents) state.consents.set(consentKey(c.clientId, c.tenant), c);
    for (const c of data.userConsents ?? []) state.userConsents.set(userConsentKey(c.clientId, c.tenant, c.oid), c);
    for (const [hash, record] of Object.entries(data.refreshTokens)) state.refreshTokens.set(hash, record);
    return state;
  }

  // --- consent ---

  hasConsent(clientId: string, tenant: string): boolean {
    return this.consents.has(consentKey(clientId, tenant));
  }

  consentOf(clientId: string, tenant: string): ConsentRecord | undefined {
    return this.consents.get(consentKey(clientId, tenant));
  }

  /** Adds scopes to the tenant's consent for the app (consents accumulate, as Entra's grants do). */
  grantConsent(clientId: string, tenant: string, scopes: string[]): void {
    const key = consentKey(clientId, tenant);
    const before = this.consents.get(key);
    this.consents.set(key, { clientId, tenant: tenant.toLowerCase(), scopes: mergeScopes(before?.scopes ?? [], scopes) });
    this.changed();
  }

  /** One user's consent for themself (it covers that user's sign-ins and refresh tokens, nobody else's). */
  grantUserConsent(clientId: string, tenant: string, oid: string, scopes: string[]): void {
    const key = userConsentKey(clientId, tenant, oid);
    const before = this.userConsents.get(key);
    this.userConsents.set(key, { clientId, tenant: tenant.toLowerCase(), oid: oid.toLowerCase(), scopes: mergeScopes(before?.scopes ?? [], scopes) });
    this.changed();
  }

  userConsentOf(clientId: string, tenant: string, oid: string): UserConsentRecord | undefined {
    return this.userConsents.get(userConsentKey(clientId, tenant, oid));
  }

  consentedTenantsOf(clientId: string): string[] {
    const id = clientId.toLowerCase();
    return [...this.consents.values()].filter((c) => c.clientId.toLowerCase() === id).map((c) => c.tenant);
  }

  /** Removes the tenant's consent for the app, and every user's own consent there (an administrator removing the app's grants). */
  revokeConsent(clientId: string, tenant: string): void {
    this.consents.delete(consentKey(clientId, tenant));
    const prefix = `${consentKey(clientId, tenant)}|`;
    for (const key of [...this.userConsents.keys()]) if (key.startsWith(prefix)) this.userConsents.delete(key);
    this.changed();
  }

  // --- authorization codes (memory only: they live ten minutes) ---

  issueCode(record: Omit<AuthCodeRecord, 'expiresAt' | 'redeemed'>): string {
    const now = this.clock.now();
    for (const [hash, c] of this.codes) if (c.expiresAt < now) this.codes.delete(hash);
    const code = newAuthorizationCode();
    this.codes.set(sha256Hex(code), { ...record, expiresAt: now + AUTH_CODE_LIFETIME_MS, redeemed: false });
    return code;
  }

  findCode(code: string): AuthCodeRecord | undefined {
    return this.codes.get(sha256Hex(code));
  }

  // --- refresh tokens ---

  issueRefreshToken(record: Pick<RefreshTokenRecord, 'clientId' | 'tenant' | 'oid' | 'scope' | 'account' | 'amr'>): string {
    const now = this.clock.now();
    const token = newRefreshToken();
    this.refreshTokens.set(sha256Hex(token), { ...record, tenant: record.tenant.toLowerCase(), issuedAt: now, lastUsedAt: now });
    this.changed();
    return token;
  }

  findRefreshToken(token: string): RefreshTokenRecord | undefined {
    return this.refreshTokens.get(sha256Hex(token));
  }

  /** The records a fault targets: one token by value, or all tokens a tenant has issued so far. */
  refreshTokensMatching(target: { refreshToken?: string; tenant?: string }): RefreshTokenRecord[] {
    if (target.refreshToken !== undefined) {
      const one = this.findRefreshToken(target.refreshToken);
      return one ? [one] : [];
    }
    const tenant = target.tenant?.toLowerCase();
    return [...this.refreshTokens.values()].filter((r) => r.tenant === tenant);
  }

  /** Call after mutating a record returned by this class. */
  changed(): void {
    if (!this.stateFile || this.saveTimer) return;
    // Coalesce bursts (a benchmark rotates many tokens at once) into one write.
    this.saveTimer = setTimeout(() => this.saveNow(), SAVE_DELAY_MS);
  }

  /** Writes pending changes now (close() calls this). */
  flush(): void {
    if (this.saveTimer) this.saveNow();
  }

  private saveNow(): void {
    clearTimeout(this.saveTimer);
    this.saveTimer = undefined;
    if (!this.stateFile) return;
    const now = this.clock.now();
    for (const [hash, r] of this.refreshTokens) if (now - r.lastUsedAt > FORGET_AFTER_MS) this.refreshTokens.delete(hash);
    const data: z.infer<typeof stateFileSchema> = {
      version: 1,
      clockOffsetMs: this.clockOffsetMs,
      signingKey: { ...exportPrivateJwk(this.signingKey) },
      consents: [...this.consents.values()],
      userConsents: [...this.userConsents.values()],
      refreshTokens: Object.fromEntries(this.refreshTokens),
    };
    mkdirSync(dirname(this.stateFile), { recursive: true });
    // Write-then-rename: a crash mid-write must not leave a truncated file that refuses to load.
    const tmp = `${this.stateFile}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(data), { mode: 0o600 });
    renameSync(tmp, this.stateFile);
  }
}
