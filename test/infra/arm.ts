/**
 * Reads a compiled ARM template (the Bicep compiler's output) the way Azure Resource Manager
 * would lay it out for one set of parameters: evaluates the template expressions, follows
 * conditions, copy loops and nested deployments (modules), and lists every resource with its
 * evaluated name and body. Nothing is deployed and nothing is looked up: values only Azure
 * knows at deployment time (reference(), list*()) come back as Opaque, carrying their
 * expression, and the deployment's context (subscription, resource group, tenant, cloud) is
 * a fixed sample. fail() throws ArmFailure, as it stops a real deployment.
 */

/** A value only known while deploying (a property of a deployed resource). */
export class Opaque {
  constructor(readonly expression: string) {}
  toString(): string {
    return `<${this.expression}>`;
  }
}

export class ArmFailure extends Error {}

export type Value = string | number | boolean | null | Opaque | Value[] | { [key: string]: Value };

type Json = unknown;
type Template = {
  languageVersion?: string;
  parameters?: Record<string, { type?: string; defaultValue?: Json; allowedValues?: Json[]; metadata?: { description?: string } }>;
  variables?: Record<string, Json>;
  resources?: Record<string, Json> | Json[];
  outputs?: Record<string, { value?: Json }>;
};

/** The deployment's context: one subscription, one resource group, the public cloud. */
export const sampleContext = {
  subscriptionId: '00000000-0000-4000-8000-00000000000a',
  tenantId: '00000000-0000-4000-8000-00000000000b',
  resourceGroup: 'rg-connect-ms-auth-test',
  location: 'westeurope',
};

const subscriptionPath = `/subscriptions/${sampleContext.subscriptionId}`;
const resourceGroupPath = `${subscriptionPath}/resourceGroups/${sampleContext.resourceGroup}`;

const environmentValue = {
  name: 'AzureCloud',
  authentication: { loginEndpoint: 'https://login.microsoftonline.com/', audiences: ['https://management.core.windows.net/'] },
  suffixes: { storage: 'core.windows.net', keyvaultDns: '.vault.azure.net' },
};

export interface ArmResource {
  /** Module path, e.g. `api` or `` for the top-level template. */
  module: string;
  symbol: string;
  type: string;
  apiVersion: string;
  existing: boolean;
  name: Value;
  /** The evaluated resource, every property (properties, kind, identity, tags, scope, …). */
  body: { [key: string]: Value };
  /** The raw (unevaluated) resource, for assertions on how an expression is built. */
  raw: { [key: string]: Json };
}

export interface Deployment {
  resources: ArmResource[];
  /** Evaluated variables of each template, by module path. */
  variables: Map<string, Record<string, Value>>;
  /** Evaluated parameters each module received, by module path. */
  parameters: Map<string, Record<string, Value>>;
  outputs: Record<string, Value>;
}

// ---------------------------------------------------------------- expression parser

type Node =
  | { kind: 'string'; value: string }
  | { kind: 'number'; value: number }
  | { kind: 'call'; name: string; args: Node[] }
  | { kind: 'member'; target: Node; name: string }
  | { kind: 'index'; target: Node; index: Node };

