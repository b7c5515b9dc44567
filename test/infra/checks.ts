/**
 * The properties the infrastructure must have, as functions from a laid-out deployment (the
 * compiled ARM template evaluated for one set of parameters, arm.ts) to a list of problems
 * (empty = fine). The tests run them on infra/ and on deliberately broken copies, so each
 * check is shown to pass and to fail.
 */
import { type ArmResource, type Deployment, type Value, at, isOpaqueValue, ofType, opaquesIn } from './arm';

const show = (v: Value | undefined): string => (v === undefined ? 'not set' : isOpaqueValue(v) ? v.toString() : JSON.stringify(v));
const where = (r: ArmResource): string => `${r.module || 'main'}: ${r.type} '${String(r.name)}'`;

function expect(r: ArmResource, path: string, accept: (v: Value | undefined) => boolean, wanted: string): string[] {
  const value = at(r.body, path);
  return accept(value) ? [] : [`${where(r)}: ${path} must be ${wanted} (found ${show(value)})`];
}
const is = (wanted: Value) => (v: Value | undefined) => v === wanted;

function required(d: Deployment, type: string, what: string): ArmResource[] | string {
  const found = ofType(d, type);
  return found.length > 0 ? found : `no ${what} is deployed (${type})`;
}

// ---------------------------------------------------------------- Key Vault, storage

export function keyVaultProblems(d: Deployment): string[] {
  const vaults = required(d, 'Microsoft.KeyVault/vaults', 'Key Vault');
  if (typeof vaults === 'string') return [vaults];
  return vaults.flatMap((r) => [
    ...expect(r, 'properties.enableRbacAuthorization', is(true), 'true (RBAC mode)'),
    ...expect(r, 'properties.enableSoftDelete', is(true), 'true'),
    ...expect(r, 'properties.enablePurgeProtection', is(true), 'true'),
    ...expect(r, 'properties.softDeleteRetentionInDays', is(90), '90'),
    ...expect(r, 'properties.accessPolicies', (v) => v === undefined, 'absent (RBAC only)'),
  ]);
}

/** The vault's audit log goes to the workspace the alerts read. */
export function keyVaultAuditProblems(d: Deployment): string[] {
  const vault = ofType(d, 'Microsoft.KeyVault/vaults')[0];
  const settings = ofType(d, 'Microsoft.Insights/diagnosticSettings').filter(
    (s) => typeof s.body.scope === 'string' && s.body.scope.includes('Microsoft.KeyVault/vaults/'),
  );
  if (!vault || settings.length === 0) return ['the Key Vault has no diagnostic settings'];
  const workspace = ofType(d, 'Microsoft.OperationalInsights/workspaces')[0];
  return settings.flatMap((s) => [
    ...expect(
      s,
      'properties.workspaceId',
      (v) => typeof v === 'string' && !!workspace && v.endsWith(`/workspaces/${String(workspace.name)}`),
      "this deployment's Log Analytics workspace",
    ),
    ...expect(
      s,
      'properties.logs',
      (v) =>
        Array.isArray(v) && v.some((l) => (at(l, 'categoryGroup') === 'audit' || at(l, 'category') === 'AuditEvent') && at(l, 'enabled') === true),
      'the audit category group (or AuditEvent), enabled',
    ),
  ]);
}

export function storageProblems(d: Deployment): string[] {
  const accounts = required(d, 'Microsoft.Storage/storageAccounts', 'storage account');
  if (typeof accounts === 'string') return [accounts];
  return [
    ...accounts.flatMap((r) => [
      ...expect(r, 'properties.allowSharedKeyAccess', is(false), 'false'),
      ...expect(r, 'properties.allowBlobPublicAccess', is(false), 'false'),
      ...expect(r, 'properties.minimumTlsVersion', (v) => v === 'TLS1_2' || v === 'TLS1_3', "'TLS1_2' or newer"),
    ]),
    ...ofType(d, 'Microsoft.Storage/storageAccounts/blobServices/containers').flatMap((r) =>
      expect(r, 'properties.publicAccess', (v) => v === undefined || v === 'None', "'None'"),
    ),
  ];
}

// ---------------------------------------------------------------- Function App

/**
 * Site configuration properties and app settings that Flex Consumption refuses (the runtime
 * lives in functionAppConfig; content shares, run-from-package and the worker settings of
 * other plans do not exist there). ARM rejects the whole deployment if one is present.
 */
export const flexRefusedSiteConfig = [
  'ftpsState',
  'linuxFxVersion',
  'windowsFxVersion',
  'alwaysOn',
  'functionAppScaleLimit',
  'minimumElasticInstanceCount',
  'preWarmedInstanceCount',
  'use32BitWorkerProcess',
  'javaVersion',
  'netFrameworkVersion',
  'nodeVersion',
  'phpVersion',
  'powerShellVersion',
  'pythonVersion',
];
export const flexRefusedAppSettings = [
  'FUNCTIONS_WORKER_RUNTIME',
  'FUNCTIONS_WORKER_RUNTIME_VERSION',
  'FUNCTIONS_EXTENSION_VERSION',
  'FUNCTIONS_MAX_HTTP_CONCURRENCY',
  'FUNCTIONS_WORKER_PROCESS_COUNT',
  'FUNCTIONS_WORKER_DYNAMIC_CONCURRENCY_ENABLED',
  'WEBSITE_NODE_DEFAULT_VERSION',
  'WEBSITE_RUN_FROM_PACKAGE',
  'WEBSITE_CONTENTAZUREFILECONNECTIONSTRING',
  'WEBSITE_CONTENTSHARE',
  'WEBSITE_CONTENTOVERVNET',
  'WEBSITE_SKIP_CONTENTSHARE_VALIDATION',
  'WEBSITE_MAX_DYNAMIC_APPLICATION_SCALE_OUT',
  'WEBSITE_VNET_ROUTE_ALL',
  'WEBSITE_DNS_SERVER',
  'SCM_DO_BUILD_DURING_DEPLOYMENT',
  'ENABLE_ORYX_BUILD',
];

