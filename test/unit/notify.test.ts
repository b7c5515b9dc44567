/**
 * The rules of telling a marketplace's contacts (docs/SECURITY.md 35), as pure functions: the contacts key of the
 * configuration file and the settings, the reasons and their thresholds, which message is due when (each threshold
 * once per life, each reason at most once a day, a throttled one after its wait, a claim that vanished after a day),
 * what a message says and what it never carries, and how an address appears in a log.
 */
import { parseMarketplaceConfig, formatProblem } from '../../shared/marketplaces/config';
import { forEnvironment, lookupMarketplace, type Marketplace } from '../../shared/marketplaces/marketplace';
import { maskAddress } from '../../shared/notify/address';
import { dueFor, expiryDue, personDue, sendable, type DueInput } from '../../shared/notify/due';
import { messageFor, startLinkFor } from '../../shared/notify/message';
import { SendPace, senderDomainKind } from '../../shared/notify/pace';
import { expiryThresholds, notifyReasons, personCause, thresholdCrossed } from '../../shared/notify/reasons';
import type { TokenTags } from '../../shared/secrets/store';
import { loadSettings } from '../../shared/settings';
import type { Told, TokenRecord } from '../../shared/storage/tokenRecords';
import { cpvEntry, cspEntry, tenants } from '../fixtures/config';

const DAY = 86_400_000;
const t0 = Date.parse('2026-11-01T03:00:00Z');
const contacts = ['admin@contoso.example.com'];

describe('the contacts key (contacts_test / contacts_production)', () => {
  const parse = (extra: Record<string, unknown>) => parseMarketplaceConfig({ marketplaces: [cpvEntry('MP-12345', tenants.cpv, extra)] });

  it('is optional, per environment, and projected onto each environment', () => {
    const config = parse({
      contacts_test: ['Admin@Contoso.example.com', 'ops@contoso.example.com'],
      contacts_production: ['prod@contoso.example.com'],
    });
    expect(config.problems).toEqual([]);
    const entry = config.entries.get('MP-12345')!;
    expect(forEnvironment(entry, 'test').contacts).toEqual(['Admin@Contoso.example.com', 'ops@contoso.example.com']);
    expect(forEnvironment(entry, 'production').contacts).toEqual(['prod@contoso.example.com']);
    expect(forEnvironment(parse({}).entries.get('MP-12345')!, 'test').contacts).toEqual([]);
  });

  it('refuses what is not a plain address, an empty list, more than ten, an address twice and the wrong type, naming the field and never quoting a value', () => {
    const cases: [unknown, string][] = [
      [['Admin <admin@fabrikam.example.com>'], 'contacts_test.0: must be an e-mail address like admin@contoso.com'],
      [['admin@fabrikam'], 'contacts_test.0: must be an e-mail address'],
      [['ad min@fabrikam.example.com'], 'contacts_test.0: must be an e-mail address'],
      [['admin@fabrikam.example.com\n'], 'contacts_test.0: must be an e-mail address'],
      [[], 'contacts_test: must list at least one e-mail address'],
      [Array.from({ length: 11 }, (_, i) => `a${i}@fabrikam.example.com`), 'contacts_test: must list at most 10'],
      [['a@fabrikam.example.com', 'A@FABRIKAM.example.com'], 'contacts_test: lists an address twice'],
      ['admin@fabrikam.example.com', 'contacts_test: must be an array'],
      [[42], 'contacts_test.0: must be a string'],
    ];
    for (const [value, message] of cases) {
      const config = parse({ contacts_test: value });
      const problems = config.problems.map(formatProblem);
      expect(problems).toEqual([expect.stringContaining(`MP-12345 ${message}`)]);
      for (const p of problems) expect(p).not.toContain('fabrikam');
      // The marketplace is misconfigured (alerted), never "not found".
      expect(lookupMarketplace(config, 'MP-12345', 'test').kind).toBe('invalid');
    }
  });

  it('is a key of both models (a CSP entry too)', () => {
    const config = parseMarketplaceConfig({
      marketplaces: [cspEntry('MP-23456', 'https://app.example.com/api/callback', tenants.csp, { contacts_production: ['it@fabrikam.example.com'] })],
    });
    expect(config.problems).toEqual([]);
    expect(forEnvironment(config.entries.get('MP-23456')!, 'production').contacts).toEqual(['it@fabrikam.example.com']);
  });
});