function parseExpression(text: string): Node {
  let i = 0;
  const peek = (): string => text[i] ?? '';
  const skip = (): void => {
    while (/\s/.test(peek())) i++;
  };
  const expect = (c: string): void => {
    skip();
    if (text[i] !== c) throw new Error(`expected '${c}' at ${i} in ${text}`);
    i++;
  };
  const primary = (): Node => {
    skip();
    const c = peek();
    if (c === "'") {
      i++;
      let value = '';
      for (;;) {
        if (i >= text.length) throw new Error(`unterminated string in ${text}`);
        if (text[i] === "'") {
          if (text[i + 1] === "'") {
            value += "'";
            i += 2;
            continue;
          }
          i++;
          break;
        }
        value += text[i++];
      }
      return { kind: 'string', value };
    }
    if (/[-\d]/.test(c)) {
      const m = /^-?\d+(\.\d+)?/.exec(text.slice(i));
      if (!m) throw new Error(`bad number at ${i} in ${text}`);
      i += m[0].length;
      return { kind: 'number', value: Number(m[0]) };
    }
    const m = /^[A-Za-z_][\w.]*/.exec(text.slice(i));
    if (!m) throw new Error(`unexpected '${c}' at ${i} in ${text}`);
    i += m[0].length;
    expect('(');
    const args: Node[] = [];
    skip();
    if (peek() === ')') i++;
    else {
      for (;;) {
        args.push(postfix());
        skip();
        if (peek() === ',') {
          i++;
          continue;
        }
        expect(')');
        break;
      }
    }
    return { kind: 'call', name: m[0].toLowerCase(), args };
  };
  const postfix = (): Node => {
    let node = primary();
    for (;;) {
      skip();
      if (peek() === '.') {
        i++;
        const m = /^[\w$#]+/.exec(text.slice(i));
        if (!m) throw new Error(`bad member at ${i} in ${text}`);
        i += m[0].length;
        node = { kind: 'member', target: node, name: m[0] };
      } else if (peek() === '[') {
        i++;
        const index = postfix();
        expect(']');
        node = { kind: 'index', target: node, index };
      } else return node;
    }
  };
  const node = postfix();
  skip();
  if (i !== text.length) throw new Error(`trailing text at ${i} in ${text}`);
  return node;
}

// ---------------------------------------------------------------- evaluation

interface Scope {
  template: Template;
  parameters: Record<string, Value>;
  variables: Record<string, Value>;
  rawVariables: Record<string, Json>;
  copyIndexes: Record<string, number>;
  lambdas: Record<string, Value>;
  /** Symbolic name → resource ID, for reference('symbol') and resourceId of symbolic resources. */
  symbols: Record<string, { id: string; type: string; name: Value }>;
  evaluating: Set<string>;
}

const isObject = (v: unknown): v is { [key: string]: Value } => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Opaque);
const isOpaque = (v: unknown): v is Opaque => v instanceof Opaque;
const anyOpaque = (values: Value[]): boolean => values.some(isOpaque);
const text = (v: Value): string => (typeof v === 'string' ? v : isOpaque(v) ? v.toString() : JSON.stringify(v));

function equalValues(a: Value, b: Value): boolean {
  if (typeof a === 'string' && typeof b === 'string') return a.toLowerCase() === b.toLowerCase();
  return JSON.stringify(a) === JSON.stringify(b);
}

