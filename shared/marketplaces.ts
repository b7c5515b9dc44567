import { readFileSync } from 'node:fs';
import * as z from 'zod';
import { AppError } from './errors';
import { isMarketplaceId } from './marketplaceId';
import { type Environment, environments, secretNameSchema } from './settings';

/**
 * The marketplace configuration file. Its keys are the Connect parameter names, so an operator
 * can copy values between Connect and this file without translating:
 *
 *   { "marketplaces": [ { "id": "MP-12345", "model": "CSP",
 *       "partner_tenant_id_test": "…", "partner_client_id_test": "…",
 *       "partner_client_secret_test": "<Key Vault secret name>", "redirect_uri_test": "…", … } ] }
 */

const guid = z
  .string()
  .regex(/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/, 'must be a GUID (the Entra tenant or application ID)');

// MUST: a client secret in this file is the name of a Key Vault secret, never the secret itself.
// Entra client secrets contain '~', '.' or '_', which Key Vault names cannot, so the name rule
// also catches a pasted secret; the message says what to do instead.
const clientSecretRef = z.string().superRefine((value, ctx) => {
  if (!secretNameSchema.safeParse(value).success) {
    ctx.addIssue({
      code: 'custom',
      message: /[~._]/.test(value)
        ? 'looks like an inline client secret: store the secret in Key Vault and put the secret name here'
        : 'must be a Key Vault secret name (letters, digits and dashes, at most 127)',
    });
  }
});

const connectProducts = z.array(z.string().regex(/^PRD-[0-9]{3}-[0-9]{3}-[0-9]{3}$/, 'must be a Connect product ID like PRD-123-456-789')).max(20);

const common = {
  id: z.string(),
  name: z.string().max(200).optional(),
  partner_tenant_id_test: guid,
  partner_tenant_id_production: guid,
  connect_products_test: connectProducts.optional(),
  connect_products_production: connectProducts.optional(),
};

const cspOnly = ['partner_client_id', 'partner_client_secret', 'redirect_uri'] as const;

const cpvEntry = z.strictObject({ ...common, model: z.literal('CPV') });
const cspEntry = z.strictObject({
  ...common,
  model: z.literal('CSP'),
  partner_client_id_test: guid,
  partner_client_id_production: guid,
  partner_client_secret_test: clientSecretRef,
  partner_client_secret_production: clientSecretRef,
  redirect_uri_test: z.url({ protocol: /^https?$/ }),
  redirect_uri_production: z.url({ protocol: /^https?$/ }),
});

export type MarketplaceEntry = z.infer<typeof cpvEntry> | z.infer<typeof cspEntry>;

/** What the service needs of a marketplace in one environment. */
export type Marketplace =
  | { id: string; name?: string; model: 'CPV'; environment: Environment; tenantId: string; connectProducts: string[] }
  | {
      id: string;
      name?: string;
      model: 'CSP';
      environment: Environment;
      tenantId: string;
      clientId: string;
      clientSecretName: string;
      redirectUri: string;
      connectProducts: string[];
    };

export interface ConfigProblem {
  marketplace?: string;
  field?: string;
  message: string;
}

export interface MarketplaceConfig {
  /** Valid entries by ID. */
  entries: Map<string, MarketplaceEntry>;
  /** Every problem found; an entry with a problem is not in `entries`. */
  problems: ConfigProblem[];
  /** IDs present in the file but invalid, so lookups can say "misconfigured" rather than "not found". */
  invalidIds: Set<string>;
}

/** Validates the parsed JSON of a configuration file. Never throws; every problem names its marketplace and field. */
export function parseMarketplaceConfig(json: unknown): MarketplaceConfig {
  const result: MarketplaceConfig = { entries: new Map(), problems: [], invalidIds: new Set() };
  const root = z.strictObject({ $schema: z.string().optional(), marketplaces: z.array(z.unknown()) }).safeParse(json);
  if (!root.success) {
    result.problems.push({ message: 'the file must be a JSON object with a "marketplaces" array' });
    return result;
  }
  const seen = new Map<string, number>();
  root.data.marketplaces.forEach((raw, index) => {
    const where = `marketplaces[${index}]`;
    const id = typeof raw === 'object' && raw !== null && typeof (raw as { id?: unknown }).id === 'string' ? (raw as { id: string }).id : undefined;
    if (id === undefined || !isMarketplaceId(id)) {
      result.problems.push({ marketplace: id ?? where, field: 'id', message: 'must be a Connect marketplace ID like MP-12345 (MP- and 5 to 8 digits)' });
      return;
    }
    // Case twins are duplicates too: Key Vault secret names are case-insensitive.
    const key = id.toUpperCase();
    if (seen.has(key)) {
      result.problems.push({ marketplace: id, field: 'id', message: `duplicate marketplace ID (also at marketplaces[${seen.get(key)}])` });
      result.entries.delete(key);
      result.invalidIds.add(key);
      return;
    }
    seen.set(key, index);
    const model = (raw as { model?: unknown }).model;
    if (model !== 'CPV' && model !== 'CSP') {
      result.problems.push({ marketplace: id, field: 'model', message: 'must be "CPV" or "CSP"' });
      result.invalidIds.add(key);
      return;
    }
    const parsed = (model === 'CPV' ? cpvEntry : cspEntry).safeParse(raw);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        const keys = issue.code === 'unrecognized_keys' ? issue.keys : [issue.path.join('.')];
        for (const field of keys) {
          const message =
            issue.code === 'unrecognized_keys'
              ? model === 'CPV' && cspOnly.some((p) => field.startsWith(p))
                ? 'must not be set for a CPV marketplace: CPV uses the service\'s own application'
                : 'is not a known parameter'
              : issue.code === 'invalid_type' && issue.input === undefined
                ? `is required for a ${model} marketplace`
                : issue.message;
          result.problems.push({ marketplace: id, field, message });
        }
      }
      result.invalidIds.add(key);
      return;
    }
    result.entries.set(key, parsed.data);
  });
  return result;
}

