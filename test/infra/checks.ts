/**
 * The properties the infrastructure must have, as functions from parsed templates to a list
 * of problems (empty = fine). The tests run them on infra/ and on deliberately broken copies,
 * so each check is shown to pass and to fail.
 */
import { readFileSync } from 'node:fs';
import { posix } from 'node:path';
import {
  type BicepFile,
  type Node,
  type ResourceDecl,
  asLiteral,
  asString,
  descendants,
  lineOf,
  modules,
  objectKeys,
  objectProperty,
  outputs,
  params,
  property,
  resolve,
  resources,
  trailingComment,
  variables,
} from './bicep';

export interface Problem {
  file: string;
  line: number;
  message: string;
}

export type Templates = Map<string, BicepFile>;

const problem = (file: BicepFile, node: Node | undefined, message: string): Problem => ({
  file: file.path,
  line: node ? lineOf(node) : 1,
  message,
});

/** One line per problem, for readable test failures. */
export function formatProblems(problems: Problem[]): string[] {
  return problems.map((p) => `${p.file}:${p.line}: ${p.message}`);
}

function allResources(templates: Templates): ResourceDecl[] {
  return [...templates.values()].flatMap(resources);
}

/** Resources the templates create (not `existing` references) of one type. */
function declared(templates: Templates, type: string): ResourceDecl[] {
  return allResources(templates).filter((r) => r.type.toLowerCase() === type.toLowerCase() && !r.existing);
}

function expectLiteral(
  r: ResourceDecl,
  path: string,
  accept: (value: unknown) => boolean,
  wanted: string,
): Problem[] {
  const node = property(r.body, path);
  const value = asLiteral(resolve(r.file, node));
  if (node && accept(value)) return [];
  const found = node ? node.text : 'not set';
  return [problem(r.file, node ?? r.node, `${r.type} '${r.symbol}': ${path} must be ${wanted} (found ${found})`)];
}

const is = (wanted: unknown) => (value: unknown) => value === wanted;

// ---------------------------------------------------------------- syntax

/** Every ERROR and MISSING node tree-sitter-bicep reports, with its line. */
export function syntaxProblems(templates: Templates): Problem[] {
  const problems: Problem[] = [];
  for (const file of templates.values()) {
    const visit = (node: Node): void => {
      if (node.type === 'ERROR' || node.isError) {
        const snippet = node.text.split('\n')[0]?.slice(0, 60) ?? '';
        problems.push(problem(file, node, `syntax error at "${snippet}"`));
        return;
      }
      if (node.isMissing) {
        problems.push(problem(file, node, `syntax error: missing ${node.type}`));
        return;
      }
      if (node.hasError) for (const child of node.children) visit(child);
    };
    visit(file.root);
    if (file.root.hasError && !problems.some((p) => p.file === file.path)) {
      problems.push(problem(file, file.root, 'syntax error'));
    }
  }
  return problems;
}

// ---------------------------------------------------------------- wiring (what the compiler would check)

function moduleTarget(templates: Templates, from: BicepFile, source: string): BicepFile | undefined {
  return templates.get(posix.normalize(posix.join(posix.dirname(from.path), source)));
}

/**
 * Modules point at files that exist, pass only parameters the module declares and every one
 * it requires, and read only outputs it has.
 */
export function wiringProblems(templates: Templates): Problem[] {
  const problems: Problem[] = [];
  for (const file of templates.values()) {
    const declaredModules = new Map<string, BicepFile>();
    for (const m of modules(file)) {
      const target = moduleTarget(templates, file, m.source);
      if (!target) {
        problems.push(problem(file, m.node, `module '${m.symbol}': no template at '${m.source}'`));
        continue;
      }
      declaredModules.set(m.symbol, target);
      const targetParams = params(target);
      const passedNode = objectProperty(m.body, 'params');
      const passed = passedNode?.type === 'object' ? objectKeys(passedNode) : [];
      for (const key of passed) {
        if (!targetParams.some((p) => p.name === key)) {
          problems.push(problem(file, m.node, `module '${m.symbol}' passes '${key}', which ${target.path} does not declare`));
        }
      }
      for (const p of targetParams) {
        if (!p.hasDefault && !passed.includes(p.name)) {
          problems.push(problem(file, m.node, `module '${m.symbol}' does not pass required parameter '${p.name}' of ${target.path}`));
        }
      }
    }
    // `<module>.outputs.<name>` must name an output of that module.
    for (const member of descendants(file.root, 'member_expression')) {
      const inner = member.childForFieldName('object');
      const name = member.childForFieldName('property')?.text;
      if (inner?.type !== 'member_expression' || inner.childForFieldName('property')?.text !== 'outputs') continue;
      const symbol = inner.childForFieldName('object')?.text ?? '';
      const target = declaredModules.get(symbol);
      if (target && name && !outputs(target).some((o) => o.name === name)) {
        problems.push(problem(file, member, `'${member.text}': ${target.path} has no output '${name}'`));
      }
    }
  }
  return problems;
}

