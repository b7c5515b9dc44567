/**
 * Failures a new sign-in does not cure never park a token (docs/SECURITY.md 34), end to end through the
 * real rotation (POST /api/rotate), msal-node against the identity simulator and the file store:
 * - a mistyped or wrong `partner_tenant_id_*` is the operator's file: alerted as configuration, no token marked,
 *   and the token rotates again once the entry is right;
 * - AADSTS70021 while a new federated credential propagates is retried, and alerted only when it lasts;
 * - AADSTS53003 (Conditional Access) is marked for a person, and the alert and status page say that the
 *   partner's administrator must change or exclude the policy, because signing in again does not help.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { setPropagationRetry } from '../../shared/identity/federated';
import { resetMarketplaceConfigCache } from '../../shared/marketplaces/config';
import { readCurrentToken } from '../../shared/secrets/currentToken';
import { readTokenRecord, tokenRecordsTable, updateTokenRecord } from '../../shared/storage/tokenRecords';
import { cpvClientId, tenants } from '../fixtures/config';
import { request, signIn } from '../support/flow';
import { startWorld, unboundedSignIns, type World } from '../support/world';

interface Result {
  marketplace: string;
  outcome: string;
  reason?: string;
  aadsts?: number;
}

let world: World;
beforeAll(async () => {
  world = await startWorld({ store: 'file', cpvConsented: true, signInBounds: unboundedSignIns });
});
afterAll(async () => {
  setPropagationRetry();
  await world.close();
});
afterEach(() => {
  world.simulator.faults.clear();
  setPropagationRetry();
});

async function rotateNow(marketplace: string): Promise<Result> {
  const r = await request(`${world.baseUrl}/api/rotate?marketplace=${marketplace}`, { method: 'POST' });
  expect(r.status).toBe(200);
  return (JSON.parse(r.body) as { results: Result[] }).results[0]!;
}

/** Edits the configured tenant of a marketplace as an operator would, and lets the service read the file again. */
function setTenant(marketplace: string, tenant: string): void {
  const path = process.env.MARKETPLACE_CONFIG_PATH!;
  const config = JSON.parse(readFileSync(path, 'utf8')) as { marketplaces: Record<string, unknown>[] };
  const entry = config.marketplaces.find((m) => m.id === marketplace)!;
  entry.partner_tenant_id_test = tenant;
  writeFileSync(path, JSON.stringify(config));
  resetMarketplaceConfigCache();
}

const events = (name: string) =>
  world.logs
    .map((l) => l.message)
    .filter((m) => m.includes(`"event":"${name}"`))
    .map((m) => JSON.parse(m) as Record<string, unknown>);

describe("a mistyped partner tenant id is the operator's problem, never the token's", () => {
  it('CSP: an unknown tenant (AADSTS90002) or another tenant (AADSTS7000012) is alerted as configuration; the token rotates again once fixed', async () => {
    expect((await signIn(world, 'MP-00001')).callback.status).toBe(200);
    const typo = tenants.csp.replace(/1$/, '2');
    world.simulator.faults.apply({ kind: 'tenantNotFound', tenant: typo });
    const reauthBefore = events('TokenNeedsReauth').length;
    try {
      setTenant('MP-00001', typo);
      expect(await rotateNow('MP-00001')).toMatchObject({ outcome: 'misconfigured', reason: 'tenant-not-found', aadsts: 90002 });
      setTenant('MP-00001', tenants.other);
      expect(await rotateNow('MP-00001')).toMatchObject({ outcome: 'misconfigured', reason: 'wrong-tenant', aadsts: 7000012 });
      // Twice, and the token is still active: nothing parked it.
      const token = await world.store.getToken('MP-00001', 'test');
      expect(token?.tags.status).toBe('active');
      expect(token?.tags.lastError).toBeUndefined();
      expect(events('TokenNeedsReauth').length).toBe(reauthBefore);
      const alerts = events('ConfigurationInvalid').filter((e) => e.marketplace === 'MP-00001');
      expect(alerts.map((e) => e.field)).toEqual(['partner_tenant_id_test', 'partner_tenant_id_test']);
      expect(alerts[1]).toMatchObject({ tenant: tenants.other, tokenTenant: tenants.csp, class: 'configuration' });
    } finally {
      setTenant('MP-00001', tenants.csp);
    }
    expect(await rotateNow('MP-00001')).toMatchObject({ outcome: 'rotated' });
  });

  it("CPV: a tenant that never consented answers AADSTS700016; because it is not the token's tenant, that is configuration too, and the CPV app is not blocked", async () => {
    expect((await signIn(world, 'MP-00002')).callback.status).toBe(200);
    const invalidClientBefore = events('InvalidClient').length;
    try {
      setTenant('MP-00002', tenants.other);
      expect(await rotateNow('MP-00002')).toMatchObject({ outcome: 'misconfigured', aadsts: 700016 });
      expect((await world.store.getToken('MP-00002', 'test'))?.tags.status).toBe('active');
      expect(events('InvalidClient').length).toBe(invalidClientBefore);
    } finally {
      setTenant('MP-00002', tenants.cpv);
    }
    expect(await rotateNow('MP-00002')).toMatchObject({ outcome: 'rotated' });
  });
});