function resourceIdOf(scopePath: string, args: Value[]): string {
  const strings = args.map(text);
  // resourceId([subscriptionId], [resourceGroup], type, name1, name2, …)
  const typeIndex = strings.findIndex((s) => s.includes('/') && /^[A-Za-z]+\.[A-Za-z.]+\//.test(s));
  const type = strings[typeIndex] ?? '';
  const names = strings.slice(typeIndex + 1);
  const [namespace, ...types] = type.split('/');
  let path = `${scopePath}/providers/${namespace}`;
  types.forEach((t, n) => (path += `/${t}/${names[n] ?? ''}`));
  return path;
}

function callFunction(name: string, argNodes: Node[], scope: Scope): Value {
  // Lazily evaluated functions first: if() evaluates only the branch it takes (fail() relies on it).
  if (name === 'if') {
    const condition = evaluateNode(argNodes[0]!, scope);
    if (isOpaque(condition)) return new Opaque(`if(${condition.expression})`);
    return evaluateNode(condition ? argNodes[1]! : argNodes[2]!, scope);
  }
  if (name === 'coalesce') {
    for (const node of argNodes) {
      const v = evaluateNode(node, scope);
      if (v !== null && v !== undefined) return v;
    }
    return null;
  }
  if (name === 'lambda') {
    // A lambda value: its variable names and body, applied by map / filter.
    return {
      $lambda: argNodes.slice(0, -1).map((n) => (n.kind === 'string' ? n.value : '')),
      $body: JSON.stringify(argNodes.at(-1)),
    } as unknown as Value;
  }
  const args = argNodes.map((n) => evaluateNode(n, scope));
  const [a, b, c] = args;
  switch (name) {
    case 'parameters': {
      const key = String(a);
      if (!(key in scope.parameters)) throw new Error(`parameter '${key}' has no value`);
      return scope.parameters[key]!;
    }
    case 'variables':
      return variableValue(String(a), scope);
    case 'copyindex': {
      const loop = typeof a === 'string' ? a : '';
      const index = scope.copyIndexes[loop] ?? scope.copyIndexes[''];
      if (index === undefined) throw new Error(`copyIndex(${loop}) outside a loop`);
      return index + (typeof a === 'number' ? a : typeof b === 'number' ? b : 0);
    }
    case 'lambdavariables':
      return scope.lambdas[String(a)] ?? null;
    case 'fail':
      throw new ArmFailure(String(a));
    case 'true':
      return true;
    case 'false':
      return false;
    case 'null':
      return null;
    case 'not':
      return isOpaque(a) ? a : !a;
    case 'and':
      return anyOpaque(args) ? new Opaque('and') : args.every(Boolean);
    case 'or':
      return anyOpaque(args) ? new Opaque('or') : args.some(Boolean);
    case 'equals':
      return anyOpaque(args) ? new Opaque('equals') : equalValues(a!, b!);
    case 'empty':
      if (isOpaque(a)) return new Opaque(`empty(${a.expression})`);
      if (a === null || a === '') return true;
      if (Array.isArray(a)) return a.length === 0;
      if (isObject(a)) return Object.keys(a).length === 0;
      return false;
    case 'length':
      if (isOpaque(a)) return new Opaque(`length(${a.expression})`);
      return Array.isArray(a) || typeof a === 'string' ? a.length : isObject(a) ? Object.keys(a).length : 0;
    case 'contains':
      if (isOpaque(a)) return new Opaque('contains');
      if (typeof a === 'string') return a.toLowerCase().includes(String(b).toLowerCase());
      if (Array.isArray(a)) return a.some((x) => equalValues(x, b!));
      return isObject(a) ? Object.keys(a).some((k) => k.toLowerCase() === String(b).toLowerCase()) : false;
    case 'indexof':
      // ARM: the first position of an item in an array (or of a substring, case-insensitive), -1 when absent.
      if (isOpaque(a)) return new Opaque(`indexOf(${a.expression})`);
      if (Array.isArray(a)) return a.findIndex((x) => equalValues(x, b!));
      return String(a).toLowerCase().indexOf(String(b).toLowerCase());
    case 'concat':
      if (args.every(Array.isArray)) return (args as Value[][]).flat();
      return args.map(text).join('');
    case 'union':
      if (args.every(Array.isArray)) return [...new Set((args as Value[][]).flat().map((v) => JSON.stringify(v)))].map((s) => JSON.parse(s) as Value);
      return Object.assign({}, ...args.filter(isObject)) as Value;
    case 'createobject': {
      const object: { [key: string]: Value } = {};
      for (let n = 0; n + 1 < args.length; n += 2) object[String(args[n])] = args[n + 1]!;
      return object;
    }
    case 'createarray':
      return args;
    case 'format':
      return String(a).replace(/\{(\d+)(:[^}]*)?\}/g, (_m, n: string) => text(args[Number(n) + 1] ?? ''));
    case 'tolower':
      return isOpaque(a) ? a : String(a).toLowerCase();
    case 'toupper':
      return isOpaque(a) ? a : String(a).toUpperCase();
    case 'trim':
      return isOpaque(a) ? a : String(a).trim();
    case 'string':
      return typeof a === 'string' ? a : isOpaque(a) ? a : JSON.stringify(a, (_k, v: unknown) => (v instanceof Opaque ? v.toString() : v));
    case 'bool':
      return typeof a === 'string' ? a.toLowerCase() === 'true' : Boolean(a);
    case 'int':
      return Number(a);
    case 'max':
      return Math.max(...(args as number[]).flat());
    case 'min':
      return Math.min(...(args as number[]).flat());
    case 'sub':
      return Number(a) - Number(b);
    case 'add':
      return Number(a) + Number(b);
    case 'take':
      if (isOpaque(a)) return a;
      return typeof a === 'string' ? a.slice(0, Math.max(0, Number(b))) : (a as Value[]).slice(0, Math.max(0, Number(b)));
    case 'skip':
      return typeof a === 'string' ? a.slice(Number(b)) : (a as Value[]).slice(Number(b));
    case 'substring':
      return String(a).substr(Number(b), c === undefined ? undefined : Number(c));
    case 'startswith':
      return isOpaque(a) ? new Opaque('startsWith') : String(a).toLowerCase().startsWith(String(b).toLowerCase());
    case 'endswith':
      return isOpaque(a) ? new Opaque('endsWith') : String(a).toLowerCase().endsWith(String(b).toLowerCase());
    case 'replace':
      return String(a).split(String(b)).join(String(c));
    case 'split':
      return String(a).split(String(b));
    case 'join':
      return (a as Value[]).map(text).join(String(b));
    case 'first':
      return Array.isArray(a) ? (a[0] ?? null) : String(a).slice(0, 1);
    case 'last':
      return Array.isArray(a) ? (a.at(-1) ?? null) : String(a).slice(-1);
    case 'trygetvalue':
    case 'tryget': {
      if (isOpaque(a)) return a;
      if (Array.isArray(a)) return a[Number(b)] ?? null;
      return isObject(a) ? (a[String(b)] ?? null) : null;
    }
    case 'map':
    case 'filter': {
      const lambda = b as unknown as { $lambda: string[]; $body: string };
      const body = JSON.parse(lambda.$body) as Node;
      const items = a as Value[];
      const results = items.map((item, n) => {
        const inner: Scope = {
          ...scope,
          lambdas: { ...scope.lambdas, [lambda.$lambda[0] ?? '']: item, ...(lambda.$lambda[1] ? { [lambda.$lambda[1]]: n } : {}) },
        };
        return evaluateNode(body, inner);
      });
      return name === 'map' ? results : items.filter((_x, n) => results[n]);
    }
    case 'resourceid':
      return resourceIdOf(resourceGroupPath, args);
    case 'subscriptionresourceid':
      return resourceIdOf(subscriptionPath, args);
    case 'tenantresourceid':
      return resourceIdOf('', args);
    case 'extensionresourceid':
      return `${text(a!)}${resourceIdOf('', args.slice(1))}`;
    case 'guid':
      return `guid(${args.map(text).join(', ')})`;
    case 'uniquestring':
      return `u${args.map(text).join('').length.toString(36)}${Math.abs(hash(args.map(text).join('|'))).toString(36)}`.slice(0, 13);
    case 'resourcegroup':
      return { id: resourceGroupPath, name: sampleContext.resourceGroup, location: sampleContext.location };
    case 'subscription':
      return { id: subscriptionPath, subscriptionId: sampleContext.subscriptionId, tenantId: sampleContext.tenantId };
    case 'tenant':
      return { tenantId: sampleContext.tenantId };
    case 'environment':
      return environmentValue;
    case 'deployment':
      return { name: 'deployment' };
    case 'reference': {
      const target = typeof a === 'string' ? (scope.symbols[a]?.id ?? a) : text(a!);
      return new Opaque(`reference(${target})`);
    }
    default:
      if (name.startsWith('list')) return new Opaque(`${name}(${args.map(text).join(', ')})`);
      throw new Error(`the test's ARM reader has no function '${name}'`);
  }
}

