/**
 * Telling the person who can fix it (docs/SECURITY.md 35), end to end: rotation runs of the real functions on the
 * local host (and on another instance, a Node process of its own), the real @azure/communication-email SDK with the
 * managed identity's token against the Communication Services Email stand-in, the token records in Azurite.
 *
 *   - each reason sends exactly one message to that marketplace's contacts: a token that needs a person (its cause
 *     in plain words) and a token whose life ends within 14, 7, 3 or 1 days;
 *   - a second run the same day sends none, on this instance or another, and two instances running at once send
 *     each message once;
 *   - a 429 is retried (in the run when its Retry-After is short, in a later run when it is long), never failed;
 *   - a final failure is logged for the alert and changes nothing else;
 *   - the link carries only the marketplace ID, and no log line holds a whole address.
 */
import { deliverMessages } from '../../shared/notify/deliver';
import { openMailer } from '../../shared/notify/open';
import { SendPace } from '../../shared/notify/pace';
import { marketplaceConfigFor } from '../../shared/marketplaces/forSettings';
import type { RotationSummary } from '../../shared/rotation/outcomes';
import { tokenContentType, tokenSecretName, type TokenTags } from '../../shared/secrets/store';
import { tokenTagsToRecord } from '../../shared/secrets/tags';
import { getSettings } from '../../shared/settings';
import { readTokenRecord, readTokenRecords, tokenRecordsTable } from '../../shared/storage/tokenRecords';
import { cpvClientId, cpvEntry, cspEntry } from '../fixtures/config';
import { startInstance, type Instance } from '../support/instances';
import { eventsIn } from '../support/events';
import { startWorld, type World } from '../support/world';

jest.setTimeout(120_000);

const DAY = 86_400_000;
const tenantOf = (n: number) => `7e117e11-0000-4000-8000-${String(n).padStart(12, '0')}`;
const mp = (n: number) => `MP-${String(n).padStart(5, '0')}`;
const contactsOf = (n: number): string[] => (n === 11 ? [`admin@mp${n}.example.com`, `ops@mp${n}.example.com`] : [`admin@mp${n}.example.com`]);

/** Every structured event the functions logged, parsed (this world's host only). */
function logged(world: World, event: string): Record<string, unknown>[] {
  return eventsIn(world.logs, event);
}

/**
 * A stored token, last renewed long ago, whose life ends `daysLeft` days from now: `active` (rotation will try
 * it), with the Partner Center proof and tags rotation writes.
 */
function seed(
  world: World,
  n: number,
  model: 'CPV' | 'CSP',
  daysLeft: number,
  status: TokenTags['status'] = 'active',
  extra: Partial<TokenTags> = {},
): void {
  const renewed = new Date(Date.now() + (daysLeft - 90) * DAY);
  const tags: TokenTags = {
    marketplace: mp(n),
    environment: 'test',
    model,
    tenant: tenantOf(n),
    issuedAt: renewed.toISOString(),
    verifiedAt: renewed.toISOString(),
    status,
    ...extra,
  };
  world.vault!.seed(tokenSecretName(mp(n), 'test'), world.simulator.issueRefreshTokenFor({ clientId: cpvClientId, tenant: tenantOf(n) }), {
    contentType: tokenContentType,
    tags: tokenTagsToRecord(tags),
    expiresOn: new Date(Date.now() + daysLeft * DAY),
  });
}

async function rotate(url: string, marketplace?: string): Promise<RotationSummary> {
  const res = await fetch(`${url}/api/rotate${marketplace ? `?marketplace=${marketplace}` : ''}`, { method: 'POST' });
  expect(res.status).toBe(200);
  return (await res.json()) as RotationSummary;
}

/** The outbox, per marketplace, as `subject` lines: what each marketplace's contacts received. */
const received = (world: World) => world.email!.outbox();
const messagesTo = (world: World, n: number) => received(world).filter((m) => m.text.includes(`marketplace=${mp(n)}`));

/** CSP entries whose client secret is not in the vault: rotation stops at the credential (invalid-client), the token stays unrotated. */
const stuck = (callbackUrl: string, n: number) =>
  cspEntry(mp(n), callbackUrl, tenantOf(n), {
    partner_client_secret_test: `missing-secret-${n}`,
    partner_client_secret_production: `missing-secret-${n}`,
  });

