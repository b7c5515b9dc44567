import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main as configCheck } from '../../shared/marketplaces/check';
import { isAppError } from '../../shared/errors';
import { formatProblem, parseMarketplaceConfig, readMarketplaceConfig } from '../../shared/marketplaces/config';
import { findMarketplace } from '../../shared/marketplaces/marketplace';
import { parseMarketplaceId } from '../../shared/marketplaces/id';
import { looksLikeSecret } from '../../shared/randomness';
import { cpvEntry, cspEntry, tenants } from '../fixtures/config';

const callback = 'https://mp-auth.example/api/callback';

describe('marketplace ID', () => {
  it.each(['MP-12345', 'MP-00001', 'MP-12345678', '  MP-12345 ', '\tMP-12345'])('accepts %j', (input) => {
    expect(parseMarketplaceId(input)).toEqual({ ok: true, id: input.trim() });
  });
  it.each(['mp-12345', 'Mp-12345', 'mP-12345', ' mp-12345\t'])('accepts %j as typed by a person, as MP-12345', (input) => {
    expect(parseMarketplaceId(input)).toEqual({ ok: true, id: 'MP-12345' });
  });
  it.each([
    '',
    'MP-1234',
    'MP-123456789',
    'mp_12345',
    'mp-1234',
    'MP_12345',
    'MP-12345\n',
    'MP-12345/../x',
    'ΜP-12345',
    'MP-１２３４５',
    'MP-12345\u0000',
    'x'.repeat(10_000),
    '<script>',
  ])('refuses %j with a message that explains the format', (input) => {
    const r = parseMarketplaceId(input);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(/MP-12345/);
  });
  it('refuses non-strings', () => {
    expect(parseMarketplaceId(undefined).ok).toBe(false);
    expect(parseMarketplaceId(12345).ok).toBe(false);
  });
});