const managedIdentityTypes = ['SystemAssigned', 'UserAssigned', 'SystemAssigned, UserAssigned'];

export function functionAppProblems(d: Deployment): string[] {
  const sites = required(d, 'Microsoft.Web/sites', 'Function App');
  if (typeof sites === 'string') return [sites];
  const plans = ofType(d, 'Microsoft.Web/serverfarms');
  const publishing = ofType(d, 'Microsoft.Web/sites/basicPublishingCredentialsPolicies');
  return [
    ...sites.flatMap((r) => [
      ...expect(r, 'kind', (v) => typeof v === 'string' && v.includes('functionapp') && v.includes('linux'), "'functionapp,linux'"),
      ...expect(r, 'properties.httpsOnly', is(true), 'true'),
      ...expect(r, 'properties.siteConfig.minTlsVersion', (v) => v === '1.2' || v === '1.3', "'1.2' or newer"),
      ...expect(r, 'identity.type', (v) => managedIdentityTypes.includes(String(v)), 'a managed identity'),
      ...expect(r, 'properties.functionAppConfig.runtime.name', is('node'), "'node'"),
      ...expect(r, 'properties.functionAppConfig.runtime.version', is('22'), "'22'"),
      ...expect(
        r,
        'properties.functionAppConfig.deployment.storage.authentication.type',
        (v) => v === 'SystemAssignedIdentity' || v === 'UserAssignedIdentity',
        'an identity (not a connection string)',
      ),
      ...flexRefusedSiteConfig.flatMap((key) =>
        expect(r, `properties.siteConfig.${key}`, (v) => v === undefined, 'absent (Flex Consumption refuses it)'),
      ),
    ]),
    ...(plans.length === 0 ? ['no App Service plan is deployed'] : []),
    ...plans.flatMap((r) => [
      ...expect(r, 'sku.name', is('FC1'), "'FC1' (Flex Consumption)"),
      ...expect(r, 'properties.reserved', is(true), 'true (Linux)'),
    ]),
    ...publishing.flatMap((r) => expect(r, 'properties.allow', is(false), 'false')),
    ...['ftp', 'scm']
      .filter((name) => !publishing.some((r) => String(r.name).endsWith(`/${name}`)))
      .map((name) => `basic publishing credentials ('${name}') are not turned off`),
  ];
}

/** The app settings: `Microsoft.Web/sites/config` named `appsettings`. */
export function appSettings(d: Deployment): Record<string, Value> | undefined {
  const config = ofType(d, 'Microsoft.Web/sites/config').find((r) => String(r.name).endsWith('/appsettings'));
  const properties = config?.body.properties;
  return properties && typeof properties === 'object' && !Array.isArray(properties) && !isOpaqueValue(properties)
    ? (properties as Record<string, Value>)
    : undefined;
}

export function appSettingProblems(d: Deployment, requiredKeys: string[]): string[] {
  const settings = appSettings(d);
  if (!settings) return ["no 'appsettings' config resource sets the app settings"];
  return [
    ...requiredKeys.filter((key) => !(key in settings)).map((key) => `app setting '${key}' is not set`),
    ...flexRefusedAppSettings.filter((key) => key in settings).map((key) => `app setting '${key}' is set, which Flex Consumption refuses`),
    ...(settings.AzureWebJobsStorage !== undefined
      ? ['AzureWebJobsStorage is a connection string; use AzureWebJobsStorage__accountName with the identity']
      : []),
    ...(settings.AzureWebJobsStorage__credential !== 'managedidentity' ? ['AzureWebJobsStorage__credential must be managedidentity'] : []),
    ...(settings.AzureWebJobsDisableHomepage !== 'true' ? ["AzureWebJobsDisableHomepage must be 'true'"] : []),
  ];
}

// ---------------------------------------------------------------- role assignments

/** The built-in roles this service may hand out, each narrow to one kind of data. */
export const leastPrivilegeRoles: Record<string, string> = {
  'b86a8fe4-44ce-4948-aee5-eccb2c155cd7': 'Key Vault Secrets Officer',
  '4633458b-17de-408a-b874-0445c86b69e6': 'Key Vault Secrets User',
  'b7e6dc6d-f1e8-4753-8033-0f276bb0955b': 'Storage Blob Data Owner',
  '974c5e8b-45b9-4653-ba55-5f855dd0fb88': 'Storage Queue Data Contributor',
  'c6a89b2d-59bc-44d0-9896-0f6e12d7b80a': 'Storage Queue Data Message Sender',
  '3913510d-42f4-4e42-8a64-420c390055eb': 'Monitoring Metrics Publisher',
  '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3': 'Storage Table Data Contributor',
};

/**
 * The custom roles this service may define, by name (without the resource group the deployment
 * appends), with exactly the actions each allows and why no built-in role would do.
 */