const declarationTypes = new Set([
  'parameter_declaration',
  'variable_declaration',
  'resource_declaration',
  'module_declaration',
  'output_declaration',
  'type_declaration',
  'user_defined_function',
]);

/** Identifiers used in expressions that nothing declares (typos a compiler would reject). */
export function undeclaredIdentifierProblems(templates: Templates): Problem[] {
  const problems: Problem[] = [];
  for (const file of templates.values()) {
    const known = new Set<string>();
    for (const node of descendants(file.root, 'identifier')) {
      const parent = node.parent;
      if (!parent) continue;
      const isName = parent.namedChildren[0]?.id === node.id;
      if (declarationTypes.has(parent.type) && isName) known.add(node.text);
      // Loop variables and lambda parameters, wherever they appear.
      if (parent.type === 'for_statement' && parent.childForFieldName('initializer')?.id === node.id) known.add(node.text);
      if (parent.type === 'loop_variable' || parent.type === 'loop_enumerator') known.add(node.text);
      if (parent.type === 'lambda_expression' && parent.namedChildren[parent.namedChildren.length - 1]?.id !== node.id) known.add(node.text);
    }
    for (const node of descendants(file.root, 'for_loop_parameters')) for (const c of node.namedChildren) known.add(c.text);
    for (const node of descendants(file.root, 'identifier')) {
      const parent = node.parent;
      if (!parent || known.has(node.text)) continue;
      if (parent.type === 'call_expression' && parent.childForFieldName('function')?.id === node.id) continue;
      if (parent.type === 'object_property' && parent.namedChildren[0]?.id === node.id) continue;
      if (parent.type === 'type' || parent.type === 'parameter' || parent.type.endsWith('_type')) continue;
      problems.push(problem(file, node, `'${node.text}' is not declared`));
    }
  }
  return problems;
}

// ---------------------------------------------------------------- parameters

/** Every parameter says `Required.` (no default) or `Optional.` (has a default), AVM style. */
export function descriptionProblems(templates: Templates): Problem[] {
  const problems: Problem[] = [];
  for (const file of templates.values()) {
    for (const p of params(file)) {
      const wanted = p.hasDefault ? 'Optional.' : 'Required.';
      if (!p.description?.startsWith(wanted)) {
        problems.push(problem(file, p.node, `param '${p.name}' needs @description('${wanted} …')`));
      }
    }
  }
  return problems;
}

function allowedValues(p: ReturnType<typeof params>[number]): string[] | undefined {
  for (const decorator of p.decorators) {
    const call = decorator.namedChildren[0];
    if (call?.childForFieldName('function')?.text !== 'allowed') continue;
    const list = call.childForFieldName('arguments')?.namedChildren[0];
    return list?.namedChildren.map((v) => String(asLiteral(v)));
  }
  return undefined;
}

/**
 * A deployment parameter file (`{ parameters: { name: { value } } }`) sets every required
 * parameter of the template, names only parameters it has, and picks allowed values.
 * `${VAR}` placeholders (azd substitutes them) count as set.
 */
export function parameterFileProblems(main: BicepFile, parameterFile: { path: string; json: unknown }): Problem[] {
  const problems: Problem[] = [];
  const at = (message: string): Problem => ({ file: parameterFile.path, line: 1, message });
  const parameters = (parameterFile.json as { parameters?: Record<string, { value?: unknown }> }).parameters;
  if (!parameters || typeof parameters !== 'object') return [at('has no "parameters" object')];
  const declaredParams = params(main);
  for (const p of declaredParams) {
    if (!p.hasDefault && !(p.name in parameters)) problems.push(at(`does not set required parameter '${p.name}'`));
    const value = parameters[p.name]?.value;
    const allowed = allowedValues(p);
    if (allowed && typeof value === 'string' && !value.startsWith('${') && !allowed.includes(value)) {
      problems.push(at(`sets '${p.name}' to '${value}', allowed: ${allowed.join(', ')}`));
    }
  }
  for (const name of Object.keys(parameters)) {
    if (!declaredParams.some((p) => p.name === name)) problems.push(at(`sets '${name}', which ${main.path} does not declare`));
  }
  return problems;
}

