/**
 * The credential rules on their own (docs/SECURITY.md 32): which credential an app uses, reading a
 * certificate's secret, the managed-identity assertion's cache, how Entra's refusals of an
 * assertion are classified, and when an expiring credential is warned about (injected clock).
 */
import { createHash, generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import selfsigned from 'selfsigned';
import { calendarDaysLeft, healthOf, type CredentialHealth } from '../../shared/credentials/expiry';
import { credentialsInUse } from '../../shared/credentials/inUse';
import { ExpiryWarnings, warningThresholdOf } from '../../shared/credentials/warnings';
import { pemBlocks, readCertificateSecret } from '../../shared/identity/certificate';
import { AppCredentialError } from '../../shared/identity/credentialError';
import { appCredentialsFor, appIdentityOf } from '../../shared/identity/credentials';
import { cachedAssertion, renewBeforeExpiryMs, type ExpiringToken } from '../../shared/identity/federated';
import { classifyTokenFailure } from '../../shared/identity/tokenFailure';
import { parseMarketplaceConfig } from '../../shared/marketplaces/config';
import { findMarketplace } from '../../shared/marketplaces/marketplace';
import { loadSettings, type Settings } from '../../shared/settings';
import { html } from '../../shared/web/html';
import { credentialsSection } from '../../shared/web/pages/credentialsSection';
import { cpvClientId, cpvEntry, cspEntry } from '../fixtures/config';

const day = 86_400_000;
const callback = 'https://app.example/api/callback';

function settings(extra: Record<string, string> = {}): Settings {
  return loadSettings({
    SERVICE_ENVIRONMENT: 'test',
    CALLBACK_URL: callback,
    LOCAL_SECRET_STORE_DIR: '/tmp/unused',
    AzureWebJobsStorage__accountName: 'stfuncapp0001',
    TRANSACTION_COOKIE_KEY: randomBytes(32).toString('base64url'),
    CPV_CLIENT_ID: cpvClientId,
    ...extra,
  });
}

async function certificate(validity: { notAfterDate?: Date } = {}) {
  const made = await selfsigned.generate([{ name: 'commonName', value: 'unit' }], { keyType: 'rsa', keySize: 2048, ...validity });
  const x509 = new X509Certificate(made.cert);
  return { cert: made.cert, key: made.private, sha256: createHash('sha256').update(x509.raw).digest('hex'), notAfter: new Date(x509.validTo) };
}

describe('which credential an app signs in with', () => {
  const config = parseMarketplaceConfig({
    marketplaces: [
      cspEntry('MP-00001', callback),
      cpvEntry('MP-00002'),
      (() => {
        const { partner_client_secret_test: _t, partner_client_secret_production: _p, ...e } = cspEntry('MP-00003', callback);
        return { ...e, partner_client_certificate_test: 'partner-cert', partner_client_certificate_production: 'partner-cert' };
      })(),
    ],
  });
  const mp = (id: string) => findMarketplace(config, id, 'test');

  it('CPV federated needs no CPV_CLIENT_SECRET_NAME and reads nothing: its credential is the managed identity assertion', async () => {
    const s = settings({ CPV_CREDENTIAL: 'federated', AZURE_CLIENT_ID: '0b7c1f5e-0000-4000-8000-00000000c11d' });
    expect(s.CPV_CLIENT_SECRET_NAME).toBeUndefined();
    expect(appIdentityOf(s, mp('MP-00002'))).toEqual({ clientId: cpvClientId, credential: 'federated', field: 'AZURE_CLIENT_ID' });
    const read = jest.fn();
    const app = await appCredentialsFor(s, mp('MP-00002'), read);
    expect(app.credential.kind).toBe('assertion');
    expect(read).not.toHaveBeenCalled();
  });

  it('CPV secret, CSP secret and CSP certificate name the secret and the field an operator fixes', async () => {
    const s = settings({ CPV_CREDENTIAL: 'secret', CPV_CLIENT_SECRET_NAME: 'cpv-client-secret' });
    expect(appIdentityOf(s, mp('MP-00002'))).toMatchObject({
      credential: 'secret',
      secretName: 'cpv-client-secret',
      field: 'CPV_CLIENT_SECRET_NAME',
    });
    expect(appIdentityOf(s, mp('MP-00001'))).toMatchObject({
      credential: 'secret',
      secretName: 'partner-secret-MP-00001',
      field: 'partner_client_secret_test',
    });
    expect(appIdentityOf(s, mp('MP-00003'))).toMatchObject({
      credential: 'certificate',
      secretName: 'partner-cert',
      field: 'partner_client_certificate_test',
    });

    const c = await certificate();
    const app = await appCredentialsFor(s, mp('MP-00003'), async () => `${c.key}\n${c.cert}`);
    expect(app.credential).toEqual({ kind: 'certificate', certificate: { thumbprintSha256: c.sha256, privateKey: c.key } });
    await expect(appCredentialsFor(s, mp('MP-00003'), async () => undefined)).rejects.toMatchObject({
      problem: 'secret-missing',
      code: 'marketplace_misconfigured',
      field: 'partner_client_certificate_test',
    });
    const unreadable = await appCredentialsFor(s, mp('MP-00003'), async () => c.cert).catch((e: unknown) => e);
    expect(unreadable).toBeInstanceOf(AppCredentialError);
    expect(unreadable).toMatchObject({ problem: 'certificate-unreadable' });
    expect((unreadable as Error).message).toContain('no private key in it');
  });
});

describe("a certificate's secret (PEM)", () => {
  it('gives the SHA-256 thumbprint of the certificate that matches the key, the key as PKCS#8 and the notAfter, in any order and with a chain', async () => {
    const leaf = await certificate();
    const issuer = await certificate();
    for (const pem of [`${leaf.key}\n${leaf.cert}`, `${issuer.cert}\n${leaf.cert}\n${leaf.key}`]) {
      expect(readCertificateSecret(pem)).toEqual({
        thumbprintSha256: leaf.sha256,
        privateKey: leaf.key,
        notBefore: expect.any(Date),
        notAfter: leaf.notAfter,
      });
    }
    // A traditional RSA key is handed to msal-node as PKCS#8.
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const rsaPem = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
    expect(readCertificateSecret(`${rsaPem}\n${leaf.cert}`)).toEqual({ problem: 'no certificate that matches its private key' });
  });

  it('refuses PKCS#12, a missing or encrypted key, a key that is not RSA, and never quotes the secret', async () => {
    const c = await certificate();
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const encrypted = generateKeyPairSync('rsa', { modulusLength: 2048 })
      .privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'x' })
      .toString();
    const cases: [string, string][] = [
      [randomBytes(600).toString('base64'), 'not PEM'], // what a PKCS#12 certificate's secret holds
      [c.cert, 'no private key'],
      [`${encrypted}\n${c.cert}`, 'an encrypted private key'],
      [`${ec}\n${c.cert}`, 'not an RSA key'],
      [c.key, 'no certificate in it'],
    ];
    for (const [value, problem] of cases) {
      const read = readCertificateSecret(value);
      expect('problem' in read && read.problem).toContain(problem);
      expect(JSON.stringify(read)).not.toContain(value.slice(-60, -30));
    }
  });
});

