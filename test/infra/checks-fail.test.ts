/**
 * The checks in checks.ts can fail: each case copies infra/ into a temporary folder, breaks one
 * thing on purpose, and expects the same check that passes on infra/ to name the break.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { events } from '../../shared/events';
import { settingsShape } from '../../shared/settings';
import { loadTemplates } from './bicep';
import {
  type Problem,
  type Templates,
  alertProblems,
  broadRoleMentions,
  formatProblems,
  functionAppProblems,
  keyVaultProblems,
  missingAppSettingProblems,
  parameterFileProblems,
  readParameterFile,
  roleAssignmentProblems,
  storageProblems,
  syntaxProblems,
  undeclaredIdentifierProblems,
  wiringProblems,
} from './checks';

const infra = join(__dirname, '..', '..', 'infra');
const copies: string[] = [];
afterAll(() => {
  for (const dir of copies) rmSync(dir, { recursive: true, force: true });
});

/** A copy of infra/ with `from` replaced by `to` in one file (the first occurrence, or all for a /g RegExp). */
function brokenCopy(file: string, from: string | RegExp, to: string): { dir: string; templates: Templates } {
  const dir = mkdtempSync(join(tmpdir(), 'connect-ms-auth-infra-'));
  copies.push(dir);
  cpSync(infra, dir, { recursive: true });
  const path = join(dir, file);
  const text = readFileSync(path, 'utf8');
  const broken = text.replace(from, to);
  // A break that does not apply would make a failing check look like a passing one.
  if (broken === text) throw new Error(`the break was not applied: ${String(from)} is not in ${file}`);
  writeFileSync(path, broken);
  return { dir, templates: loadTemplates(dir) };
}

const requiredBySchema = Object.entries(settingsShape)
  .filter(([, schema]) => !schema.safeParse(undefined).success)
  .map(([key]) => key);
const alertedEvents = [events.rotationRunFailed, events.tokenNeedsReauth, events.invalidClient, events.connectSyncFailed];
const alerts = (t: Templates): Problem[] => alertProblems(t, alertedEvents, Object.values(events));

interface Case {
  what: string;
  file: string;
  from: string | RegExp;
  to: string;
  check: (templates: Templates) => Problem[];
  reports: RegExp;
}

