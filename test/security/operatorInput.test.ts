/**
 * What an operator can get wrong, and what the service must then say (docs/SECURITY.md 31, 32),
 * through the real handlers served by the local host and the file store of local mode:
 * - a stored token whose marketplace has no usable entry (removed, a look-alike ID) is shown on
 *   the status page, counted as failed and alerted, and its ID answers "misconfigured";
 * - one secret file the store cannot read is that secret's problem: the status page and the
 *   other marketplaces' rotation carry on;
 * - a certificate the service cannot sign with is shown as unusable with the reason, and one Entra
 *   refuses (the wrong thumbprint) raises the same InvalidClient alert at the callback as in rotation.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import selfsigned from 'selfsigned';
import type { TokenTags } from '../../shared/secrets/store';
import { cpvEntry, cspEntry, tenants } from '../fixtures/config';
import { request, signIn } from '../support/flow';
import { startWorld, unboundedSignIns, type World } from '../support/world';

jest.setTimeout(60_000);

const day = 86_400_000;
const certTenant = '55555555-5555-4555-8555-555555555555';
const certClientId = '66666666-6666-4666-8666-666666666666';

interface RunSummary {
  counts: Record<string, number>;
  results: { marketplace: string; outcome: string; reason?: string }[];
}
interface StatusJson {
  tokens: { marketplace: string; status: string; lastError?: string }[];
  credentials: { kind: string; name?: string; state: string; problem?: string; usedBy: string[] }[];
}

const eventsOf = (world: World, event: string) =>
  world.logs.filter((l) => l.message.includes(`"event":"${event}"`)).map((l) => JSON.parse(l.message) as Record<string, unknown>);
const status = async (world: World) => JSON.parse((await request(`${world.baseUrl}/api/status?format=json`)).body) as StatusJson;
const rotateAll = async (world: World) => {
  const r = await request(`${world.baseUrl}/api/rotate`, { method: 'POST' });
  expect(r.status).toBe(200);
  return JSON.parse(r.body) as RunSummary;
};
const postStart = (world: World, marketplace: string) =>
  request(world.startUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin' },
    body: new URLSearchParams({ marketplace }).toString(),
  });

/** A token as a sign-in two days ago left it (a refresh token the simulator honours). */
async function seedToken(world: World, marketplace: string, tenant = tenants.cpv, clientId = '44444444-4444-4444-8444-444444444444'): Promise<void> {
  const at = new Date(Date.now() - 2 * day).toISOString();
  const tags: TokenTags = { marketplace, environment: 'test', model: 'CPV', tenant, issuedAt: at, verifiedAt: at, status: 'active' };
  await world.store.putToken({
    marketplace,
    environment: 'test',
    value: world.simulator.issueRefreshTokenFor({ clientId, tenant }),
    tags,
    expiresOn: new Date(Date.now() + 88 * day),
  });
}

async function withWorld(options: Parameters<typeof startWorld>[0], body: (world: World) => Promise<void>): Promise<void> {
  const world = await startWorld({ store: 'file', signInBounds: unboundedSignIns, cpvConsented: true, ...options });
  try {
    await body(world);
  } finally {
    await world.close();
  }
}