export function readParameterFile(path: string, label: string): { path: string; json: unknown } {
  return { path: label, json: JSON.parse(readFileSync(path, 'utf8')) as unknown };
}

// ---------------------------------------------------------------- Key Vault, storage, Function App

export function keyVaultProblems(templates: Templates): Problem[] {
  const vaults = declared(templates, 'Microsoft.KeyVault/vaults');
  if (vaults.length === 0) return [{ file: '(all)', line: 1, message: 'no Key Vault is declared' }];
  return vaults.flatMap((r) => [
    ...expectLiteral(r, 'properties.enableRbacAuthorization', is(true), 'true (RBAC mode)'),
    ...expectLiteral(r, 'properties.enableSoftDelete', is(true), 'true'),
    ...expectLiteral(r, 'properties.enablePurgeProtection', is(true), 'true'),
    ...expectLiteral(r, 'properties.softDeleteRetentionInDays', is(90), '90'),
    ...(property(r.body, 'properties.accessPolicies')
      ? [problem(r.file, property(r.body, 'properties.accessPolicies'), `Key Vault '${r.symbol}' must not use access policies`)]
      : []),
  ]);
}

export function storageProblems(templates: Templates): Problem[] {
  const accounts = declared(templates, 'Microsoft.Storage/storageAccounts');
  if (accounts.length === 0) return [{ file: '(all)', line: 1, message: 'no storage account is declared' }];
  const containers = declared(templates, 'Microsoft.Storage/storageAccounts/blobServices/containers');
  return [
    ...accounts.flatMap((r) => [
      ...expectLiteral(r, 'properties.allowSharedKeyAccess', is(false), 'false'),
      ...expectLiteral(r, 'properties.allowBlobPublicAccess', is(false), 'false'),
      ...expectLiteral(r, 'properties.minimumTlsVersion', (v) => v === 'TLS1_2' || v === 'TLS1_3', "'TLS1_2' or newer"),
    ]),
    ...containers.flatMap((r) =>
      property(r.body, 'properties.publicAccess')
        ? expectLiteral(r, 'properties.publicAccess', is('None'), "'None'")
        : [],
    ),
  ];
}

const managedIdentityTypes = ['SystemAssigned', 'UserAssigned', 'SystemAssigned, UserAssigned'];

export function functionAppProblems(templates: Templates): Problem[] {
  const sites = declared(templates, 'Microsoft.Web/sites');
  if (sites.length === 0) return [{ file: '(all)', line: 1, message: 'no Function App is declared' }];
  const plans = declared(templates, 'Microsoft.Web/serverfarms');
  const publishing = declared(templates, 'Microsoft.Web/sites/basicPublishingCredentialsPolicies');
  return [
    ...sites.flatMap((r) => [
      ...expectLiteral(r, 'kind', (v) => typeof v === 'string' && v.includes('functionapp') && v.includes('linux'), "'functionapp,linux'"),
      ...expectLiteral(r, 'properties.httpsOnly', is(true), 'true'),
      ...expectLiteral(r, 'properties.siteConfig.minTlsVersion', (v) => v === '1.2' || v === '1.3', "'1.2' or newer"),
      ...expectLiteral(r, 'properties.siteConfig.ftpsState', is('Disabled'), "'Disabled'"),
      ...expectLiteral(r, 'identity.type', (v) => managedIdentityTypes.includes(String(v)), 'a managed identity'),
      ...expectLiteral(r, 'properties.functionAppConfig.runtime.name', is('node'), "'node'"),
      ...expectLiteral(r, 'properties.functionAppConfig.runtime.version', is('22'), "'22'"),
      ...expectLiteral(
        r,
        'properties.functionAppConfig.deployment.storage.authentication.type',
        (v) => v === 'SystemAssignedIdentity' || v === 'UserAssignedIdentity',
        'an identity (not a connection string)',
      ),
    ]),
    ...(plans.length === 0 ? [{ file: '(all)', line: 1, message: 'no App Service plan is declared' }] : []),
    ...plans.flatMap((r) => [
      ...expectLiteral(r, 'sku.name', is('FC1'), "'FC1' (Flex Consumption)"),
      ...expectLiteral(r, 'properties.reserved', is(true), 'true (Linux)'),
    ]),
    ...publishing.flatMap((r) => expectLiteral(r, 'properties.allow', is(false), 'false')),
    ...['ftp', 'scm']
      .filter((name) => !publishing.some((r) => asLiteral(property(r.body, 'name')) === name))
      .map((name) => ({ file: sites[0]!.file.path, line: 1, message: `basic publishing credentials ('${name}') are not turned off` })),
  ];
}