describe('the PEM reader does work linear in its input (docs/SECURITY.md 32: the status page reads every certificate)', () => {
  /** Lines read by the PEM reader for a text: the work it does, counted rather than timed. */
  const linesRead = (text: string) => {
    let n = 0;
    pemBlocks(text, () => n++);
    return n;
  };
  const flood = (n: number) => '-----BEGIN CERTIFICATE-----\n'.repeat(n);

  it('reads each line once: 20,000 unmatched BEGIN lines cost 20,001 line reads, and twice as many cost twice as much', async () => {
    const c = await certificate();
    const secret = `${flood(20_000)}${c.key}\n${c.cert}`;
    const lines = secret.split('\n').length;
    expect(linesRead(secret)).toBe(lines);
    expect(linesRead(flood(40_000))).toBe(2 * linesRead(flood(20_000)) - 1);
    // And the real blocks after the flood are still found.
    expect(readCertificateSecret(secret)).toMatchObject({ thumbprintSha256: c.sha256 });
  });

  it('takes a BEGIN inside an open block as a new start, and ignores an END without its BEGIN', async () => {
    const c = await certificate();
    const [body] = c.cert.split('-----END CERTIFICATE-----');
    const blocks = pemBlocks(`-----END CERTIFICATE-----\n-----BEGIN PRIVATE KEY-----\nAAAA\n${c.cert}\r\n`);
    expect(blocks.map((b) => b.label)).toEqual(['CERTIFICATE']);
    expect(blocks[0]?.pem.startsWith(body ?? 'x')).toBe(true);
  });
});