describe('marketplace configuration', () => {
  it('accepts CSP and CPV entries and projects them per environment', () => {
    const config = parseMarketplaceConfig({ marketplaces: [cspEntry('MP-00001', callback), cpvEntry('MP-00002')] });
    expect(config.problems).toEqual([]);
    const csp = findMarketplace(config, 'MP-00001', 'test');
    expect(csp).toMatchObject({ model: 'CSP', tenantId: tenants.csp, clientSecretName: 'partner-secret-MP-00001', redirectUri: callback });
    expect(findMarketplace(config, 'MP-00002', 'production')).toMatchObject({
      model: 'CPV',
      tenantId: tenants.cpv,
      environment: 'production',
    });
  });

  it('names the marketplace and the field of every problem', () => {
    const bad = cspEntry('MP-00003', callback);
    delete (bad as Record<string, unknown>).partner_client_id_production;
    const config = parseMarketplaceConfig({
      marketplaces: [
        bad,
        cpvEntry('MP-00004', tenants.cpv, { partner_client_id_test: tenants.csp, redirect_uri_test: callback }),
        { id: 'MP-00005', model: 'XYZ' },
      ],
    });
    const lines = config.problems.map(formatProblem);
    expect(lines).toContain('MP-00003 partner_client_id_production: is required for a CSP marketplace');
    expect(lines).toContain('MP-00004 partner_client_id_test: must not be set for a CPV marketplace: CPV uses the CPV application (CPV_CLIENT_ID)');
    expect(lines).toContain('MP-00004 redirect_uri_test: must not be set for a CPV marketplace: CPV uses the CPV application (CPV_CLIENT_ID)');
    expect(lines).toContain('MP-00005 model: must be "CPV" or "CSP"');
    expect(config.entries.size).toBe(0);
  });

  it('refuses an inline client secret and says to use Key Vault', () => {
    const config = parseMarketplaceConfig({
      marketplaces: [cspEntry('MP-00006', callback, tenants.csp, { partner_client_secret_test: 'Abc8Q~x.y_zzzzzzzzzzzzzzzzzzzzzzzzzzzzzz' })],
    });
    expect(config.problems.map(formatProblem)).toEqual([
      'MP-00006 partner_client_secret_test: looks like an inline client secret: store the secret in Key Vault and put the secret name here',
    ]);
  });

  it('refuses duplicate and malformed IDs, including case twins, and never quotes a malformed one', () => {
    const config = parseMarketplaceConfig({ marketplaces: [cpvEntry('MP-00007'), cpvEntry('MP-00007'), cpvEntry('mp-00008'), cpvEntry('MP-7')] });
    expect(config.problems.map(formatProblem)).toEqual([
      'MP-00007 id: duplicate marketplace ID (also at marketplaces[0])',
      'marketplaces[2] (MP-00008) id: is not MP-00008: it holds lower-case letters',
      'marketplaces[3] id: must be a Connect marketplace ID like MP-12345 (MP- and 5 to 8 digits)',
    ]);
    expect(() => findMarketplace(config, 'MP-00007', 'test')).toThrow(expect.objectContaining({ code: 'marketplace_misconfigured' }));
  });

  it('answers a missing marketplace with marketplace_not_found', () => {
    const config = parseMarketplaceConfig({ marketplaces: [cpvEntry('MP-00002')] });
    try {
      findMarketplace(config, 'MP-99999', 'test');
      throw new Error('expected a failure');
    } catch (err) {
      expect(isAppError(err, 'marketplace_not_found')).toBe(true);
    }
  });

  it("refuses a CSP redirect URI that is not this deployment's callback", () => {
    const config = parseMarketplaceConfig(
      { marketplaces: [cspEntry('MP-00009', 'https://elsewhere.example/api/callback')] },
      { callbackUrls: { test: callback } },
    );
    expect(config.problems.map(formatProblem)).toEqual([`MP-00009 redirect_uri_test: must equal this deployment's callback URL ${callback}`]);
    expect(() => findMarketplace(config, 'MP-00009', 'test')).toThrow(
      expect.objectContaining({ code: 'marketplace_misconfigured', field: 'redirect_uri_test' }),
    );
    // Without the deployment's callback URL (another environment's file check), the entry stands.
    expect(parseMarketplaceConfig({ marketplaces: [cspEntry('MP-00009', 'https://elsewhere.example/api/callback')] }).problems).toEqual([]);
  });

  it("refuses a client secret name that is one of the service's own secrets", () => {
    const config = parseMarketplaceConfig(
      {
        marketplaces: [
          cspEntry('MP-00010', callback, tenants.csp, { partner_client_secret_test: 'Refresh-Token-test-MP-00001' }),
          cspEntry('MP-00011', callback, tenants.csp, { partner_client_secret_production: 'cpv-client-secret' }),
          cspEntry('MP-00012', callback, tenants.csp, { partner_client_secret_test: 'transaction-cookie-key' }),
        ],
      },
      { reservedSecretNames: ['cpv-client-secret', 'transaction-cookie-key'] },
    );
    expect(config.problems.map((p) => `${p.marketplace} ${p.field}`)).toEqual([
      'MP-00010 partner_client_secret_test',
      'MP-00011 partner_client_secret_production',
      'MP-00012 partner_client_secret_test',
    ]);
    expect(config.problems[0]?.message).toMatch(/one of the service's own secrets/);
  });

  it('takes optional names for Connect products, per product, for the pages; the entries without them are unchanged', () => {
    const config = parseMarketplaceConfig({
      marketplaces: [
        cpvEntry('MP-00020', tenants.cpv, {
          connect_products_test: ['PRD-000-000-001'],
          connect_products_production: ['PRD-000-000-002', 'PRD-000-000-003'],
          connect_product_names: { 'PRD-000-000-001': 'Microsoft 365 NCE (test)', 'PRD-000-000-002': 'Microsoft 365 NCE' },
        }),
        cpvEntry('MP-00021', tenants.cpv, { connect_products_test: ['PRD-000-000-001'] }),
      ],
    });
    expect(config.problems).toEqual([]);
    expect(findMarketplace(config, 'MP-00020', 'test').connectProductNames).toEqual({ 'PRD-000-000-001': 'Microsoft 365 NCE (test)' });
    expect(findMarketplace(config, 'MP-00020', 'production').connectProductNames).toEqual({ 'PRD-000-000-002': 'Microsoft 365 NCE' });
    expect(findMarketplace(config, 'MP-00021', 'test')).toMatchObject({ connectProducts: ['PRD-000-000-001'], connectProductNames: {} });
  });

  it.each([
    [{ 'PRD-000-000-009': 'Not listed' }, 'names PRD-000-000-009, which neither connect_products_test nor connect_products_production lists'],
    [{ '<script>PRD-1': 'x' }, 'MP-00022 connect_product_names: has a key that is not a Connect product ID like PRD-123-456-789'],
    [{ 'PRD-000-000-001': '' }, 'MP-00022 connect_product_names.PRD-000-000-001: must be plain text on one line, 1 to 100 characters'],
    [{ 'PRD-000-000-001': 'two\nlines' }, 'must be plain text on one line'],
    [{ 'PRD-000-000-001': 'in\u200bvisible' }, 'must be plain text on one line'],
    [{ 'PRD-000-000-001': 42 }, 'must be plain text on one line'],
    [{ 'PRD-000-000-001': 'x'.repeat(101) }, 'must be plain text on one line'],
    [['PRD-000-000-001'], 'MP-00022 connect_product_names: must be a record'],
  ])('refuses connect_product_names %j, naming the problem', (names, message) => {
    const config = parseMarketplaceConfig({
      marketplaces: [cpvEntry('MP-00022', tenants.cpv, { connect_products_test: ['PRD-000-000-001'], connect_product_names: names })],
    });
    expect(config.problems.map(formatProblem).join('\n')).toContain(message);
    expect(config.entries.has('MP-00022')).toBe(false);
    // A key that is not a product ID is never quoted back.
    expect(JSON.stringify(config.problems)).not.toContain('<script>');
  });

  it('says "must be a string" for a value of the wrong type, not "is required"', () => {
    const config = parseMarketplaceConfig({
      marketplaces: [cspEntry('MP-00013', callback, tenants.csp, { partner_client_id_test: 42, connect_products_test: 'PRD-000-000-001' })],
    });
    expect(config.problems.map(formatProblem).sort()).toEqual([
      'MP-00013 connect_products_test: must be an array',
      'MP-00013 partner_client_id_test: must be a string',
    ]);
  });

  it.each([
    ['an Entra secret', 'Abc8Q~x.y_zzzzzzzzzzzzzzzzzzzzzzzzzzzzzz'],
    ['base64', 'q2Kx9vT0mB7rW1yZ4sN8cE6uJ3hL5pA0dF2gH7kM9qR='],
    ['a random string of name characters', 'T7k2P9xQ4mZ8vB3nR6wY1cF5hJ0sL2dG8aE4uK7'],
    ['a Connect API key', 'SU-123-456-789:0123456789abcdef0123456789abcdef'],
  ])('refuses an inline client secret of any shape: %s', (_shape, value) => {
    const config = parseMarketplaceConfig({ marketplaces: [cspEntry('MP-00014', callback, tenants.csp, { partner_client_secret_test: value })] });
    expect(config.problems.map(formatProblem)).toEqual([
      'MP-00014 partner_client_secret_test: looks like an inline client secret: store the secret in Key Vault and put the secret name here',
    ]);
    expect(JSON.stringify(config.problems)).not.toContain(value);
  });

  it('accepts secret names as operators write them', () => {
    for (const name of ['partner-secret-MP-12345-test', 'contoso-csp-app-secret', 'MP-00015-Production-2026']) {
      expect(
        parseMarketplaceConfig({ marketplaces: [cspEntry('MP-00015', callback, tenants.csp, { partner_client_secret_test: name })] }).problems,
      ).toEqual([]);
    }
  });

  it('reports a file that is not JSON, has the wrong shape or lists nothing as unusable, without quoting it', () => {
    expect(parseMarketplaceConfig([]).fileProblem?.message).toMatch(/"marketplaces" array/);
    expect(parseMarketplaceConfig({ marketplaces: [] }).fileProblem?.message).toMatch(/no marketplace/);
    const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
    writeFileSync(join(dir, 'bad.json'), '{ "marketplaces": [ { "partner_client_secret_test": "s3cr3t-value" ');
    const bad = readMarketplaceConfig(join(dir, 'bad.json'));
    expect(bad.fileProblem?.message).toMatch(/not valid JSON/);
    expect(JSON.stringify(bad)).not.toContain('s3cr3t');
    expect(readMarketplaceConfig(join(dir, 'missing.json')).fileProblem?.message).toMatch(/cannot read/);
    expect(() => findMarketplace(bad, 'MP-00001', 'test')).toThrow(expect.objectContaining({ code: 'configuration_invalid' }));
  });

  it('reads a file saved with a UTF-8 byte-order mark', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
    writeFileSync(join(dir, 'bom.json'), '\ufeff' + JSON.stringify({ marketplaces: [cpvEntry('MP-00002')] }));
    const config = readMarketplaceConfig(join(dir, 'bom.json'));
    expect(config.problems).toEqual([]);
    expect(config.entries.size).toBe(1);
  });

  it('config:check prints every problem and exits non-zero, or OK and zero', () => {
    // Only what the arguments say: settings another test file left in this worker must not count.
    for (const name of ['SERVICE_ENVIRONMENT', 'CALLBACK_URL', 'CPV_CLIENT_SECRET_NAME', 'CONNECT_API_KEY_SECRET_NAME', 'MARKETPLACE_CONFIG_PATH'])
      delete process.env[name];
    const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
    writeFileSync(join(dir, 'good.json'), JSON.stringify({ marketplaces: [cpvEntry('MP-00002')] }));
    writeFileSync(
      join(dir, 'bad.json'),
      JSON.stringify({ marketplaces: [cpvEntry('MP-00002'), cpvEntry('MP-00002'), { id: 'MP-00003', model: 'CSP' }] }),
    );
    const err = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    const out = jest.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      expect(configCheck([join(dir, 'good.json')])).toBe(0);
      expect(out.mock.calls.join('\n')).toMatch(/OK, 1 marketplace/);
      expect(configCheck([join(dir, 'bad.json')])).toBe(1);
      const printed = err.mock.calls.map((c) => String(c[0])).join('\n');
      expect(printed).toMatch(/MP-00002 id: duplicate/);
      expect(printed).toMatch(/MP-00003 partner_client_id_test: is required for a CSP marketplace/);
      expect(printed).toMatch(/MP-00003 redirect_uri_production: is required/);

      // Against the deployment's callback URL, given as arguments.
      writeFileSync(join(dir, 'csp.json'), JSON.stringify({ marketplaces: [cspEntry('MP-00004', 'https://other.example/api/callback')] }));
      expect(configCheck([join(dir, 'csp.json'), '--environment', 'test', '--callback-url', callback])).toBe(1);
      expect(err.mock.calls.map((c) => String(c[0])).join('\n')).toMatch(/MP-00004 redirect_uri_test: must equal this deployment's callback URL/);
      expect(configCheck([join(dir, 'csp.json')])).toBe(0);
    } finally {
      err.mockRestore();
      out.mockRestore();
    }
  });
});

