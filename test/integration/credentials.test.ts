/**
 * The apps' credentials through the real pieces (docs/SECURITY.md 32):
 * - the CPV app without a secret: the real ManagedIdentityCredential asks the Function App's
 *   managed-identity endpoint (a Key Vault fake's) for a token for api://AzureADTokenExchange,
 *   the identity simulator mints it, the real msal-node sends it as the client assertion and the
 *   simulator verifies it against the app's federated credential; a wrong one is refused with
 *   Entra's error and treated as an operator problem;
 * - a CSP app with a certificate from Key Vault instead of a client secret;
 * - every credential's days left on the status page, and the expiry warning of the rotation run.
 */
import { createHash, X509Certificate } from 'node:crypto';
import selfsigned from 'selfsigned';
import type { SimulatedClient } from '../../local/identitySimulator';
import type { TokenTags } from '../../shared/secrets/store';
import { cpvClientId, cpvEntry, cspEntry, tenants } from '../fixtures/config';
import { request, signIn, tokenFromPage } from '../support/flow';
import { secrets, startWorld, type World, type WorldOptions } from '../support/world';

jest.setTimeout(60_000);

const day = 86_400_000;
/** A distributor whose own app proves itself with a certificate. */
const certTenant = '55555555-5555-4555-8555-555555555555';
const certClientId = '66666666-6666-4666-8666-666666666666';
const certName = (id: string) => `partner-cert-${id}`;
/** Noon (UTC) `n` calendar days from today: `n` days left whatever the time of day the test runs. */
const noonIn = (n: number) => {
  const now = new Date();
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + n, 12));
};

interface TestCertificate {
  certificate: string;
  privateKey: string;
  sha256: string;
  notAfter: Date;
}

async function makeCertificate(notAfterDate = new Date(Date.now() + 200 * day)): Promise<TestCertificate> {
  const made = await selfsigned.generate([{ name: 'commonName', value: 'distributor app' }], { keyType: 'rsa', keySize: 2048, notAfterDate });
  const x509 = new X509Certificate(made.cert);
  return {
    certificate: made.cert,
    privateKey: made.private,
    sha256: createHash('sha256').update(x509.raw).digest('hex'),
    notAfter: new Date(x509.validTo),
  };
}

/** A CSP marketplace that names a Key Vault certificate instead of a client secret. */
function certEntry(id: string, callbackUrl: string): unknown {
  const {
    partner_client_secret_test: _test,
    partner_client_secret_production: _production,
    ...entry
  } = cspEntry(id, callbackUrl, certTenant, {
    partner_client_id_test: certClientId,
    partner_client_id_production: certClientId,
    partner_client_certificate_test: certName(id),
    partner_client_certificate_production: certName(id),
  });
  return entry;
}

function certApp(world: World, cert: TestCertificate): SimulatedClient {
  return { clientId: certClientId, redirectUris: [world.callbackUrl], multiTenant: false, certificates: [cert.certificate] };
}

/** Stores the certificate as Key Vault keeps one (or, in the file store, its PEM secret without an expiry). */
async function storeCertificate(world: World, name: string, cert: TestCertificate): Promise<void> {
  if (world.vault) {
    world.vault.seedCertificate(name, { certificate: cert.certificate, privateKey: cert.privateKey });
    return;
  }
  const files = world.store as typeof world.store & { setSecret(n: string, v: string, o?: { contentType?: string }): Promise<unknown> };
  await files.setSecret(name, `${cert.privateKey}\n${cert.certificate}`, { contentType: 'application/x-pem-file' });
}

/** A token as a sign-in two days ago left it, so rotation has something to redeem. */
async function seedToken(world: World, marketplace: string, model: 'CPV' | 'CSP', tenant: string, clientId: string): Promise<void> {
  const at = new Date(Date.now() - 2 * day).toISOString();
  const tags: TokenTags = { marketplace, environment: 'test', model, tenant, issuedAt: at, verifiedAt: at, status: 'active' };
  await world.store.putToken({
    marketplace,
    environment: 'test',
    value: world.simulator.issueRefreshTokenFor({ clientId, tenant }),
    tags,
    expiresOn: new Date(Date.now() + 88 * day),
  });
}

