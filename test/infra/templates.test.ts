/**
 * The infrastructure in infra/ deploys one environment secure by default and watched
 * (docs/SECURITY.md, property 13; docs/DEPLOY.md). The real Bicep compiler builds and lints the
 * templates; the assertions read the compiled ARM template as Resource Manager lays it out for
 * the parameters each environment deploys with (arm.ts). tree-sitter reads the source only for
 * the role names written beside the role GUIDs, which compiling drops.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { events } from '../../shared/events';
import { tokenSecretName } from '../../shared/secrets/store';
import { settingsShape } from '../../shared/settings';
import { leaseContainerName } from '../../shared/storage/blobLeases';
import { runRecordsTable } from '../../shared/storage/runRecords';
import { tokenRecordsTable } from '../../shared/storage/tokenRecords';
import { usedStatesTable } from '../../shared/storage/usedStates';
import { ArmFailure, type Deployment, type Value, at, layOut, ofType } from './arm';
import { loadTemplates } from './bicep';
import {
  alertProblems,
  alertRules,
  appSettingProblems,
  appSettings,
  availabilityProblems,
  descriptionProblems,
  emailProblems,
  functionAppProblems,
  leastPrivilegeCustomRoles,
  grants,
  keyVaultAuditProblems,
  keyVaultProblems,
  nearExpiryProblems,
  poisonQueueProblems,
  roleAssignmentProblems,
  runMissingProblems,
  serviceHealthProblems,
  storageProblems,
  tokenWritesMissingProblems,
  whatIfProblems,
  workbookProblems,
} from './checks';
import { buildAll, buildParams, compilerTestsEnabled, copies, formatDiagnostic, infra, lintAll, removeWorkDirs, repo } from './compiler';
import { broadRoleMentions, roleNameCommentProblems } from './source-checks';
import {
  alertSplits,
  alertedEvents,
  nearExpiryQueueName,
  poisonLine,
  testParameters,
  productionParameters,
  tokenSecretPrefix,
  workbookSections,
} from './expectations';

const describeCompiled = compilerTestsEnabled() ? describe : describe.skip;

/** Deliveries before the host moves a queue message to the poison queue (host.json). */
const maxDequeueCount = (JSON.parse(readFileSync(join(repo, 'host.json'), 'utf8')) as { extensions: { queues: { maxDequeueCount: number } } })
  .extensions.queues.maxDequeueCount;

/** Settings the schema cannot do without: neither optional nor defaulted (read from zod, not copied). */
const requiredBySchema = Object.entries(settingsShape)
  .filter(([, schema]) => !schema.safeParse(undefined).success)
  .map(([key]) => key);

let template: unknown;
let build: string[] = [];
let lint: string[] = [];
let testEnv: Deployment;
let production: Deployment;

// Without the compiler and with SKIP_BICEP=1 (never in CI) every test here is skipped.
if (compilerTestsEnabled())
  beforeAll(() => {
    const dir = copies(['infra']).get('infra')!;
    const [compiled] = buildAll([dir]);
    build = compiled!.build.map(formatDiagnostic);
    lint = lintAll([dir])[0]!.map(formatDiagnostic);
    template = compiled!.template;
    if (!template) throw new Error(`infra/main.bicep does not compile:\n${build.join('\n')}`);
    testEnv = layOut(template, testParameters);
    production = layOut(template, productionParameters);
  }, 120_000);

afterAll(removeWorkDirs);

describeCompiled('the Bicep templates', () => {
  test('compile and lint with no error and no warning (bicepconfig.json rules included)', () => {
    expect(build).toEqual([]);
    expect(lint).toEqual([]);
  });

  test('describe every parameter as Required. or Optional.', () => {
    expect(descriptionProblems(template)).toEqual([]);
  });

  test('hand every module only values known before deployment, so what-if shows every resource', () => {
    expect(whatIfProblems(testEnv)).toEqual([]);
    expect(whatIfProblems(production)).toEqual([]);
  });

  test('name each role GUID beside it, and mention no broad role anywhere', () => {
    expect(roleNameCommentProblems(loadTemplates(infra))).toEqual([]);
    expect(broadRoleMentions(infra)).toEqual([]);
  });
});

