/**
 * What the status page tells an operator, from the vault's listing (no secret is read) and the
 * app's storage account (run records, what rotation keeps about each token): the configuration's
 * health first, then every token — those that need a person first, then fewest days left — and
 * the last and next rotation runs.
 */
import { credentialHealth, type CredentialHealth } from '../credentials/expiry';
import { formatProblem, type MarketplaceConfig } from '../marketplaces/config';
import { lookupMarketplace } from '../marketplaces/marketplace';
import type { SecretStore } from '../secrets/store';
import type { Settings } from '../settings';
import type { SharedState } from '../storage/open';
import { latestRuns, runRecordsTable, type RunRecord } from '../storage/runRecords';
import { readTokenRecords, tokenRecordsTable } from '../storage/tokenRecords';
import { notificationsHealth, type NotificationsHealth } from './contacts';
import { nextRunOf } from './nextRun';
import { healthOf, sortByUrgency, type TokenHealth } from './tokenHealth';

/** A run as the status page shows it: its record, without what only the logs need. */
export type RunReport = Omit<RunRecord, 'runId' | 'transient' | 'invalidClient' | 'storeFailed'>;

export interface StatusReport {
  environment: Settings['SERVICE_ENVIRONMENT'];
  generatedAt: string;
  /** Problems of the marketplace configuration file; `usable: false` is an outage. */
  configuration: { usable: boolean; problems: string[] };
  connectPush: boolean;
  /** The CPV application every CPV token is bound to (the Connect Microsoft connector's), when CPV is set up. */
  cpvClientId?: string;
  /** The last run over every token (the timer, a manual rotation of all). */
  lastRun?: RunReport;
  /** The last runs over one marketplace, newest first, kept apart so they never hide the timer's. */
  singleRuns: RunReport[];
  /** The timer's next run, when its schedule can be read. */
  nextRunAt?: string;
  schedule: string;
  tokens: TokenHealth[];
  /** Every credential the service uses, with its expiry (docs/SECURITY.md 32). */
  credentials: CredentialHealth[];
  /** Messages to marketplace contacts: on or off, each marketplace's contacts, who was told what and when (docs/SECURITY.md 35). */
  notifications?: NotificationsHealth;
}

function runReportOf(record: RunRecord): RunReport {
  const { runId: _runId, transient: _t, invalidClient: _i, storeFailed: _s, ...report } = record;
  return report;
}

export async function statusReport(
  settings: Settings,
  store: SecretStore,
  shared: SharedState,
  config: MarketplaceConfig,
  now = new Date(),
): Promise<StatusReport> {
  const environment = settings.SERVICE_ENVIRONMENT;
  const connectPush = Boolean(settings.CONNECT_API_KEY_SECRET_NAME);
  const [listing, runs, records] = await Promise.all([
    store.listTokens(environment),
    latestRuns(shared.table(runRecordsTable), environment),
    readTokenRecords(shared.table(tokenRecordsTable), environment),
  ]);
  const productsOf = (marketplace: string) => {
    if (!connectPush) return [];
    const found = lookupMarketplace(config, marketplace, environment);
    return found.kind === 'found' ? found.marketplace.connectProducts : [];
  };
  // MUST (docs/SECURITY.md 31): a token no usable entry names is not "active", whatever its tags
  // say: nothing rotates it. (An unusable file is said once, above every row.)
  const withoutEntry = (row: TokenHealth): TokenHealth => {
    if (config.fileProblem) return row;
    const found = lookupMarketplace(config, row.marketplace, environment);
    if (found.kind === 'found') return row;
    return {
      ...row,
      status: 'not-configured',
      lastError:
        found.kind === 'invalid'
          ? `its entry in the configuration file is invalid${found.field ? ` (${found.field})` : ''}: nothing rotates it`
          : 'not in the configuration file (removed or mistyped): nothing rotates it',
    };
  };
  const rows = [
    ...listing.tokens.map((t) => withoutEntry(healthOf(t, now.getTime(), productsOf(t.marketplace), records.get(t.marketplace)))),
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
    ...(runs.all ? { lastRun: runReportOf(runs.all) } : {}),
    singleRuns: runs.single.map(runReportOf),
    ...(nextRun ? { nextRunAt: nextRun.toISOString() } : {}),
    schedule: settings.ROTATION_SCHEDULE,
    tokens: sortByUrgency(rows),
    credentials,
    notifications: notificationsHealth(settings, config, records),
  };
}