/** Random strings of an alphabet, the shapes of secrets an operator may paste where a name belongs. */
function randomOf(alphabet: string, length: number): string {
  return Array.from(randomBytes(length), (b) => alphabet[b % alphabet.length]).join('');
}
const hex = '0123456789abcdef';
const lowerAlnum = 'abcdefghijklmnopqrstuvwxyz0123456789';

describe('what operators get wrong in the file (docs/SECURITY.md 12, 31)', () => {
  const withSecretName = (value: string) =>
    parseMarketplaceConfig({ marketplaces: [cspEntry('MP-00020', callback, tenants.csp, { partner_client_secret_test: value })] });

  it('refuses a secret of any alphabet pasted where its name belongs (lowercase, hex, split by dashes), never quoting it', () => {
    const shapes: [string, () => string][] = [
      ['lowercase letters and digits', () => randomOf(lowerAlnum, 32)],
      ['hex', () => randomOf(hex, 40)],
      ['hex, as a 64-character key', () => randomBytes(32).toString('hex')],
      ['lowercase, split by dashes', () => Array.from({ length: 8 }, () => randomOf(lowerAlnum, 4)).join('-')],
      ['hex, split by dashes', () => Array.from({ length: 4 }, () => randomOf(hex, 8)).join('-')],
      ['upper and lower case with digits', () => randomOf(`ABCDEFGHIJKLMNOPQRSTUVWXYZ${lowerAlnum}`, 32)],
    ];
    for (const [shape, make] of shapes) {
      for (let i = 0; i < 50; i++) {
        const value = make();
        const config = withSecretName(value);
        expect({ shape, problems: config.problems.map(formatProblem) }).toEqual({
          shape,
          problems: [
            'MP-00020 partner_client_secret_test: looks like an inline client secret: store the secret in Key Vault and put the secret name here',
          ],
        });
        expect(JSON.stringify(config)).not.toContain(value);
      }
    }
  });

  it('keeps names made of words, numbers, marketplace IDs and GUIDs (tenant and client IDs are not secrets)', () => {
    for (const name of [
      'partner-secret-MP-12345-production',
      'contoso-distribution-client-secret-production-2026',
      'woodgrove-bank-distribution-gmbh-csp-client-secret',
      'csp-secret-7e57ca11-0000-4000-8000-00000000a0e0',
      '7e57ca11-0000-4000-8000-00000000a0e0',
      'ContosoCspClientSecret',
      'pc-app-kv-sec-01',
    ]) {
      expect({ name, secret: looksLikeSecret(name), problems: withSecretName(name).problems }).toEqual({ name, secret: false, problems: [] });
    }
  });

  it('refuses the nil GUID as a tenant or a client', () => {
    const nil = '00000000-0000-0000-0000-000000000000';
    const config = parseMarketplaceConfig({
      marketplaces: [cpvEntry('MP-00021', nil), cspEntry('MP-00022', callback, tenants.csp, { partner_client_id_production: nil })],
    });
    expect(config.problems.map(formatProblem)).toEqual([
      'MP-00021 partner_tenant_id_test: is the nil GUID (all zeros): put the real Entra tenant or application ID here',
      'MP-00021 partner_tenant_id_production: is the nil GUID (all zeros): put the real Entra tenant or application ID here',
      'MP-00022 partner_client_id_production: is the nil GUID (all zeros): put the real Entra tenant or application ID here',
    ]);
    expect(config.entries.size).toBe(0);
  });

  it('refuses a key repeated in an entry, which JSON.parse would silently resolve to the last one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
    const entry = JSON.stringify(cpvEntry('MP-00023', tenants.cpv)).slice(0, -1);
    writeFileSync(
      join(dir, 'dup.json'),
      `{ "marketplaces": [ ${entry}, "partner_tenant_id_test": "${tenants.other}" }, ${JSON.stringify(cpvEntry('MP-00024'))} ] }`,
    );
    const config = readMarketplaceConfig(join(dir, 'dup.json'));
    expect(config.problems.map(formatProblem)).toEqual([
      'MP-00023 partner_tenant_id_test: appears more than once in this entry (JSON keeps only the last): keep one',
    ]);
    expect([...config.entries.keys()]).toEqual(['MP-00024']);
    expect(() => findMarketplace(config, 'MP-00023', 'test')).toThrow(expect.objectContaining({ code: 'marketplace_misconfigured' }));

    writeFileSync(join(dir, 'root.json'), `{ "marketplaces": [${JSON.stringify(cpvEntry('MP-00023'))}], "marketplaces": [] }`);
    expect(readMarketplaceConfig(join(dir, 'root.json')).fileProblem?.message).toBe(
      'the key "marketplaces" appears more than once at the top of the file (JSON keeps only the last): keep one',
    );
  });

  it('names a look-alike ID by the ID it imitates, and that ID answers "misconfigured", never "not found"', () => {
    const cases: [string, string][] = [
      ['\u041cP-00025', 'letters of another alphabet (Cyrillic or Greek)'],
      ['MP-00026\n', 'spaces or line breaks around it'],
      ['MP-0002\uff17', 'full-width or other compatibility characters'],
      ['MP-\u200b00028', 'invisible characters'],
    ];
    const config = parseMarketplaceConfig({ marketplaces: [...cases.map(([id]) => cpvEntry(id)), cpvEntry('MP-00029')] });
    const ids = ['MP-00025', 'MP-00026', 'MP-00027', 'MP-00028'];
    expect(config.problems.map(formatProblem)).toEqual(
      cases.map(([, what], i) => `marketplaces[${i}] (${ids[i]}) id: is not ${ids[i]}: it holds ${what}`),
    );
    for (const id of ids)
      expect(() => findMarketplace(config, id, 'test')).toThrow(expect.objectContaining({ code: 'marketplace_misconfigured', field: 'id' }));
    expect(findMarketplace(config, 'MP-00029', 'test').id).toBe('MP-00029');
  });

  it('config:check says which checks could not run without the callback URL and the secret-name settings', () => {
    for (const name of ['SERVICE_ENVIRONMENT', 'CALLBACK_URL', 'CPV_CLIENT_SECRET_NAME', 'CONNECT_API_KEY_SECRET_NAME', 'MARKETPLACE_CONFIG_PATH'])
      delete process.env[name];
    const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
    const file = join(dir, 'foreign.json');
    writeFileSync(
      file,
      JSON.stringify({
        marketplaces: [cspEntry('MP-00030', 'https://attacker.example/api/callback', tenants.csp, { partner_client_secret_test: 'connect-api-key' })],
      }),
    );
    const err = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    const out = jest.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      // The service's default secret names are refused even without the settings.
      expect(configCheck([file])).toBe(1);
      const printed = err.mock.calls.map((c) => String(c[0]));
      expect(printed).toContain(
        `${file}: MP-00030 partner_client_secret_test: names one of the service's own secrets: give the partner's credential a name of its own`,
      );
      expect(printed.filter((l) => l.includes(': not checked: '))).toEqual([
        `${file}: not checked: redirect_uri_test / redirect_uri_production were not compared with this deployment's callback URL: pass --environment test|production --callback-url URL (or set SERVICE_ENVIRONMENT and CALLBACK_URL)`,
        `${file}: not checked: client secret and certificate names were compared with the service's default secret names only (transaction-cookie-key, cpv-client-secret, connect-api-key), not with CPV_CLIENT_SECRET_NAME and CONNECT_API_KEY_SECRET_NAME: set them as the deployment does`,
      ]);
      err.mockClear();
      // With them, every check runs and none is said to be missing.
      process.env.CPV_CLIENT_SECRET_NAME = 'my-cpv-secret';
      process.env.CONNECT_API_KEY_SECRET_NAME = 'my-connect-key';
      expect(configCheck([file, '--environment', 'test', '--callback-url', callback])).toBe(1);
      const all = err.mock.calls.map((c) => String(c[0]));
      expect(all).toContain(`${file}: MP-00030 redirect_uri_test: must equal this deployment's callback URL ${callback}`);
      expect(all.filter((l) => l.includes('not checked'))).toEqual([]);
    } finally {
      delete process.env.CPV_CLIENT_SECRET_NAME;
      delete process.env.CONNECT_API_KEY_SECRET_NAME;
      err.mockRestore();
      out.mockRestore();
    }
  });
});