export const leastPrivilegeCustomRoles: Record<string, { actions: string[]; why: string }> = {
  'connect-ms-auth Email Sender': {
    actions: [
      'Microsoft.Communication/CommunicationServices/Read',
      'Microsoft.Communication/CommunicationServices/Write',
      'Microsoft.Communication/EmailServices/write',
    ],
    why:
      'Sending e-mail through Communication Services with a Microsoft Entra token. The only built-in role that allows it, ' +
      'Communication and Email Service Owner, allows every operation on Communication and Email resources, their access keys ' +
      'included; Learn ("Send email with SMTP", the custom role for the Entra application that sends) names these three ' +
      'actions as what sending needs. Assigned on the one Communication Services resource.',
  },
};

/** Roles that can change resources or hand out access: never for this service. */
export const broadRoles: Record<string, string> = {
  '09976791-48a7-449e-bb21-39d1a415f350': 'Communication and Email Service Owner',
  '8e3af657-a8ff-443c-a75c-2fe8c4bcb635': 'Owner',
  'b24988ac-6180-42a0-ab88-20f7382dd24c': 'Contributor',
  '18d7d88d-d35e-4fb5-a5c3-7773c20a72d9': 'User Access Administrator',
  'f58310d9-a9f6-439a-9e8d-f62e7b41a168': 'Role Based Access Control Administrator',
  '00482a5a-887f-4fb3-b363-3b7fe8e74483': 'Key Vault Administrator',
  'f25e0fa2-a7c8-4377-a976-54943a77a395': 'Key Vault Contributor',
  '17d1049b-9a84-46fb-8f53-869881c3d3ab': 'Storage Account Contributor',
};

export interface Grant {
  resource: ArmResource;
  /** The built-in role's GUID, or the name of the custom role definition this deployment defines. */
  role: string;
  roleName: string | undefined;
  /** The custom role definition of this deployment the assignment grants, if it is one. */
  customRole?: ArmResource;
  /** The resource the role is granted on (its ID), or undefined for the resource group or wider. */
  scope: string | undefined;
  principal: Value;
}

const guidPattern = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A custom role's name as leastPrivilegeCustomRoles lists it: without the ` (<resource group>)` the deployment appends. */
export function customRoleNameOf(definition: ArmResource): string {
  return String(at(definition.body, 'properties.roleName') ?? '').replace(/ \([^)]*\)$/, '');
}

/** Each role assignment: the role, the resource it is scoped to, the principal. */
export function grants(d: Deployment): Grant[] {
  const definitions = ofType(d, 'Microsoft.Authorization/roleDefinitions');
  return ofType(d, 'Microsoft.Authorization/roleAssignments').map((r) => {
    const definitionId = String(at(r.body, 'properties.roleDefinitionId') ?? '');
    const customRole = definitions.find((def) => definitionId.endsWith(`/roleDefinitions/${String(def.name)}`));
    if (customRole) {
      const rawScope = r.body.scope;
      return {
        resource: r,
        role: String(customRole.name),
        roleName: customRoleNameOf(customRole),
        customRole,
        scope: typeof rawScope === 'string' && rawScope.includes('/') ? rawScope : undefined,
        principal: at(r.body, 'properties.principalId') ?? null,
      };
    }
    const role = definitionId.match(guidPattern)?.[0]?.toLowerCase() ?? '';
    // An extension resource's scope: `<type>/<name>` (or a full ID) of the resource it is on.
    const rawScope = r.body.scope;
    const scope = typeof rawScope === 'string' && rawScope.includes('/') ? rawScope : undefined;
    return {
      resource: r,
      role,
      roleName: leastPrivilegeRoles[role] ?? broadRoles[role],
      scope,
      principal: at(r.body, 'properties.principalId') ?? null,
    };
  });
}

/**
 * The end of a resource's ID: `storageAccounts/st1/tableServices/default/tables/t1` for a child
 * resource named `st1/default/t1`, `vaults/kv1` for a top-level one.
 */
function idSuffixOf(r: ArmResource): string {
  const types = r.type.split('/').slice(1);
  const names = String(r.name).split('/');
  if (types.length !== names.length) return `${types.at(-1) ?? ''}/${String(r.name)}`;
  return types.map((t, i) => `${t}/${names[i] ?? ''}`).join('/');
}

/** The ID of a deployed resource given the `<type>/<name>` an extension resource's scope names. */
function scopedResource(d: Deployment, scope: string): ArmResource | undefined {
  return d.resources.find((r) => !r.existing && (scope.endsWith(`${r.type}/${String(r.name)}`) || scope.endsWith(`/${idSuffixOf(r)}`)));
}

/** The arguments of `guid(a, b, guid(c, d))`, split at the commas of this call only. */
function guidArguments(name: string): string[] {
  const inner = /^guid\((.*)\)$/.exec(name)?.[1];
  if (inner === undefined) return [];
  const args: string[] = [];
  let depth = 0;
  let current = '';
  for (let i = 0; i < inner.length; i++) {
    const c = inner[i]!;
    if (c === '(') depth++;
    if (c === ')') depth--;
    if (c === ',' && depth === 0 && inner[i + 1] === ' ') {
      args.push(current);
      current = '';
      i++;
      continue;
    }
    current += c;
  }
  args.push(current);
  return args;
}