describeCompiled('main.bicepparam, the parameters of each environment', () => {
  const file = join(infra, 'main.bicepparam');

  test.each(['test', 'production'] as const)('compiles for %s from the azd environment, and those values deploy', (environment) => {
    const variables = {
      AZURE_ENV_NAME: `connect-ms-auth-${environment}`,
      SERVICE_ENVIRONMENT: environment,
      AZURE_PRINCIPAL_ID: 'b0b00000-0000-4000-8000-000000000001',
      CPV_CLIENT_ID: 'c0c00000-0000-4000-8000-0000000000c1',
      ALERT_EMAIL_ADDRESSES: ' ops@example.com, oncall@example.com,',
    };
    const { parameters, diagnostics } = buildParams(file, variables);
    expect(diagnostics.map(formatDiagnostic)).toEqual([]);
    expect(parameters).toMatchObject({
      environmentName: `connect-ms-auth-${environment}`,
      serviceEnvironment: environment,
      cpvClientId: variables.CPV_CLIENT_ID,
      alertEmailAddresses: ['ops@example.com', 'oncall@example.com'],
      grantDeployerSecretsAccess: false,
    });
    const deployment = layOut(template, parameters as Record<string, Value>);
    expect(appSettings(deployment)?.SERVICE_ENVIRONMENT).toBe(environment);
    expect(appSettings(deployment)?.CPV_CLIENT_ID).toBe(variables.CPV_CLIENT_ID);
  });

  test("a pipeline's service principal may be granted the deployer's access: azd passes no AZURE_PRINCIPAL_TYPE, the environment says it", () => {
    const grantFor = (variables: Record<string, string>) => {
      const { parameters, diagnostics } = buildParams(file, {
        AZURE_ENV_NAME: 'connect-ms-auth-test',
        SERVICE_ENVIRONMENT: 'test',
        AZURE_PRINCIPAL_ID: 'b0b00000-0000-4000-8000-000000000002',
        GRANT_DEPLOYER_SECRETS_ACCESS: 'true',
        ...variables,
      });
      expect(diagnostics.map(formatDiagnostic)).toEqual([]);
      const deployment = layOut(template, parameters as Record<string, Value>);
      const deployer = grants(deployment).filter((g) => g.principal === 'b0b00000-0000-4000-8000-000000000002');
      return deployer.map((g) => [g.roleName, at(g.resource.body, 'properties.principalType')]);
    };
    expect(grantFor({})).toEqual([['Key Vault Secrets Officer', 'User']]);
    expect(grantFor({ AZURE_PRINCIPAL_TYPE: 'ServicePrincipal' })).toEqual([['Key Vault Secrets Officer', 'ServicePrincipal']]);
  });

  test('refuses to compile without SERVICE_ENVIRONMENT: a deployment must say which environment it is', () => {
    const { parameters, diagnostics } = buildParams(file, { AZURE_ENV_NAME: 'connect-ms-auth-test' });
    expect(parameters).toBeUndefined();
    expect(diagnostics.map((d) => d.message).join('\n')).toMatch(/SERVICE_ENVIRONMENT/);
  });

  test('takes every value from the environment, so no deployment resets a setting another made', () => {
    const lines = readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => /^param /.test(l));
    expect(lines.length).toBeGreaterThan(5);
    expect(lines.filter((l) => !l.includes('readEnvironmentVariable('))).toEqual([]);
  });
});

describeCompiled('production', () => {
  test('is not deployed without an alert receiver (e-mail addresses or an existing action group)', () => {
    expect(() => layOut(template, { ...productionParameters, alertEmailAddresses: [], actionGroupResourceId: '' })).toThrow(ArmFailure);
    expect(() => layOut(template, { ...productionParameters, alertEmailAddresses: [], actionGroupResourceId: '' })).toThrow(
      /Production needs an alert receiver/,
    );
    const withGroup = layOut(template, {
      ...productionParameters,
      alertEmailAddresses: [],
      actionGroupResourceId: '/subscriptions/x/resourceGroups/y/providers/Microsoft.Insights/actionGroups/ops',
    });
    expect(ofType(withGroup, 'Microsoft.Insights/actionGroups')).toHaveLength(0);
    expect(
      alertRules(withGroup).every(
        (r) =>
          JSON.stringify(at(r.resource.body, 'properties.actions.actionGroups')) ===
          JSON.stringify(['/subscriptions/x/resourceGroups/y/providers/Microsoft.Insights/actionGroups/ops']),
      ),
    ).toBe(true);
  });

  test('e-mail addresses create an action group that every alert notifies', () => {
    const [group] = ofType(production, 'Microsoft.Insights/actionGroups');
    expect(at(group!.body, 'properties.emailReceivers.0.emailAddress')).toBe('ops@example.com');
  });
});