describe('the settings', () => {
  const base = {
    SERVICE_ENVIRONMENT: 'test',
    CALLBACK_URL: 'https://app.example.com/api/callback',
    KEY_VAULT_URL: 'https://kv.vault.azure.net',
    AzureWebJobsStorage__accountName: 'stapp',
    TRANSACTION_COOKIE_KEY: 'x7Q2mV9pL4sK8dR1tY6wB3nF5hJ0cZ2aE4uI7oP9',
  };

  it('turn messages on with the endpoint and the sender together, off with neither', () => {
    expect(loadSettings(base).COMMUNICATION_SERVICES_ENDPOINT).toBeUndefined();
    const on = loadSettings({
      ...base,
      COMMUNICATION_SERVICES_ENDPOINT: 'https://acs.europe.communication.azure.com',
      NOTIFICATION_SENDER_ADDRESS: 'DoNotReply@x.azurecomm.net',
    });
    expect(on.NOTIFICATION_SENDER_ADDRESS).toBe('DoNotReply@x.azurecomm.net');
  });

  it('refuse one without the other, an http endpoint and a sender that is not an address, naming the setting', () => {
    expect(() => loadSettings({ ...base, COMMUNICATION_SERVICES_ENDPOINT: 'https://acs.europe.communication.azure.com' })).toThrow(/go together/);
    expect(() =>
      loadSettings({ ...base, COMMUNICATION_SERVICES_ENDPOINT: 'http://acs.example.com', NOTIFICATION_SENDER_ADDRESS: 'a@b.example.com' }),
    ).toThrow(/COMMUNICATION_SERVICES_ENDPOINT: must be an https/);
    expect(() =>
      loadSettings({ ...base, COMMUNICATION_SERVICES_ENDPOINT: 'https://acs.example.com', NOTIFICATION_SENDER_ADDRESS: 'Service <a@b.example.com>' }),
    ).toThrow(/NOTIFICATION_SENDER_ADDRESS: must be an e-mail address/);
  });
});

describe('the reasons', () => {
  it('are one list: a person needed, and the four thresholds of a life, largest first', () => {
    expect(notifyReasons).toEqual(['needs-person', 'expires-in-14', 'expires-in-7', 'expires-in-3', 'expires-in-1']);
    expect(expiryThresholds).toEqual([14, 7, 3, 1]);
  });

  it('cross a threshold at that many days left, the last one crossed counting; none above 14 days or once the life is over', () => {
    expect(thresholdCrossed(20 * DAY)).toBeUndefined();
    expect(thresholdCrossed(14 * DAY + 1)).toBeUndefined();
    expect(thresholdCrossed(14 * DAY)).toBe(14);
    expect(thresholdCrossed(7.5 * DAY)).toBe(14);
    expect(thresholdCrossed(7 * DAY)).toBe(7);
    expect(thresholdCrossed(2 * DAY)).toBe(3);
    expect(thresholdCrossed(60_000)).toBe(1);
    expect(thresholdCrossed(0)).toBeUndefined();
  });

  it('say each cause in plain words with what to do: MFA, a missing role, consent, a changed password or disabled account, Conditional Access, and anything else', () => {
    expect(personCause('mfa', 'CPV').what).toMatch(/multi-factor authentication/);
    expect(personCause('partner-center-mfa', 'CPV')).toEqual(personCause('mfa', 'CPV'));
    expect(personCause('partner-center-no-role', 'CSP').todo).toMatch(/Admin Agent role/);
    expect(personCause('consent', 'CPV').todo).toMatch(/administrator of your Microsoft Entra tenant must approve/);
    expect(personCause('consent', 'CSP').what).toMatch(/your own Entra application/);
    expect(personCause('revoked', 'CPV').what).toMatch(/password was changed or reset.*disabled/);
    expect(personCause('expired', 'CPV').what).toMatch(/expired/);
    expect(personCause('conditional-access', 'CPV').what).toMatch(/Conditional Access policy/);
    expect(personCause('something-new-AADSTS999999', 'CPV').todo).toMatch(/sign in with an administrator account/);
  });
});

/** A token as rotation lists it, with its life ending `daysLeft` after `now`. */
function token(daysLeft: number, now = t0, status: TokenTags['status'] = 'active', tags: Partial<TokenTags> = {}): DueInput['token'] {
  return {
    tags: {
      marketplace: 'MP-12345',
      environment: 'test',
      model: 'CPV',
      tenant: tenants.cpv,
      issuedAt: new Date(now + (daysLeft - 90) * DAY).toISOString(),
      status,
      ...tags,
    },
    createdOn: new Date(now + (daysLeft - 90) * DAY),
    expiresOn: new Date(now + daysLeft * DAY),
  };
}