describe('the status of a credential that cannot be used', () => {
  const base = { kind: 'partner-certificate' as const, name: 'partner-cert', field: 'partner_client_certificate_test', usedBy: ['MP-00001'] };
  it('is unusable with the reason, before its expiry, or unreadable; the page says so', () => {
    const rows = [
      healthOf(
        base,
        { name: 'partner-cert', enabled: true, expiresOn: new Date(Date.now() + 100 * 86_400_000) },
        Date.now(),
        undefined,
        'no certificate in it',
      ),
      healthOf({ ...base, name: 'other' }, { name: 'other', enabled: true, unreadable: true }, Date.now()),
    ];
    expect(rows.map((r) => [r.state, r.problem])).toEqual([
      ['unusable', 'no certificate in it'],
      ['unreadable', undefined],
    ]);
    const page = credentialsSection(rows).toString();
    expect(page).toContain('unusable: no certificate in it');
    expect(page).toContain('cannot be read from the secret store');
  });
});

describe('the managed-identity assertion cache', () => {
  const token = (n: number, expiresOnTimestamp: number): ExpiringToken => ({ token: `assertion-${n}`, expiresOnTimestamp });

  it('asks the endpoint once, until shortly before the token expires; concurrent requests share one call', async () => {
    let now = 1_000_000;
    let calls = 0;
    const source = cachedAssertion(
      async () => token(++calls, now + 3_600_000),
      () => now,
    );
    expect(await Promise.all([source.assertion(), source.assertion(), source.assertion()])).toEqual(['assertion-1', 'assertion-1', 'assertion-1']);
    now += 3_600_000 - renewBeforeExpiryMs - 1;
    expect(await source.assertion()).toBe('assertion-1');
    now += 1;
    expect(await source.assertion()).toBe('assertion-2');
    expect(calls).toBe(2);
  });

  it('keeps no failure and drops an assertion Entra refused', async () => {
    let calls = 0;
    const source = cachedAssertion(async () => {
      calls++;
      if (calls === 1) throw new Error('endpoint down');
      return token(calls, Date.now() + 3_600_000);
    });
    await expect(source.assertion()).rejects.toThrow('endpoint down');
    expect(await source.assertion()).toBe('assertion-2');
    source.forget();
    expect(await source.assertion()).toBe('assertion-3');
  });
});

describe("Entra's refusals of an app's credential are operator problems", () => {
  it.each([
    [70021, 'federated-credential-mismatch'],
    [700211, 'federated-credential-mismatch'],
    [700212, 'federated-credential-mismatch'],
    [700213, 'federated-credential-mismatch'],
    [700024, 'assertion-expired'],
    [700027, 'certificate-refused'],
    [700023, 'assertion-refused'],
    [7000215, 'invalid-secret'],
    [7000222, 'expired-secret'],
    [123456, 'invalid-client'],
  ])('invalid_client AADSTS%d → invalid-client (%s)', (aadsts, reason) => {
    expect(classifyTokenFailure({ error: 'invalid_client', aadsts, status: 401 })).toMatchObject({ class: 'invalid-client', reason });
  });
});

