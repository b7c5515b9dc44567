/**
 * The checks can fail: each case copies infra/ into a temporary folder, breaks one thing on
 * purpose, compiles the copy with the real compiler (all copies in one run) and expects the
 * check that passes on infra/ to name the break, or the compiler or linter to refuse it.
 */
import { join } from 'node:path';
import { events } from '../../shared/events';
import { type Deployment, layOut } from './arm';
import { loadTemplates } from './bicep';
import {
  alertProblems,
  emailProblems,
  poisonQueueProblems,
  appSettingProblems,
  availabilityProblems,
  functionAppProblems,
  keyVaultAuditProblems,
  keyVaultProblems,
  nearExpiryProblems,
  roleAssignmentProblems,
  runMissingProblems,
  serviceHealthProblems,
  storageProblems,
  tokenWritesMissingProblems,
  whatIfProblems,
  workbookProblems,
} from './checks';
import { buildAll, compilerTestsEnabled, copies, formatDiagnostic, lintAll, removeWorkDirs, rewrite } from './compiler';
import {
  alertSplits,
  alertedEvents,
  nearExpiryQueueName,
  poisonLine,
  productionParameters,
  testParameters,
  tokenSecretPrefix,
  workbookSections,
} from './expectations';
import { broadRoleMentions, roleNameCommentProblems } from './source-checks';

const describeCompiled = compilerTestsEnabled() ? describe : describe.skip;

interface Copy {
  dir: string;
  /** Compiler and linter diagnostics, one line each. */
  diagnostics: string[];
  /** The copy laid out for production (undefined when it did not compile or fail() stopped it). */
  production: Deployment | undefined;
  failure: string | undefined;
  /** The compiled template, when it compiled. */
  template: unknown;
}

interface Case {
  what: string;
  file: string;
  from: string | RegExp;
  to: string;
  /** What reports the break: a check on the laid-out production deployment, or the compiler/linter. */
  reports: { check: (copy: Copy) => string[]; message: RegExp } | { diagnostic: RegExp } | { failure: RegExp };
}

const groups = (d: Deployment | undefined): string[] =>
  d
    ? d.resources
        .filter((r) => r.type === 'Microsoft.Insights/actionGroups')
        .map(
          (g) =>
            `/subscriptions/00000000-0000-4000-8000-00000000000a/resourceGroups/rg-connect-ms-auth-test/providers/Microsoft.Insights/actionGroups/${String(g.name)}`,
        )
    : [];
const on = (check: (d: Deployment) => string[]) => (copy: Copy) =>
  copy.production ? check(copy.production) : [`did not lay out: ${copy.failure ?? copy.diagnostics.join('; ')}`];

/** The alert checks as templates.test.ts runs them (the host's poison line of the near-expiry queue is the one known host line). */
const poison = poisonLine(nearExpiryQueueName, 5);
const alertCheck = on((d) => alertProblems(d, alertedEvents, Object.values(events), groups(d), alertSplits, [poison]));