describeCompiled('Key Vault', () => {
  test('is in RBAC mode with soft delete (90 days) and purge protection', () => {
    expect(keyVaultProblems(testEnv)).toEqual([]);
  });

  test("sends its audit log to the deployment's Log Analytics workspace", () => {
    expect(keyVaultAuditProblems(testEnv)).toEqual([]);
  });
});

describeCompiled('storage', () => {
  test('allows no shared key, no public blob access, TLS 1.2+', () => {
    expect(storageProblems(testEnv)).toEqual([]);
  });
});

describeCompiled('the Function App', () => {
  test('is Linux Flex Consumption on Node.js 22, HTTPS only, TLS 1.2+, no FTP, with a managed identity, and sets no property Flex Consumption refuses', () => {
    expect(functionAppProblems(testEnv)).toEqual([]);
  });
});

describeCompiled('app settings', () => {
  test('the schema has required settings to check (sanity check of the zod reading)', () => {
    expect(requiredBySchema.length).toBeGreaterThan(0);
    expect(requiredBySchema).not.toContain('AUTHORITY_HOST'); // has a default
  });

  test('every setting the schema requires is set, none Flex Consumption refuses, storage through the identity, no host home page', () => {
    expect(appSettingProblems(testEnv, requiredBySchema)).toEqual([]);
    const azure = [
      'KEY_VAULT_URL',
      'AUTHORITY_HOST',
      'ROTATION_SCHEDULE',
      'CPV_CLIENT_ID',
      'CPV_CLIENT_SECRET_NAME',
      'CONNECT_API_KEY_SECRET_NAME',
      'MARKETPLACE_CONFIG_PATH',
      'PARTNER_CENTER_API_URL',
      'CPV_CREDENTIAL',
    ];
    expect(appSettingProblems(testEnv, azure)).toEqual([]);
  });

  test('every service setting written is one the app reads (no misspelt names)', () => {
    const platform = /^(AzureWebJobs|APPLICATIONINSIGHTS_|AZURE_CLIENT_ID$)/;
    const known = Object.keys(settingsShape);
    expect(Object.keys(appSettings(testEnv)!).filter((key) => !platform.test(key) && !known.includes(key))).toEqual([]);
  });

  test("AUTHORITY_HOST is the cloud's login endpoint without a trailing slash; Partner Center defaults to its public API", () => {
    expect(appSettings(testEnv)).toMatchObject({
      AUTHORITY_HOST: 'https://login.microsoftonline.com',
      PARTNER_CENTER_API_URL: 'https://api.partnercenter.microsoft.com',
    });
  });

  test('TRANSACTION_COOKIE_KEY is a Key Vault reference to this vault, never a value', () => {
    const vault = ofType(testEnv, 'Microsoft.KeyVault/vaults')[0]!;
    expect(appSettings(testEnv)!.TRANSACTION_COOKIE_KEY).toBe(
      `@Microsoft.KeyVault(VaultName=${String(vault.name)};SecretName=transaction-cookie-key)`,
    );
  });

  test("CALLBACK_URL is this app's own https host + /api/callback; SERVICE_ENVIRONMENT is the environment", () => {
    const site = ofType(testEnv, 'Microsoft.Web/sites')[0]!;
    expect(String(appSettings(testEnv)!.CALLBACK_URL)).toMatch(
      new RegExp(`^https://<reference\\(.*/sites/${String(site.name)}\\)\\.defaultHostName>/api/callback$`),
    );
    expect(appSettings(testEnv)!.SERVICE_ENVIRONMENT).toBe('test');
  });

  test('CPV: federated by default, with no secret name; a secret name only with CPV_CREDENTIAL=secret', () => {
    expect(appSettings(production)).toMatchObject({
      CPV_CLIENT_ID: productionParameters.cpvClientId,
      CPV_CREDENTIAL: 'federated',
      CPV_CLIENT_SECRET_NAME: '',
    });
    const secret = layOut(template, { ...productionParameters, cpvCredential: 'secret' });
    expect(appSettings(secret)).toMatchObject({ CPV_CREDENTIAL: 'secret', CPV_CLIENT_SECRET_NAME: 'cpv-client-secret' });
    expect(appSettings(testEnv)).toMatchObject({ CPV_CLIENT_ID: '', CPV_CLIENT_SECRET_NAME: '' });
  });
});