describe('a stored token without a usable marketplace entry (docs/SECURITY.md 31)', () => {
  it('removed or a look-alike in the file: the status page shows it, rotation counts it as failed and alerts, the ID answers "misconfigured"', () =>
    withWorld(
      // MP-00003 is in the file only with a Cyrillic М; MP-00004 not at all (removed); MP-00005 is fine.
      { marketplaces: [cpvEntry('\u041cP-00003'), cpvEntry('MP-00005')] },
      async (world) => {
        for (const id of ['MP-00003', 'MP-00004', 'MP-00005']) await seedToken(world, id);

        const summary = await rotateAll(world);
        const byId = Object.fromEntries(summary.results.map((r) => [r.marketplace, r]));
        expect([byId['MP-00003'], byId['MP-00004'], byId['MP-00005']?.outcome]).toEqual([
          { marketplace: 'MP-00003', outcome: 'needs-attention', reason: 'not-configured' },
          { marketplace: 'MP-00004', outcome: 'needs-attention', reason: 'not-configured' },
          'rotated',
        ]);
        expect(
          eventsOf(world, 'TokenNotConfigured')
            .map((e) => [e.marketplace, e.reason, e.field])
            .sort(),
        ).toEqual([
          ['MP-00003', 'entry-invalid', 'id'],
          ['MP-00004', 'not-in-file', undefined],
        ]);
        const completed = eventsOf(world, 'RotationRunCompleted').at(-1);
        expect(completed).toMatchObject({ failed: 2, needsAttention: 2 });

        const json = await status(world);
        expect(json.tokens.filter((t) => t.status === 'not-configured').map((t) => [t.marketplace, t.lastError])).toEqual([
          ['MP-00003', 'its entry in the configuration file is invalid (id): nothing rotates it'],
          ['MP-00004', 'not in the configuration file (removed or mistyped): nothing rotates it'],
        ]);
        const page = (await request(`${world.baseUrl}/api/status`)).body;
        expect(page).toContain('2 token(s) have no usable entry in the configuration file:');
        expect(page).toContain('marketplaces[2] (MP-00003) id: is not MP-00003: it holds letters of another alphabet (Cyrillic or Greek)');

        // The partner typing the real ID meets an outage the operator is told about, not "not found".
        const from = world.logs.length;
        const start = await postStart(world, 'MP-00003');
        expect(start.status).toBe(503);
        expect(world.logs.slice(from).some((l) => l.message.includes('"event":"ConfigurationInvalid"'))).toBe(true);
        expect((await postStart(world, 'MP-00004')).status).toBe(404);
      },
    ));
});

describe('one unreadable secret file in the local file store (docs/SECURITY.md 18, 31)', () => {
  it("is that secret's problem: the status page answers, the other marketplaces rotate", () =>
    withWorld({ marketplaces: [cpvEntry('MP-00003'), cpvEntry('MP-00006'), cpvEntry('MP-00007')] }, async (world) => {
      await seedToken(world, 'MP-00003');
      const dir = process.env.LOCAL_SECRET_STORE_DIR ?? '';
      // A broken file and one the process cannot read as a file (root reads any mode, so a folder stands for "not readable").
      writeFileSync(join(dir, 'refresh-token-test-MP-00006.json'), '{ "name": "refresh-token-test-MP-00006", "versions": [ { "val');
      mkdirSync(join(dir, 'refresh-token-test-MP-00007.json'));
      writeFileSync(join(dir, 'partner-secret-MP-00001.json'), 'not json');

      const page = await request(`${world.baseUrl}/api/status?format=json`);
      expect(page.status).toBe(200);
      const json = JSON.parse(page.body) as StatusJson;
      expect(json.tokens.filter((t) => t.status === 'needs-attention').map((t) => [t.marketplace, t.lastError])).toEqual([
        ['MP-00006', 'unreadable'],
        ['MP-00007', 'unreadable'],
      ]);
      expect(json.credentials.find((c) => c.name === 'partner-secret-MP-00001')).toMatchObject({ state: 'unreadable', usedBy: ['MP-00001'] });
      expect((await request(`${world.baseUrl}/api/status`)).body).toContain('cannot be read from the secret store');

      const summary = await rotateAll(world);
      expect(summary.results.map((r) => [r.marketplace, r.outcome, r.reason]).sort()).toEqual([
        ['MP-00003', 'rotated', undefined],
        ['MP-00006', 'needs-attention', 'unreadable'],
        ['MP-00007', 'needs-attention', 'unreadable'],
      ]);
      expect(eventsOf(world, 'RotationRunFailed')).toEqual([]);
    }));
});

/** A certificate and key pair as Key Vault's PEM secret would hold it. */
async function rsaCertificate(): Promise<{ certificate: string; privateKey: string }> {
  const made = await selfsigned.generate([{ name: 'commonName', value: 'distributor app' }], {
    keyType: 'rsa',
    keySize: 2048,
    notAfterDate: new Date(Date.now() + 200 * day),
  });
  return { certificate: made.cert, privateKey: made.private };
}

function certEntry(id: string, callbackUrl: string): unknown {
  const {
    partner_client_secret_test: _test,
    partner_client_secret_production: _production,
    ...entry
  } = cspEntry(id, callbackUrl, certTenant, {
    partner_client_id_test: certClientId,
    partner_client_id_production: certClientId,
    partner_client_certificate_test: `partner-cert-${id}`,
    partner_client_certificate_production: `partner-cert-${id}`,
  });
  return entry;
}

