import { isAbsolute, join } from 'node:path';
import * as z from './zod';
import { AppError } from './errors';
import { emailAddressSchema } from './notify/address';
import { estimatedBits, looksLikeSecret } from './randomness';

/** The two deployments of the service. Each has its own Function App, Key Vault and start URL. */
export const environments = ['test', 'production'] as const;
export type Environment = (typeof environments)[number];

/**
 * Key Vault secret names: ^[0-9a-zA-Z-]{1,127}$ (Key Vault's own rule), and not shaped like a
 * secret. MUST (docs/SECURITY.md 12): a configured name is logged and shown; only a value that
 * passed this rule ever is, so a secret pasted where its name belongs is refused, never quoted.
 */
export const secretNameSchema = z.string().check(
  z.regex(/^[0-9a-zA-Z-]{1,127}$/, 'must be a Key Vault secret name (letters, digits and dashes, at most 127)'),
  z.refine((v: string) => !looksLikeSecret(v), 'looks like a secret, not the name of one: store the secret in Key Vault and put its name here'),
);

const httpUrl = z.url({ protocol: /^https?$/ });
const nonEmpty = () => z.string().check(z.minLength(1));
/** A whole number from an app setting (a string), within bounds. */
const integerSetting = (min: number, max: number, fallback: number) =>
  z._default(z.pipe(z.coerce.number(), z.int().check(z.gte(min), z.lte(max))), fallback);

/** Loopback hosts: local mode, where plain http is what the local host serves. */
export function isLoopbackUrl(url: string): boolean {
  const host = new URL(url).hostname;
  return host === 'localhost' || host === '127.0.0.1' || host === '[::1]';
}

/** An https:// address, or an e-mail address: what a person can follow from a page, and nothing a page could run. */
export function isSupportContact(value: string): boolean {
  if (/^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$/.test(value)) return true;
  try {
    const url = new URL(value);
    return url.protocol === 'https:' && url.username === '' && url.password === '';
  } catch {
    return false;
  }
}

/** What the cookie key must show: the 256-bit sealing key is derived from it. */
const minimumKeyBits = 128;

/**
 * The service's app settings, named exactly as infra/ writes them.
 * Parsed once per process by getSettings(); loadSettings(env) takes the environment as an
 * argument so tests pass fixtures.
 */