// ---------------------------------------------------------------- app settings

/** The app settings object: `Microsoft.Web/sites/config` named `appsettings`. */
export function appSettings(templates: Templates): { file: BicepFile; object: Node } | undefined {
  for (const r of declared(templates, 'Microsoft.Web/sites/config')) {
    const object = property(r.body, 'properties');
    if (asLiteral(property(r.body, 'name')) === 'appsettings' && object?.type === 'object') return { file: r.file, object };
  }
  return undefined;
}

/** Settings the app needs but the template does not set. */
export function missingAppSettingProblems(templates: Templates, requiredKeys: string[]): Problem[] {
  const settings = appSettings(templates);
  if (!settings) return [{ file: '(all)', line: 1, message: "no 'appsettings' config resource sets the app settings" }];
  const set = objectKeys(settings.object);
  return requiredKeys
    .filter((key) => !set.includes(key))
    .map((key) => problem(settings.file, settings.object, `app setting '${key}' is not set`));
}

// ---------------------------------------------------------------- role assignments

/** The built-in roles this service may hand out, each narrow to one kind of data. */
export const leastPrivilegeRoles: Record<string, string> = {
  'b86a8fe4-44ce-4948-aee5-eccb2c155cd7': 'Key Vault Secrets Officer',
  '4633458b-17de-408a-b874-0445c86b69e6': 'Key Vault Secrets User',
  'b7e6dc6d-f1e8-4753-8033-0f276bb0955b': 'Storage Blob Data Owner',
  '3913510d-42f4-4e42-8a64-420c390055eb': 'Monitoring Metrics Publisher',
};

/** Roles that can change resources or hand out access: never for this service. */
export const broadRoles: Record<string, string> = {
  '8e3af657-a8ff-443c-a75c-2fe8c4bcb635': 'Owner',
  'b24988ac-6180-42a0-ab88-20f7382dd24c': 'Contributor',
  '18d7d88d-d35e-4fb5-a5c3-7773c20a72d9': 'User Access Administrator',
  'f58310d9-a9f6-439a-9e8d-f62e7b41a168': 'Role Based Access Control Administrator',
  '00482a5a-887f-4fb3-b363-3b7fe8e74483': 'Key Vault Administrator',
  'f25e0fa2-a7c8-4377-a976-54943a77a395': 'Key Vault Contributor',
  '17d1049b-9a84-46fb-8f53-869881c3d3ab': 'Storage Account Contributor',
};

const guidPattern = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;

export interface RoleAssignment {
  resource: ResourceDecl;
  roleId: string | undefined;
  roleName: string | undefined;
  scopeType: string | undefined;
}

/** Each role assignment with the role it grants and the type of resource it is scoped to. */
export function roleAssignments(templates: Templates): RoleAssignment[] {
  return declared(templates, 'Microsoft.Authorization/roleAssignments').map((r) => {
    const roleNode = property(r.body, 'properties.roleDefinitionId');
    // `subscriptionResourceId('…/roleDefinitions', someVar)`: the GUID is the last argument.
    const argument = roleNode?.type === 'call_expression' ? roleNode.childForFieldName('arguments')?.namedChildren.at(-1) : roleNode;
    const resolved = resolve(r.file, argument);
    const roleId = (resolved ? (asString(resolved) ?? resolved.text) : '').match(guidPattern)?.[0]?.toLowerCase();
    const scopeSymbol = property(r.body, 'scope')?.text;
    const scopeType = resources(r.file).find((s) => s.symbol === scopeSymbol)?.type;
    return { resource: r, roleId, roleName: roleId ? (leastPrivilegeRoles[roleId] ?? broadRoles[roleId]) : undefined, scopeType };
  });
}