type FileStore = World['store'] & { setSecret(name: string, value: string, o?: { contentType?: string; expiresOn?: Date }): Promise<unknown> };

describe('certificates the service cannot use (docs/SECURITY.md 32)', () => {
  const ids = ['MP-00011', 'MP-00012', 'MP-00013', 'MP-00014', 'MP-00015', 'MP-00016'];

  it('are shown as unusable with the reason, not "expiry unknown", whether or not they carry an expiry', () =>
    withWorld({ marketplaces: (callback) => ids.map((id) => certEntry(id, callback)) }, async (world) => {
      const [a, b] = await Promise.all([rsaCertificate(), rsaCertificate()]);
      const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
      const encrypted = generateKeyPairSync('rsa', {
        modulusLength: 2048,
        privateKeyEncoding: { type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'operator' },
        publicKeyEncoding: { type: 'spki', format: 'pem' },
      }).privateKey;
      const store = world.store as FileStore;
      const stored: [string, string, string | undefined][] = [
        ['MP-00011', a.certificate, undefined],
        ['MP-00012', a.privateKey, undefined],
        ['MP-00013', `${ec}\n${a.certificate}`, undefined],
        ['MP-00014', `${encrypted}\n${a.certificate}`, undefined],
        ['MP-00015', `${b.privateKey}\n${a.certificate}`, undefined],
        ['MP-00016', randomBytes(900).toString('base64'), 'application/x-pkcs12'],
      ];
      for (const [id, value, contentType] of stored)
        await store.setSecret(`partner-cert-${id}`, value, {
          ...(contentType ? { contentType } : { contentType: 'application/x-pem-file' }),
          // Half of them as Key Vault keeps a certificate's secret: with its expiry.
          ...(Number(id.slice(-1)) % 2 === 0 ? { expiresOn: new Date(Date.now() + 100 * day) } : {}),
        });

      const json = await status(world);
      expect(
        Object.fromEntries(json.credentials.filter((c) => c.kind === 'partner-certificate').map((c) => [c.usedBy.join(), [c.state, c.problem]])),
      ).toEqual({
        'MP-00011': ['unusable', 'no private key in it (import the certificate with its private key, exportable)'],
        'MP-00012': ['unusable', 'no certificate in it'],
        'MP-00013': ['unusable', 'not an RSA key (Entra certificate credentials are RSA)'],
        'MP-00014': ['unusable', 'an encrypted private key (import it without a password)'],
        'MP-00015': ['unusable', 'no certificate that matches its private key'],
        'MP-00016': ['unusable', 'not PEM (Key Vault stores this certificate as PKCS#12: set its policy content type to application/x-pem-file)'],
      });
      const page = (await request(`${world.baseUrl}/api/status`)).body;
      expect(page).toContain('6 certificate(s) cannot be used to sign in:');
      expect(page).toContain('unusable: no certificate that matches its private key');
      const certificateRows = page.split('<tr>').filter((row) => row.includes('CSP app: certificate'));
      expect(certificateRows).toHaveLength(6);
      expect(certificateRows.filter((row) => row.includes('expiry unknown') || !row.includes('unusable: '))).toEqual([]);
    }));

  it('one Entra refuses (the wrong thumbprint) raises InvalidClient at the callback, as rotation does, not TokenGenerationFailed', () =>
    withWorld({ marketplaces: (callback) => [certEntry('MP-00011', callback)] }, async (world) => {
      const [registered, stored] = await Promise.all([rsaCertificate(), rsaCertificate()]);
      world.simulator.registerClient({
        clientId: certClientId,
        redirectUris: [world.callbackUrl],
        multiTenant: false,
        certificates: [registered.certificate],
      });
      await (world.store as FileStore).setSecret('partner-cert-MP-00011', `${stored.privateKey}\n${stored.certificate}`, {
        contentType: 'application/x-pem-file',
      });
      const from = world.logs.length;
      const generated = await signIn(world, 'MP-00011');
      expect(generated.callback.status).toBe(502);
      const lines = world.logs.slice(from).map((l) => JSON.parse(l.message) as Record<string, unknown>);
      expect(lines.filter((l) => l.event === 'InvalidClient')).toEqual([
        expect.objectContaining({ code: 'client_credentials_invalid', marketplace: 'MP-00011', aadsts: 700027 }),
      ]);
      expect(lines.filter((l) => l.event === 'TokenGenerationFailed')).toEqual([]);
    }));
});