describe("AADSTS70021 while the CPV application's new federated credential propagates", () => {
  it('is retried with backoff and the rotation succeeds when the credential arrives; no alert', async () => {
    const sleeps: number[] = [];
    setPropagationRetry({ windowMs: 60_000, backoff: { baseMs: 2_000, maxMs: 15_000 }, sleep: async (ms) => void sleeps.push(ms) });
    world.simulator.faults.apply({ kind: 'federatedCredentialPropagating', clientId: cpvClientId, count: 2 });
    const before = events('InvalidClient').length;
    expect(await rotateNow('MP-00002')).toMatchObject({ outcome: 'rotated' });
    expect(sleeps).toHaveLength(2);
    expect(events('InvalidClient').length).toBe(before);
  });

  it('is alerted (InvalidClient, once) when it outlasts the window; the token is not marked', async () => {
    let clock = 0;
    setPropagationRetry({ windowMs: 60_000, backoff: { baseMs: 2_000, maxMs: 15_000 }, now: () => clock, sleep: async (ms) => void (clock += ms) });
    world.simulator.faults.apply({ kind: 'federatedCredentialPropagating', clientId: cpvClientId, count: 10_000 });
    const before = events('InvalidClient').length;
    expect(await rotateNow('MP-00002')).toMatchObject({ outcome: 'invalid-client', aadsts: 70021 });
    const alerts = events('InvalidClient').slice(before);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ clientId: cpvClientId, aadsts: 70021, marketplace: 'MP-00002' });
    expect((await world.store.getToken('MP-00002', 'test'))?.tags.status).toBe('active');
    expect(clock).toBeGreaterThan(30_000);
  });
});