describe('each reason, once, to the right contacts', () => {
  let world: World;
  let other: Instance | undefined;

  beforeAll(async () => {
    world = await startWorld({
      store: 'keyvault',
      marketplaces: (callbackUrl) => [
        cpvEntry(mp(11), tenantOf(11)),
        cpvEntry(mp(12), tenantOf(12)),
        ...[13, 14, 15, 16].map((n) => stuck(callbackUrl, n)),
        cpvEntry(mp(17), tenantOf(17)),
        cpvEntry(mp(18), tenantOf(18)),
      ],
      email: { contacts: Object.fromEntries([11, 12, 13, 14, 15, 16, 17].map((n) => [mp(n), contactsOf(n)])) },
    });
    for (const n of [11, 12, 17, 18]) world.simulator.grantConsent(cpvClientId, tenantOf(n));
    // 11: Microsoft revoked the token (a password reset). 12: Partner Center refuses it for MFA. 18: the same, no contacts.
    seed(world, 11, 'CPV', 60);
    seed(world, 12, 'CPV', 60);
    seed(world, 18, 'CPV', 60);
    world.simulator.faults.apply([
      { kind: 'refreshTokenRevoked', tenant: tenantOf(11) },
      { kind: 'refreshTokenRevoked', tenant: tenantOf(18) },
    ]);
    world.partnerCenter.setFault({ kind: 'mfaMissing', tenant: tenantOf(12) });
    // 13–16: rotation keeps failing (the app's secret is gone), and their lives end within 14, 7, 3 and 1 days.
    seed(world, 13, 'CSP', 13);
    seed(world, 14, 'CSP', 6.5);
    seed(world, 15, 'CSP', 2.5);
    seed(world, 16, 'CSP', 0.5);
    // 17: healthy, rotated by the run: nothing to say.
    seed(world, 17, 'CPV', 80);
  });
  afterAll(async () => {
    await other?.stop();
    await world.close();
  });

  test('a run tells every marketplace that needs someone, exactly once, in plain words, with a link that carries only the marketplace ID', async () => {
    // Rotation parks a token only on an answer it treats as definitive; run until both are parked.
    for (let i = 0; i < 5; i++) {
      const summary = await rotate(world.baseUrl);
      const parked = summary.results.filter((r) => r.outcome === 'needs-reauth' || (r.outcome === 'skipped' && r.reason === 'needs-reauth'));
      if ([11, 12].every((n) => parked.some((r) => r.marketplace === mp(n)))) break;
    }
    const outbox = received(world);
    // One message per marketplace and reason: 11 and 12 need a person, 13–16 are near their end; 17 was rotated, 18 names nobody.
    expect(outbox.map((m) => m.to.join(',')).sort()).toEqual([11, 12, 13, 14, 15, 16].map((n) => contactsOf(n).join(',')).sort());
    expect(new Set(outbox.map((m) => m.from))).toEqual(new Set(['DoNotReply@notify.world.example.com']));

    const [revoked] = messagesTo(world, 11);
    expect(revoked!.subject).toBe(`Action needed: sign in again for ${mp(11)} (test)`);
    expect(revoked!.text).toMatch(/password was changed or reset/);
    const [mfa] = messagesTo(world, 12);
    expect(mfa!.text).toMatch(/multi-factor authentication \(MFA\)/);
    expect(mfa!.text).toMatch(/sign in with an administrator account of your partner tenant that uses MFA/);
    const thresholds = [13, 14, 15, 16].map((n) => /within (\d+) days?/.exec(messagesTo(world, n)[0]!.subject)?.[1]);
    expect(thresholds).toEqual(['14', '7', '3', '1']);
    expect(messagesTo(world, 16)[0]!.subject).toMatch(/^Action needed within 1 day: /);

    // The link: this environment's start page (from CALLBACK_URL), and nothing but the marketplace ID.
    for (const m of outbox) {
      const links = m.text.match(/https?:\/\/\S+/g) ?? [];
      expect(links).toHaveLength(1);
      const link = new URL(links[0]!);
      expect(`${link.origin}${link.pathname}`).toBe(world.startUrl);
      expect([...link.searchParams.keys()]).toEqual(['marketplace']);
      expect(m.text).not.toMatch(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i);
    }
    // Logged, never with a whole address.
    expect(logged(world, 'NotificationSent')).toHaveLength(6);
    for (const n of [11, 12, 13, 14, 15, 16, 17, 18])
      for (const address of contactsOf(n)) expect(world.logs.filter((l) => l.message.includes(address))).toEqual([]);
    expect(logged(world, 'NotificationSent').find((e) => e.marketplace === mp(11))).toMatchObject({
      recipients: 2,
      to: 'a…@mp11.example.com o…@mp11.example.com',
    });
  });

  test('a second run the same day tells nobody again', async () => {
    const before = received(world).length;
    await rotate(world.baseUrl);
    expect(received(world)).toHaveLength(before);
  });

  test('nor does a run on another instance (another process, the same storage account)', async () => {
    const before = received(world).length;
    other = await startInstance();
    await rotate(other.url);
    expect(received(world)).toHaveLength(before);
    expect(other.events('NotificationSent')).toEqual([]);
  });

  test('the status page shows who was told, when and why; its JSON the same', async () => {
    const json = (await (await fetch(`${world.baseUrl}/api/status?format=json`)).json()) as {
      notifications: {
        on: boolean;
        sender: string;
        marketplaces: { marketplace: string; contacts: string[]; told: { reason: string; state: string; to: string[]; why: string }[] }[];
      };
    };
    expect(json.notifications.on).toBe(true);
    const row = (n: number) => json.notifications.marketplaces.find((m) => m.marketplace === mp(n));
    expect(row(11)).toMatchObject({ contacts: contactsOf(11), told: [{ reason: 'needs-person', state: 'sent', to: contactsOf(11) }] });
    expect(row(11)!.told[0]!.why).toMatch(/^the token needs a person: Microsoft revoked the token/);
    expect(row(14)).toMatchObject({ told: [{ reason: 'expires-in-7', state: 'sent' }] });
    expect(row(17)).toMatchObject({ contacts: contactsOf(17), told: [] });
    expect(row(18)).toBeUndefined();
    const html = await (await fetch(`${world.baseUrl}/api/status`)).text();
    expect(html).toContain('Messages to marketplace contacts');
    expect(html).toContain('admin@mp11.example.com, ops@mp11.example.com');
    expect(html).toMatch(/sent, \d{4}-\d\d-\d\d \d\d:\d\d UTC: the token expires within 7 days/);
  });
});

