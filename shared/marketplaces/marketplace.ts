/**
 * A marketplace as the service uses it: one configuration entry projected onto one environment,
 * and the one lookup every caller (sign-in, rotation, status, Connect) goes through.
 */
import { createHash } from 'node:crypto';
import { AppError } from '../errors';
import type { Environment } from '../settings';
import type { MarketplaceConfig } from './config';
import type { MarketplaceEntry } from './schema';

/** The Connect products of a marketplace in one environment, and the names the operator gave some of them (for pages). */
interface ConnectProducts {
  connectProducts: string[];
  /** `PRD-…` → the name a person reads; only products of `connectProducts`. */
  connectProductNames: Record<string, string>;
}

/** What the service needs of a marketplace in one environment. */
export type Marketplace =
  | ({ id: string; name?: string; model: 'CPV'; environment: Environment; tenantId: string; contacts: string[] } & ConnectProducts)
  | ({
      id: string;
      name?: string;
      model: 'CSP';
      environment: Environment;
      tenantId: string;
      clientId: string;
      redirectUri: string;
      /** The distributor's admins to tell when the token needs a person (`contacts_{env}`); empty when none are named. */
      contacts: string[];
    } & ConnectProducts &
      ({ clientSecretName: string; clientCertificateName?: undefined } | { clientCertificateName: string; clientSecretName?: undefined }));

/** Projects a configuration entry onto one environment. */
export function forEnvironment(entry: MarketplaceEntry, environment: Environment): Marketplace {
  const tenantId = environment === 'test' ? entry.partner_tenant_id_test : entry.partner_tenant_id_production;
  const connectProducts = (environment === 'test' ? entry.connect_products_test : entry.connect_products_production) ?? [];
  const contacts = (environment === 'test' ? entry.contacts_test : entry.contacts_production) ?? [];
  // The schema let only strings through as names (schema.ts).
  const named = entry.connect_product_names ?? {};
  const connectProductNames: Record<string, string> = {};
  for (const p of connectProducts) if (typeof named[p] === 'string') connectProductNames[p] = named[p];
  const base = {
    id: entry.id,
    ...(entry.name ? { name: entry.name } : {}),
    environment,
    tenantId: tenantId.toLowerCase(),
    connectProducts,
    contacts,
    connectProductNames,
  };
  if (entry.model === 'CPV') return { ...base, model: 'CPV' };
  const csp = {
    ...base,
    model: 'CSP' as const,
    clientId: (environment === 'test' ? entry.partner_client_id_test : entry.partner_client_id_production).toLowerCase(),
    redirectUri: environment === 'test' ? entry.redirect_uri_test : entry.redirect_uri_production,
  };
  // The schema lets exactly one of the two through per environment.
  const certificate = environment === 'test' ? entry.partner_client_certificate_test : entry.partner_client_certificate_production;
  const secret = environment === 'test' ? entry.partner_client_secret_test : entry.partner_client_secret_production;
  return certificate !== undefined ? { ...csp, clientCertificateName: certificate } : { ...csp, clientSecretName: secret ?? '' };
}

export type Lookup = { kind: 'found'; marketplace: Marketplace } | { kind: 'not-found' } | { kind: 'invalid'; field?: string };

/**
 * Looks a validated marketplace ID up for one environment. `invalid`: the file names it but its
 * entry has a problem, so callers can say "misconfigured" rather than "not found".
 */
export function lookupMarketplace(config: MarketplaceConfig, id: string, environment: Environment): Lookup {
  const key = id.toUpperCase();
  const entry = config.entries.get(key);
  if (entry) return { kind: 'found', marketplace: forEnvironment(entry, environment) };
  if (!config.invalidIds.has(key)) return { kind: 'not-found' };
  const field = config.invalidIds.get(key);
  return field ? { kind: 'invalid', field } : { kind: 'invalid' };
}

/** MUST (docs/SECURITY.md 31): a file the service cannot use is an outage said out loud, never "not found". */
export function ensureUsable(config: MarketplaceConfig): void {
  if (config.fileProblem)
    throw new AppError('configuration_invalid', `The marketplace configuration file is unusable: ${config.fileProblem.message}`);
}

/**
 * The lookup of the sign-in flow: a marketplace a person can sign in for, or an AppError
 * (configuration_invalid / marketplace_not_found / marketplace_misconfigured) with a message a
 * person can act on. The entry was checked against this deployment's callback URL when the file
 * was loaded (marketplaces/forSettings.ts).
 */
export function findMarketplace(config: MarketplaceConfig, id: string, environment: Environment): Marketplace {
  ensureUsable(config);
  const found = lookupMarketplace(config, id, environment);
  if (found.kind === 'invalid') {
    throw new AppError(
      'marketplace_misconfigured',
      `Marketplace ${id} is in the configuration file but its entry is invalid${found.field ? ` (${found.field})` : ''}`,
      {
        marketplace: id,
        ...(found.field ? { field: found.field } : {}),
      },
    );
  }
  if (found.kind === 'not-found')
    throw new AppError('marketplace_not_found', `Marketplace ${id} is not in the configuration file`, { marketplace: id });
  return found.marketplace;
}

/**
 * What of a marketplace's entry decides how its token is redeemed (the tenant, the application and
 * its credential), as a short digest. A token parked under one entry is tried again once the
 * entry says something else: a fixed typo, a new application (docs/ROTATION.md, "Failures").
 */
export function redemptionFingerprint(m: Marketplace): string {
  const facts = [m.model, m.tenantId, m.model === 'CSP' ? [m.clientId, m.clientSecretName ?? '', m.clientCertificateName ?? ''] : []];
  return createHash('sha256').update(JSON.stringify(facts)).digest('base64url').slice(0, 16);
}