interface Summary {
  counts: Record<string, number>;
  results: { marketplace: string; outcome: string; reason?: string; aadsts?: number }[];
}

async function rotateNow(world: World, marketplace?: string): Promise<Summary> {
  const r = await request(`${world.baseUrl}/api/rotate${marketplace ? `?marketplace=${marketplace}` : ''}`, { method: 'POST' });
  expect(r.status).toBe(200);
  return JSON.parse(r.body) as Summary;
}

const eventsOf = (world: World, event: string) =>
  world.logs.filter((l) => l.message.includes(`"event":"${event}"`)).map((l) => JSON.parse(l.message) as Record<string, unknown>);

async function withWorld(options: WorldOptions, body: (world: World) => Promise<void>): Promise<void> {
  const world = await startWorld(options);
  try {
    await body(world);
  } finally {
    await world.close();
  }
}

describe('the CPV app signs in with the managed identity (federated credential), no secret', () => {
  it.each(['keyvault', 'file'] as const)(
    'generates and rotates a CPV token with assertions from the managed-identity endpoint, fetched once (%s store)',
    (store) =>
      withWorld({ store, cpvConsented: true, marketplaces: [cpvEntry('MP-00003')] }, async (world) => {
        world.simulator.reset();
        const generated = await signIn(world, 'MP-00002');
        expect(generated.callback.status).toBe(200);
        expect(tokenFromPage(generated.callback.body)).toBeTruthy();
        await seedToken(world, 'MP-00003', 'CPV', tenants.cpv, cpvClientId);
        const summary = await rotateNow(world);
        expect(
          summary.results
            .filter((r) => r.outcome === 'rotated')
            .map((r) => r.marketplace)
            .sort(),
        ).toEqual(['MP-00002', 'MP-00003']);

        // Every CPV request proved itself with an assertion; nothing sent or stored a CPV secret.
        expect(world.simulator.stats.clientAuthentications).toEqual({ secret: 0, certificate: 0, federated: 3 });
        expect(await world.store.getSecret('cpv-client-secret')).toBeUndefined();
        // The endpoint was asked once: the assertion is cached until shortly before it expires.
        expect(world.assertions).toHaveLength(1);
        expect(world.simulator.stats.managedIdentityTokensMinted).toBe(1);
      }),
  );

  const refusals = [
    { what: 'another audience', token: { audience: 'api://SomethingElse' }, aadsts: 700212, reason: 'federated-credential-mismatch' },
    {
      what: 'another identity (subject)',
      token: { principalId: '0ddba11c-0000-4000-8000-000000000000' },
      aadsts: 700213,
      reason: 'federated-credential-mismatch',
    },
    { what: 'an identity of another tenant (issuer)', token: { tenant: tenants.other }, aadsts: 700211, reason: 'federated-credential-mismatch' },
    { what: 'an expired token', token: { lifetimeSeconds: -120 }, aadsts: 700024, reason: 'assertion-expired' },
  ];
  it.each(refusals)(
    "an assertion with $what is refused with Entra's AADSTS$aadsts: an operator problem, one alert per run, no token marked",
    ({ token, aadsts, reason }) =>
      withWorld({ store: 'file', cpvConsented: true, managedIdentityToken: token, marketplaces: [cpvEntry('MP-00003')] }, async (world) => {
        // Sign-in: the page says the service's own application was refused, and stores nothing.
        const generated = await signIn(world, 'MP-00002');
        expect(generated.callback.status).toBe(502);
        expect(generated.callback.body).toContain(`Microsoft refused this service&#39;s application (AADSTS${aadsts})`);
        expect(await world.store.getToken('MP-00002', 'test')).toBeUndefined();
        // The operator hears of it from the sign-in too, as from rotation (docs/SECURITY.md 32).
        expect(eventsOf(world, 'InvalidClient')).toEqual([
          expect.objectContaining({ code: 'client_credentials_invalid', marketplace: 'MP-00002', aadsts }),
        ]);

        // Rotation: both CPV tokens stop at the app, one InvalidClient names the reason, both stay active.
        await seedToken(world, 'MP-00002', 'CPV', tenants.cpv, cpvClientId);
        await seedToken(world, 'MP-00003', 'CPV', tenants.cpv, cpvClientId);
        const summary = await rotateNow(world);
        expect(summary.counts['invalid-client']).toBe(2);
        const alerts = eventsOf(world, 'InvalidClient').filter((a) => a.runId !== undefined);
        expect(alerts).toHaveLength(1);
        expect(alerts[0]).toMatchObject({ class: 'invalid-client', reason, aadsts, clientId: cpvClientId });
        for (const mp of ['MP-00002', 'MP-00003']) expect((await world.store.getToken(mp, 'test'))?.tags.status).toBe('active');
        expect(eventsOf(world, 'TokenNeedsReauth')).toEqual([]);
      }),
  );

  it('the managed-identity endpoint down is transient: "try again" at sign-in, rotation marks nothing and alerts no operator', () =>
    withWorld({ store: 'file', cpvConsented: true }, async (world) => {
      world.identityEndpoint.faults.unavailable('msi', 1000);
      const generated = await signIn(world, 'MP-00002');
      expect(generated.callback.status).toBe(503);
      expect(world.simulator.stats.tokenCalls.total).toBe(0);

      await seedToken(world, 'MP-00002', 'CPV', tenants.cpv, cpvClientId);
      const summary = await rotateNow(world, 'MP-00002');
      expect(summary.results[0]).toMatchObject({ outcome: 'transient', reason: 'managed-identity' });
      expect(eventsOf(world, 'InvalidClient')).toEqual([]);
      expect((await world.store.getToken('MP-00002', 'test'))?.tags.status).toBe('active');

      world.identityEndpoint.faults.clear();
      expect((await rotateNow(world, 'MP-00002')).results[0]).toMatchObject({ outcome: 'rotated' });
    }));

  it('with CPV_CREDENTIAL=secret the CPV app still signs in with its secret', () =>
    withWorld({ store: 'file', cpvConsented: true, cpvCredential: 'secret' }, async (world) => {
      world.simulator.reset();
      expect((await signIn(world, 'MP-00002')).callback.status).toBe(200);
      expect(world.simulator.stats.clientAuthentications).toEqual({ secret: 1, certificate: 0, federated: 0 });
      expect(world.assertions).toEqual([]);
    }));
});