describe('many instances at once', () => {
  let world: World;
  let b: Instance;
  let c: Instance;

  beforeAll(async () => {
    world = await startWorld({
      store: 'keyvault',
      marketplaces: (callbackUrl) => [31, 32, 33, 34].map((n) => stuck(callbackUrl, n)),
      email: { contacts: Object.fromEntries([31, 32, 33, 34].map((n) => [mp(n), contactsOf(n)])) },
    });
    for (const [n, days] of [
      [31, 10],
      [32, 5],
      [33, 2],
      [34, 0.7],
    ] as const)
      seed(world, n, 'CSP', days);
    [b, c] = await Promise.all([startInstance(), startInstance()]);
  });
  afterAll(async () => {
    await Promise.all([b?.stop(), c?.stop()]);
    await world.close();
  });

  test('three instances rotating at the same moment send each message once: the record is claimed with its ETag before the send', async () => {
    await Promise.all([rotate(world.baseUrl), rotate(b.url), rotate(c.url)]);
    const outbox = received(world);
    expect(outbox.map((m) => m.to[0]).sort()).toEqual([31, 32, 33, 34].map((n) => contactsOf(n)[0]).sort());
    // Each message was sent by exactly one of the three.
    const sent = [...logged(world, 'NotificationSent'), ...b.events('NotificationSent'), ...c.events('NotificationSent')];
    expect(sent.map((e) => e.marketplace).sort()).toEqual([31, 32, 33, 34].map(mp));
  });
});