/** A custom role of this deployment: on the list, exactly its actions, no data actions, assignable in this resource group only. */
function customRoleProblems(g: Grant, at_: string): string[] {
  const def = g.customRole!;
  const listed = leastPrivilegeCustomRoles[g.roleName ?? ''];
  if (!listed) return [`${at_}: grants custom role '${g.roleName ?? ''}', which is not on the least-privilege list`];
  const permissions = (at(def.body, 'properties.permissions') as Value[] | undefined) ?? [];
  const problems: string[] = [];
  const all = (key: string) => permissions.flatMap((p) => (at(p, key) as Value[] | undefined) ?? []).map(String);
  const extra = all('actions').filter((a) => !listed.actions.includes(a));
  if (extra.length > 0) problems.push(`${at_}: custom role allows ${JSON.stringify(extra)}, beyond what it needs`);
  const missing = listed.actions.filter((a) => !all('actions').includes(a));
  if (missing.length > 0) problems.push(`${at_}: custom role lacks ${JSON.stringify(missing)}`);
  if (all('dataActions').length > 0) problems.push(`${at_}: custom role allows data actions ${JSON.stringify(all('dataActions'))}`);
  const scopes = (at(def.body, 'properties.assignableScopes') as Value[] | undefined) ?? [];
  if (scopes.length !== 1 || !/\/resourceGroups\/[^/]+$/.test(String(scopes[0])))
    problems.push(`${at_}: custom role must be assignable in this resource group only (found ${show(scopes)})`);
  return problems;
}

export function roleAssignmentProblems(d: Deployment): string[] {
  const problems: string[] = [];
  for (const g of grants(d)) {
    const at_ = `${g.resource.module}: role assignment (${g.roleName ?? (g.role || '?')} to ${String(g.principal)})`;
    if (!at(g.resource.body, 'properties.principalType')) problems.push(`${at_}: has no principalType`);
    if (g.customRole) problems.push(...customRoleProblems(g, at_));
    else if (!g.role) problems.push(`${at_}: grants a role whose ID cannot be read`);
    else if (broadRoles[g.role]) problems.push(`${at_}: grants ${broadRoles[g.role]}, which is broader than this service needs`);
    else if (!leastPrivilegeRoles[g.role]) problems.push(`${at_}: grants role ${g.role}, which is not on the least-privilege list`);
    const target = g.scope ? scopedResource(d, g.scope) : undefined;
    if (!target) problems.push(`${at_}: is not scoped to one resource of this deployment (resource group or wider)`);
    // guid(<scope id>, <principal>, <role>): stable across deployments, unique per grant,
    // and computable before deployment (what-if lists it).
    const name = String(g.resource.name);
    const args = guidArguments(name);
    if (args.length !== 3 || !target || !args[0]!.endsWith(`/${idSuffixOf(target)}`) || args[2] !== g.role) {
      problems.push(`${at_}: name must be guid(<scope>.id, <principal>, <role>) (found ${name})`);
    } else if (args.some((a) => a.startsWith('<'))) {
      problems.push(`${at_}: name depends on a value known only while deploying (${name}); what-if cannot show it`);
    }
  }
  return problems;
}

// ---------------------------------------------------------------- alerts

export interface AlertRule {
  resource: ArmResource;
  name: string;
  query: string;
  operator: string;
  threshold: number;
  timeAggregation: string;
  windowSize: string;
  scopes: Value[];
}

export function alertRules(d: Deployment): AlertRule[] {
  return ofType(d, 'Microsoft.Insights/scheduledQueryRules').flatMap((r) => {
    const conditions = (at(r.body, 'properties.criteria.allOf') as Value[] | undefined) ?? [];
    return conditions.map((c) => ({
      resource: r,
      name: String(r.name),
      query: String(at(c, 'query') ?? ''),
      operator: String(at(c, 'operator') ?? ''),
      threshold: Number(at(c, 'threshold')),
      timeAggregation: String(at(c, 'timeAggregation') ?? ''),
      windowSize: String(at(r.body, 'properties.windowSize') ?? ''),
      scopes: (at(r.body, 'properties.scopes') as Value[] | undefined) ?? [],
    }));
  });
}

/** The quoted, capitalised names a query compares with: the event names it relies on. */
export function quotedNames(query: string): string[] {
  return [...query.matchAll(/"([A-Z][A-Za-z0-9]+)"/g)].map((m) => m[1] ?? '');
}

const readsAppTraces = (rule: AlertRule): boolean => /^\s*traces\b/.test(rule.query);
/** A rule over the service's own lines: it parses the JSON and compares its `event`. */
const readsAppEvents = (rule: AlertRule): boolean => readsAppTraces(rule) && rule.query.includes('tostring(entry.event) ==');

/**
 * Each event that needs an operator has a rule that fires on one such line; every event a
 * query of the app's traces names is one the service writes; every rule skips the query
 * validation a new workspace would fail, and notifies the deployment's action groups.
 */