describe('credentials in use', () => {
  it('one entry per stored credential with every marketplace that uses it; the federated one has nothing stored', () => {
    const config = parseMarketplaceConfig({
      marketplaces: [
        cspEntry('MP-00001', callback),
        cspEntry('MP-00003', callback, undefined, { partner_client_secret_test: 'partner-secret-MP-00001' }),
        cpvEntry('MP-00002'),
        cpvEntry('MP-00004'),
      ],
    });
    expect(credentialsInUse(settings({ CPV_CREDENTIAL: 'federated', CONNECT_API_KEY_SECRET_NAME: 'connect-api-key' }), config)).toEqual([
      { kind: 'cpv-federated', field: 'AZURE_CLIENT_ID', usedBy: ['MP-00002', 'MP-00004'] },
      { kind: 'partner-client-secret', name: 'partner-secret-MP-00001', field: 'partner_client_secret_test', usedBy: ['MP-00001', 'MP-00003'] },
      { kind: 'connect-api-key', name: 'connect-api-key', field: 'CONNECT_API_KEY_SECRET_NAME', usedBy: ['Connect push'] },
    ]);
    expect(credentialsInUse(settings({ CPV_CREDENTIAL: 'secret', CPV_CLIENT_SECRET_NAME: 'cpv-client-secret' }), config)[0]).toEqual({
      kind: 'cpv-client-secret',
      name: 'cpv-client-secret',
      field: 'CPV_CLIENT_SECRET_NAME',
      usedBy: ['MP-00002', 'MP-00004'],
    });
  });
});

describe('expiry', () => {
  const secret = {
    kind: 'partner-client-secret' as const,
    name: 'partner-secret-MP-00001',
    field: 'partner_client_secret_test',
    usedBy: ['MP-00001'],
  };
  const noon = Date.UTC(2027, 0, 10, 12);

  it('counts UTC calendar days: the same count all day, 0 on the expiry day', () => {
    const exp = new Date(Date.UTC(2027, 0, 20, 3));
    expect(calendarDaysLeft(exp, Date.UTC(2027, 0, 10, 0, 0, 1))).toBe(10);
    expect(calendarDaysLeft(exp, Date.UTC(2027, 0, 10, 23, 59))).toBe(10);
    expect(calendarDaysLeft(exp, Date.UTC(2027, 0, 20, 1))).toBe(0);
    expect(calendarDaysLeft(exp, Date.UTC(2027, 0, 22, 1))).toBe(-2);
  });

  it('says expiring within 30 days, expired, expiry unknown, missing, disabled, nothing expires', () => {
    const at = (days: number) => ({ name: secret.name, enabled: true, expiresOn: new Date(noon + days * day) });
    expect(healthOf(secret, at(31), noon)).toMatchObject({ state: 'ok', daysLeft: 31 });
    expect(healthOf(secret, at(30), noon)).toMatchObject({ state: 'expiring', daysLeft: 30 });
    expect(healthOf(secret, at(-1), noon)).toMatchObject({ state: 'expired', daysLeft: -1 });
    expect(healthOf(secret, { name: secret.name, enabled: true }, noon)).toMatchObject({ state: 'expiry-unknown' });
    expect(healthOf(secret, { name: secret.name, enabled: true }, noon, new Date(noon + 3 * day))).toMatchObject({ state: 'expiring', daysLeft: 3 });
    expect(healthOf(secret, undefined, noon)).toMatchObject({ state: 'missing' });
    expect(healthOf(secret, { ...at(100), enabled: false }, noon)).toMatchObject({ state: 'disabled' });
    expect(healthOf({ kind: 'cpv-federated', field: 'AZURE_CLIENT_ID', usedBy: [] }, undefined, noon)).toMatchObject({ state: 'nothing-expires' });
  });

  it('warns on the day 30 and 14 days are left and every day from 7 on, expired included', () => {
    const warned = Array.from({ length: 36 }, (_, i) => 32 - i).filter((d) => warningThresholdOf(d) !== undefined);
    expect(warned).toEqual([30, 14, 7, 6, 5, 4, 3, 2, 1, 0, -1, -2, -3]);
    expect([30, 14, 7, 3, -1].map(warningThresholdOf)).toEqual([30, 14, 7, 7, 7]);
  });

  it('logs CredentialExpiring once per credential per day, with an injected clock, over 40 days of runs twice a day', () => {
    const expiresOn = new Date(noon + 35 * day);
    const lines: string[] = [];
    const logger = { info: () => undefined, warn: (m: unknown) => lines.push(String(m)), error: () => undefined };
    const warnings = new ExpiryWarnings();
    for (let d = 0; d < 40; d++) {
      for (const hour of [3, 15]) {
        const now = Date.UTC(2027, 0, 10 + d, hour);
        warnings.warn([healthOf(secret, { name: secret.name, enabled: true, expiresOn }, now)], logger, now, { runId: `run-${d}-${hour}` });
      }
    }
    const events = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(events.map((e) => [e.daysLeft, e.threshold])).toEqual([
      [30, 30],
      [14, 14],
      ...[7, 6, 5, 4, 3, 2, 1, 0, -1, -2, -3, -4].map((d) => [d, 7]),
    ]);
    expect(events[0]).toEqual({
      event: 'CredentialExpiring',
      runId: 'run-5-3',
      credential: 'partner-client-secret',
      name: 'partner-secret-MP-00001',
      field: 'partner_client_secret_test',
      threshold: 30,
      daysLeft: 30,
      expiresAt: expiresOn.toISOString(),
      expired: false,
      usedBy: 'MP-00001',
      usedByCount: 1,
    });
    // The expiry day's first run (03:00) comes before the expiry (noon): not yet expired.
    expect(events.filter((e) => e.expired === true).map((e) => e.daysLeft)).toEqual([-1, -2, -3, -4]);
  });
});