/** Reads and validates a configuration file. */
export function readMarketplaceConfig(path: string): MarketplaceConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    return { entries: new Map(), invalidIds: new Set(), problems: [{ message: `cannot read the configuration file ${path}: ${(cause as NodeJS.ErrnoException).code ?? 'error'}` }] };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    return { entries: new Map(), invalidIds: new Set(), problems: [{ message: `the configuration file is not valid JSON: ${(cause as Error).message}` }] };
  }
  return parseMarketplaceConfig(json);
}

export function formatProblem(p: ConfigProblem): string {
  return [p.marketplace, p.field].filter(Boolean).join(' ') + (p.marketplace || p.field ? ': ' : '') + p.message;
}

/** Projects a configuration entry onto one environment. */
export function forEnvironment(entry: MarketplaceEntry, environment: Environment): Marketplace {
  const tenantId = environment === 'test' ? entry.partner_tenant_id_test : entry.partner_tenant_id_production;
  const connectProducts = (environment === 'test' ? entry.connect_products_test : entry.connect_products_production) ?? [];
  const base = { id: entry.id, ...(entry.name ? { name: entry.name } : {}), environment, tenantId: tenantId.toLowerCase(), connectProducts };
  if (entry.model === 'CPV') return { ...base, model: 'CPV' };
  return {
    ...base,
    model: 'CSP',
    clientId: (environment === 'test' ? entry.partner_client_id_test : entry.partner_client_id_production).toLowerCase(),
    clientSecretName: environment === 'test' ? entry.partner_client_secret_test : entry.partner_client_secret_production,
    redirectUri: environment === 'test' ? entry.redirect_uri_test : entry.redirect_uri_production,
  };
}

/** The troubleshooting answer for a marketplace that is not in the file (design.md). */
export const notFoundExplanation = {
  what: 'The marketplace ID was not found in the configuration file of this service.',
  why: 'This happens when a partner transacting as a Microsoft Direct Billed partner (not in syndication) has a new marketplace that the service has not been told about yet.',
  todo: 'Ask the operator of this service to add the marketplace: open a support request to the CloudBlue PdM for Microsoft products or to your CloudBlue CSAM, quoting the marketplace ID.',
};

/**
 * Looks a validated marketplace ID up for one environment.
 * Throws marketplace_not_found / marketplace_misconfigured with messages a person can act on.
 */
export function findMarketplace(config: MarketplaceConfig, id: string, environment: Environment, callbackUrl: string): Marketplace {
  const key = id.toUpperCase();
  const entry = config.entries.get(key);
  if (!entry) {
    if (config.invalidIds.has(key)) {
      throw new AppError('marketplace_misconfigured', `Marketplace ${id} is in the configuration file but its entry is invalid`, { details: { marketplace: id } });
    }
    throw new AppError('marketplace_not_found', `Marketplace ${id} is not in the configuration file`, { details: { marketplace: id } });
  }
  const marketplace = forEnvironment(entry, environment);
  // MUST: the redirect URI the partner registered must be this deployment's callback, or Entra
  // would send the code elsewhere (or refuse it). Checked here so the page can say which one.
  if (marketplace.model === 'CSP' && marketplace.redirectUri !== callbackUrl) {
    throw new AppError('marketplace_misconfigured', `Marketplace ${id}: redirect_uri_${environment} must equal this deployment's callback URL ${callbackUrl}`, {
      details: { marketplace: id, field: `redirect_uri_${environment}` },
    });
  }
  return marketplace;
}

const loaded = new Map<string, MarketplaceConfig>();
/** The configuration of this process, read once per path. */
export function getMarketplaceConfig(path: string): MarketplaceConfig {
  let config = loaded.get(path);
  if (!config) {
    config = readMarketplaceConfig(path);
    loaded.set(path, config);
  }
  return config;
}
export function resetMarketplaceConfigCache(): void {
  loaded.clear();
}

export { environments };