/** What a send of `due` leaves in the record. */
function sent(record: TokenRecord, told: Told, at: number): TokenRecord {
  const slot = told.reason === 'needs-person' ? 'person' : 'expiry';
  return { ...record, told: { ...record.told, [slot]: { ...told, state: 'sent', updatedAt: new Date(at).toISOString() } } };
}

describe('which message is due', () => {
  it('an unrotated token gets one message as each threshold is crossed, four in its life, whatever how often runs look', () => {
    const expiresOn = t0 + 20 * DAY;
    let record: TokenRecord = { marketplace: 'MP-12345' };
    const told: string[] = [];
    // A run every 6 hours for 20 days.
    for (let now = t0; now < expiresOn; now += 6 * 3600_000) {
      const { due } = dueFor({ token: token((expiresOn - now) / DAY, now), record, contacts, now });
      for (const d of due) {
        told.push(`${d.told.reason} at ${((expiresOn - now) / DAY).toFixed(2)} days`);
        record = sent(record, d.told, now);
      }
    }
    expect(told).toEqual(['expires-in-14 at 14.00 days', 'expires-in-7 at 7.00 days', 'expires-in-3 at 3.00 days', 'expires-in-1 at 1.00 days']);
  });

  it('a life first seen late gets only the last threshold crossed; a new life (rotated, or a new token) starts over', () => {
    const first = expiryDue({ marketplace: 'MP-12345' }, new Date(t0 + 5 * DAY), contacts, t0);
    expect(first?.told.reason).toBe('expires-in-7');
    const record = sent({ marketplace: 'MP-12345' }, first!.told, t0);
    expect(expiryDue(record, new Date(t0 + 5 * DAY), contacts, t0 + 3600_000)).toBeUndefined();
    // A new life ending sooner than 14 days from now, two days later: told again (another reason, another day).
    expect(expiryDue(record, new Date(t0 + 12 * DAY), contacts, t0 + 2 * DAY)?.told.reason).toBe('expires-in-14');
    // The same reason for a new life within the day waits for the day to pass.
    expect(expiryDue(record, new Date(t0 + 6 * DAY), contacts, t0 + 3600_000)).toBeUndefined();
  });

  it('a parked token: one message about the person needed, with its cause, once a day at most; none once it is fixed', () => {
    const parked: TokenRecord = { marketplace: 'MP-12345', parked: { reason: 'mfa', since: new Date(t0).toISOString() } };
    const input = (record: TokenRecord, now: number, status: TokenTags['status'] = 'needs-reauth') => ({
      token: token(60, now, status),
      record,
      contacts,
      now,
    });
    const d = personDue(input(parked, t0));
    expect(d?.told).toMatchObject({ reason: 'needs-person', about: 'mfa', to: contacts, state: 'queued' });
    const after = sent(parked, d!.told, t0);
    expect(personDue(input(after, t0 + 3600_000))).toBeUndefined();
    expect(personDue(input(after, t0 + 3 * DAY))).toBeUndefined();
    // Parked again later (someone signed in, then it failed again): told again, after a day.
    const again: TokenRecord = { ...after, parked: { reason: 'conditional-access', since: new Date(t0 + 3 * DAY).toISOString() } };
    expect(personDue(input(again, t0 + 3 * DAY))?.told.about).toBe('conditional-access');
    // The cause comes from the tag when the record has none (parked before the record existed).
    expect(
      personDue({
        ...input({ marketplace: 'MP-12345' }, t0),
        token: token(60, t0, 'needs-reauth', { lastError: 'needs-reauth:revoked', lastErrorAt: new Date(t0).toISOString() }),
      })?.told.about,
    ).toBe('revoked');
    // A token that is not parked needs nobody, and a queued message about it is dropped, not sent.
    expect(personDue(input(parked, t0, 'active'))).toBeUndefined();
    expect(dueFor(input({ ...parked, told: { person: d!.told } }, t0, 'active')).obsolete).toEqual(d!.told);
  });

  it('a throttled message is due again after its Retry-After; a claim is left alone unless its instance vanished a day ago; sent and failed ones are done', () => {
    const base: Told = {
      reason: 'expires-in-7',
      about: 'x',
      to: contacts,
      state: 'queued',
      at: new Date(t0).toISOString(),
      updatedAt: new Date(t0).toISOString(),
    };
    expect(sendable(base, t0)).toBe(true);
    expect(sendable({ ...base, retryAt: new Date(t0 + 3600_000).toISOString() }, t0 + 60_000)).toBe(false);
    expect(sendable({ ...base, retryAt: new Date(t0 + 3600_000).toISOString() }, t0 + 3600_000)).toBe(true);
    expect(sendable({ ...base, state: 'sending' }, t0 + 3600_000)).toBe(false);
    expect(sendable({ ...base, state: 'sending' }, t0 + DAY)).toBe(true);
    expect(sendable({ ...base, state: 'sent' }, t0 + 10 * DAY)).toBe(false);
    expect(sendable({ ...base, state: 'failed' }, t0 + 10 * DAY)).toBe(false);
  });
});