export function alertProblems(
  d: Deployment,
  alertedEvents: string[],
  knownEvents: string[],
  actionGroupIds: string[],
  splits: Partial<Record<string, string>>,
  hostLines: string[],
): string[] {
  const rules = alertRules(d);
  const problems: string[] = [];
  for (const event of alertedEvents) {
    const rule = rules.find(
      (r) =>
        readsAppEvents(r) && r.query.includes(`== "${event}"`) && r.operator === 'GreaterThan' && r.threshold === 0 && r.timeAggregation === 'Count',
    );
    if (!rule) {
      problems.push(`no alert rule fires on one '${event}' line`);
      continue;
    }
    // One alert per value of the field that says what to act on, read from the same line.
    const field = splits[event];
    const dimensions = (at(rule.resource.body, 'properties.criteria.allOf.0.dimensions') as Value[] | undefined) ?? [];
    const splitBy = dimensions.map((d) => String(at(d, 'name')));
    if (JSON.stringify(splitBy) !== JSON.stringify(field ? [field] : []))
      problems.push(`${rule.name}: splits by ${JSON.stringify(splitBy)}, expected ${JSON.stringify(field ? [field] : [])}`);
    if (field && !rule.query.includes(`| extend ${field} = tostring(entry.`)) problems.push(`${rule.name}: does not read '${field}' from the line`);
  }
  for (const r of rules) {
    if (readsAppEvents(r)) {
      for (const name of quotedNames(r.query))
        if (!knownEvents.includes(name)) problems.push(`${r.name}: looks for '${name}', which the service never logs`);
    } else if (readsAppTraces(r)) {
      // Not the service's own line: it must be one the host is known to write (hostLineProblems).
      if (!hostLines.some((line) => literalsOf(r.query).every((l) => line.includes(l))))
        problems.push(`${r.name}: reads traces for neither a service event nor a known host line`);
    } else if (!/^\s*AzureDiagnostics\b/.test(r.query)) {
      problems.push(`${r.name}: reads neither the app's traces nor the vault's AzureDiagnostics`);
    }
    if (at(r.resource.body, 'properties.skipQueryValidation') !== true)
      problems.push(`${r.name}: skipQueryValidation must be true (the table may not exist yet)`);
    const groups = at(r.resource.body, 'properties.actions.actionGroups');
    if (JSON.stringify(groups) !== JSON.stringify(actionGroupIds))
      problems.push(`${r.name}: notifies ${show(groups)}, expected ${JSON.stringify(actionGroupIds)}`);
  }
  return problems;
}

/** The string literals a query filters on (`has`, `contains`, `startswith`, `==` … "…"). */
export function literalsOf(query: string): string[] {
  return [...query.matchAll(/\b(?:has|has_cs|contains|contains_cs|startswith|endswith|==)\s+"([^"]*)"/g)].map((m) => m[1] ?? '');
}

/**
 * The poison queue watch: a rule over the app's traces that fires on one line the host writes when
 * it moves a message of `queueName` to `<queueName>-poison`, and on no other queue's.
 */
export function poisonQueueProblems(d: Deployment, queueName: string, line: string, otherQueueLine: string): string[] {
  const rule = alertRules(d).find((r) => readsAppTraces(r) && !readsAppEvents(r) && r.query.includes(`${queueName}-poison`));
  if (!rule) return [`no alert rule watches for messages moved to '${queueName}-poison'`];
  const problems: string[] = [];
  const literals = literalsOf(rule.query);
  if (literals.length === 0) problems.push(`${rule.name}: filters on no literal`);
  const missing = literals.filter((l) => !line.includes(l));
  if (missing.length > 0) problems.push(`${rule.name}: looks for ${JSON.stringify(missing)}, which the host's line does not contain: ${line}`);
  if (literals.every((l) => otherQueueLine.includes(l)))
    problems.push(`${rule.name}: would fire on another queue's poison line too: ${otherQueueLine}`);
  if (!(rule.timeAggregation === 'Count' && rule.operator === 'GreaterThan' && rule.threshold === 0))
    problems.push(`${rule.name}: must fire on one line (Count > 0), found ${rule.timeAggregation} ${rule.operator} ${rule.threshold}`);
  return problems;
}

/** Hours of an `ago(26h)` / `ago(1d)` in a query; undefined without one. */
function agoHours(query: string): number | undefined {
  const m = /ago\((\d+)([hd])\)/.exec(query);
  return m ? Number(m[1]) * (m[2] === 'd' ? 24 : 1) : undefined;
}
const windowHours = (iso: string): number => {
  const m = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?)?$/.exec(iso);
  return m ? Number(m[1] ?? 0) * 24 + Number(m[2] ?? 0) + Number(m[3] ?? 0) / 60 : 0;
};

/** A rule fires when there are fewer than one row (zero rows included) in the last `hours`. */
function silenceProblems(rule: AlertRule | undefined, what: string, hours: number): string[] {
  if (!rule) return [`no alert rule watches for ${what}`];
  const problems: string[] = [];
  if (!(rule.timeAggregation === 'Count' && rule.operator === 'LessThan' && rule.threshold === 1)) {
    problems.push(
      `${rule.name}: must fire on fewer than one row (Count LessThan 1), found ${rule.timeAggregation} ${rule.operator} ${rule.threshold}`,
    );
  }
  if (agoHours(rule.query) !== hours) problems.push(`${rule.name}: must look back ${hours} hours (found ago(${agoHours(rule.query) ?? '?'}h))`);
  if (windowHours(rule.windowSize) < hours) problems.push(`${rule.name}: window ${rule.windowSize} is shorter than the ${hours} hours it looks back`);
  if (at(rule.resource.body, 'properties.autoMitigate') !== true)
    problems.push(`${rule.name}: must resolve itself when the rows come back (autoMitigate)`);
  return problems;
}