describeCompiled('role assignments', () => {
  test('all live in app/roles.bicep', () => {
    expect(new Set(grants(testEnv).map((g) => g.resource.module))).toEqual(new Set(['roles']));
  });

  test('each has a principal type, a least-privilege role, one resource as scope and a guid(scope, principal, role) name known before deployment', () => {
    expect(grants(testEnv).length).toBeGreaterThan(0);
    expect(roleAssignmentProblems(testEnv)).toEqual([]);
  });

  test("the app: secrets on the vault, blobs and queues on its storage, entities of its own tables, metrics on App Insights; the vault's event topic: sending queue messages", () => {
    const summary = grants(testEnv).map(
      (g) =>
        `${String(g.principal).includes('userAssignedIdentities') ? 'app' : String(g.principal).includes('systemTopics') ? 'events' : 'other'}: ${g.roleName} on ${g.scope?.split('/providers/').pop()?.split('/').slice(0, 2).join('/')}`,
    );
    expect(summary.sort()).toEqual([
      'app: Key Vault Secrets Officer on Microsoft.KeyVault/vaults',
      'app: Monitoring Metrics Publisher on Microsoft.Insights/components',
      'app: Storage Blob Data Owner on Microsoft.Storage/storageAccounts',
      'app: Storage Queue Data Contributor on Microsoft.Storage/storageAccounts',
      'app: Storage Table Data Contributor on Microsoft.Storage/storageAccounts',
      'app: Storage Table Data Contributor on Microsoft.Storage/storageAccounts',
      'app: Storage Table Data Contributor on Microsoft.Storage/storageAccounts',
      'app: connect-ms-auth Email Sender on Microsoft.Communication/communicationServices',
      'events: Storage Queue Data Message Sender on Microsoft.Storage/storageAccounts',
    ]);
    // Each table role is on one of the service's own tables, not the account.
    expect(
      grants(testEnv)
        .filter((g) => g.roleName === 'Storage Table Data Contributor')
        .map((g) => g.scope?.split('/tableServices/default/tables/')[1])
        .sort(),
    ).toEqual([runRecordsTable, usedStatesTable, tokenRecordsTable].sort());
  });

  test('the deployer gets Key Vault Secrets Officer only with grantDeployerSecretsAccess', () => {
    const granted = layOut(template, { ...testParameters, grantDeployerSecretsAccess: true });
    const deployer = grants(granted).filter((g) => g.principal === testParameters.principalId);
    expect(deployer.map((g) => g.roleName)).toEqual(['Key Vault Secrets Officer']);
    expect(grants(testEnv).filter((g) => g.principal === testParameters.principalId)).toEqual([]);
  });
});