const cases: Case[] = [
  {
    what: 'a missing closing brace',
    file: 'core/key-vault.bicep',
    from: "    sku: {\n      family: 'A'\n      name: 'standard'\n    }\n",
    to: "    sku: {\n      family: 'A'\n      name: 'standard'\n",
    check: syntaxProblems,
    reports: /^core\/key-vault\.bicep:\d+: syntax error/,
  },
  {
    what: 'Key Vault without purge protection',
    file: 'core/key-vault.bicep',
    from: 'enablePurgeProtection: true',
    to: 'enablePurgeProtection: false',
    check: keyVaultProblems,
    reports: /^core\/key-vault\.bicep:\d+: .*properties\.enablePurgeProtection must be true \(found false\)/,
  },
  {
    what: 'Key Vault with purge protection left out',
    file: 'core/key-vault.bicep',
    from: /\n\s*enablePurgeProtection: true/,
    to: '',
    check: keyVaultProblems,
    reports: /properties\.enablePurgeProtection must be true \(found not set\)/,
  },
  {
    what: 'Key Vault with access policies instead of RBAC',
    file: 'core/key-vault.bicep',
    from: 'enableRbacAuthorization: true',
    to: 'enableRbacAuthorization: false',
    check: keyVaultProblems,
    reports: /properties\.enableRbacAuthorization must be true/,
  },
  {
    what: 'Key Vault without soft delete',
    file: 'core/key-vault.bicep',
    from: 'enableSoftDelete: true',
    to: 'enableSoftDelete: false',
    check: keyVaultProblems,
    reports: /properties\.enableSoftDelete must be true/,
  },
  {
    what: 'a role assignment without principalType',
    file: 'app/roles.bicep',
    from: "    principalType: 'ServicePrincipal'\n",
    to: '',
    check: roleAssignmentProblems,
    reports: /^app\/roles\.bicep:\d+: role assignment 'appSecretsOfficer': has no principalType/,
  },
  {
    what: 'a role assignment granting Owner',
    file: 'app/roles.bicep',
    from: "'b86a8fe4-44ce-4948-aee5-eccb2c155cd7' // Key Vault Secrets Officer",
    to: "'8e3af657-a8ff-443c-a75c-2fe8c4bcb635' // Owner",
    check: roleAssignmentProblems,
    reports: /role assignment 'appSecretsOfficer': grants Owner, which is broader than this service needs/,
  },
  {
    what: 'a broad role mentioned anywhere',
    file: 'app/roles.bicep',
    from: '// Built-in role definitions',
    to: "var contributor = 'b24988ac-6180-42a0-ab88-20f7382dd24c'\n// Built-in role definitions",
    check: broadRoleMentions,
    reports: /^app\/roles\.bicep:\d+: mentions Contributor/,
  },
  {
    what: 'a role GUID without its name beside it',
    file: 'app/roles.bicep',
    from: ' // Storage Blob Data Owner',
    to: '',
    check: roleAssignmentProblems,
    reports: /the GUID of 'storageBlobDataOwner' needs the comment '\/\/ Storage Blob Data Owner' beside it/,
  },
  {
    what: 'a role assignment at resource-group scope',
    file: 'app/roles.bicep',
    from: '  scope: applicationInsights\n',
    to: '',
    check: roleAssignmentProblems,
    reports: /role assignment 'appMetricsPublisher': is not scoped to one resource/,
  },
  {
    what: 'a role assignment name that is not guid(scope, principal, role)',
    file: 'app/roles.bicep',
    from: 'guid(storage.id, appPrincipalId, storageBlobDataOwner)',
    to: "guid(storage.id, 'blob')",
    check: roleAssignmentProblems,
    reports: /role assignment 'appBlobDataOwner': name must be guid\(<scope>\.id, <principalId>, <role>\)/,
  },
  {
    what: 'a required app setting left out',
    file: 'app/api.bicep',
    from: '    CALLBACK_URL: callbackUrl\n',
    to: '',
    check: (t) => missingAppSettingProblems(t, requiredBySchema),
    reports: /^app\/api\.bicep:\d+: app setting 'CALLBACK_URL' is not set/,
  },
  {
    what: 'a Function App that allows plain HTTP',
    file: 'app/api.bicep',
    from: 'httpsOnly: true',
    to: 'httpsOnly: false',
    check: functionAppProblems,
    reports: /properties\.httpsOnly must be true/,
  },
  {
    what: 'a Function App with FTPS allowed',
    file: 'app/api.bicep',
    from: "ftpsState: 'Disabled'",
    to: "ftpsState: 'FtpsOnly'",
    check: functionAppProblems,
    reports: /properties\.siteConfig\.ftpsState must be 'Disabled'/,
  },
  {
    what: 'a Function App on TLS 1.0',
    file: 'app/api.bicep',
    from: "      minTlsVersion: '1.2'",
    to: "      minTlsVersion: '1.0'",
    check: functionAppProblems,
    reports: /properties\.siteConfig\.minTlsVersion must be '1\.2' or newer/,
  },
  {
    what: 'a Function App on Node.js 20',
    file: 'app/api.bicep',
    from: "version: '22'",
    to: "version: '20'",
    check: functionAppProblems,
    reports: /properties\.functionAppConfig\.runtime\.version must be '22'/,
  },
  {
    what: 'a Function App without a managed identity',
    file: 'app/api.bicep',
    from: "type: 'UserAssigned'",
    to: "type: 'None'",
    check: functionAppProblems,
    reports: /identity\.type must be a managed identity/,
  },
  {
    what: 'storage with shared keys',
    file: 'core/storage.bicep',
    from: 'allowSharedKeyAccess: false',
    to: 'allowSharedKeyAccess: true',
    check: storageProblems,
    reports: /properties\.allowSharedKeyAccess must be false/,
  },
  {
    what: 'storage with public blobs',
    file: 'core/storage.bicep',
    from: 'allowBlobPublicAccess: false',
    to: 'allowBlobPublicAccess: true',
    check: storageProblems,
    reports: /properties\.allowBlobPublicAccess must be false/,
  },
  {
    what: 'an alert looking for an event name the service does not write',
    file: 'app/alerts.bicep',
    from: /"InvalidClient"/g,
    to: '"InvalidClientError"',
    check: alerts,
    reports: /no alert rule queries the event 'InvalidClient'|looks for 'InvalidClientError', which the service never logs/,
  },
  {
    what: 'a misspelt name (what the compiler would reject)',
    file: 'app/api.bicep',
    from: 'KEY_VAULT_URL: keyVault.properties.vaultUri',
    to: 'KEY_VAULT_URL: keyVaul.properties.vaultUri',
    check: undeclaredIdentifierProblems,
    reports: /^app\/api\.bicep:\d+: 'keyVaul' is not declared/,
  },
  {
    what: 'a module output that does not exist',
    file: 'main.bicep',
    from: 'api.outputs.startUrl',
    to: 'api.outputs.startUri',
    check: wiringProblems,
    reports: /^main\.bicep:\d+: 'api\.outputs\.startUri': app\/api\.bicep has no output 'startUri'/,
  },
  {
    what: 'a module parameter that does not exist',
    file: 'main.bicep',
    from: '    rotationSchedule: rotationSchedule\n',
    to: '    rotationScheduel: rotationSchedule\n',
    check: wiringProblems,
    reports: /module 'api' passes 'rotationScheduel', which app\/api\.bicep does not declare/,
  },
];