/** Dead man's switch over the app's telemetry: no RotationRunCompleted for 26 hours. */
export function runMissingProblems(d: Deployment, event: string): string[] {
  const rule = alertRules(d).find((r) => readsAppTraces(r) && r.query.includes(`== "${event}"`) && r.operator !== 'GreaterThan');
  const problems = silenceProblems(rule, `a missing ${event}`, 26);
  // Manual and near-expiry runs log the same event; counted, they would hide a timer that stopped.
  if (rule && !/tostring\(entry\.trigger\) == "timer"/.test(rule.query))
    problems.push(`${rule.name}: must count only the timer's runs (entry.trigger == "timer")`);
  return problems;
}

/** Dead man's switch from Key Vault's audit log: no SecretSet on a token secret for 36 hours. */
export function tokenWritesMissingProblems(d: Deployment, tokenSecretPrefix: string): string[] {
  const rule = alertRules(d).find((r) => /^\s*AzureDiagnostics\b/.test(r.query) && r.query.includes('"SecretSet"'));
  const problems = silenceProblems(rule, 'missing token writes in the vault audit log', 36);
  if (!rule) return problems;
  if (!rule.query.includes(`"/secrets/${tokenSecretPrefix}"`))
    problems.push(`${rule.name}: must count only secrets named ${tokenSecretPrefix}* (the token secrets)`);
  const vault = ofType(d, 'Microsoft.KeyVault/vaults')[0];
  if (!vault || !rule.scopes.some((s) => typeof s === 'string' && s.endsWith(`/vaults/${String(vault.name)}`))) {
    problems.push(`${rule.name}: must be scoped to this deployment's vault (found ${show(rule.scopes)})`);
  }
  return problems;
}

// ---------------------------------------------------------------- near-expiry events

export function nearExpiryProblems(d: Deployment, queueName: string, tokenSecretPrefix: string): string[] {
  const topics = ofType(d, 'Microsoft.EventGrid/systemTopics');
  const vault = ofType(d, 'Microsoft.KeyVault/vaults')[0];
  const storage = ofType(d, 'Microsoft.Storage/storageAccounts')[0];
  const queues = ofType(d, 'Microsoft.Storage/storageAccounts/queueServices/queues');
  const subscriptions = ofType(d, 'Microsoft.EventGrid/systemTopics/eventSubscriptions');
  const topic = topics.find((t) => vault && String(at(t.body, 'properties.source')).endsWith(`/vaults/${String(vault.name)}`));
  if (!topic) return ["no Event Grid system topic on this deployment's Key Vault"];
  const problems = [
    ...expect(topic, 'properties.topicType', (v) => String(v).toLowerCase() === 'microsoft.keyvault.vaults', "'Microsoft.KeyVault.vaults'"),
    ...expect(topic, 'identity.type', is('SystemAssigned'), "'SystemAssigned' (it delivers with its own identity)"),
  ];
  if (!queues.some((q) => String(q.name).endsWith(`/${queueName}`))) problems.push(`the storage account has no queue '${queueName}'`);
  const subscription = subscriptions.find((s) => String(s.name).startsWith(`${String(topic.name)}/`));
  if (!subscription) return [...problems, 'the system topic has no event subscription'];
  problems.push(
    ...expect(
      subscription,
      'properties.filter.includedEventTypes',
      (v) => JSON.stringify(v) === JSON.stringify(['Microsoft.KeyVault.SecretNearExpiry']),
      "['Microsoft.KeyVault.SecretNearExpiry'] only",
    ),
    ...expect(subscription, 'properties.filter.subjectBeginsWith', is(tokenSecretPrefix), `'${tokenSecretPrefix}' (the token secrets' names)`),
    ...expect(subscription, 'properties.deliveryWithResourceIdentity.identity.type', is('SystemAssigned'), "'SystemAssigned'"),
    ...expect(subscription, 'properties.deliveryWithResourceIdentity.destination.endpointType', is('StorageQueue'), "'StorageQueue'"),
    ...expect(subscription, 'properties.deliveryWithResourceIdentity.destination.properties.queueName', is(queueName), `'${queueName}'`),
    ...expect(
      subscription,
      'properties.deliveryWithResourceIdentity.destination.properties.resourceId',
      (v) => !!storage && typeof v === 'string' && v.endsWith(`/storageAccounts/${String(storage.name)}`),
      "the app's own storage account",
    ),
    ...expect(subscription, 'properties.destination', (v) => v === undefined, 'absent (delivery uses the topic identity)'),
  );
  const sender = grants(d).find((g) => g.roleName === 'Storage Queue Data Message Sender' && g.scope?.includes('Microsoft.Storage/storageAccounts/'));
  if (!sender || !String(sender.principal).includes(`systemTopics/${String(topic.name)}`)) {
    problems.push("the system topic's identity has no Storage Queue Data Message Sender on the storage account");
  }
  return problems;
}

// ---------------------------------------------------------------- messages to marketplace contacts

/**
 * Communication Services Email (infra/core/communication.bicep): local (key) authentication off,
 * no engagement tracking on any sender domain, the linked domain of the kind expected (or none),
 * the app settings naming that resource and domain (or empty, which turns the messages off), and
 * the app's identity holding the email sender role on that resource and nothing wider.
 */