describeCompiled('messages to marketplace contacts (Communication Services Email)', () => {
  test("test: Microsoft's Azure-managed domain, linked and named by the app settings; no key can send; no engagement tracking", () => {
    expect(emailProblems(testEnv, 'AzureManaged')).toEqual([]);
  });

  test('production: its own domain only, linked once verified; before that, and without one, the app sends nothing', () => {
    expect(emailProblems(production, 'CustomerManaged')).toEqual([]);
    const domainOf = (d: Deployment) => ofType(d, 'Microsoft.Communication/emailServices/domains').map((r) => String(r.name).split('/').pop());
    expect(domainOf(production)).toEqual(['notify.contoso.example.com']);
    const unverified = layOut(template, { ...productionParameters, emailCustomDomainVerified: false });
    expect(emailProblems(unverified, 'none')).toEqual([]);
    // The domain exists, so its DNS records can be read and verified in the portal.
    expect(domainOf(unverified)).toEqual(['notify.contoso.example.com']);
    const without = layOut(template, { ...productionParameters, emailCustomDomain: '', emailCustomDomainVerified: false });
    expect(emailProblems(without, 'none')).toEqual([]);
    expect(domainOf(without)).toEqual([]);
  });

  test('the one custom role: exactly the actions Learn documents for sending, no data actions, assignable in the resource group only', () => {
    const [definition] = ofType(testEnv, 'Microsoft.Authorization/roleDefinitions');
    expect(at(definition!.body, 'properties.permissions.0.actions')).toEqual(leastPrivilegeCustomRoles['connect-ms-auth Email Sender']!.actions);
    expect(at(definition!.body, 'properties.assignableScopes')).toEqual([
      `/subscriptions/00000000-0000-4000-8000-00000000000a/resourceGroups/rg-connect-ms-auth-test`,
    ]);
    // Its name is a GUID of the resource group: one definition per group, whatever the environment.
    expect(String(definition!.name)).toMatch(/^guid\(\/subscriptions\/[^,]+\/resourceGroups\/rg-connect-ms-auth-test, /);
  });
});

describeCompiled('alerts', () => {
  test('fire on each event an operator must hear about, one per marketplace or reason where that says what to do, name only events the service logs, skip query validation, notify the receivers', () => {
    const hostLines = [poisonLine(nearExpiryQueueName, maxDequeueCount)];
    expect(alertProblems(production, alertedEvents, Object.values(events), productionActionGroups(production), alertSplits, hostLines)).toEqual([]);
  });

  test(`fire when the host moves a message of '${nearExpiryQueueName}' to its poison queue (the line the host writes then), and not for other queues`, () => {
    expect(maxDequeueCount).toBe(5);
    const line = poisonLine(nearExpiryQueueName, maxDequeueCount);
    expect(poisonQueueProblems(production, nearExpiryQueueName, line, poisonLine('another-queue', maxDequeueCount))).toEqual([]);
  });

  test(`dead man's switch: fires when no ${events.rotationRunCompleted} was logged for 26 hours (fewer than one row)`, () => {
    expect(runMissingProblems(production, events.rotationRunCompleted)).toEqual([]);
  });

  test("second dead man's switch, from Key Vault's own audit log: no SecretSet on a token secret for 36 hours", () => {
    expect(tokenSecretName('MP-12345', 'test').startsWith(tokenSecretPrefix)).toBe(true);
    expect(tokenWritesMissingProblems(production, tokenSecretPrefix)).toEqual([]);
  });
});

describeCompiled("Key Vault's near-expiry events", () => {
  test(`reach the queue '${nearExpiryQueueName}' in the app's storage through the vault's system topic, SecretNearExpiry of token secrets only`, () => {
    expect(tokenSecretName('MP-12345', 'production').startsWith(tokenSecretPrefix)).toBe(true);
    expect(nearExpiryProblems(testEnv, nearExpiryQueueName, tokenSecretPrefix)).toEqual([]);
  });

  test('host.json: the bundle with the queue extension, and plain (not base64) queue messages, as Event Grid writes them', () => {
    const host = JSON.parse(readFileSync(join(repo, 'host.json'), 'utf8')) as {
      extensionBundle?: { id: string; version: string };
      extensions?: { queues?: { messageEncoding?: string } };
    };
    expect(host.extensionBundle).toEqual({ id: 'Microsoft.Azure.Functions.ExtensionBundle', version: '[4.*, 5.0.0)' });
    expect(host.extensions?.queues?.messageEncoding).toBe('none');
  });

  test("the service's shared state exists before its code: the lease container and the tables it reads and writes, in the app's own account", () => {
    const names = (type: string) => ofType(testEnv, type).map((r) => String(r.name).split('/').pop());
    expect(names('Microsoft.Storage/storageAccounts/blobServices/containers')).toContain(leaseContainerName);
    expect(names('Microsoft.Storage/storageAccounts/tableServices/tables').sort()).toEqual(
      [runRecordsTable, usedStatesTable, tokenRecordsTable].sort(),
    );
  });

  test("the app's queue trigger reads that queue through AzureWebJobsStorage, the app's own account, in the schema it parses", () => {
    require('../../functions/secretNearExpiry');
    const { listRegistrations } = require('../../local/functionsCore') as typeof import('../../local/functionsCore');
    expect(listRegistrations().filter((r) => r.trigger.type === 'queueTrigger')).toEqual([
      expect.objectContaining({
        name: 'secretNearExpiry',
        trigger: expect.objectContaining({ queueName: nearExpiryQueueName, connection: 'AzureWebJobsStorage' }),
      }),
    ]);
    const storage = ofType(testEnv, 'Microsoft.Storage/storageAccounts')[0];
    expect(appSettings(testEnv)?.AzureWebJobsStorage__accountName).toBe(storage?.name);
    // shared/rotation/nearExpiryEvent.ts reads Event Grid's own schema, not CloudEvents.
    const [subscription] = ofType(testEnv, 'Microsoft.EventGrid/systemTopics/eventSubscriptions');
    expect(at(subscription?.body, 'properties.eventDeliverySchema')).toBe('EventGridSchema');
  });
});

describeCompiled('the portal pack', () => {
  test('a Standard availability test of the start page, with the TLS certificate lifetime check, and its alert', () => {
    const pages = readFileSync(join(repo, 'shared', 'web', 'pages', 'start.ts'), 'utf8');
    expect(pages).toContain('Generate Refresh Token');
    expect(availabilityProblems(production, 'Generate Refresh Token', productionActionGroups(production))).toEqual([]);
  });

  test('a workbook: tokens by days left, last runs, failures by class, Connect sync, tokens that need a person, on events the app logs', () => {
    expect(workbookProblems(testEnv, workbookSections, Object.values(events))).toEqual([]);
  });

  test("a Service Health alert for Functions and Key Vault in the deployment's region", () => {
    expect(serviceHealthProblems(testEnv, ['Key Vault', 'Functions'], 'West Europe')).toEqual([]);
  });
});

describeCompiled('outputs', () => {
  test('are what the operator and azd need: start and callback URL, vault, app, what the federated credential needs, and the sender of the messages to contacts', () => {
    expect(Object.keys(testEnv.outputs).sort()).toEqual([
      'APP_IDENTITY_PRINCIPAL_ID',
      'AZURE_FUNCTION_APP_NAME',
      'AZURE_KEY_VAULT_NAME',
      'AZURE_TENANT_ID',
      'CALLBACK_URL',
      'EMAIL_SERVICE_NAME',
      'NOTIFICATION_SENDER_ADDRESS',
      'START_URL',
    ]);
    expect(String(testEnv.outputs.NOTIFICATION_SENDER_ADDRESS)).toMatch(/deployments\/communication\)\.outputs\.senderAddress/);
    expect(String(testEnv.outputs.START_URL)).toMatch(/deployments\/api\)\.outputs\.startUrl/);
    const api = ofType(testEnv, 'Microsoft.Web/sites')[0]!;
    expect(testEnv.outputs.AZURE_FUNCTION_APP_NAME).toBe(api.name);
  });
});

