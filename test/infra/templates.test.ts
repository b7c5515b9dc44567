/**
 * The infrastructure in infra/ deploys one environment secure by default (issue 4,
 * security property 13). The Bicep compiler is not available here, so the templates are
 * parsed with tree-sitter-bicep and their properties read from the parse trees.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { events } from '../../shared/events';
import { settingsShape } from '../../shared/settings';
import { asLiteral, asString, descendants, loadTemplates, objectProperty, outputs, params, property, resources, stringTemplate, variables } from './bicep';
import {
  alertProblems,
  alertQueries,
  appSettings,
  broadRoleMentions,
  descriptionProblems,
  formatProblems,
  functionAppProblems,
  keyVaultProblems,
  missingAppSettingProblems,
  parameterFileProblems,
  readParameterFile,
  roleAssignmentProblems,
  roleAssignments,
  storageProblems,
  syntaxProblems,
  undeclaredIdentifierProblems,
  wiringProblems,
} from './checks';

const repo = join(__dirname, '..', '..');
const infra = join(repo, 'infra');
const templates = loadTemplates(infra);
const main = templates.get('main.bicep')!;

/** Settings the schema cannot do without: neither optional nor defaulted (read from zod, not copied). */
const requiredBySchema = Object.entries(settingsShape)
  .filter(([, schema]) => !schema.safeParse(undefined).success)
  .map(([key]) => key);

/** The events an operator must hear about. */
const alertedEvents = [events.rotationRunFailed, events.tokenNeedsReauth, events.invalidClient, events.connectSyncFailed];

describe('the Bicep templates', () => {
  test('exist: main.bicep and one module per concern', () => {
    expect(main).toBeDefined();
    expect([...templates.keys()]).toEqual(
      expect.arrayContaining(['main.bicep', 'app/api.bicep', 'app/roles.bicep', 'app/alerts.bicep', 'core/key-vault.bicep', 'core/storage.bicep', 'core/monitoring.bicep']),
    );
  });

  test('parse without a syntax error', () => {
    expect(formatProblems(syntaxProblems(templates))).toEqual([]);
  });

  test('wire modules together: existing files, declared parameters and outputs', () => {
    expect(formatProblems(wiringProblems(templates))).toEqual([]);
  });

  test('use no undeclared name', () => {
    expect(formatProblems(undeclaredIdentifierProblems(templates))).toEqual([]);
  });

  test('describe every parameter as Required. or Optional.', () => {
    expect(formatProblems(descriptionProblems(templates))).toEqual([]);
  });

  test('name resources from abbreviations.json keys that exist', () => {
    const abbreviations = JSON.parse(readFileSync(join(infra, 'abbreviations.json'), 'utf8')) as Record<string, string>;
    const used = descendants(main.root, 'member_expression')
      .filter((m) => m.childForFieldName('object')?.text === 'abbrs')
      .map((m) => m.childForFieldName('property')?.text ?? '');
    expect(used.length).toBeGreaterThan(0);
    expect(used.filter((key) => !(key in abbreviations))).toEqual([]);
  });

  test('use stable API versions (diagnostic settings have only a preview one)', () => {
    const previews = [...templates.values()]
      .flatMap(resources)
      .filter((r) => r.apiVersion.includes('preview') && r.type !== 'Microsoft.Insights/diagnosticSettings')
      .map((r) => `${r.file.path}: ${r.type}@${r.apiVersion}`);
    expect(previews).toEqual([]);
  });
});

describe('Key Vault', () => {
  test('is in RBAC mode with soft delete (90 days) and purge protection', () => {
    expect(formatProblems(keyVaultProblems(templates))).toEqual([]);
  });
});

describe('storage', () => {
  test('allows no shared key, no public blob access, TLS 1.2+', () => {
    expect(formatProblems(storageProblems(templates))).toEqual([]);
  });
});

