/**
 * What the status page tells an operator, from the listing alone (no secret is read): the
 * configuration's health first, then every token — those that need a person first, then fewest
 * days left — and the last and next rotation runs.
 */
import { credentialHealth, type CredentialHealth } from '../credentials/expiry';
import { formatProblem, type MarketplaceConfig } from '../marketplaces/config';
import { lookupMarketplace } from '../marketplaces/marketplace';
import type { RunRecord, SecretStore } from '../secrets/store';
import type { Settings } from '../settings';
import { nextRunOf } from './nextRun';
import { healthOf, sortByUrgency, type TokenHealth } from './tokenHealth';

export interface RunReport {
  startedAt: string;
  trigger: string;
  durationMs: number;
  total: number;
  rotated: number;
  failed: number;
  needsReauth: number;
  needsAttention: number;
  notReached: number;
  /** Why tokens were skipped, e.g. `{ "recently-rotated": 3 }` (the 12-hour rule of the timer). */
  skipped: Record<string, number>;
}

export interface StatusReport {
  environment: Settings['SERVICE_ENVIRONMENT'];
  generatedAt: string;
  /** Problems of the marketplace configuration file; `usable: false` is an outage. */
  configuration: { usable: boolean; problems: string[] };
  connectPush: boolean;
  /** The CPV application every CPV token is bound to (the Connect Microsoft connector's), when CPV is set up. */
  cpvClientId?: string;
  lastRun?: RunReport;
  /** The timer's next run, when its schedule can be read. */
  nextRunAt?: string;
  schedule: string;
  tokens: TokenHealth[];
  /** Every credential the service uses, with its expiry (docs/SECURITY.md 32). */
  credentials: CredentialHealth[];
}

function runReportOf(record: RunRecord): RunReport {
  const n = (key: string) => Number(record[key] ?? 0) || 0;
  const skipped: Record<string, number> = {};
  for (const part of (record.skipped ?? '').split(',')) {
    const [reason, count] = part.split(':');
    if (reason && count) skipped[reason] = Number(count) || 0;
  }
  return {
    startedAt: record.startedAt ?? '',
    trigger: record.trigger ?? '',
    durationMs: n('durationMs'),
    total: n('total'),
    rotated: n('rotated'),
    failed: n('failed'),
    needsReauth: n('needsReauth'),
    needsAttention: n('needsAttention'),
    notReached: n('notReached'),
    skipped,
  };
}

export async function statusReport(settings: Settings, store: SecretStore, config: MarketplaceConfig, now = new Date()): Promise<StatusReport> {
  const environment = settings.SERVICE_ENVIRONMENT;
  const connectPush = Boolean(settings.CONNECT_API_KEY_SECRET_NAME);
  const listing = await store.listTokens(environment);
  const productsOf = (marketplace: string) => {
    if (!connectPush) return [];
    const found = lookupMarketplace(config, marketplace, environment);
    return found.kind === 'found' ? found.marketplace.connectProducts : [];
  };
  const rows = [
    ...listing.tokens.map((t) => healthOf(t, now.getTime(), productsOf(t.marketplace))),
    ...listing.attention.map((a): TokenHealth => ({
      marketplace: a.marketplace,
      model: '—',
      status: 'needs-attention',
      tenant: '',
      issuedAt: a.createdOn?.toISOString() ?? '',
      enabledVersions: 0,
      lastError: a.reason,
    })),
  ];
  const nextRun = nextRunOf(settings.ROTATION_SCHEDULE, now);
  const credentials = await credentialHealth(store, settings, config, now.getTime(), listing.others);
  return {
    environment,
    generatedAt: now.toISOString(),
    configuration: { usable: !config.fileProblem, problems: config.problems.map(formatProblem) },
    connectPush,
    ...(settings.CPV_CLIENT_ID ? { cpvClientId: settings.CPV_CLIENT_ID } : {}),
    ...(listing.lastRun ? { lastRun: runReportOf(listing.lastRun) } : {}),
    ...(nextRun ? { nextRunAt: nextRun.toISOString() } : {}),
    schedule: settings.ROTATION_SCHEDULE,
    tokens: sortByUrgency(rows),
    credentials,
  };
}
