/**
 * The status page's view of the messages to marketplace contacts (shared/notify): whether they
 * are on, each marketplace's contacts in this environment, and who was told what, when and why,
 * from the token records every instance shares (no secret is read).
 */
import type { MarketplaceConfig } from '../marketplaces/config';
import { forEnvironment } from '../marketplaces/marketplace';
import { personCause, thresholdOf } from '../notify/reasons';
import type { Settings } from '../settings';
import type { Told, TokenRecord } from '../storage/tokenRecords';

export interface ToldView {
  /** `needs-person` or `expires-in-N`. */
  reason: string;
  /** The reason in the page's words. */
  why: string;
  to: string[];
  /** When it was decided. */
  at: string;
  state: Told['state'];
  /** When its state last changed (sent, failed, deferred). */
  updatedAt: string;
  /** A throttled or deferred message: not before this. */
  retryAt?: string;
}

export interface ContactsHealth {
  marketplace: string;
  /** `contacts_{env}` of its entry (in full: the page sits behind the function key; logs show them masked). */
  contacts: string[];
  told: ToldView[];
}

export interface NotificationsHealth {
  /** Off without COMMUNICATION_SERVICES_ENDPOINT and NOTIFICATION_SENDER_ADDRESS. */
  on: boolean;
  sender?: string;
  marketplaces: ContactsHealth[];
}

function viewOf(t: Told, model: 'CPV' | 'CSP' | undefined): ToldView {
  const threshold = thresholdOf(t.reason);
  const why =
    threshold !== undefined
      ? `the token expires within ${threshold} day${threshold === 1 ? '' : 's'} (${t.about.slice(0, 10)})`
      : `the token needs a person: ${personCause(t.about, model ?? 'CPV').what}`;
  return { reason: t.reason, why, to: t.to, at: t.at, state: t.state, updatedAt: t.updatedAt, ...(t.retryAt ? { retryAt: t.retryAt } : {}) };
}

export function notificationsHealth(settings: Settings, config: MarketplaceConfig, records: ReadonlyMap<string, TokenRecord>): NotificationsHealth {
  const environment = settings.SERVICE_ENVIRONMENT;
  const rows = new Map<string, ContactsHealth & { model?: 'CPV' | 'CSP' }>();
  for (const entry of config.entries.values()) {
    const m = forEnvironment(entry, environment);
    if (m.contacts.length > 0) rows.set(m.id.toUpperCase(), { marketplace: m.id, contacts: m.contacts, told: [], model: m.model });
  }
  for (const record of records.values()) {
    const told = [record.told?.person, record.told?.expiry].filter((t): t is Told => t !== undefined);
    if (told.length === 0) continue;
    const key = record.marketplace.toUpperCase();
    const row = rows.get(key) ?? { marketplace: record.marketplace, contacts: [], told: [] };
    row.told = told.map((t) => viewOf(t, row.model)).sort((a, b) => b.at.localeCompare(a.at));
    rows.set(key, row);
  }
  const marketplaces = [...rows.values()].map(({ model: _model, ...row }) => row).sort((a, b) => a.marketplace.localeCompare(b.marketplace));
  const sender = settings.NOTIFICATION_SENDER_ADDRESS;
  return { on: Boolean(settings.COMMUNICATION_SERVICES_ENDPOINT && sender), ...(sender ? { sender } : {}), marketplaces };
}
