/**
 * `npm run config:check` on a CSP app's credential: per environment exactly one of
 * `partner_client_secret_{env}` and `partner_client_certificate_{env}`, each a Key Vault name.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main as configCheck } from '../../shared/marketplaces/check';
import { formatProblem, parseMarketplaceConfig } from '../../shared/marketplaces/config';
import { findMarketplace } from '../../shared/marketplaces/marketplace';
import { cpvEntry, cspEntry, tenants } from '../fixtures/config';

const callback = 'https://mp-auth.example/api/callback';

/** A CSP entry without its client secrets, plus `extra`. */
function cspWithout(id: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const { partner_client_secret_test: _test, partner_client_secret_production: _production, ...entry } = cspEntry(id, callback);
  return { ...entry, ...extra };
}

const problemsOf = (...marketplaces: unknown[]) => parseMarketplaceConfig({ marketplaces }).problems.map(formatProblem);

describe('config:check: a client secret or a certificate, exactly one per environment', () => {
  it('accepts a certificate instead of a secret, and a secret in one environment with a certificate in the other', () => {
    const config = parseMarketplaceConfig({
      marketplaces: [
        cspWithout('MP-00001', { partner_client_certificate_test: 'partner-cert-test', partner_client_certificate_production: 'partner-cert-prod' }),
        cspWithout('MP-00002', { partner_client_certificate_test: 'partner-cert-test', partner_client_secret_production: 'partner-secret-prod' }),
      ],
    });
    expect(config.problems).toEqual([]);
    expect(findMarketplace(config, 'MP-00001', 'test')).toMatchObject({ clientCertificateName: 'partner-cert-test' });
    expect(findMarketplace(config, 'MP-00002', 'test')).not.toHaveProperty('clientSecretName');
    expect(findMarketplace(config, 'MP-00002', 'production')).toMatchObject({ clientSecretName: 'partner-secret-prod' });
    expect(findMarketplace(config, 'MP-00002', 'production')).not.toHaveProperty('clientCertificateName');
  });

  it('refuses neither, and says a certificate would do', () => {
    expect(problemsOf(cspWithout('MP-00003'))).toEqual([
      'MP-00003 partner_client_secret_test: is required for a CSP marketplace (or partner_client_certificate_test, a Key Vault certificate name)',
      'MP-00003 partner_client_secret_production: is required for a CSP marketplace (or partner_client_certificate_production, a Key Vault certificate name)',
    ]);
  });

  it('refuses both in one environment', () => {
    expect(problemsOf(cspEntry('MP-00004', callback, tenants.csp, { partner_client_certificate_production: 'partner-cert' }))).toEqual([
      'MP-00004 partner_client_certificate_production: must not be set together with partner_client_secret_production: name either the client secret or the certificate',
    ]);
  });

  it('refuses an inline certificate, a name Key Vault would not take, and a certificate on a CPV marketplace', () => {
    const pem = '-----BEGIN CERTIFICATE-----\nMIIC+zCCAeOgAwIBAgIJ/abc=\n-----END CERTIFICATE-----';
    expect(
      problemsOf(cspWithout('MP-00005', { partner_client_certificate_test: pem, partner_client_certificate_production: 'partner_cert' })),
    ).toEqual([
      'MP-00005 partner_client_certificate_test: looks like an inline certificate: import the certificate into Key Vault and put the certificate name here',
      'MP-00005 partner_client_certificate_production: must be a Key Vault certificate name (letters, digits and dashes, at most 127)',
    ]);
    expect(problemsOf(cpvEntry('MP-00006', tenants.cpv, { partner_client_certificate_test: 'partner-cert' }))).toEqual([
      'MP-00006 partner_client_certificate_test: must not be set for a CPV marketplace: CPV uses the CPV application (CPV_CLIENT_ID)',
    ]);
  });

  it('reports the credential rule together with the other problems of the entry', () => {
    const entry = cspWithout('MP-00007');
    delete entry.partner_client_id_test;
    expect(problemsOf(entry)).toEqual([
      'MP-00007 partner_client_id_test: is required for a CSP marketplace',
      'MP-00007 partner_client_secret_test: is required for a CSP marketplace (or partner_client_certificate_test, a Key Vault certificate name)',
      'MP-00007 partner_client_secret_production: is required for a CSP marketplace (or partner_client_certificate_production, a Key Vault certificate name)',
    ]);
  });

  it('npm run config:check exits 1 and prints each problem, 0 for a file with certificates', () => {
    const dir = mkdtempSync(join(tmpdir(), 'config-check-'));
    const good = join(dir, 'good.json');
    const bad = join(dir, 'bad.json');
    writeFileSync(
      good,
      JSON.stringify({
        marketplaces: [
          cspWithout('MP-00001', { partner_client_certificate_test: 'partner-cert', partner_client_certificate_production: 'partner-cert' }),
        ],
      }),
    );
    writeFileSync(
      bad,
      JSON.stringify({ marketplaces: [cspEntry('MP-00002', callback, tenants.csp, { partner_client_certificate_test: 'partner-cert' })] }),
    );
    const err = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    const out = jest.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      expect(configCheck([good])).toBe(0);
      expect(out.mock.calls.join('\n')).toContain('OK, 1 marketplace(s)');
      expect(configCheck([bad])).toBe(1);
      // Without the deployment's settings, the checks that could not run are said (docs/SECURITY.md 31).
      expect(err.mock.calls.map((c) => String(c[0])).filter((line) => !line.includes(': not checked: '))).toEqual([
        `${bad}: MP-00002 partner_client_certificate_test: must not be set together with partner_client_secret_test: name either the client secret or the certificate`,
        '1 problem(s); 0 marketplace(s) valid.',
      ]);
    } finally {
      err.mockRestore();
      out.mockRestore();
    }
  });
});