describe('settings', () => {
  const { loadSettings } = jest.requireActual('../../shared/settings') as typeof import('../../shared/settings');
  const base = {
    SERVICE_ENVIRONMENT: 'test',
    CALLBACK_URL: 'https://app.example/api/callback',
    KEY_VAULT_URL: 'https://kv.vault.azure.net',
    AzureWebJobsStorage__accountName: 'stfuncapp0001',
    TRANSACTION_COOKIE_KEY: randomBytes(32).toString('base64url'),
  };
  it.each(['support@distributor.example', 'https://help.distributor.example/tokens'])('takes SUPPORT_CONTACT %s', (contact) => {
    expect(loadSettings({ ...base, SUPPORT_CONTACT: contact }).SUPPORT_CONTACT).toBe(contact);
  });
  it.each(['javascript:alert(1)', 'http://help.distributor.example', 'https://user:pass@help.example', 'not a contact', 'a@b', '<x>@y.example'])(
    'refuses SUPPORT_CONTACT %j: only an https:// address or an e-mail address, never quoted',
    (contact) => {
      expect(() => loadSettings({ ...base, SUPPORT_CONTACT: contact })).toThrow(
        /SUPPORT_CONTACT: must be an https:\/\/ address or an e-mail address/,
      );
      try {
        loadSettings({ ...base, SUPPORT_CONTACT: contact });
      } catch (err) {
        expect(String(err)).not.toContain(contact);
      }
    },
  );
  it('refuses a cookie key without enough randomness, and never quotes it', () => {
    for (const key of [
      'x'.repeat(40),
      'test-cookie-key-'.padEnd(48, 'k'),
      'abababababababababababababababababababab',
      // Runs and repeats, which the characters' Shannon entropy alone let through.
      'abcdefghijklmnopqrstuvwxyz012345',
      '0123456789abcdef0123456789abcdef',
      'correct-horse-battery-staple-is-my-cookie-key',
    ]) {
      expect(() => loadSettings({ ...base, TRANSACTION_COOKIE_KEY: key })).toThrow(/TRANSACTION_COOKIE_KEY: .*random/);
      try {
        loadSettings({ ...base, TRANSACTION_COOKIE_KEY: key });
      } catch (e) {
        expect((e as Error).message).not.toContain(key.slice(0, 12));
      }
    }
  });
  it('accepts every real key: 32 random bytes, as base64, base64url or hex', () => {
    for (let i = 0; i < 2000; i++) {
      const bytes = randomBytes(32);
      for (const key of [bytes.toString('base64'), bytes.toString('base64url'), bytes.toString('hex')])
        expect(loadSettings({ ...base, TRANSACTION_COOKIE_KEY: key }).TRANSACTION_COOKIE_KEY).toBe(key);
    }
  });
  it('refuses a secret set where a secret name belongs (CPV_CLIENT_SECRET_NAME, CONNECT_API_KEY_SECRET_NAME), never quoting it', () => {
    for (const setting of ['CPV_CLIENT_SECRET_NAME', 'CONNECT_API_KEY_SECRET_NAME']) {
      const value = randomOf(hex, 32);
      try {
        loadSettings({
          ...base,
          CPV_CLIENT_ID: '44444444-4444-4444-8444-444444444444',
          [setting]: value,
          CPV_CLIENT_SECRET_NAME: 'cpv-client-secret',
          ...{ [setting]: value },
        });
        throw new Error('expected a failure');
      } catch (e) {
        expect(e).toMatchObject({ code: 'settings_invalid', field: setting });
        expect((e as Error).message).toContain(`${setting}: looks like a secret, not the name of one`);
        expect((e as Error).message).not.toContain(value.slice(0, 8));
      }
    }
  });
  it('refuses an http:// callback URL outside loopback (local mode)', () => {
    expect(() => loadSettings({ ...base, CALLBACK_URL: 'http://app.example/api/callback' })).toThrow(/CALLBACK_URL: .*https/);
    expect(loadSettings({ ...base, CALLBACK_URL: 'http://localhost:7071/api/callback' }).CALLBACK_URL).toBe('http://localhost:7071/api/callback');
  });
  it('names the bad settings in the error (field), for the operator event', () => {
    try {
      loadSettings({ ...base, SERVICE_ENVIRONMENT: 'staging' });
      throw new Error('expected a failure');
    } catch (e) {
      expect(e).toMatchObject({ code: 'settings_invalid', field: 'SERVICE_ENVIRONMENT' });
    }
  });
  it('parses app settings with defaults', () => {
    const s = loadSettings(base);
    expect(s.AUTHORITY_HOST).toBe('https://login.microsoftonline.com');
    expect(s.ROTATION_SCHEDULE).toBe('0 0 3 * * *');
  });
  it('names every bad setting and never quotes a value', () => {
    expect(() => loadSettings({ ...base, SERVICE_ENVIRONMENT: 'staging', TRANSACTION_COOKIE_KEY: 'short-secret-value' })).toThrow(
      /SERVICE_ENVIRONMENT.*TRANSACTION_COOKIE_KEY/s,
    );
    try {
      loadSettings({ ...base, TRANSACTION_COOKIE_KEY: 'short-secret-value' });
    } catch (e) {
      expect((e as Error).message).not.toContain('short-secret-value');
    }
  });
  it('refuses an unresolved Key Vault reference instead of using its text as a key', () => {
    expect(() => loadSettings({ ...base, TRANSACTION_COOKIE_KEY: '@Microsoft.KeyVault(VaultName=kv;SecretName=transaction-cookie-key)' })).toThrow(
      /unresolved Key Vault references: TRANSACTION_COOKIE_KEY/,
    );
  });
  it("needs the app's own storage account (shared state), named as the Functions host reads it, and never quotes a connection string", () => {
    const { AzureWebJobsStorage__accountName: _account, ...withoutStorage } = base;
    expect(() => loadSettings(withoutStorage)).toThrow(/AzureWebJobsStorage: set AzureWebJobsStorage__accountName/);
    expect(() => loadSettings({ ...base, AzureWebJobsStorage__accountName: 'Not_An_Account' })).toThrow(/AzureWebJobsStorage__accountName/);
    const connectionString = 'DefaultEndpointsProtocol=https;AccountName=x;AccountKey=c2VjcmV0LWtleS1DQU5BUlk=';
    expect(loadSettings({ ...withoutStorage, AzureWebJobsStorage: connectionString }).AzureWebJobsStorage).toBe(connectionString);
    try {
      loadSettings({ ...withoutStorage, AzureWebJobsStorage: connectionString, SERVICE_ENVIRONMENT: 'staging' });
    } catch (e) {
      expect((e as Error).message).not.toContain('c2VjcmV0');
    }
  });
  it('needs exactly one secret store', () => {
    expect(() => loadSettings({ ...base, LOCAL_SECRET_STORE_DIR: '/tmp/x' })).toThrow(/exactly one of KEY_VAULT_URL/);
  });
  it('resolves a relative configuration path against the function app root', () => {
    expect(loadSettings({ ...base, AzureWebJobsScriptRoot: '/home/site/wwwroot' }).MARKETPLACE_CONFIG_PATH).toBe(
      '/home/site/wwwroot/config/marketplaces.json',
    );
  });
});

describe('the example configuration shipped for operators', () => {
  it('is valid', () => {
    const config = readMarketplaceConfig(join(__dirname, '..', '..', 'config', 'marketplaces.example.json'));
    expect(config.problems).toEqual([]);
    expect([...config.entries.keys()]).toEqual(['MP-12345', 'MP-23456']);
  });
});