export function roleAssignmentProblems(templates: Templates): Problem[] {
  const problems: Problem[] = [];
  for (const { resource: r, roleId, scopeType } of roleAssignments(templates)) {
    const at = (node: Node | undefined, message: string): void => {
      problems.push(problem(r.file, node ?? r.node, `role assignment '${r.symbol}': ${message}`));
    };
    const props = property(r.body, 'properties');
    if (!props || !objectProperty(props, 'principalType')) at(props, 'has no principalType');
    if (!roleId) at(props, 'grants a role whose ID cannot be read from the template');
    else if (broadRoles[roleId]) at(props, `grants ${broadRoles[roleId]}, which is broader than this service needs`);
    else if (!leastPrivilegeRoles[roleId]) at(props, `grants role ${roleId}, which is not on the least-privilege list`);

    const scope = property(r.body, 'scope');
    if (!scope || !scopeType) at(scope, 'is not scoped to one resource of this template (resource group or wider)');

    // The role's name sits beside its GUID, so a reader never has to look it up.
    const roleArgument = property(r.body, 'properties.roleDefinitionId')?.childForFieldName('arguments')?.namedChildren.at(-1);
    if (roleId && roleArgument?.type === 'identifier') {
      const declaration = variables(r.file).get(roleArgument.text)?.parent ?? undefined;
      const comment = declaration ? trailingComment(r.file, declaration) : undefined;
      const name = leastPrivilegeRoles[roleId] ?? broadRoles[roleId];
      if (!comment || comment !== name) at(declaration, `the GUID of '${roleArgument.text}' needs the comment '// ${name}' beside it`);
    }

    // name: guid(<scope>.id, <principalId>, <role>) — stable across deployments, unique per grant.
    const name = property(r.body, 'name');
    const args = name?.type === 'call_expression' && name.childForFieldName('function')?.text === 'guid'
      ? (name.childForFieldName('arguments')?.namedChildren ?? [])
      : [];
    const principal = property(r.body, 'properties.principalId')?.text;
    if (args.length !== 3 || args[0]?.text !== `${scope?.text}.id` || args[1]?.text !== principal || args[2]?.text !== roleArgument?.text) {
      at(name, 'name must be guid(<scope>.id, <principalId>, <role>)');
    }
  }
  return problems;
}

/** Any mention of a broad role's GUID anywhere in the templates. */
export function broadRoleMentions(templates: Templates): Problem[] {
  const problems: Problem[] = [];
  for (const file of templates.values()) {
    for (const [id, name] of Object.entries(broadRoles)) {
      const index = file.source.toLowerCase().indexOf(id);
      if (index >= 0) {
        problems.push({ file: file.path, line: file.source.slice(0, index).split('\n').length, message: `mentions ${name} (${id})` });
      }
    }
  }
  return problems;
}

// ---------------------------------------------------------------- alerts

export interface AlertQuery {
  file: BicepFile;
  rule: ResourceDecl;
  node: Node;
  query: string;
}

/**
 * The KQL of every scheduled query rule. A rule written as a loop over a `var` array of rule
 * definitions yields one query per array element.
 */
export function alertQueries(templates: Templates): AlertQuery[] {
  const found: AlertQuery[] = [];
  for (const rule of declared(templates, 'Microsoft.Insights/scheduledQueryRules')) {
    const conditions = property(rule.body, 'properties.criteria.allOf')?.namedChildren.filter((c) => c.type === 'object') ?? [];
    for (const condition of conditions) {
      const queryNode = objectProperty(condition, 'query');
      if (!queryNode) continue;
      const direct = asString(queryNode);
      if (direct !== undefined) {
        found.push({ file: rule.file, rule, node: queryNode, query: direct });
        continue;
      }
      // `query: rule.query` inside `[for rule in alertRules: …]`
      const object = queryNode.childForFieldName('object')?.text;
      const field = queryNode.childForFieldName('property')?.text;
      const items = rule.loop && object === rule.loop.variable ? resolve(rule.file, rule.loop.iterable) : undefined;
      for (const item of items?.type === 'array' ? items.namedChildren.filter((c) => c.type === 'object') : []) {
        const value = field ? objectProperty(item, field) : undefined;
        const text = value ? asString(value) : undefined;
        if (value && text !== undefined) found.push({ file: rule.file, rule, node: value, query: text });
      }
    }
  }
  return found;
}

/**
 * Each event that needs an operator has an alert whose query looks for it, and every quoted
 * event-like name a query looks for is one the service actually writes.
 */
export function alertProblems(templates: Templates, requiredEvents: string[], knownEvents: string[]): Problem[] {
  const queries = alertQueries(templates);
  const problems: Problem[] = [];
  for (const event of requiredEvents) {
    if (!queries.some((q) => q.query.includes(`"${event}"`))) {
      problems.push({ file: '(all)', line: 1, message: `no alert rule queries the event '${event}'` });
    }
  }
  for (const q of queries) {
    if (!/^\s*traces\b/.test(q.query)) problems.push(problem(q.file, q.node, 'alert query must read the Application Insights traces table'));
    for (const match of q.query.matchAll(/"([A-Z][A-Za-z0-9]+)"/g)) {
      const name = match[1] ?? '';
      if (!knownEvents.includes(name)) problems.push(problem(q.file, q.node, `alert query looks for '${name}', which the service never logs`));
    }
  }
  return problems;
}