describe('the Function App', () => {
  test('is Linux Flex Consumption on Node.js 22, HTTPS only, TLS 1.2+, no FTP, with a managed identity', () => {
    expect(formatProblems(functionAppProblems(templates))).toEqual([]);
  });

  test('reaches its storage with its identity, not a connection string', () => {
    const settings = appSettings(templates)!;
    expect(asLiteral(objectProperty(settings.object, 'AzureWebJobsStorage__credential'))).toBe('managedidentity');
    expect(objectProperty(settings.object, 'AzureWebJobsStorage__accountName')).toBeDefined();
    expect(objectProperty(settings.object, 'AzureWebJobsStorage')).toBeUndefined();
  });
});

describe('app settings', () => {
  test('the schema has required settings to check (sanity check of the zod reading)', () => {
    expect(requiredBySchema.length).toBeGreaterThan(0);
    expect(requiredBySchema).not.toContain('AUTHORITY_HOST'); // has a default
    expect(requiredBySchema).not.toContain('CPV_CLIENT_ID'); // optional
  });

  test('every setting the schema requires is set by the template', () => {
    expect(formatProblems(missingAppSettingProblems(templates, requiredBySchema))).toEqual([]);
  });

  test('the settings an Azure deployment needs beyond the schema minimum are set', () => {
    const azureSettings = ['KEY_VAULT_URL', 'AUTHORITY_HOST', 'ROTATION_SCHEDULE', 'CPV_CLIENT_ID', 'CPV_CLIENT_SECRET_NAME', 'CONNECT_API_KEY_SECRET_NAME', 'MARKETPLACE_CONFIG_PATH'];
    expect(formatProblems(missingAppSettingProblems(templates, azureSettings))).toEqual([]);
  });

  test('every service setting the template writes is one the schema reads (no misspelt names)', () => {
    const platform = /^(AzureWebJobsStorage__|APPLICATIONINSIGHTS_|AZURE_CLIENT_ID$)/;
    const keys = Object.keys(settingsShape);
    const written = [...appSettings(templates)!.object.namedChildren]
      .map((p) => p.namedChildren[0]?.text ?? '')
      .filter((key) => key && !platform.test(key));
    expect(written.filter((key) => !keys.includes(key))).toEqual([]);
  });

  test('TRANSACTION_COOKIE_KEY is a Key Vault reference, never a value', () => {
    const { file, object } = appSettings(templates)!;
    const reference = stringTemplate(objectProperty(object, 'TRANSACTION_COOKIE_KEY')!);
    expect(reference).toMatch(/^@Microsoft\.KeyVault\(VaultName=\$\{[^}]+\};SecretName=\$\{transactionCookieKeySecretName\}\)$/);
    expect(asString(variables(file).get('transactionCookieKeySecretName')!)).toBe('transaction-cookie-key');
  });

  test('CALLBACK_URL is this app\'s own https host + /api/callback; SERVICE_ENVIRONMENT is the environment parameter', () => {
    const { file, object } = appSettings(templates)!;
    const callback = variables(file).get('callbackUrl')!;
    expect(stringTemplate(callback)).toBe('https://${functionApp.properties.defaultHostName}/api/callback');
    expect(objectProperty(object, 'CALLBACK_URL')?.text).toBe('callbackUrl');
    expect(objectProperty(object, 'SERVICE_ENVIRONMENT')?.text).toBe('serviceEnvironment');
  });
});

describe('role assignments', () => {
  const assignments = roleAssignments(templates);

  test('all live in one file', () => {
    expect(new Set(assignments.map((a) => a.resource.file.path))).toEqual(new Set(['app/roles.bicep']));
  });

  test('each has a principal type, a least-privilege role named beside its GUID, one resource as scope and a guid() name', () => {
    expect(assignments.length).toBeGreaterThan(0);
    expect(formatProblems(roleAssignmentProblems(templates))).toEqual([]);
  });

  test('no template mentions Owner, Contributor, User Access Administrator or another broad role', () => {
    expect(formatProblems(broadRoleMentions(templates))).toEqual([]);
  });

  test('the app may read and write secrets on the vault and nothing more there; blob data on its storage; metrics on App Insights', () => {
    const app = assignments.filter((a) => property(a.resource.body, 'properties.principalId')?.text === 'appPrincipalId');
    expect(app.map((a) => `${a.roleName} on ${a.scopeType}`).sort()).toEqual([
      'Key Vault Secrets Officer on Microsoft.KeyVault/vaults',
      'Monitoring Metrics Publisher on Microsoft.Insights/components',
      'Storage Blob Data Owner on Microsoft.Storage/storageAccounts',
    ]);
  });

  test('the deployer gets Key Vault Secrets Officer only behind the grantDeployerSecretsAccess flag', () => {
    const deployer = assignments.filter((a) => property(a.resource.body, 'properties.principalId')?.text !== 'appPrincipalId');
    expect(deployer).toHaveLength(1);
    expect(deployer[0]!.roleName).toBe('Key Vault Secrets Officer');
    expect(deployer[0]!.resource.condition?.text).toContain('grantDeployerSecretsAccess');
    const flag = params(main).find((p) => p.name === 'grantDeployerSecretsAccess');
    expect(flag?.node.text).toMatch(/bool = false$/);
  });
});