describe('the status page section', () => {
  it('shows days left, "expiry unknown", "nothing expires", and what is missing, escaping names', () => {
    const rows: CredentialHealth[] = [
      {
        kind: 'partner-certificate',
        name: 'partner-cert',
        field: 'f',
        usedBy: ['MP-00001', 'MP-00002', 'MP-00003', 'MP-00004'],
        state: 'expiring',
        daysLeft: 9,
        expiresAt: '2027-01-19T12:00:00.000Z',
      },
      { kind: 'partner-client-secret', name: '<b>x</b>', field: 'f', usedBy: ['MP-00005'], state: 'missing' },
      { kind: 'connect-api-key', name: 'connect-api-key', field: 'f', usedBy: ['Connect push'], state: 'expiry-unknown' },
      { kind: 'cpv-federated', field: 'AZURE_CLIENT_ID', usedBy: [], state: 'nothing-expires' },
    ];
    const page = html`${credentialsSection(rows)}`.toString().replace(/>\s+</g, '><');
    expect(page).toContain(
      '<td data-label="Credential">CSP app: certificate</td><td data-label="Key Vault name"><span class="nowrap">partner-cert</span></td><td data-label="Used by"><span class="nowrap">MP-00001</span>, <span class="nowrap">MP-00002</span>, <span class="nowrap">MP-00003</span> and 1 more</td><td data-label="Expires">2027-01-19</td><td data-label="Days left"><span class="error">9</span></td>',
    );
    expect(page).toContain(
      '<td data-label="Key Vault name"><span class="nowrap">&lt;b&gt;x&lt;/b&gt;</span></td><td data-label="Used by"><span class="nowrap">MP-00005</span></td><td data-label="Expires">—</td><td data-label="Days left"><span class="error">not in Key Vault</span></td>',
    );
    expect(page).toContain('<td data-label="Days left">expiry unknown</td>');
    expect(page).toContain('<td data-label="Used by">nothing yet</td><td data-label="Expires">—</td><td data-label="Days left">nothing expires</td>');
    expect(page).toContain('1 credential(s) cannot be read from Key Vault.');
    expect(page).toContain('1 stored without an expiry date: store the next version with --expires.');
  });
});