const cases: Case[] = [
  // Key Vault and storage
  {
    what: 'Key Vault without purge protection',
    file: 'core/key-vault.bicep',
    from: 'enablePurgeProtection: true',
    to: 'enablePurgeProtection: false',
    reports: { check: on(keyVaultProblems), message: /enablePurgeProtection must be true \(found false\)/ },
  },
  {
    what: 'Key Vault in access-policy mode',
    file: 'core/key-vault.bicep',
    from: 'enableRbacAuthorization: true',
    to: 'enableRbacAuthorization: false',
    reports: { check: on(keyVaultProblems), message: /enableRbacAuthorization must be true/ },
  },
  {
    what: "Key Vault's audit log not sent anywhere",
    file: 'core/key-vault.bicep',
    from: "categoryGroup: 'audit'",
    to: "categoryGroup: 'allLogs'\n        enabled: false\n      }\n      {\n        categoryGroup: 'audit'\n        enabled: false\n      }\n      {\n        category: 'none'",
    reports: { check: on(keyVaultAuditProblems), message: /audit category group/ },
  },
  {
    what: 'storage with shared keys',
    file: 'core/storage.bicep',
    from: 'allowSharedKeyAccess: false',
    to: 'allowSharedKeyAccess: true',
    reports: { check: on(storageProblems), message: /allowSharedKeyAccess must be false/ },
  },
  // Function App
  {
    what: 'ftpsState back on the Function App (Flex Consumption refuses it)',
    file: 'app/api.bicep',
    from: '      http20Enabled: true\n',
    to: "      http20Enabled: true\n      ftpsState: 'Disabled'\n",
    reports: { check: on(functionAppProblems), message: /siteConfig\.ftpsState must be absent/ },
  },
  {
    what: 'linuxFxVersion on the Function App',
    file: 'app/api.bicep',
    from: '      http20Enabled: true\n',
    to: "      http20Enabled: true\n      linuxFxVersion: 'Node|22'\n",
    reports: { check: on(functionAppProblems), message: /siteConfig\.linuxFxVersion must be absent/ },
  },
  {
    what: 'FUNCTIONS_WORKER_RUNTIME in the app settings',
    file: 'app/api.bicep',
    from: '    SERVICE_ENVIRONMENT: serviceEnvironment\n',
    to: "    SERVICE_ENVIRONMENT: serviceEnvironment\n    FUNCTIONS_WORKER_RUNTIME: 'node'\n",
    reports: { check: on((d) => appSettingProblems(d, [])), message: /'FUNCTIONS_WORKER_RUNTIME' is set, which Flex Consumption refuses/ },
  },
  {
    what: 'WEBSITE_NODE_DEFAULT_VERSION in the app settings',
    file: 'app/api.bicep',
    from: '    SERVICE_ENVIRONMENT: serviceEnvironment\n',
    to: "    SERVICE_ENVIRONMENT: serviceEnvironment\n    WEBSITE_NODE_DEFAULT_VERSION: '~22'\n",
    reports: { check: on((d) => appSettingProblems(d, [])), message: /'WEBSITE_NODE_DEFAULT_VERSION' is set/ },
  },
  {
    what: "the host's home page left on",
    file: 'app/api.bicep',
    from: "    AzureWebJobsDisableHomepage: 'true'\n",
    to: '',
    reports: { check: on((d) => appSettingProblems(d, [])), message: /AzureWebJobsDisableHomepage must be 'true'/ },
  },
  {
    what: 'a required app setting left out',
    file: 'app/api.bicep',
    from: '    CALLBACK_URL: callbackUrl\n',
    to: '',
    reports: { check: on((d) => appSettingProblems(d, ['CALLBACK_URL'])), message: /app setting 'CALLBACK_URL' is not set/ },
  },
  {
    what: 'a Function App on Node.js 20',
    file: 'app/api.bicep',
    from: "version: '22'",
    to: "version: '20'",
    reports: { check: on(functionAppProblems), message: /runtime\.version must be '22'/ },
  },
  {
    what: 'a misspelt property (what only the compiler knows)',
    file: 'app/api.bicep',
    from: 'httpsOnly: true',
    to: 'httpsOnyl: true',
    reports: { diagnostic: /BCP037|BCP089/ },
  },
  // Roles
  {
    what: 'a role assignment granting Owner',
    file: 'app/roles.bicep',
    from: "'b86a8fe4-44ce-4948-aee5-eccb2c155cd7' // Key Vault Secrets Officer",
    to: "'8e3af657-a8ff-443c-a75c-2fe8c4bcb635' // Owner",
    reports: { check: on(roleAssignmentProblems), message: /\(Owner to .*\): grants Owner, which is broader/ },
  },
  {
    what: 'a role assignment at resource-group scope',
    file: 'app/roles.bicep',
    from: '  scope: applicationInsights\n',
    to: '',
    reports: { check: on(roleAssignmentProblems), message: /\(Monitoring Metrics Publisher to .*\): is not scoped to one resource/ },
  },
  {
    what: 'a role assignment named by a value known only while deploying',
    file: 'app/roles.bicep',
    from: 'guid(storage.id, identity.id, storageBlobDataOwner)',
    to: 'guid(storage.id, identity.properties.principalId, storageBlobDataOwner)',
    reports: { diagnostic: /BCP120/ },
  },
  {
    what: 'a role GUID without its name beside it',
    file: 'app/roles.bicep',
    from: ' // Storage Queue Data Contributor',
    to: '',
    reports: {
      check: (c) => roleNameCommentProblems(loadTemplates(c.dir)),
      message: /the GUID of 'storageQueueDataContributor' needs the comment '\/\/ Storage Queue Data Contributor'/,
    },
  },
  {
    what: 'a broad role mentioned anywhere',
    file: 'app/roles.bicep',
    from: '// Built-in role definitions',
    to: '// Contributor is b24988ac-6180-42a0-ab88-20f7382dd24c\n// Built-in role definitions',
    reports: { check: (c) => broadRoleMentions(c.dir), message: /app\/roles\.bicep:\d+: mentions Contributor/ },
  },
  // Alerts
  {
    what: 'an alert looking for an event name the service does not write',
    file: 'app/alerts.bicep',
    from: /"ConfigurationInvalid"/g,
    to: '"ConfigInvalid"',
    reports: {
      check: alertCheck,
      message: /no alert rule fires on one 'ConfigurationInvalid' line|looks for 'ConfigInvalid'/,
    },
  },
  {
    what: 'the CredentialExpiring alert left out',
    file: 'app/alerts.bicep',
    from: /"CredentialExpiring"/g,
    to: '"TokenGenerated"',
    reports: {
      check: alertCheck,
      message: /no alert rule fires on one 'CredentialExpiring' line/,
    },
  },
  {
    what: 'alert rules validated against tables a new workspace lacks',
    file: 'app/alerts.bicep',
    from: 'skipQueryValidation: true',
    to: 'skipQueryValidation: false',
    reports: { check: alertCheck, message: /skipQueryValidation must be true/ },
  },
  {
    what: 'alerts that notify nobody',
    file: 'app/alerts.bicep',
    from: '        actionGroups: actionGroupIds\n',
    to: '        actionGroups: []\n',
    reports: { check: alertCheck, message: /notifies \[\], expected/ },
  },
  {
    what: 'dropped near-expiry messages alerted as one, whatever the reason',
    file: 'app/alerts.bicep',
    from: '    dimensions: splitByReason\n',
    to: '    dimensions: []\n',
    reports: { check: alertCheck, message: /secret-near-expiry-dropped-production: splits by \[\], expected \["reason"\]/ },
  },
  {
    what: 'the poison watch looking at another queue',
    file: 'app/alerts.bicep',
    from: "var poisonQueueName = '${nearExpiryQueueName}-poison'",
    to: "var poisonQueueName = 'webjobs-blobtrigger-poison'",
    reports: {
      check: on((d) => poisonQueueProblems(d, nearExpiryQueueName, poison, poisonLine('another-queue', 5))),
      message: /no alert rule watches for messages moved to 'secret-near-expiry-poison'/,
    },
  },
  {
    what: "a dead man's switch that fires on runs instead of their absence",
    file: 'app/alerts.bicep',
    from: "  operator: 'LessThan'\n  threshold: 1\n",
    to: "  operator: 'GreaterThan'\n  threshold: 0\n",
    reports: {
      check: on((d) => runMissingProblems(d, events.rotationRunCompleted)),
      message: /no alert rule watches for a missing RotationRunCompleted|fewer than one row/,
    },
  },
  {
    what: "a dead man's switch that a manual run keeps quiet",
    file: 'app/alerts.bicep',
    from: '| where tostring(entry.trigger) == "timer"\n',
    to: '',
    reports: { check: on((d) => runMissingProblems(d, events.rotationRunCompleted)), message: /must count only the timer's runs/ },
  },
  {
    what: "a dead man's switch that waits 50 hours",
    file: 'app/alerts.bicep',
    from: 'ago(26h)',
    to: 'ago(50h)',
    reports: { check: on((d) => runMissingProblems(d, events.rotationRunCompleted)), message: /must look back 26 hours/ },
  },
  {
    what: 'the vault audit switch counting every secret, not the tokens',
    file: 'app/alerts.bicep',
    from: '"/secrets/refresh-token-"',
    to: '"/secrets/"',
    reports: { check: on((d) => tokenWritesMissingProblems(d, tokenSecretPrefix)), message: /must count only secrets named refresh-token-/ },
  },
  {
    what: 'the vault audit switch scoped to Application Insights',
    file: 'app/alerts.bicep',
    from: "rule.source == 'vault' ? keyVault.id : applicationInsights.id",
    to: 'applicationInsights.id',
    reports: { check: on((d) => tokenWritesMissingProblems(d, tokenSecretPrefix)), message: /must be scoped to this deployment's vault/ },
  },
  {
    what: 'production deployable without an alert receiver',
    file: 'main.bicep',
    from: "serviceEnvironment == 'production' && empty(requestedActionGroupIds)",
    to: 'false',
    reports: { check: (c) => noReceiverLaysOut(c), message: /production deployed without an alert receiver/ },
  },
  // Near expiry
  {
    what: 'the subscription delivering every Key Vault event type',
    file: 'app/near-expiry.bicep',
    from: "'Microsoft.KeyVault.SecretNearExpiry'",
    to: "'Microsoft.KeyVault.SecretNearExpiry'\n        'Microsoft.KeyVault.SecretNewVersionCreated'",
    reports: {
      check: on((d) => nearExpiryProblems(d, nearExpiryQueueName, tokenSecretPrefix)),
      message: /includedEventTypes must be \['Microsoft\.KeyVault\.SecretNearExpiry'\] only/,
    },
  },
  {
    what: 'the subscription filtering on the wrong secret names',
    file: 'main.bicep',
    from: "var tokenSecretPrefix = 'refresh-token-'",
    to: "var tokenSecretPrefix = 'token-'",
    reports: {
      check: on((d) => nearExpiryProblems(d, nearExpiryQueueName, tokenSecretPrefix)),
      message: /subjectBeginsWith must be 'refresh-token-'/,
    },
  },
  {
    what: 'a queue the app does not read',
    file: 'main.bicep',
    from: "var nearExpiryQueueName = 'secret-near-expiry'",
    to: "var nearExpiryQueueName = 'near-expiry'",
    reports: { check: on((d) => nearExpiryProblems(d, nearExpiryQueueName, tokenSecretPrefix)), message: /no queue 'secret-near-expiry'/ },
  },
  {
    what: "the topic's identity without its queue role",
    file: 'app/roles.bicep',
    from: 'var storageQueueDataMessageSender = ',
    to: 'var storageQueueDataMessageSenderUnused = ',
    reports: { diagnostic: /BCP057|storageQueueDataMessageSender/ },
  },
  // Messages to marketplace contacts
  {
    what: 'Communication Services with its access keys usable',
    file: 'core/communication.bicep',
    from: 'disableLocalAuth: true',
    to: 'disableLocalAuth: false',
    reports: { check: on((d) => emailProblems(d, 'CustomerManaged')), message: /disableLocalAuth must be true/ },
  },
  {
    what: 'a sender domain that tracks opens and clicks',
    file: 'core/communication.bicep',
    from: "userEngagementTracking: 'Disabled'",
    to: "userEngagementTracking: 'Enabled'",
    reports: { check: on((d) => emailProblems(d, 'CustomerManaged')), message: /userEngagementTracking must be 'Disabled'/ },
  },
  {
    what: 'the app settings without the sender',
    file: 'app/api.bicep',
    from: /NOTIFICATION_SENDER_ADDRESS: .*\n/,
    to: "NOTIFICATION_SENDER_ADDRESS: ''\n",
    reports: { check: on((d) => emailProblems(d, 'CustomerManaged')), message: /NOTIFICATION_SENDER_ADDRESS must be DoNotReply@/ },
  },
  {
    what: 'the email sender role allowed to read the access keys too',
    file: 'app/roles.bicep',
    from: "  'Microsoft.Communication/EmailServices/write'\n",
    to: "  'Microsoft.Communication/EmailServices/write'\n  'Microsoft.Communication/CommunicationServices/ListKeys/action'\n",
    reports: {
      check: on(roleAssignmentProblems),
      message: /custom role allows \["Microsoft.Communication\/CommunicationServices\/ListKeys\/action"\], beyond what it needs/,
    },
  },
  {
    what: 'the built-in Communication and Email Service Owner instead of the email sender role',
    file: 'app/roles.bicep',
    from: "roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', emailSenderRole.name)",
    to: "roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '09976791-48a7-449e-bb21-39d1a415f350')",
    reports: { check: on(roleAssignmentProblems), message: /grants Communication and Email Service Owner, which is broader than this service needs/ },
  },
  {
    what: 'no alert when a message to contacts fails',
    file: 'app/alerts.bicep',
    from: /NotificationFailed/g,
    to: 'NotificationFailure',
    reports: { check: alertCheck, message: /no alert rule fires on one 'NotificationFailed' line/ },
  },
  // Portal pack
  {
    what: 'an availability test without the TLS check',
    file: 'app/availability.bicep',
    from: 'SSLCheck: true',
    to: 'SSLCheck: false',
    reports: { check: on((d) => availabilityProblems(d, 'Generate Refresh Token', groups(d))), message: /SSLCheck must be true/ },
  },
  {
    what: 'an availability test of another page',
    file: 'app/availability.bicep',
    from: "/api/start'",
    to: "/api/status'",
    reports: {
      check: on((d) => availabilityProblems(d, 'Generate Refresh Token', groups(d))),
      message: /RequestUrl must be https:\/\/<app>\/api\/start/,
    },
  },
  {
    what: 'a workbook query on an event the service does not log',
    file: 'app/workbook.json',
    from: /TokenNeedsAttention/g,
    to: 'TokenNeedsLook',
    reports: {
      check: on((d) => workbookProblems(d, workbookSections, Object.values(events))),
      message: /looks for 'TokenNeedsLook', which the service never logs/,
    },
  },
  {
    what: 'a workbook run table without the failure counts',
    file: 'app/workbook.json',
    from: 'storeFailed = toint(entry.storeFailed), ',
    to: '',
    reports: {
      check: on((d) => workbookProblems(d, workbookSections, Object.values(events))),
      message: /'last-runs': does not show the field 'storeFailed'/,
    },
  },
  {
    what: 'a Service Health alert without Key Vault',
    file: 'app/service-health.bicep',
    from: "  'Key Vault'\n]",
    to: ']',
    reports: { check: on((d) => serviceHealthProblems(d, ['Key Vault', 'Functions'], 'West Europe')), message: /does not cover 'Key Vault'/ },
  },
  // What the linter refuses
  {
    what: 'a hard-coded login URL',
    file: 'main.bicep',
    from: 'param authorityHost string = environment().authentication.loginEndpoint',
    to: "param authorityHost string = 'https://login.microsoftonline.com/'",
    reports: { diagnostic: /no-hardcoded-env-urls/ },
  },
  {
    what: 'a module name that flows only as another module output',
    file: 'main.bicep',
    from: '    functionAppName: names.functionApp\n',
    to: '    functionAppName: identity.outputs.principalId\n',
    reports: { diagnostic: /what-if-short-circuiting/ },
  },
  {
    what: 'a module parameter known only while deploying (what-if cannot expand the module)',
    file: 'main.bicep',
    from: "    displayName: 'connect-ms-auth (${serviceEnvironment})'\n",
    to: '    displayName: identity.outputs.principalId\n',
    reports: { check: on(whatIfProblems), message: /module 'workbook': parameter 'displayName' is known only while deploying/ },
  },
];

/** A copy that lays out for production with no receiver has lost the guard. */
function noReceiverLaysOut(copy: Copy): string[] {
  if (!copy.template) return ['did not compile'];
  try {
    layOut(copy.template, { ...productionParameters, alertEmailAddresses: [], actionGroupResourceId: '' });
    return ['production deployed without an alert receiver'];
  } catch {
    return [];
  }
}

let results: Map<string, Copy>;

// Without the compiler and with SKIP_BICEP=1 (never in CI) every test here is skipped.
if (compilerTestsEnabled())
  beforeAll(() => {
    const dirs = copies(['original', ...cases.map((_c, n) => `case-${n}`)]);
    cases.forEach((c, n) => rewrite(join(dirs.get(`case-${n}`)!, c.file), (text) => text.replace(c.from, c.to)));
    const names = [...dirs.keys()];
    const built = buildAll([...dirs.values()]);
    const linted = lintAll([...dirs.values()]);
    results = new Map(
      names.map((name, n) => {
        const template = built[n]!.template;
        let production: Deployment | undefined;
        let failure: string | undefined;
        if (template) {
          try {
            production = layOut(template, productionParameters);
            layOut(template, testParameters);
          } catch (err) {
            failure = err instanceof Error ? err.message : String(err);
          }
        }
        const diagnostics = [...built[n]!.build, ...linted[n]!].map(formatDiagnostic);
        return [name, { dir: dirs.get(name)!, diagnostics: [...new Set(diagnostics)], production, failure, template }];
      }),
    );
  }, 300_000);

afterAll(removeWorkDirs);

describeCompiled('each check reports a deliberate break', () => {
  test('the unbroken copy passes every check the cases use', () => {
    const original = results.get('original')!;
    expect(original.diagnostics).toEqual([]);
    expect(original.failure).toBeUndefined();
    for (const c of cases)
      if ('check' in c.reports) expect({ what: c.what, problems: c.reports.check(original) }).toEqual({ what: c.what, problems: [] });
  });

  test.each(cases.map((c, n) => [c.what, c, n] as const))('%s', (_what, c, n) => {
    const copy = results.get(`case-${n}`)!;
    if ('check' in c.reports) expect(c.reports.check(copy)).toEqual(expect.arrayContaining([expect.stringMatching(c.reports.message)]));
    else if ('diagnostic' in c.reports) expect(copy.diagnostics).toEqual(expect.arrayContaining([expect.stringMatching(c.reports.diagnostic)]));
    else expect(copy.failure ?? '').toMatch(c.reports.failure);
  });
});
