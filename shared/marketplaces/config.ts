/** Reading and validating the marketplace configuration file; the parsed file is cached per path. */
import { readFileSync } from 'node:fs';
import * as z from '../zod';
import { environments, type Environment } from '../settings';
import { duplicateKeys, type DuplicateKey } from './duplicateKeys';
import { isMarketplaceId, lookAlikeOf } from './id';
import { cpvEntry, cspEntry, cspOnly, type MarketplaceEntry } from './schema';

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
  /** IDs present in the file but invalid (with the first field at fault), so lookups can say "misconfigured" rather than "not found". */
  invalidIds: Map<string, string | undefined>;
  /**
   * Set when the file as a whole is unusable (missing, unreadable, not JSON, not the expected
   * shape, no marketplace at all): an outage the service must say out loud (docs/SECURITY.md 31),
   * never a "marketplace not found".
   */
  fileProblem?: ConfigProblem;
}

/** What the file is checked against besides itself: this deployment's callback URLs and the secret names the service uses itself. */
export interface ConfigContext {
  /** Per environment, the deployment's callback URL: `redirect_uri_{env}` must equal it. */
  callbackUrls?: Partial<Record<Environment, string>>;
  /** Key Vault secret names the service uses for its own secrets: no marketplace may name one. */
  reservedSecretNames?: readonly string[];
}

/** Secret names no marketplace may use: the tokens and the rotation run record live under these prefixes. */
const reservedSecretPrefixes = ['refresh-token-', 'rotation-run-'];

function unusable(message: string): MarketplaceConfig {
  const problem = { message };
  return { entries: new Map(), problems: [problem], invalidIds: new Map(), fileProblem: problem };
}

/** What a person reads for a value of the wrong type: "must be a string", not "is required". */
function typeMessage(issue: z.core.$ZodIssue, model: string, raw: unknown): string {
  if (issue.code !== 'invalid_type') return issue.message;
  // The value is looked at, never quoted: zod is not asked to copy input into its issues.
  let value: unknown = raw;
  for (const key of issue.path) value = typeof value === 'object' && value !== null ? (value as Record<PropertyKey, unknown>)[key] : undefined;
  if (value === undefined) return `is required for a ${model} marketplace`;
  return `must be ${issue.expected === 'array' ? 'an array' : `a ${issue.expected}`}`;
}

/**
 * Validates the parsed JSON of a configuration file. Never throws; every problem names its
 * marketplace and field. `duplicates`: keys the file's text repeats (JSON.parse kept the last).
 */
export function parseMarketplaceConfig(json: unknown, context: ConfigContext = {}, duplicates: readonly DuplicateKey[] = []): MarketplaceConfig {
  const result: MarketplaceConfig = { entries: new Map(), problems: [], invalidIds: new Map() };
  const atRoot = duplicates.find((d) => d.path.length === 0);
  if (atRoot && ['marketplaces', '$schema'].includes(atRoot.key))
    return unusable(`the key "${atRoot.key}" appears more than once at the top of the file (JSON keeps only the last): keep one`);
  const root = z.strictObject({ $schema: z.optional(z.string()), marketplaces: z.array(z.unknown()) }).safeParse(json);
  if (!root.success || atRoot) return unusable('the file must be a JSON object with a "marketplaces" array');
  if (root.data.marketplaces.length === 0) return unusable('the file lists no marketplace: every sign-in would be refused');
  const seen = new Map<string, number>();
  root.data.marketplaces.forEach((raw, index) => {
    const where = `marketplaces[${index}]`;
    const id = typeof raw === 'object' && raw !== null && typeof (raw as { id?: unknown }).id === 'string' ? (raw as { id: string }).id : undefined;
    if (id === undefined || !isMarketplaceId(id)) {
      // MUST: the value is never quoted (it may be anything an operator pasted). A look-alike of a
      // real ID (a Cyrillic letter, a trailing newline) is named by the ID it imitates, and that
      // ID answers "misconfigured" (an alerted outage), never "not found" (docs/SECURITY.md 31).
      const lookAlike = id === undefined ? undefined : lookAlikeOf(id);
      if (lookAlike) {
        result.problems.push({
          marketplace: `${where} (${lookAlike.id})`,
          field: 'id',
          message: `is not ${lookAlike.id}: it holds ${lookAlike.difference}`,
        });
        if (!seen.has(lookAlike.id)) result.invalidIds.set(lookAlike.id, 'id');
        return;
      }
      result.problems.push({
        marketplace: where,
        field: 'id',
        message: 'must be a Connect marketplace ID like MP-12345 (MP- and 5 to 8 digits)',
      });
      return;
    }
    const repeated = [...new Set(duplicates.filter((d) => d.path[0] === 'marketplaces' && d.path[1] === index).map((d) => d.key))];
    if (repeated.length > 0) {
      for (const field of repeated)
        result.problems.push({ marketplace: id, field, message: 'appears more than once in this entry (JSON keeps only the last): keep one' });
      result.invalidIds.set(id.toUpperCase(), repeated[0]);
      seen.set(id.toUpperCase(), index);
      return;
    }
    // Case twins are duplicates too: Key Vault secret names are case-insensitive.
    const key = id.toUpperCase();
    // A look-alike seen earlier marked this ID misconfigured; the real entry is judged on its own.
    if (!seen.has(key)) result.invalidIds.delete(key);
    if (seen.has(key)) {
      result.problems.push({ marketplace: id, field: 'id', message: `duplicate marketplace ID (also at marketplaces[${seen.get(key)}])` });
      result.entries.delete(key);
      result.invalidIds.set(key, 'id');
      return;
    }
    seen.set(key, index);
    const model = (raw as { model?: unknown }).model;
    if (model !== 'CPV' && model !== 'CSP') {
      result.problems.push({ marketplace: id, field: 'model', message: 'must be "CPV" or "CSP"' });
      result.invalidIds.set(key, 'model');
      return;
    }
    const parsed = (model === 'CPV' ? cpvEntry : cspEntry).safeParse(raw);
    if (!parsed.success) {
      const first = result.problems.length;
      for (const issue of parsed.error.issues) {
        const keys = issue.code === 'unrecognized_keys' ? issue.keys : [issue.path.join('.')];
        for (const field of keys) {
          const message =
            issue.code === 'unrecognized_keys'
              ? model === 'CPV' && cspOnly.some((p) => field.startsWith(p))
                ? 'must not be set for a CPV marketplace: CPV uses the CPV application (CPV_CLIENT_ID)'
                : 'is not a known parameter'
              : typeMessage(issue, model, raw);
          result.problems.push({ marketplace: id, field, message });
        }
      }
      result.invalidIds.set(key, result.problems[first]?.field);
      return;
    }
    const problems = entryProblems(parsed.data, context);
    if (problems.length > 0) {
      result.problems.push(...problems);
      result.invalidIds.set(key, problems[0]?.field);
      return;
    }
    result.entries.set(key, parsed.data);
  });
  return result;
}