function hash(s: string): number {
  let h = 0;
  for (const ch of s) h = (Math.imul(31, h) + ch.charCodeAt(0)) | 0;
  return h;
}

function evaluateNode(node: Node, scope: Scope): Value {
  switch (node.kind) {
    case 'string':
      return node.value;
    case 'number':
      return node.value;
    case 'call':
      return callFunction(node.name, node.args, scope);
    case 'member': {
      const target = evaluateNode(node.target, scope);
      if (isOpaque(target)) return new Opaque(`${target.expression}.${node.name}`);
      if (isObject(target)) {
        const key = Object.keys(target).find((k) => k.toLowerCase() === node.name.toLowerCase());
        if (key === undefined) throw new Error(`no property '${node.name}' in ${JSON.stringify(target).slice(0, 200)}`);
        return target[key]!;
      }
      throw new Error(`'.${node.name}' on a non-object`);
    }
    case 'index': {
      const target = evaluateNode(node.target, scope);
      const index = evaluateNode(node.index, scope);
      if (isOpaque(target)) return new Opaque(`${target.expression}[${text(index)}]`);
      if (Array.isArray(target)) return target[Number(index)] ?? null;
      if (isObject(target)) return target[String(index)] ?? null;
      throw new Error('index on a non-collection');
    }
  }
}

