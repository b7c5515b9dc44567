/**
 * What the status page and a rotation cost Key Vault, counted by the Key Vault fake per REST
 * operation (docs/PERFORMANCE.md): the status page reads no secret at all, only list pages of
 * 25, and a rotation costs each token the stated requests, no more. So a later change cannot
 * quietly bring per-token reads back (at 5,000 tokens that would be over Key Vault's 4,000
 * requests per 10 s for one look at the status page).
 */
import type { VaultOperation } from '../../local/keyVaultFake';
import { tokenSecretName, type TokenTags } from '../../shared/secrets/store';
import { cpvClientId, cpvEntry, tenants } from '../fixtures/config';
import { request } from '../support/flow';
import { startWorld, type World } from '../support/world';

const day = 86_400_000;
const tokens = 60;
const marketplaceIds = Array.from({ length: tokens }, (_, i) => `MP-${String(70_001 + i)}`);

let world: World;

beforeAll(async () => {
  world = await startWorld({ store: 'keyvault', cpvConsented: true, marketplaces: marketplaceIds.map((id) => cpvEntry(id, tenants.cpv)) });
  const at = new Date(Date.now() - 20 * day).toISOString();
  for (const marketplace of marketplaceIds) {
    const tags: TokenTags = { marketplace, environment: 'test', model: 'CPV', tenant: tenants.cpv, issuedAt: at, verifiedAt: at, status: 'active' };
    await world.store.putToken({
      marketplace,
      environment: 'test',
      value: world.simulator.issueRefreshTokenFor({ clientId: cpvClientId, tenant: tenants.cpv }),
      tags,
      expiresOn: new Date(Date.now() + 70 * day),
    });
  }
});

afterAll(async () => {
  await world?.close();
});

function vault() {
  if (!world.vault) throw new Error('the world has no Key Vault fake');
  return world.vault;
}

/** Operations the fake answered while `action` ran. */
async function counted(action: () => Promise<void>): Promise<Record<VaultOperation, number>> {
  const before = { ...vault().stats.operations };
  await action();
  const after = vault().stats.operations;
  return Object.fromEntries(Object.entries(after).map(([op, n]) => [op, n - before[op as VaultOperation]])) as Record<VaultOperation, number>;
}

/** List pages of 25 that one walk over every secret of the vault takes. */
const pagesOfTheVault = () => Math.ceil(vault().secretNames().length / 25);

async function rotateAllNow(): Promise<Record<string, number>> {
  const r = await request(`${world.baseUrl}/api/rotate`, { method: 'POST' });
  expect(r.status).toBe(200);
  return (JSON.parse(r.body) as { counts: Record<string, number> }).counts;
}

it(`GET /api/status of ${tokens} tokens reads no secret: one walk over the list pages, nothing else`, async () => {
  let body = '';
  const ops = await counted(async () => {
    const r = await request(`${world.baseUrl}/api/status?format=json`);
    expect(r.status).toBe(200);
    body = r.body;
  });
  expect((JSON.parse(body) as { tokens: unknown[] }).tokens).toHaveLength(tokens);
  expect(pagesOfTheVault()).toBeGreaterThan(2);
  expect(ops).toEqual({ getSecret: 0, setSecret: 0, updateSecret: 0, listSecrets: pagesOfTheVault(), listSecretVersions: 0, deleteSecret: 0 });
});

it('a rotation costs each token: read, write, promote, read back; and, once two versions are enabled, one more to disable the oldest', async () => {
  // First run: each token has one enabled version, so none is disabled.
  const first = await counted(async () => {
    expect((await rotateAllNow()).rotated).toBe(tokens);
  });
  // The run's own: its listing of the vault. Its record goes to the app's storage account, not the vault: no write per run.
  const pagesBefore = pagesOfTheVault();
  expect(first).toEqual({
    getSecret: 2 * tokens,
    setSecret: tokens,
    updateSecret: tokens,
    listSecrets: expect.any(Number),
    listSecretVersions: 0,
    deleteSecret: 0,
  });
  // One walk to find the tokens, one for the credentials' expiry after the run (shared/credentials/warnings.ts).
  expect(first.listSecrets).toBeLessThanOrEqual(2 * pagesBefore);

  // Second run: the previous version is the fallback, the one before it is disabled (at most two enabled).
  const second = await counted(async () => {
    expect((await rotateAllNow()).rotated).toBe(tokens);
  });
  expect(second).toEqual({
    getSecret: 2 * tokens,
    setSecret: tokens,
    updateSecret: 2 * tokens,
    listSecrets: expect.any(Number),
    listSecretVersions: 0,
    deleteSecret: 0,
  });
  expect(second.listSecrets).toBeLessThanOrEqual(2 * pagesOfTheVault());
  for (const marketplace of marketplaceIds.slice(0, 3)) {
    expect(
      vault()
        .versions(tokenSecretName(marketplace, 'test'))
        .filter((v) => v.enabled),
    ).toHaveLength(2);
  }
});