describe('the message', () => {
  const marketplace = (model: 'CPV' | 'CSP' = 'CPV'): Marketplace =>
    model === 'CPV'
      ? {
          id: 'MP-12345',
          name: 'Contoso',
          model: 'CPV',
          environment: 'production',
          tenantId: tenants.cpv,
          connectProducts: [],
          connectProductNames: {},
          contacts,
        }
      : {
          id: 'MP-12345',
          model: 'CSP',
          environment: 'production',
          tenantId: tenants.csp,
          clientId: 'c',
          redirectUri: 'r',
          clientSecretName: 's',
          connectProducts: ['PRD-111-111-111'],
          connectProductNames: {},
          contacts,
        };
  const link = startLinkFor({ CALLBACK_URL: 'https://func-msauth-production.azurewebsites.net/api/callback' }, 'MP-12345');

  it("links to this environment's start page, from CALLBACK_URL, with the marketplace ID and nothing else", () => {
    expect(link).toBe('https://func-msauth-production.azurewebsites.net/api/start?marketplace=MP-12345');
    expect(startLinkFor({ CALLBACK_URL: 'http://localhost:7071/api/callback?x=1#y' }, 'MP-00001')).toBe(
      'http://localhost:7071/api/start?marketplace=MP-00001',
    );
  });

  it('says what happened, why and what to do, and where the token goes afterwards', () => {
    const m = messageFor({ marketplace: marketplace(), reason: 'needs-person', about: 'no-role', pushesToConnect: false, startLink: link });
    expect(m.subject).toBe('Action needed: sign in again for MP-12345 (production)');
    expect(m.text).toContain('marketplace MP-12345 (Contoso) in the production environment no longer works');
    expect(m.text).toContain(personCause('no-role', 'CPV').what);
    expect(m.text).toContain('Connect parameter refresh_token_production of MP-12345');
    expect(m.text).toContain(link);
    const e = messageFor({
      marketplace: marketplace('CSP'),
      reason: 'expires-in-3',
      about: '2026-11-20T03:00:00.000Z',
      lastRenewed: '2026-08-22T03:00:00.000Z',
      pushesToConnect: true,
      startLink: link,
    });
    expect(e.subject).toBe('Action needed within 3 days: the Microsoft token of MP-12345 (production) expires on 2026-11-20');
    expect(e.text).toContain('has not been renewed since 2026-08-22');
    expect(e.text).toContain('puts it into Connect itself');
  });

  it('carries no id but the marketplace ID: no tenant, no client, no GUID of any kind', () => {
    for (const reason of notifyReasons) {
      const m = messageFor({
        marketplace: marketplace('CSP'),
        reason,
        about: reason === 'needs-person' ? 'mfa' : '2026-11-20T03:00:00.000Z',
        pushesToConnect: false,
        startLink: link,
      });
      expect(`${m.subject}\n${m.text}`).not.toMatch(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i);
      expect(m.text.match(/https?:\/\/\S+/g)).toEqual([link]);
    }
  });
});

describe('addresses in logs and the pace of sends', () => {
  it('a log line shows an address as its first letter and its domain', () => {
    expect(maskAddress('admin@contoso.example.com')).toBe('a…@contoso.example.com');
    expect(maskAddress('nonsense')).toBe('…');
  });

  it("paces by the sender's domain: an Azure-managed one at 5 a minute and 10 an hour, a verified one at 30 and 100", async () => {
    expect(senderDomainKind('DoNotReply@1a2b.azurecomm.net')).toBe('azure-managed');
    expect(senderDomainKind('DoNotReply@notify.contoso.com')).toBe('custom');
    let now = t0;
    const pace = new SendPace({ perMinute: 5, perHour: 10 }, () => now);
    for (let i = 0; i < 5; i++) {
      expect(pace.waitMs()).toBe(0);
      await pace.take();
    }
    expect(pace.waitMs()).toBe(60_000);
    for (let i = 0; i < 5; i++) {
      now += 61_000;
      await pace.take();
    }
    now += 61_000;
    // The hour is full: the next send must wait for the first one's hour to pass.
    expect(pace.waitMs()).toBe(3_600_000 - 6 * 61_000);
  });
});