function variableValue(name: string, scope: Scope): Value {
  if (name in scope.variables) return scope.variables[name]!;
  if (!(name in scope.rawVariables)) throw new Error(`variable '${name}' is not declared`);
  if (scope.evaluating.has(name)) throw new Error(`variable '${name}' refers to itself`);
  scope.evaluating.add(name);
  const value = evaluate(scope.rawVariables[name], scope);
  scope.evaluating.delete(name);
  scope.variables[name] = value;
  return value;
}

/** Evaluates a template value: `[expr]` strings are expressions (`[[` escapes a literal `[`). */
function evaluate(raw: Json, scope: Scope): Value {
  if (typeof raw === 'string') {
    if (raw.startsWith('[[')) return raw.slice(1);
    if (raw.startsWith('[') && raw.endsWith(']')) return evaluateNode(parseExpression(raw.slice(1, -1)), scope);
    return raw;
  }
  if (Array.isArray(raw)) return raw.map((r) => evaluate(r, scope));
  if (raw && typeof raw === 'object') {
    const object: { [key: string]: Value } = {};
    const entries = Object.entries(raw as Record<string, Json>);
    for (const [key, value] of entries) {
      // Property loops: "copy": [{ name, count, input }] become arrays named after the loop.
      if (key === 'copy' && Array.isArray(value) && value.every((l) => l && typeof l === 'object' && 'input' in (l as object))) {
        for (const loop of value as { name: string; count: Json; input: Json }[]) {
          const count = Number(evaluate(loop.count, scope));
          object[loop.name] = Array.from({ length: count }, (_x, n) =>
            evaluate(loop.input, { ...scope, copyIndexes: { ...scope.copyIndexes, [loop.name]: n } }),
          );
        }
        continue;
      }
      object[key] = evaluate(value, scope);
    }
    return object;
  }
  return (raw ?? null) as Value;
}

function resourceEntries(template: Template): [string, Record<string, Json>][] {
  const resources = template.resources ?? [];
  if (Array.isArray(resources)) {
    return resources.map((r, n) => {
      const resource = r as Record<string, Json>;
      return [String(resource.name ?? n), resource];
    });
  }
  return Object.entries(resources as Record<string, Record<string, Json>>);
}