export const settingsShape = {
  /** Which deployment this is; decides the Connect parameter (refresh_token_test / _production). */
  SERVICE_ENVIRONMENT: z.enum(environments),
  /** This deployment's callback URL (…/api/callback). The redirect URI always comes from here, never from Host headers. */
  CALLBACK_URL: httpUrl,
  /** Microsoft Entra authority host. Local mode points it at the identity simulator. */
  AUTHORITY_HOST: z._default(httpUrl, 'https://login.microsoftonline.com'),
  /**
   * Client id of the CPV application of the Connect Microsoft connector (CloudBlue's multi-tenant
   * app), the one Connect redeems CPV tokens with. A refresh token is bound to the client that
   * obtained it, so this must be that application: never one registered for this service
   * (docs/DEPLOY.md step 2).
   */
  CPV_CLIENT_ID: z.optional(nonEmpty()),
  /**
   * How this deployment proves itself as the CPV application: `federated` (a managed-identity token
   * of this Function App, trusted by the application as a federated identity credential its owner
   * added: no secret to expire) or `secret` (a client secret its owner added, CPV_CLIENT_SECRET_NAME).
   */
  CPV_CREDENTIAL: z._default(z.enum(['federated', 'secret']), 'secret'),
  /** Key Vault secret name holding the client secret added to the CPV application for this deployment (CPV_CREDENTIAL=secret). */
  CPV_CLIENT_SECRET_NAME: z.optional(secretNameSchema),
  /**
   * Client id of the Function App's user-assigned managed identity (the platform setting the
   * Azure SDKs read too). With CPV_CREDENTIAL=federated, the identity whose token the CPV app
   * trusts; unset, the app's system-assigned identity is asked instead.
   */
  AZURE_CLIENT_ID: z.optional(nonEmpty()),
  /** Partner Center API, where every new token is proven before it counts. */
  PARTNER_CENTER_API_URL: z._default(httpUrl, 'https://api.partnercenter.microsoft.com'),
  /** Key Vault URL (https://<name>.vault.azure.net). Required in Azure; local mode uses LOCAL_SECRET_STORE_DIR instead. */
  KEY_VAULT_URL: z.optional(httpUrl),
  /** Local mode only: folder of the file-backed secret store. */
  LOCAL_SECRET_STORE_DIR: z.optional(nonEmpty()),
  /*
   * The Function App's own storage account, named as the Functions host reads it: shared state
   * that is not a secret (one writer per token, per-token state, run records, used sign-in
   * states) lives there, so every instance sees the same (shared/storage/connection.ts).
   */
  /** A connection string (Azurite in local mode). Azure uses the identity-based settings below. */
  AzureWebJobsStorage: z.optional(nonEmpty()),
  /** The account, reached with the managed identity (Bicep writes this). */
  AzureWebJobsStorage__accountName: z.optional(z.string().check(z.regex(/^[a-z0-9]{3,24}$/, 'must be a storage account name'))),
  /** Instead of the account name: its blob endpoint (another cloud, a private endpoint). */
  AzureWebJobsStorage__blobServiceUri: z.optional(httpUrl),
  /** Instead of the account name: its table endpoint. */
  AzureWebJobsStorage__tableServiceUri: z.optional(httpUrl),
  /** `managedidentity`: how the host and the service reach the account. */
  AzureWebJobsStorage__credential: z.optional(z.enum(['managedidentity'])),
  /** Client id of the user-assigned identity that reaches the account. */
  AzureWebJobsStorage__clientId: z.optional(nonEmpty()),
  /** Key that seals the sign-in transaction cookie; in Azure a Key Vault reference resolved by the platform. */
  TRANSACTION_COOKIE_KEY: z.string().check(
    z.minLength(32, 'must be at least 32 characters of random data'),
    z.refine((v: string) => estimatedBits(v) >= minimumKeyBits, 'is not random enough: use 32 random bytes, e.g. `openssl rand -base64 32`'),
  ),
  /** The marketplace configuration file (JSON, Connect parameter names). */
  MARKETPLACE_CONFIG_PATH: z._default(nonEmpty(), 'config/marketplaces.json'),
  /** NCRONTAB schedule of the rotation timer (six fields, seconds first). */
  ROTATION_SCHEDULE: z._default(nonEmpty(), '0 0 3 * * *'),
  /** How many tokens one rotation run redeems at once. */
  ROTATION_CONCURRENCY: integerSetting(1, 32, 4),
  /** How long one rotation run may work before it stops cleanly and leaves the rest to the next run. */
  ROTATION_TIME_BUDGET_SECONDS: integerSetting(5, 3600, 480),
  /** Connect public API base URL (optional token push to Connect). */
  CONNECT_API_URL: z._default(httpUrl, 'https://api.connect.cloudblue.com/public/v1'),
  /** Key Vault secret name holding the Connect API key; unset turns the Connect push off. */
  CONNECT_API_KEY_SECRET_NAME: z.optional(secretNameSchema),
  /*
   * Messages to a marketplace's contacts (shared/notify), through Azure Communication Services
   * Email with the managed identity (AZURE_CLIENT_ID): no connection string, no key. Both unset
   * turns the messages off.
   */
  /** The Communication Services resource (https://<name>.<geography>.communication.azure.com). */
  COMMUNICATION_SERVICES_ENDPOINT: z.optional(httpUrl),
  /** The sender, an address of a domain linked to that resource (DoNotReply@<domain>; Bicep's output NOTIFICATION_SENDER_ADDRESS). */
  NOTIFICATION_SENDER_ADDRESS: z.optional(emailAddressSchema),
  /**
   * Where a distributor's admin reaches the people who run this service (an https:// address or
   * an e-mail address), shown on the pages that ask them to (a marketplace not set up yet). Unset,
   * those pages say to contact the operator of this service or their CloudBlue contact.
   */
  SUPPORT_CONTACT: z.optional(z.string().check(z.maxLength(254), z.refine(isSupportContact, 'must be an https:// address or an e-mail address'))),
};