describe('a CSP app with a certificate instead of a client secret', () => {
  it.each(['keyvault', 'file'] as const)('generates and rotates a token, signing the assertion with the certificate from the store (%s)', (store) =>
    withWorld({ store, marketplaces: (callback) => [certEntry('MP-00004', callback)] }, async (world) => {
      const cert = await makeCertificate();
      world.simulator.registerClient(certApp(world, cert));
      await storeCertificate(world, certName('MP-00004'), cert);
      world.simulator.reset();

      const generated = await signIn(world, 'MP-00004');
      expect(generated.callback.status).toBe(200);
      const token = tokenFromPage(generated.callback.body);
      expect((await world.store.getToken('MP-00004', 'test'))?.value).toBe(token);
      const summary = await rotateNow(world, 'MP-00004');
      expect(summary.results).toEqual([expect.objectContaining({ marketplace: 'MP-00004', outcome: 'rotated' })]);
      expect(world.simulator.stats.clientAuthentications).toEqual({ secret: 0, certificate: 2, federated: 0 });
    }),
  );

  it('a certificate the app does not trust is refused (AADSTS700027): an operator problem, no token marked', () =>
    withWorld({ store: 'file', marketplaces: (callback) => [certEntry('MP-00004', callback)] }, async (world) => {
      const [registered, other] = await Promise.all([makeCertificate(), makeCertificate()]);
      world.simulator.registerClient(certApp(world, registered));
      await storeCertificate(world, certName('MP-00004'), other);
      const generated = await signIn(world, 'MP-00004');
      expect(generated.callback.status).toBe(502);
      expect(generated.callback.body).toContain('(AADSTS700027)');

      await seedToken(world, 'MP-00004', 'CSP', certTenant, certClientId);
      const summary = await rotateNow(world, 'MP-00004');
      expect(summary.results[0]).toMatchObject({ outcome: 'invalid-client', reason: 'certificate-refused', aadsts: 700027 });
      // One alert from the sign-in, one from the run (docs/SECURITY.md 32).
      expect(eventsOf(world, 'InvalidClient').filter((a) => a.runId === undefined)).toEqual([
        expect.objectContaining({ reason: 'certificate-refused', marketplace: 'MP-00004' }),
      ]);
      expect(eventsOf(world, 'InvalidClient').filter((a) => a.runId !== undefined)).toEqual([
        expect.objectContaining({ reason: 'certificate-refused', clientId: certClientId }),
      ]);
      expect((await world.store.getToken('MP-00004', 'test'))?.tags.status).toBe('active');
    }));

  it('a certificate missing from the store, or stored without its private key, stops that app with one alert and a page naming the field', () =>
    withWorld(
      { store: 'keyvault', marketplaces: (callback) => [certEntry('MP-00004', callback), certEntry('MP-00005', callback)] },
      async (world) => {
        const cert = await makeCertificate();
        world.simulator.registerClient(certApp(world, cert));
        world.vault?.seed(certName('MP-00005'), cert.certificate, { contentType: 'application/x-pem-file' });
        const missing = await signIn(world, 'MP-00004');
        expect(missing.callback.status).toBe(503);
        expect(missing.callback.body).toContain('(partner_client_certificate_test)');

        await seedToken(world, 'MP-00004', 'CSP', certTenant, certClientId);
        await seedToken(world, 'MP-00005', 'CSP', certTenant, certClientId);
        const calls = world.simulator.stats.tokenCalls.total;
        const summary = await rotateNow(world);
        expect(summary.results.filter((r) => r.marketplace !== 'MP-00001')).toEqual(
          expect.arrayContaining([
            expect.objectContaining({ marketplace: 'MP-00004', outcome: 'invalid-client', reason: 'secret-missing' }),
            expect.objectContaining({ marketplace: 'MP-00005', outcome: 'invalid-client', reason: 'certificate-unreadable' }),
          ]),
        );
        expect(world.simulator.stats.tokenCalls.total).toBe(calls);
        // The sign-in raised its own (marketplace_misconfigured, naming the field); the run one per credential.
        expect(eventsOf(world, 'InvalidClient').filter((a) => a.runId === undefined)).toEqual([
          expect.objectContaining({ marketplace: 'MP-00004', field: 'partner_client_certificate_test' }),
        ]);
        const alerts = eventsOf(world, 'InvalidClient').filter((a) => a.runId !== undefined);
        expect(alerts.map((a) => [a.secretName, a.reason]).sort()).toEqual([
          [certName('MP-00004'), 'secret-missing'],
          [certName('MP-00005'), 'certificate-unreadable'],
        ]);
      },
    ));
});