describeCompiled('docs/DEPLOY.md, walked against the templates', () => {
  const guide = readFileSync(join(repo, 'docs', 'DEPLOY.md'), 'utf8');
  // Shell commands with their continuation lines joined.
  const commands = [...guide.matchAll(/```sh\n([\s\S]*?)```/g)].flatMap((m) => m[1]!.replace(/\\\n\s*/g, ' ').split('\n')).filter((l) => l.trim());
  const bicepparam = readFileSync(join(infra, 'main.bicepparam'), 'utf8');
  const params = (): Record<string, { defaultValue?: unknown }> =>
    (template as { parameters: Record<string, { defaultValue?: unknown }> }).parameters;

  test("every azd variable it sets is one main.bicepparam reads (or azd's own), and every one in its table maps to a real parameter", () => {
    const azdOwn = ['AZURE_SUBSCRIPTION_ID', 'AZURE_LOCATION', 'AZURE_RESOURCE_GROUP'];
    const set = commands.flatMap((c) => [...c.matchAll(/azd env set (\w+)/g)].map((m) => m[1]!));
    expect(set.length).toBeGreaterThan(3);
    expect(set.filter((v) => !azdOwn.includes(v) && !bicepparam.includes(`readEnvironmentVariable('${v}'`))).toEqual([]);
    const rows = [...guide.matchAll(/^\| `([A-Z_]+)` \| `(\w+)` \|/gm)].map((m) => [m[1]!, m[2]!] as const);
    expect(rows.length).toBeGreaterThan(5);
    for (const [variable, parameter] of rows) {
      expect({ variable, read: bicepparam.includes(`readEnvironmentVariable('${variable}'`) }).toEqual({ variable, read: true });
      expect({ parameter, declared: parameter in params() }).toEqual({ parameter, declared: true });
      expect(bicepparam).toMatch(new RegExp(`^param ${parameter} = .*readEnvironmentVariable\\('${variable}'`, 'm'));
    }
  });

  test('every output it reads exists', () => {
    const read = [...guide.matchAll(/azd env get-value (\w+)/g)].map((m) => m[1]!);
    expect(read.length).toBeGreaterThan(3);
    expect([...new Set(read)].filter((o) => !(o in testEnv.outputs))).toEqual([]);
  });

  test('it states a minimum Bicep version no newer than the one CI compiles with', () => {
    const minimum = /\*\*Bicep (\d+)\.(\d+)\.(\d+) or newer\*\*/.exec(guide)?.slice(1).map(Number);
    const pinned = /bicepVersion = '(\d+)\.(\d+)\.(\d+)'/
      .exec(readFileSync(join(repo, 'scripts', 'bicep.mjs'), 'utf8'))
      ?.slice(1)
      .map(Number);
    expect(minimum).toHaveLength(3);
    expect(pinned).toHaveLength(3);
    expect(minimum![0]! * 1e6 + minimum![1]! * 1e3 + minimum![2]!).toBeLessThanOrEqual(pinned![0]! * 1e6 + pinned![1]! * 1e3 + pinned![2]!);
  });

  test('no command prints a secret or puts one on a command line; every secret gets an expiry', () => {
    const sets = commands.filter((c) => c.includes('az keyvault secret set'));
    expect(sets.length).toBeGreaterThanOrEqual(3);
    for (const c of sets) {
      expect(c).not.toMatch(/--value\b/);
      expect(c).toMatch(/--file \/dev\/stdin/);
      expect(c).toMatch(/--expires /);
      expect(c).toMatch(/-o none/);
    }
    // A new password goes straight into the vault, never to the terminal.
    for (const c of commands.filter((x) => x.includes('--query password')))
      expect(c).toMatch(/--query password -o tsv \| .*\| az keyvault secret set /);
  });

  test("it points azd at the project's pinned Bicep (AZD_BICEP_TOOL_PATH) before azd first compiles the templates", () => {
    // Where scripts/bicep.mjs installs the compiler (read from the script: it is an ES module).
    const script = readFileSync(join(repo, 'scripts', 'bicep.mjs'), 'utf8');
    const installed = [/toolsDir = join\(repoRoot, '([^']+)'\)/, /installedBicep = join\(toolsDir, '([^']+)'\)/]
      .map((r) => r.exec(script)?.[1])
      .join('/');
    const firstAzdCompile = commands.findIndex((c) => /^azd (provision|up)\b/.test(c.trim()));
    const install = commands.findIndex((c) => c.trim().startsWith('npm run bicep:install'));
    const pointed = commands.findIndex((c) => c.includes(`export AZD_BICEP_TOOL_PATH="$PWD/${installed}"`));
    expect({ install, pointed }).toEqual({ install: expect.any(Number), pointed: expect.any(Number) });
    expect(install).toBeGreaterThanOrEqual(0);
    expect(pointed).toBeGreaterThan(install);
    expect(firstAzdCompile).toBeGreaterThan(pointed);
  });

  test('the cookie key is picked up with the refresh call Learn documents, never by a restart (Key Vault references are not re-read on restart)', () => {
    const cookieKey = commands.findIndex((c) => c.includes('--name transaction-cookie-key'));
    const refresh = commands.findIndex((c) =>
      /az rest --method post --url "https:\/\/management\.azure\.com\$APP_ID\/config\/configreferences\/appsettings\/refresh\?api-version=2022-03-01"/.test(
        c,
      ),
    );
    const status = commands.findIndex(
      (c) => c.includes('/config/configreferences/appsettings/TRANSACTION_COOKIE_KEY?') && c.includes('properties.status'),
    );
    expect(cookieKey).toBeGreaterThanOrEqual(0);
    expect(refresh).toBeGreaterThan(cookieKey);
    expect(status).toBeGreaterThan(refresh);
    expect(commands.filter((c) => /az (functionapp|webapp) restart/.test(c))).toEqual([]);
    // The app setting the refresh resolves is the reference the template writes.
    expect(String(appSettings(testEnv)!.TRANSACTION_COOKIE_KEY)).toMatch(/^@Microsoft\.KeyVault\(/);
  });

  test("the deployer's access is granted for the secrets and switched off again afterwards; a pipeline says it is a service principal", () => {
    const on = commands.findIndex((c) => /azd env set GRANT_DEPLOYER_SECRETS_ACCESS true\b/.test(c));
    const provision = commands.findIndex((c, i) => i > on && /^azd provision\b/.test(c.trim()));
    const secret = commands.findIndex((c) => c.includes('az keyvault secret set'));
    const off = commands.findIndex((c) => /azd env set GRANT_DEPLOYER_SECRETS_ACCESS false\b/.test(c));
    expect(on).toBeGreaterThanOrEqual(0);
    expect(provision).toBeGreaterThan(on);
    expect(secret).toBeGreaterThan(provision);
    expect(off).toBeGreaterThan(secret);
    expect(commands.some((c) => /azd env set AZURE_PRINCIPAL_TYPE ServicePrincipal\b/.test(c))).toBe(true);
    expect((template as { parameters: Record<string, { allowedValues?: string[] }> }).parameters.principalType?.allowedValues).toContain(
      'ServicePrincipal',
    );
    expect(guide).toMatch(/up to 10 minutes/);
  });

  test('it lists the alerts a new environment raises before its first run and token: every rule that fires on silence, each one deployed', () => {
    const section = /\*\*A new environment raises these alerts[^\n]*\n([\s\S]*?)\n\n(?!- )/.exec(guide)?.[1] ?? '';
    const listed = [...section.matchAll(/^- `([a-z-]+)`/gm)].map((m) => m[1]!);
    const deployed = [...ofType(testEnv, 'Microsoft.Insights/scheduledQueryRules'), ...ofType(testEnv, 'Microsoft.Insights/metricAlerts')].map((r) =>
      String(r.name),
    );
    const nameOf = (short: string) => deployed.find((n) => n === `alert-${short}-test`);
    expect(listed.length).toBeGreaterThanOrEqual(3);
    expect(listed.filter((short) => !nameOf(short))).toEqual([]);
    const onSilence = alertRules(testEnv)
      .filter((r) => r.operator === 'LessThan')
      .map((r) => r.name);
    expect(onSilence.length).toBeGreaterThan(0);
    expect(onSilence.filter((name) => !listed.some((short) => nameOf(short) === name))).toEqual([]);
  });

  test('it names the secrets, queue, files and permissions the templates and the app use', () => {
    const secretName = /SecretName=([\w-]+)\)/.exec(String(appSettings(testEnv)!.TRANSACTION_COOKIE_KEY))?.[1];
    expect(guide).toContain(String(secretName));
    expect(guide).toContain(String(params().cpvClientSecretName?.defaultValue));
    expect(guide).toContain(nearExpiryQueueName);
    expect(guide).toContain('user_impersonation');
    expect(guide).toContain('config/marketplaces.json');
    expect(guide).toContain('api://AzureADTokenExchange');
    for (const file of [...guide.matchAll(/--parameters (infra\/\S+)/g)].map((m) => m[1]!))
      expect(readFileSync(join(repo, file), 'utf8').length).toBeGreaterThan(0);
    expect(guide).toContain('az deployment group what-if');
  });
});

/** The action groups production's alerts go to: the one created for the e-mail addresses. */
function productionActionGroups(d: Deployment): string[] {
  return ofType(d, 'Microsoft.Insights/actionGroups').map(
    (g) =>
      `/subscriptions/00000000-0000-4000-8000-00000000000a/resourceGroups/rg-connect-ms-auth-test/providers/Microsoft.Insights/actionGroups/${String(g.name)}`,
  );
}