describe('each check reports a deliberate break', () => {
  test.each(cases.map((c) => [c.what, c] as const))('%s', (_what, c) => {
    const original = formatProblems(c.check(loadTemplates(infra)));
    expect(original).toEqual([]);
    const { templates } = brokenCopy(c.file, c.from, c.to);
    const reported = formatProblems(c.check(templates));
    expect(reported).toEqual(expect.arrayContaining([expect.stringMatching(c.reports)]));
  });

  test('a syntax error is reported with its file and line', () => {
    const { templates } = brokenCopy('core/storage.bicep', "  kind: 'StorageV2'\n", "  kind 'StorageV2'\n");
    const problems = syntaxProblems(templates);
    expect(problems.length).toBeGreaterThan(0);
    expect(problems[0]).toMatchObject({ file: 'core/storage.bicep' });
    // A missing colon: the error is reported on the line that lacks it.
    const brokenLine = readFileSync(join(infra, 'core/storage.bicep'), 'utf8').split('\n').indexOf("  kind: 'StorageV2'") + 1;
    expect(problems.map((p) => p.line)).toContain(brokenLine);
  });
});

describe('parameter file checks report a deliberate break', () => {
  const main = loadTemplates(infra).get('main.bicep')!;
  const withParameters = (change: (parameters: Record<string, unknown>) => void) => {
    const file = readParameterFile(join(infra, 'main.parameters.production.json'), 'main.parameters.production.json');
    const json = structuredClone(file.json) as { parameters: Record<string, unknown> };
    change(json.parameters);
    return parameterFileProblems(main, { path: file.path, json });
  };

  test('a required parameter left out', () => {
    const problems = withParameters((p) => delete p.serviceEnvironment);
    expect(formatProblems(problems)).toContain("main.parameters.production.json:1: does not set required parameter 'serviceEnvironment'");
  });

  test('a value the template does not allow', () => {
    const problems = withParameters((p) => (p.serviceEnvironment = { value: 'staging' }));
    expect(formatProblems(problems)).toContain("main.parameters.production.json:1: sets 'serviceEnvironment' to 'staging', allowed: test, production");
  });

  test('a parameter the template does not declare', () => {
    const problems = withParameters((p) => (p.cpvClientSecret = { value: 'x' }));
    expect(formatProblems(problems)).toContain("main.parameters.production.json:1: sets 'cpvClientSecret', which main.bicep does not declare");
  });
});