/** A product named in `connect_product_names` that neither product list holds: a typo, or a product removed from the lists and not from the names. */
function unlistedProductNames(entry: MarketplaceEntry): ConfigProblem[] {
  const listed = new Set([...(entry.connect_products_test ?? []), ...(entry.connect_products_production ?? [])]);
  return Object.keys(entry.connect_product_names ?? {})
    .filter((product) => !listed.has(product))
    .map((product) => ({
      marketplace: entry.id,
      field: 'connect_product_names',
      message: `names ${product}, which neither connect_products_test nor connect_products_production lists`,
    }));
}

/** Checks of an entry against this deployment: its callback URL, and the secret names the service keeps for itself. */
function entryProblems(entry: MarketplaceEntry, context: ConfigContext): ConfigProblem[] {
  if (entry.model !== 'CSP') return unlistedProductNames(entry);
  const problems: ConfigProblem[] = unlistedProductNames(entry);
  for (const environment of environments) {
    const callbackUrl = context.callbackUrls?.[environment];
    const redirect = environment === 'test' ? entry.redirect_uri_test : entry.redirect_uri_production;
    // MUST: the redirect URI the partner registered is this deployment's callback, or Entra sends the code elsewhere (or refuses it).
    if (callbackUrl !== undefined && redirect !== callbackUrl) {
      problems.push({
        marketplace: entry.id,
        field: `redirect_uri_${environment}`,
        message: `must equal this deployment's callback URL ${callbackUrl}`,
      });
    }
    // A certificate instead of a secret names a secret too (the certificate's own).
    const secret = environment === 'test' ? entry.partner_client_secret_test : entry.partner_client_secret_production;
    const certificate = environment === 'test' ? entry.partner_client_certificate_test : entry.partner_client_certificate_production;
    const secretName = secret ?? certificate;
    if (secretName === undefined) continue;
    const field = secret !== undefined ? `partner_client_secret_${environment}` : `partner_client_certificate_${environment}`;
    const lower = secretName.toLowerCase();
    // Key Vault names are case-insensitive: a marketplace naming one of the service's own secrets would read (and expose to its app) the wrong one.
    if (
      reservedSecretPrefixes.some((prefix) => lower.startsWith(prefix)) ||
      (context.reservedSecretNames ?? []).some((name) => name.toLowerCase() === lower)
    ) {
      problems.push({
        marketplace: entry.id,
        field,
        message: "names one of the service's own secrets: give the partner's credential a name of its own",
      });
    }
  }
  return problems;
}

/**
 * Where a JSON parse error is, as line and column. Never the parser's own message: newer Node
 * versions quote the text around the error, and the file may hold a pasted secret.
 */
function jsonErrorPosition(text: string, cause: unknown): string {
  const position = /position (\d+)/.exec(cause instanceof Error ? cause.message : '')?.[1];
  if (position === undefined) return '';
  const before = text.slice(0, Number(position));
  const line = before.split('\n').length;
  return ` (line ${line}, column ${Number(position) - before.lastIndexOf('\n')})`;
}

/** Reads and validates a configuration file. */
export function readMarketplaceConfig(path: string, context: ConfigContext = {}): MarketplaceConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    return unusable(`cannot read the configuration file ${path}: ${(cause as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  // Windows editors save UTF-8 with a byte-order mark; it says nothing about the content.
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    return unusable(`the configuration file is not valid JSON${jsonErrorPosition(text, cause)}`);
  }
  return parseMarketplaceConfig(json, context, duplicateKeys(text));
}

export function formatProblem(p: ConfigProblem): string {
  return [p.marketplace, p.field].filter(Boolean).join(' ') + (p.marketplace || p.field ? ': ' : '') + p.message;
}

const loaded = new Map<string, MarketplaceConfig>();
/** The configuration of this process, read once per path. */
export function getMarketplaceConfig(path: string, context: ConfigContext = {}): MarketplaceConfig {
  let config = loaded.get(path);
  if (!config) {
    config = readMarketplaceConfig(path, context);
    loaded.set(path, config);
  }
  return config;
}
export function resetMarketplaceConfigCache(): void {
  loaded.clear();
}