describe('alerts', () => {
  test('exist for a failed rotation run, a token that needs a person, invalid_client and a failed Connect sync', () => {
    expect(alertQueries(templates).length).toBeGreaterThanOrEqual(alertedEvents.length);
    expect(formatProblems(alertProblems(templates, alertedEvents, Object.values(events)))).toEqual([]);
  });

  test('go to an action group given by parameter (existing one or emails)', () => {
    const names = params(main).map((p) => p.name);
    expect(names).toEqual(expect.arrayContaining(['actionGroupResourceId', 'alertEmailAddresses']));
  });
});

describe('parameter files', () => {
  const files = {
    'main.parameters.test.json': 'test',
    'main.parameters.production.json': 'production',
  } as const;

  test.each(Object.entries(files))('%s sets every required parameter of main.bicep', (name, environment) => {
    const file = readParameterFile(join(infra, name), name);
    expect(formatProblems(parameterFileProblems(main, file))).toEqual([]);
    const parameters = (file.json as { parameters: Record<string, { value: unknown }> }).parameters;
    expect(parameters.serviceEnvironment?.value).toBe(environment);
  });

  test('main.parameters.json (azd) sets every required parameter from the azd environment', () => {
    const file = readParameterFile(join(infra, 'main.parameters.json'), 'main.parameters.json');
    expect(formatProblems(parameterFileProblems(main, file))).toEqual([]);
  });
});

describe('outputs', () => {
  test('are what the operator and azd need, and nothing else', () => {
    expect(outputs(main).map((o) => o.name).sort()).toEqual(['AZURE_FUNCTION_APP_NAME', 'AZURE_KEY_VAULT_NAME', 'CALLBACK_URL', 'START_URL']);
    const api = templates.get('app/api.bicep')!;
    const startUrl = outputs(api).find((o) => o.name === 'startUrl')!.value!;
    expect(stringTemplate(startUrl)).toBe('https://${functionApp.properties.defaultHostName}/api/start');
  });
});

describe('azure.yaml and the deploy guide', () => {
  const azureYaml = readFileSync(join(repo, 'azure.yaml'), 'utf8');
  const guide = readFileSync(join(repo, 'docs', 'DEPLOY.md'), 'utf8');

  test('azd deploys the `api` service as a TypeScript Function App from the deploy/ folder', () => {
    expect(azureYaml).toMatch(/^services:\n {2}api:\n(?: {4}.*\n|\s*#.*\n)*/m);
    for (const line of ['project: .', 'language: ts', 'host: function', 'dist: deploy', 'remoteBuild: false']) {
      expect(azureYaml).toContain(`    ${line}`);
    }
    // azd finds the app by this tag.
    expect(templates.get('app/api.bicep')!.source).toContain("'azd-service-name': 'api'");
  });

  test('the guide names the secrets the template refers to and the checks before production', () => {
    const api = templates.get('app/api.bicep')!;
    const cpvSecretDefault = asLiteral(params(api).find((p) => p.name === 'cpvClientSecretName')!.node.namedChildren.at(-1));
    expect(guide).toContain('transaction-cookie-key');
    expect(guide).toContain(String(cpvSecretDefault));
    expect(guide).toContain('az deployment group what-if');
    expect(guide).toContain('user_impersonation');
    expect(guide).toContain('config/marketplaces.json');
  });
});