describe('AADSTS53003: blocked by Conditional Access', () => {
  it("marks the token for a person, and the alert and the status page say the partner's administrator must change or exclude the policy", async () => {
    world.simulator.faults.apply({ kind: 'conditionalAccessBlocked', tenant: tenants.csp });
    expect(await rotateNow('MP-00001')).toMatchObject({ outcome: 'needs-reauth', reason: 'conditional-access', aadsts: 53003 });
    const alert = events('TokenNeedsReauth').find((e) => e.marketplace === 'MP-00001' && e.aadsts === 53003);
    expect(alert?.todo).toMatch(/signing in again does not help; the partner's administrator must change the policy or exclude/);
    const status = await request(`${world.baseUrl}/api/status`);
    expect(status.body).toContain('blocked by a Conditional Access policy of the partner tenant (AADSTS53003): signing in again does not help');
  });
});

describe('one ambiguous refusal by Partner Center parks nothing (docs/SECURITY.md 34)', () => {
  const records = () => world.storage.shared.table(tokenRecordsTable);

  it('a 401 without the MFA code (900421): the token stays current and is tried again; refused again an hour or more later, it is parked, and the status page says why and since when', async () => {
    expect((await signIn(world, 'MP-00001')).callback.status).toBe(200);
    const before = await world.store.getToken('MP-00001', 'test');
    world.partnerCenter.setFault({ kind: 'unauthorized', tenant: tenants.csp, count: 1 });
    expect(await rotateNow('MP-00001')).toMatchObject({ outcome: 'transient', reason: 'partner-center-unauthorized-unconfirmed' });
    const current = await readCurrentToken(world.store, 'MP-00001', 'test');
    expect(current?.current.version).toBe(before?.version);
    expect(current?.staged?.tags.status).toBe('pending');
    expect(await readTokenRecord(records(), 'test', 'MP-00001')).toMatchObject({ refusals: { count: 1, reason: 'partner-center-unauthorized' } });
    expect((await request(`${world.baseUrl}/api/status`)).body).toContain('Partner Center refused it 1 time since');

    // Refused again minutes later (a redelivered near-expiry event): still not confirmed.
    world.partnerCenter.setFault({ kind: 'unauthorized', tenant: tenants.csp, count: 1 });
    expect(await rotateNow('MP-00001')).toMatchObject({ outcome: 'transient', reason: 'partner-center-unauthorized-unconfirmed' });

    // As if the first refusal were two hours old: the next refusal confirms it.
    await updateTokenRecord(records(), 'test', 'MP-00001', (r) => ({
      ...r,
      refusals: { ...r.refusals!, since: new Date(Date.now() - 7_200_000).toISOString() },
    }));
    world.partnerCenter.setFault({ kind: 'unauthorized', tenant: tenants.csp, count: 1 });
    expect(await rotateNow('MP-00001')).toMatchObject({ outcome: 'needs-reauth', reason: 'partner-center-unauthorized' });
    expect((await readTokenRecord(records(), 'test', 'MP-00001')).parked).toMatchObject({ reason: 'partner-center-unauthorized' });
    expect((await request(`${world.baseUrl}/api/status`)).body).toContain('waiting for a person to generate it again');
    // The proven version Partner Center accepted before stays current.
    expect((await readCurrentToken(world.store, 'MP-00001', 'test'))?.current.version).toBe(before?.version);
  });

  it('a refusal that a later run does not repeat is forgotten: the token rotates, and nothing is left recorded', async () => {
    expect((await signIn(world, 'MP-00001')).callback.status).toBe(200);
    world.partnerCenter.setFault({ kind: 'unauthorized', tenant: tenants.csp, count: 1 });
    expect(await rotateNow('MP-00001')).toMatchObject({ outcome: 'transient' });
    expect(await rotateNow('MP-00001')).toMatchObject({ outcome: 'rotated' });
    expect(await readTokenRecord(records(), 'test', 'MP-00001')).toEqual({ marketplace: 'MP-00001' });
  });
});

describe('a parked token whose configuration entry changed since is tried again', () => {
  it('parked under one entry, it is left alone while the entry says the same; once the operator changes it, the token is tried again; a new sign-in clears what was kept', async () => {
    expect((await signIn(world, 'MP-00002')).callback.status).toBe(200);
    const token = await world.store.getToken('MP-00002', 'test');
    world.simulator.faults.apply({ kind: 'refreshTokenRevoked', refreshToken: token?.value ?? '' });
    expect(await rotateNow('MP-00002')).toMatchObject({ outcome: 'needs-reauth' });
    const calls = () => world.simulator.stats.tokenCalls.refresh_token;
    const before = calls();
    expect(await rotateNow('MP-00002')).toMatchObject({ outcome: 'skipped', reason: 'needs-reauth' });
    expect(calls()).toBe(before);
    // The same tenant written in capitals is the same entry; another tenant is not (a CSP entry's
    // application or credential count as well).
    try {
      setTenant('MP-00002', tenants.cpv.toUpperCase());
      expect(await rotateNow('MP-00002')).toMatchObject({ outcome: 'skipped', reason: 'needs-reauth' });
      setTenant('MP-00002', tenants.other);
      // Tried again, refused (the other tenant is not the token's: configuration, never parked).
      expect((await rotateNow('MP-00002')).outcome).toBe('misconfigured');
      expect(calls()).toBe(before + 1);
    } finally {
      setTenant('MP-00002', tenants.cpv);
    }
    world.simulator.faults.clear();
    expect((await signIn(world, 'MP-00002')).callback.status).toBe(200);
    expect(await readTokenRecord(world.storage.shared.table(tokenRecordsTable), 'test', 'MP-00002')).toEqual({ marketplace: 'MP-00002' });
    expect(await rotateNow('MP-00002')).toMatchObject({ outcome: 'rotated' });
  });
});
