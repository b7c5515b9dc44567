/** Reading and validating the marketplace configuration file; the parsed file is cached per path. */
import { readFileSync } from 'node:fs';
import * as z from 'zod';
import { isMarketplaceId } from './id';
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
      result.problems.push({
        marketplace: id ?? where,
        field: 'id',
        message: 'must be a Connect marketplace ID like MP-12345 (MP- and 5 to 8 digits)',
      });
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
                ? "must not be set for a CPV marketplace: CPV uses the service's own application"
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
    return {
      entries: new Map(),
      invalidIds: new Set(),
      problems: [{ message: `cannot read the configuration file ${path}: ${(cause as NodeJS.ErrnoException).code ?? 'error'}` }],
    };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    return {
      entries: new Map(),
      invalidIds: new Set(),
      problems: [{ message: `the configuration file is not valid JSON: ${(cause as Error).message}` }],
    };
  }
  return parseMarketplaceConfig(json);
}

export function formatProblem(p: ConfigProblem): string {
  return [p.marketplace, p.field].filter(Boolean).join(' ') + (p.marketplace || p.field ? ': ' : '') + p.message;
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