export function emailProblems(d: Deployment, linked: 'AzureManaged' | 'CustomerManaged' | 'none'): string[] {
  const services = ofType(d, 'Microsoft.Communication/communicationServices').filter((r) => !r.existing);
  const emailServices = ofType(d, 'Microsoft.Communication/emailServices').filter((r) => !r.existing);
  if (services.length !== 1 || emailServices.length !== 1)
    return ['one Communication Services and one Email Communication Services resource must be deployed'];
  const service = services[0]!;
  const domains = ofType(d, 'Microsoft.Communication/emailServices/domains').filter((r) => !r.existing);
  const problems = [
    ...expect(service, 'properties.disableLocalAuth', is(true), 'true (the managed identity only: no key can send)'),
    ...domains.flatMap((r) =>
      expect(r, 'properties.userEngagementTracking', is('Disabled'), "'Disabled' (no tracking in a message that asks to sign in)"),
    ),
  ];
  const linkedIds = ((at(service.body, 'properties.linkedDomains') as Value[] | undefined) ?? []).map(String);
  const linkedDomains = domains.filter((r) => linkedIds.some((id) => id.endsWith(`/domains/${String(r.name).split('/').pop()}`)));
  const settings = appSettings(d) ?? {};
  const endpoint = settings.COMMUNICATION_SERVICES_ENDPOINT;
  const sender = settings.NOTIFICATION_SENDER_ADDRESS;
  if (linked === 'none') {
    if (linkedIds.length > 0) problems.push(`${where(service)}: links ${JSON.stringify(linkedIds)}, expected no sender domain`);
    if (endpoint !== '' || sender !== '')
      problems.push(`the app settings turn messages on (${show(endpoint)}, ${show(sender)}) without a linked sender domain`);
  } else {
    const domain = linkedDomains[0];
    if (linkedIds.length !== 1 || !domain)
      problems.push(`${where(service)}: must link exactly one sender domain of this deployment (found ${JSON.stringify(linkedIds)})`);
    else {
      problems.push(...expect(domain, 'properties.domainManagement', is(linked), `'${linked}'`));
      if (
        !String(endpoint).startsWith(`https://<reference(`) ||
        !String(endpoint).includes(`/communicationServices/${String(service.name)}).hostName>`)
      )
        problems.push(`COMMUNICATION_SERVICES_ENDPOINT must be https:// and the host name of ${String(service.name)} (found ${show(endpoint)})`);
      if (
        !String(sender).startsWith('DoNotReply@') ||
        !String(sender).includes(`/domains/${String(domain.name).split('/').pop()}).mailFromSenderDomain>`)
      )
        problems.push(`NOTIFICATION_SENDER_ADDRESS must be DoNotReply@ the linked domain's MailFrom domain (found ${show(sender)})`);
    }
  }
  const senders = grants(d).filter((g) => g.scope?.endsWith(`/communicationServices/${String(service.name)}`));
  if (
    senders.length !== 1 ||
    senders[0]!.roleName !== 'connect-ms-auth Email Sender' ||
    !String(senders[0]!.principal).includes('userAssignedIdentities')
  )
    problems.push(
      `the app's identity must hold exactly the email sender role on ${String(service.name)} (found ${JSON.stringify(senders.map((g) => g.roleName))})`,
    );
  return problems;
}

// ---------------------------------------------------------------- portal pack

export function availabilityProblems(d: Deployment, expectedText: string, actionGroupIds: string[]): string[] {
  const tests = required(d, 'Microsoft.Insights/webtests', 'availability test');
  if (typeof tests === 'string') return [tests];
  const problems: string[] = [];
  const component = ofType(d, 'Microsoft.Insights/components')[0];
  for (const t of tests) {
    problems.push(
      ...expect(t, 'kind', is('standard'), "'standard'"),
      ...expect(t, 'properties.Kind', is('standard'), "'standard'"),
      ...expect(t, 'properties.Request.RequestUrl', (v) => typeof v === 'string' && /^https:\/\/.+\/api\/start$/.test(v), 'https://<app>/api/start'),
      ...expect(t, 'properties.ValidationRules.SSLCheck', is(true), 'true'),
      ...expect(t, 'properties.ValidationRules.SSLCertRemainingLifetimeCheck', (v) => typeof v === 'number' && v >= 7, 'at least 7 (days)'),
      ...expect(t, 'properties.ValidationRules.ExpectedHttpStatusCode', is(200), '200'),
      ...expect(t, 'properties.ValidationRules.ContentValidation.ContentMatch', is(expectedText), `'${expectedText}'`),
      ...expect(t, 'properties.Locations', (v) => Array.isArray(v) && v.length >= 3, 'at least 3 locations'),
      ...expect(t, 'properties.SyntheticMonitorId', is(t.name), 'the test name'),
      ...expect(
        t,
        'tags',
        (v) => !!component && Object.keys((v ?? {}) as object).some((k) => k.startsWith('hidden-link:') && k.endsWith(resourceIdEnd(component))),
        "a hidden-link tag to this deployment's component",
      ),
    );
    const alert = ofType(d, 'Microsoft.Insights/metricAlerts').find((a) =>
      String(at(a.body, 'properties.criteria.webTestId')).endsWith(`/webtests/${String(t.name)}`),
    );
    if (!alert) {
      problems.push(`no alert rule on the availability test '${String(t.name)}'`);
      continue;
    }
    problems.push(
      ...((at(alert.body, 'properties.criteria') as Record<string, Value> | undefined)?.['odata.type'] ===
      'Microsoft.Azure.Monitor.WebtestLocationAvailabilityCriteria'
        ? []
        : [`${where(alert)}: criteria must be WebtestLocationAvailabilityCriteria`]),
      ...expect(
        alert,
        'properties.actions',
        (v) => JSON.stringify((v as Value[] | undefined)?.map((a) => at(a, 'actionGroupId'))) === JSON.stringify(actionGroupIds),
        JSON.stringify(actionGroupIds),
      ),
    );
  }
  return problems;
}