function evaluateTemplate(template: Template, parameterValues: Record<string, Value>, module: string, deployment: Deployment): Record<string, Value> {
  const scope: Scope = {
    template,
    parameters: {},
    variables: {},
    rawVariables: template.variables ?? {},
    copyIndexes: {},
    lambdas: {},
    symbols: {},
    evaluating: new Set(),
  };
  for (const [name, declaration] of Object.entries(template.parameters ?? {})) {
    if (name in parameterValues) scope.parameters[name] = parameterValues[name]!;
    else if ('defaultValue' in declaration) scope.parameters[name] = evaluate(declaration.defaultValue, scope);
    else throw new Error(`${module || 'main'}: required parameter '${name}' has no value`);
    const allowed = declaration.allowedValues;
    const value = scope.parameters[name]!;
    if (allowed && !isOpaque(value) && !allowed.some((v) => equalValues(v as Value, value))) {
      throw new Error(`${module || 'main'}: parameter '${name}' = ${JSON.stringify(value)} is not allowed (${allowed.join(', ')})`);
    }
  }
  const entries = resourceEntries(template);
  // Symbols first, so reference('symbol') names its resource.
  for (const [symbol, resource] of entries) {
    if (resource.copy) continue;
    try {
      const name = evaluate(resource.name, scope);
      const type = String(resource.type);
      scope.symbols[symbol] = { id: resourceIdOf(resourceGroupPath, [type, ...text(name).split('/')]), type, name };
    } catch {
      // Names that need the loop index are resolved per copy below.
    }
  }
  for (const [symbol, resource] of entries) {
    const copy = resource.copy as { name: string; count: Json } | undefined;
    const count = copy ? Number(evaluate(copy.count, scope)) : 1;
    for (let n = 0; n < count; n++) {
      const local: Scope = copy ? { ...scope, copyIndexes: { ...scope.copyIndexes, [copy.name]: n, '': n } } : scope;
      if ('condition' in resource) {
        const condition = evaluate(resource.condition, local);
        if (condition === false) continue;
      }
      const { condition: _c, copy: _copy, ...rest } = resource;
      void _c;
      void _copy;
      const type = String(resource.type);
      if (type === 'Microsoft.Resources/deployments') {
        const name = String(evaluate(resource.name, local));
        const path = module ? `${module}/${name}` : name;
        const props = resource.properties as { parameters?: Record<string, Json>; template: Template };
        const passed: Record<string, Value> = {};
        for (const [key, entry] of Object.entries(props.parameters ?? {})) {
          // `{ value: … }`, or an expression that yields one (a conditional parameter value).
          const evaluated = typeof entry === 'string' ? evaluate(entry, local) : evaluate((entry as { value: Json }).value, local);
          passed[key] = typeof entry === 'string' ? ((evaluated as { value?: Value }).value ?? null) : evaluated;
        }
        deployment.parameters.set(path, passed);
        deployment.resources.push({
          module,
          symbol,
          type,
          apiVersion: String(resource.apiVersion),
          existing: false,
          name,
          body: { name, parameters: passed },
          raw: resource,
        });
        const outputs = evaluateTemplate(props.template, passed, path, deployment);
        void outputs;
        continue;
      }
      const body = evaluate(rest, local) as { [key: string]: Value };
      deployment.resources.push({
        module,
        symbol,
        type,
        apiVersion: String(resource.apiVersion ?? ''),
        existing: resource.existing === true,
        name: body.name ?? null,
        body,
        raw: resource,
      });
    }
  }
  for (const name of Object.keys(scope.rawVariables)) variableValue(name, scope);
  deployment.variables.set(module, scope.variables);
  const outputs: Record<string, Value> = {};
  for (const [name, output] of Object.entries(template.outputs ?? {})) outputs[name] = evaluate(output.value, scope);
  return outputs;
}

/** Lays out the template for these parameter values (throws ArmFailure where fail() would stop it). */
export function layOut(template: unknown, parameterValues: Record<string, Value>): Deployment {
  const deployment: Deployment = { resources: [], variables: new Map(), parameters: new Map(), outputs: {} };
  deployment.outputs = evaluateTemplate(template as Template, parameterValues, '', deployment);
  return deployment;
}

/** Deployed (not `existing`) resources of a type, case-insensitively. */
export function ofType(deployment: Deployment, type: string): ArmResource[] {
  return deployment.resources.filter((r) => !r.existing && r.type.toLowerCase() === type.toLowerCase());
}

/** A value at a dotted path (`properties.siteConfig.minTlsVersion`); undefined when absent. */
export function at(value: Value | undefined, path: string): Value | undefined {
  let current: Value | undefined = value;
  for (const segment of path.split('.')) {
    if (current === undefined || current === null) return undefined;
    if (Array.isArray(current)) current = current[Number(segment)];
    else if (isObject(current)) current = current[segment];
    else return undefined;
  }
  return current;
}

export function isOpaqueValue(v: unknown): v is Opaque {
  return isOpaque(v);
}

/** Every Opaque value anywhere inside a value. */
export function opaquesIn(value: Value): Opaque[] {
  if (isOpaque(value)) return [value];
  if (Array.isArray(value)) return value.flatMap(opaquesIn);
  if (isObject(value)) return Object.values(value).flatMap(opaquesIn);
  return [];
}