export const settingsSchema = z.object(settingsShape).check(
  z.superRefine((s, ctx) => {
    // The callback receives authorization codes: only over TLS, except on this machine (local mode).
    if (new URL(s.CALLBACK_URL).protocol !== 'https:' && !isLoopbackUrl(s.CALLBACK_URL)) {
      ctx.addIssue({ code: 'custom', path: ['CALLBACK_URL'], message: 'must be an https:// URL (plain http only on localhost, in local mode)' });
    }
    if (!s.KEY_VAULT_URL === !s.LOCAL_SECRET_STORE_DIR) {
      ctx.addIssue({
        code: 'custom',
        path: ['KEY_VAULT_URL'],
        message: 'set exactly one of KEY_VAULT_URL (Azure) and LOCAL_SECRET_STORE_DIR (local mode)',
      });
    }
    if (
      !s.AzureWebJobsStorage &&
      !s.AzureWebJobsStorage__accountName &&
      !(s.AzureWebJobsStorage__blobServiceUri && s.AzureWebJobsStorage__tableServiceUri)
    ) {
      ctx.addIssue({
        code: 'custom',
        path: ['AzureWebJobsStorage'],
        message: 'set AzureWebJobsStorage__accountName (Azure, with the managed identity) or AzureWebJobsStorage (a connection string, local mode)',
      });
    }
    if (!s.COMMUNICATION_SERVICES_ENDPOINT !== !s.NOTIFICATION_SENDER_ADDRESS) {
      ctx.addIssue({
        code: 'custom',
        path: ['COMMUNICATION_SERVICES_ENDPOINT'],
        message:
          'COMMUNICATION_SERVICES_ENDPOINT and NOTIFICATION_SENDER_ADDRESS go together (both unset turns messages to marketplace contacts off)',
      });
    }
    // The managed identity's bearer token goes to this endpoint: only over TLS (the SDK refuses http too).
    if (s.COMMUNICATION_SERVICES_ENDPOINT && new URL(s.COMMUNICATION_SERVICES_ENDPOINT).protocol !== 'https:') {
      ctx.addIssue({ code: 'custom', path: ['COMMUNICATION_SERVICES_ENDPOINT'], message: 'must be an https:// URL' });
    }
    if (s.CPV_CREDENTIAL === 'secret' && !s.CPV_CLIENT_ID !== !s.CPV_CLIENT_SECRET_NAME) {
      ctx.addIssue({
        code: 'custom',
        path: ['CPV_CLIENT_ID'],
        message: 'with CPV_CREDENTIAL=secret, CPV_CLIENT_ID and CPV_CLIENT_SECRET_NAME go together',
      });
    }
  }),
);

export type Settings = z.infer<typeof settingsSchema>;

/** Parses app settings; throws AppError('settings_invalid') naming every bad setting (never its value). */
export function loadSettings(env: Record<string, string | undefined>): Settings {
  const picked: Record<string, string | undefined> = {};
  for (const key of Object.keys(settingsShape)) picked[key] = env[key] === '' ? undefined : env[key];
  // When App Service cannot resolve a Key Vault reference (secret missing, role not yet in
  // effect) it hands over the reference text itself. Never run on that: for the cookie key it
  // would mean sealing with a publicly known value.
  const unresolved = Object.entries(picked)
    .filter(([, v]) => v?.startsWith('@Microsoft.KeyVault('))
    .map(([k]) => k);
  if (unresolved.length > 0) {
    throw new AppError(
      'settings_invalid',
      `App settings are unresolved Key Vault references: ${unresolved.join(', ')} (check the secret exists and the app's identity may read it)`,
    );
  }
  const parsed = settingsSchema.safeParse(picked);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || 'settings'}: ${i.message}`);
    const names = [...new Set(parsed.error.issues.map((i) => i.path.join('.') || 'settings'))];
    throw new AppError('settings_invalid', `App settings are invalid: ${problems.join('; ')}`, { field: names.join(',') });
  }
  const settings = parsed.data;
  // Relative paths are relative to the function app's root (the host sets AzureWebJobsScriptRoot), not to wherever the worker started.
  const root = env.AzureWebJobsScriptRoot;
  if (root && !isAbsolute(settings.MARKETPLACE_CONFIG_PATH)) settings.MARKETPLACE_CONFIG_PATH = join(root, settings.MARKETPLACE_CONFIG_PATH);
  return settings;
}

let cached: Settings | undefined;
/** The settings of this process, parsed once. */
export function getSettings(): Settings {
  cached ??= loadSettings(process.env);
  return cached;
}
/** Tests and the local host call this after changing process.env. */
export function resetSettingsCache(): void {
  cached = undefined;
}