function resourceIdEnd(r: ArmResource): string {
  return `/${r.type.split('/').slice(1).join('/')}/${String(r.name)}`;
}

export interface WorkbookQuery {
  name: string;
  query: string;
}

export function workbookQueries(d: Deployment): WorkbookQuery[] {
  return ofType(d, 'Microsoft.Insights/workbooks').flatMap((w) => {
    const data = at(w.body, 'properties.serializedData');
    if (typeof data !== 'string') return [];
    const parsed = JSON.parse(data) as { items?: { type: number; name: string; content: { query?: string } }[] };
    return (parsed.items ?? [])
      .filter((i) => i.type === 3 && typeof i.content.query === 'string')
      .map((i) => ({ name: i.name, query: i.content.query! }));
  });
}

/** The workbook has each required section, and its queries name only events the service logs and fields it writes. */
export function workbookProblems(d: Deployment, sections: Record<string, { events: string[]; fields?: string[] }>, knownEvents: string[]): string[] {
  const queries = workbookQueries(d);
  if (queries.length === 0) return ['no workbook with queries is deployed'];
  const problems: string[] = [];
  for (const q of queries)
    for (const name of quotedNames(q.query))
      if (!knownEvents.includes(name)) problems.push(`workbook '${q.name}': looks for '${name}', which the service never logs`);
  for (const [section, { events, fields = [] }] of Object.entries(sections)) {
    const q = queries.find((x) => x.name === section);
    if (!q) {
      problems.push(`the workbook has no section '${section}'`);
      continue;
    }
    for (const e of events) if (!q.query.includes(`"${e}"`)) problems.push(`workbook '${section}': does not read '${e}'`);
    for (const f of fields) if (!q.query.includes(`entry.${f}`)) problems.push(`workbook '${section}': does not show the field '${f}'`);
  }
  const workbook = ofType(d, 'Microsoft.Insights/workbooks')[0]!;
  problems.push(...expect(workbook, 'name', (v) => typeof v === 'string' && v.startsWith('guid('), 'a GUID'));
  return problems;
}

export function serviceHealthProblems(d: Deployment, services: string[], region: string | undefined): string[] {
  const alerts = ofType(d, 'Microsoft.Insights/activityLogAlerts');
  const alert = alerts.find((a) => JSON.stringify(at(a.body, 'properties.condition.allOf')).includes('"ServiceHealth"'));
  if (!alert) return ['no Service Health alert is deployed'];
  const conditions = (at(alert.body, 'properties.condition.allOf') as Value[] | undefined) ?? [];
  const field = (name: string): Value[] =>
    conditions.find((c) => at(c, 'field') === name)
      ? ((at(
          conditions.find((c) => at(c, 'field') === name)!,
          'containsAny',
        ) as Value[]) ?? [])
      : [];
  const problems: string[] = [];
  if (!conditions.some((c) => at(c, 'field') === 'category' && at(c, 'equals') === 'ServiceHealth'))
    problems.push('the Service Health alert does not filter category ServiceHealth');
  for (const s of services)
    if (!field('properties.impactedServices[*].ServiceName').includes(s)) problems.push(`the Service Health alert does not cover '${s}'`);
  if (region && !field('properties.impactedServices[*].ImpactedRegions[*].RegionName').includes(region))
    problems.push(`the Service Health alert does not cover the region '${region}'`);
  if (!JSON.stringify(at(alert.body, 'properties.scopes')).includes('/subscriptions/'))
    problems.push('the Service Health alert is not scoped to the subscription');
  return problems;
}

// ---------------------------------------------------------------- what-if

/**
 * What-if can expand a module only when its parameters are known before deployment: a
 * parameter that carries a deployed resource's property (another module's output, a
 * reference()) hides that module's resources and settings from the preview.
 */
export function whatIfProblems(d: Deployment): string[] {
  const problems: string[] = [];
  for (const [module, parameters] of d.parameters) {
    for (const [name, value] of Object.entries(parameters)) {
      const opaque = opaquesIn(value);
      if (opaque.length > 0) problems.push(`module '${module}': parameter '${name}' is known only while deploying (${opaque[0]!.toString()})`);
    }
  }
  return problems;
}

/** Every parameter's description starts with Required. (no default) or Optional. (a default). */
export function descriptionProblems(template: unknown, module = 'main'): string[] {
  const t = template as { parameters?: Record<string, { defaultValue?: unknown; metadata?: { description?: string } }>; resources?: unknown };
  const problems: string[] = [];
  for (const [name, p] of Object.entries(t.parameters ?? {})) {
    const wanted = 'defaultValue' in p ? 'Optional.' : 'Required.';
    if (!p.metadata?.description?.startsWith(wanted)) problems.push(`${module}: param '${name}' needs @description('${wanted} …')`);
  }
  const resources = Array.isArray(t.resources) ? t.resources : Object.values((t.resources ?? {}) as Record<string, unknown>);
  for (const r of resources as { type?: string; name?: string; properties?: { template?: unknown } }[]) {
    if (r.type === 'Microsoft.Resources/deployments' && r.properties?.template)
      problems.push(...descriptionProblems(r.properties.template, String(r.name)));
  }
  return problems;
}