describe('throttling and failures', () => {
  let world: World;

  beforeAll(async () => {
    world = await startWorld({
      store: 'keyvault',
      marketplaces: (callbackUrl) => [41, 42, 43].map((n) => stuck(callbackUrl, n)),
      email: { contacts: Object.fromEntries([41, 42, 43].map((n) => [mp(n), contactsOf(n)])) },
    });
  });
  afterAll(async () => {
    await world.close();
  });

  test('a 429 with a short Retry-After is retried in the same run, after that wait: one message, never failed', async () => {
    seed(world, 41, 'CSP', 5);
    world.email!.setFault({ kind: 'throttle', retryAfterSeconds: 1 });
    const started = Date.now();
    await rotate(world.baseUrl, mp(41));
    expect(messagesTo(world, 41)).toHaveLength(1);
    expect(world.email!.stats).toMatchObject({ throttled: 1, sends: 1 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_000);
    expect(logged(world, 'NotificationDeferred')).toEqual([expect.objectContaining({ marketplace: mp(41), why: 'retry', attempt: 1 })]);
    expect(logged(world, 'NotificationFailed')).toEqual([]);
  });

  test('a 429 with a long Retry-After waits for a later run (queued, never failed), which sends it', async () => {
    seed(world, 42, 'CSP', 5);
    world.email!.setFault({ kind: 'throttle', retryAfterSeconds: 3600 });
    await rotate(world.baseUrl, mp(42));
    expect(messagesTo(world, 42)).toEqual([]);
    expect(logged(world, 'NotificationFailed')).toEqual([]);
    expect(logged(world, 'NotificationDeferred').filter((e) => e.marketplace === mp(42))).toEqual([
      expect.objectContaining({ why: 'throttled', status: 429 }),
    ]);
    const table = world.storage.shared.table(tokenRecordsTable);
    const waiting = (await readTokenRecord(table, 'test', mp(42))).told?.expiry;
    expect(waiting).toMatchObject({ reason: 'expires-in-7', state: 'queued' });
    expect(Date.parse(waiting!.retryAt!) - Date.now()).toBeGreaterThan(3_500_000);

    // A run before the wait is over does not call Communication Services for it.
    const calls = world.email!.stats.sends + world.email!.stats.throttled;
    await rotate(world.baseUrl, mp(42));
    expect(world.email!.stats.sends + world.email!.stats.throttled).toBe(calls);

    // The delivery step of a run an hour later (the run's clock, as rotateAll hands it over) sends it.
    const settings = getSettings();
    const later = Date.now() + 3_601_000;
    const counts = await deliverMessages(
      {
        settings,
        config: marketplaceConfigFor(settings),
        shared: world.storage.shared,
        logger: { info: () => undefined, warn: () => undefined, error: () => undefined },
        runId: 'later',
        now: () => later,
        timeLeft: () => 60_000,
        mailer: () => openMailer(settings),
        sender: settings.NOTIFICATION_SENDER_ADDRESS!,
        pace: new SendPace({ perMinute: 30, perHour: 100 }),
      },
      {
        tokens: (await world.store.listTokens('test')).tokens.filter((t) => t.marketplace === mp(42)),
        outcomes: new Map(),
        records: await readTokenRecords(table, 'test'),
      },
    );
    expect(counts).toEqual({ sent: 1, deferred: 0, failed: 0, dropped: 0 });
    expect(messagesTo(world, 42)).toHaveLength(1);
    expect((await readTokenRecord(table, 'test', mp(42))).told?.expiry).toMatchObject({ reason: 'expires-in-7', state: 'sent' });
  });

  test('a message Communication Services refuses is logged for the alert, and changes nothing else', async () => {
    seed(world, 43, 'CSP', 5);
    const versionsBefore = world
      .vault!.versions(tokenSecretName(mp(43), 'test'))
      .map((v) => ({ version: v.version, enabled: v.enabled, tags: v.tags }));
    world.email!.setFault({ kind: 'status', status: 403, code: 'AuthorizationFailed' });
    const summary = await rotate(world.baseUrl, mp(43));
    world.email!.clearFaults();
    expect(messagesTo(world, 43)).toEqual([]);
    expect(logged(world, 'NotificationFailed')).toEqual([
      expect.objectContaining({
        marketplace: mp(43),
        reason: 'expires-in-7',
        kind: 'refused',
        status: 403,
        code: 'AuthorizationFailed',
        to: 'a…@mp43.example.com',
      }),
    ]);
    // The run is what it would have been: the token's own outcome, no run failure, the token untouched.
    expect(summary.results).toEqual([expect.objectContaining({ marketplace: mp(43), outcome: 'invalid-client' })]);
    expect(logged(world, 'RotationRunFailed')).toEqual([]);
    expect(world.vault!.versions(tokenSecretName(mp(43), 'test')).map((v) => ({ version: v.version, enabled: v.enabled, tags: v.tags }))).toEqual(
      versionsBefore,
    );
    const table = world.storage.shared.table(tokenRecordsTable);
    const record = await readTokenRecord(table, 'test', mp(43));
    expect(record.told?.expiry).toMatchObject({ state: 'failed' });
    expect(record.parked).toBeUndefined();
    // A failed message is not sent again the same day: the operator was alerted.
    await rotate(world.baseUrl, mp(43));
    expect(messagesTo(world, 43)).toEqual([]);
    const html = await (await fetch(`${world.baseUrl}/api/status`)).text();
    expect(html).toMatch(/Messages to 1 marketplace\(s\) failed/);
  });
});