interface StatusJson {
  credentials: { kind: string; name?: string; state: string; daysLeft?: number; expiresAt?: string; usedBy: string[] }[];
}

describe('every credential warns before it expires', () => {
  it('the status page lists each credential with its days left, "expiry unknown" without one, "nothing expires" for the federated one', () =>
    withWorld(
      {
        store: 'keyvault',
        connect: { products: { 'MP-00001': ['PRD-111-111-111'] } },
        marketplaces: (callback) => [certEntry('MP-00004', callback)],
      },
      async (world) => {
        const cert = await makeCertificate(new Date(Date.now() + 45 * day));
        await storeCertificate(world, certName('MP-00004'), cert);
        // A new version of the partner secret, stored the way docs/DEPLOY.md says: with --expires.
        world.vault?.seed('partner-secret-MP-00001', secrets.csp, { expiresOn: noonIn(10) });

        const json = JSON.parse((await request(`${world.baseUrl}/api/status?format=json`)).body) as StatusJson;
        const byKind = Object.fromEntries(json.credentials.map((c) => [c.kind, c]));
        expect(byKind['partner-client-secret']).toMatchObject({
          name: 'partner-secret-MP-00001',
          state: 'expiring',
          daysLeft: 10,
          usedBy: ['MP-00001'],
        });
        expect(byKind['partner-certificate']).toMatchObject({ name: certName('MP-00004'), state: 'ok', usedBy: ['MP-00004'] });
        expect(byKind['partner-certificate']?.expiresAt?.slice(0, 16)).toBe(cert.notAfter.toISOString().slice(0, 16));
        expect(byKind['connect-api-key']).toMatchObject({ name: 'connect-api-key', state: 'expiry-unknown' });
        expect(byKind['cpv-federated']).toMatchObject({ state: 'nothing-expires', usedBy: ['MP-00002'] });
        expect(json.credentials[0]?.kind).toBe('partner-client-secret'); // most urgent first

        const page = (await request(`${world.baseUrl}/api/status`)).body.replace(/>\s+</g, '><');
        expect(page).toContain('<h2>Credentials (4)</h2>');
        expect(page).toContain('1 credential(s) expire within 30 days or have expired:');
        expect(page).toContain(
          '<td data-label="Credential">CSP app: client secret</td><td data-label="Key Vault name"><span class="nowrap">partner-secret-MP-00001</span></td><td data-label="Used by"><span class="nowrap">MP-00001</span></td>',
        );
        expect(page).toContain('<span class="error">10</span>');
        expect(page).toContain(
          '<td data-label="Credential">Connect API key</td><td data-label="Key Vault name"><span class="nowrap">connect-api-key</span></td><td data-label="Used by">Connect push</td><td data-label="Expires">—</td><td data-label="Days left">expiry unknown</td>',
        );
        expect(page).toContain(
          '<td data-label="Credential">CPV app: managed identity (federated credential)</td><td data-label="Key Vault name">—</td><td data-label="Used by"><span class="nowrap">MP-00002</span></td><td data-label="Expires">—</td><td data-label="Days left">nothing expires</td>',
        );
      },
    ));

  it('a certificate stored without an expiry (file store) shows its own notAfter', () =>
    withWorld({ store: 'file', marketplaces: (callback) => [certEntry('MP-00004', callback)] }, async (world) => {
      const cert = await makeCertificate(new Date(Date.now() + 20 * day));
      await storeCertificate(world, certName('MP-00004'), cert);
      const json = JSON.parse((await request(`${world.baseUrl}/api/status?format=json`)).body) as StatusJson;
      expect(json.credentials.find((c) => c.kind === 'partner-certificate')).toMatchObject({
        state: 'expiring',
        expiresAt: cert.notAfter.toISOString(),
      });
    }));

  it('the rotation run logs CredentialExpiring for a credential at a threshold, once that day however often it runs', () =>
    withWorld({ store: 'keyvault', marketplaces: (callback) => [certEntry('MP-00004', callback)] }, async (world) => {
      const cert = await makeCertificate(noonIn(7));
      world.simulator.registerClient(certApp(world, cert));
      await storeCertificate(world, certName('MP-00004'), cert);
      world.vault?.seed('partner-secret-MP-00001', secrets.csp, { expiresOn: noonIn(14) });
      await rotateNow(world);
      await rotateNow(world);
      const warnings = eventsOf(world, 'CredentialExpiring');
      expect(warnings.map((w) => [w.name, w.threshold, w.daysLeft])).toEqual(
        expect.arrayContaining([
          ['partner-secret-MP-00001', 14, 14],
          [certName('MP-00004'), 7, 7],
        ]),
      );
      expect(warnings).toHaveLength(2);
      expect(warnings.find((w) => w.name === certName('MP-00004'))).toMatchObject({
        credential: 'partner-certificate',
        usedBy: 'MP-00004',
        expired: false,
      });
      // The warning names the credential; nothing read from it.
      for (const w of warnings) expect(JSON.stringify(w)).not.toMatch(/BEGIN|PRIVATE|secret-value/);
    }));
});
