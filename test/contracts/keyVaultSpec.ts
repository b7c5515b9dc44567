/**
 * Microsoft's Key Vault secrets specification (api-version 2025-07-01, kept in
 * test/contracts/azure-rest-api-specs with its source and licence) as validators: which operation a
 * request is, and whether a request or an answer fits that operation's schemas. The schemas are
 * Swagger 2.0, a subset of JSON Schema draft-04, so Ajv's draft-04 build checks them; Ajv resolves the
 * `#/definitions/…` references itself, within the specification's own definitions.
 *
 * Read stricter than Swagger's defaults, on purpose (a fake should say nothing the specification does
 * not name, and a client send nothing it may not):
 * - an object schema that lists its properties accepts no others (`additionalProperties: false`,
 *   unless the schema says otherwise — `tags` does);
 * - `x-nullable: true` (Azure's extension) is the only way to be null;
 * - `format: unixtime` is an integer number of seconds (a value in milliseconds fails), `int32` an
 *   integer in range;
 * - in a request, a `readOnly` property must be absent (Swagger 2.0: "SHOULD NOT be sent as part of
 *   the request").
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv, { type ValidateFunction } from 'ajv-draft-04';

export const specFolder = join(__dirname, 'azure-rest-api-specs', 'keyvault-secrets');

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

interface Parameter {
  name: string;
  in: 'query' | 'path' | 'body' | 'header';
  required?: boolean;
  type?: string;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  schema?: JsonObject;
}

interface Spec {
  info: { version: string };
  paths: Record<string, Record<string, JsonObject>>;
  definitions: Record<string, JsonObject>;
  parameters: Record<string, Parameter>;
}

export const spec = JSON.parse(readFileSync(join(specFolder, 'secrets.json'), 'utf8')) as Spec;

/** The api-version the specification describes (and the pinned SDK sends). */
export const specApiVersion = spec.info.version;

/** One operation of the specification. */
export interface SpecOperation {
  operationId: string;
  method: string;
  pathTemplate: string;
  parameters: Parameter[];
  /** File names of its examples (`x-ms-examples`), relative to the specification. */
  examples: string[];
  pageable: boolean;
}

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

function resolveParameter(p: JsonObject): Parameter {
  const ref = p.$ref;
  if (typeof ref === 'string') {
    const found = spec.parameters[ref.replace('#/parameters/', '')];
    if (!found) throw new Error(`the specification has no parameter ${ref}`);
    return found;
  }
  return p as unknown as Parameter;
}

export const operations: SpecOperation[] = Object.entries(spec.paths).flatMap(([pathTemplate, methods]) =>
  Object.entries(methods).map(([method, op]) => ({
    operationId: String(op.operationId),
    method: method.toUpperCase(),
    pathTemplate,
    parameters: (op.parameters as JsonObject[]).map(resolveParameter),
    examples: Object.values(op['x-ms-examples'] as Record<string, { $ref: string }>).map((e) => e.$ref),
    pageable: op['x-ms-pageable'] !== undefined,
  })),
);

export function operation(operationId: string): SpecOperation {
  const found = operations.find((o) => o.operationId === operationId);
  if (!found) throw new Error(`the specification has no operation ${operationId}`);
  return found;
}

/** A path template as a pattern; `{secret-version}` may be empty: `GET /secrets/{name}/` asks for the latest version. */
function templatePattern(template: string): RegExp {
  const source = template
    .split('/')
    .map((segment) => {
      const name = /^\{(.+)\}$/.exec(segment)?.[1];
      if (!name) return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      return name === 'secret-version' ? `(?<${name.replace(/-/g, '_')}>[^/]*)` : `(?<${name.replace(/-/g, '_')}>[^/]+)`;
    })
    .join('/');
  return new RegExp(`^${source}$`);
}

/** Literal templates first: `/secrets/{name}/versions` is GetSecretVersions, not GetSecret of a version called "versions". */
const byLiteralness = [...operations].sort(
  (a, b) => b.pathTemplate.replace(/\{[^}]+\}/g, '').length - a.pathTemplate.replace(/\{[^}]+\}/g, '').length,
);

/** The operation a request is, with its path parameters (decoded); undefined when the specification has none. */
export function operationFor(method: string, pathname: string): { op: SpecOperation; path: Record<string, string> } | undefined {
  for (const op of byLiteralness) {
    if (op.method !== method.toUpperCase()) continue;
    const match = templatePattern(op.pathTemplate).exec(pathname);
    if (!match) continue;
    const path = Object.fromEntries(Object.entries(match.groups ?? {}).map(([k, v]) => [k.replace(/_/g, '-'), decodeURIComponent(v)]));
    return { op, path };
  }
  return undefined;
}

// ---------------------------------------------------------------- schemas

/** The definitions as this file reads them (see the opening comment); `request` also forbids readOnly properties. */
function strictened(node: Json, mode: 'request' | 'response'): Json {
  if (Array.isArray(node)) return node.map((n) => strictened(n, mode));
  if (!isObject(node)) return node;
  if (mode === 'request' && node.readOnly === true) return { not: {} };
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(node)) {
    // `properties` maps names to schemas: walk each schema, never the map itself as one.
    out[key] =
      key === 'properties' && isObject(value)
        ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, strictened(v, mode)]))
        : strictened(value, mode);
  }
  if (isObject(node.properties) && node.additionalProperties === undefined) out.additionalProperties = false;
  if (node['x-nullable'] === true && typeof node.type === 'string') out.type = [node.type, 'null'];
  return out;
}

function compiler(mode: 'request' | 'response'): Ajv {
  const ajv = new Ajv({ allErrors: true, allowUnionTypes: true, strict: true });
  // Azure's and Swagger's annotations: they describe, they do not constrain (x-nullable and readOnly are applied above).
  ajv.addVocabulary(['readOnly', 'x-nullable', 'x-ms-enum', 'x-ms-client-name', 'x-ms-client-flatten']);
  ajv.addFormat('unixtime', { type: 'number', validate: (n: number) => Number.isInteger(n) && n >= 0 && n < 10_000_000_000 });
  ajv.addFormat('int32', { type: 'number', validate: (n: number) => Number.isInteger(n) && n >= -(2 ** 31) && n < 2 ** 31 });
  ajv.addSchema({ id: `${mode}.json`, definitions: strictened(spec.definitions as unknown as Json, mode) }, `${mode}.json`);
  return ajv;
}

const compilers = { request: compiler('request'), response: compiler('response') };

function validatorFor(schema: JsonObject, mode: 'request' | 'response'): ValidateFunction {
  const ref = schema.$ref;
  if (typeof ref !== 'string' || !ref.startsWith('#/definitions/')) throw new Error('expected a reference to a definition');
  const validate = compilers[mode].getSchema(`${mode}.json${ref}`);
  if (!validate) throw new Error(`no schema ${ref}`);
  return validate;
}

function problemsOf(validate: ValidateFunction, value: unknown): string[] {
  return validate(value)
    ? []
    : (validate.errors ?? []).map((e) => `${e.instancePath || '(body)'} ${e.message ?? ''}${e.params ? ` ${JSON.stringify(e.params)}` : ''}`);
}

/** What is wrong with an answer of `op`: its status's schema, else the `default` one (every error is a KeyVaultError). */
export function responseProblems(op: SpecOperation, status: number, body: unknown): string[] {
  const responses = spec.paths[op.pathTemplate]?.[op.method.toLowerCase()]?.responses as Record<string, { schema?: JsonObject }>;
  const declared = responses[String(status)] ?? (status >= 400 ? responses.default : undefined);
  if (!declared) return [`status ${status} is not an answer of ${op.operationId}`];
  if (!declared.schema) return body === undefined || body === '' ? [] : [`${op.operationId} ${status} has no body`];
  return problemsOf(validatorFor(declared.schema, 'response'), body);
}

/** What is wrong with a request of `op`: its query and path parameters, and its body. */
export function requestProblems(op: SpecOperation, url: URL, path: Record<string, string>, body: unknown): string[] {
  const problems: string[] = [];
  for (const p of op.parameters) {
    if (p.in === 'body') {
      if (body === undefined) {
        if (p.required) problems.push(`body ${p.name} is required`);
      } else if (p.schema) problems.push(...problemsOf(validatorFor(p.schema, 'request'), body).map((m) => `body ${m}`));
      continue;
    }
    const value = p.in === 'query' ? (url.searchParams.get(p.name) ?? undefined) : p.in === 'path' ? path[p.name] : undefined;
    if (value === undefined || (p.in === 'path' && value === '' && p.name !== 'secret-version')) {
      if (p.required) problems.push(`${p.in} parameter ${p.name} is required`);
      continue;
    }
    if (p.type === 'integer') {
      const n = Number(value);
      if (!/^-?[0-9]+$/.test(value)) problems.push(`${p.name} is not an integer`);
      if (p.minimum !== undefined && n < p.minimum) problems.push(`${p.name} is below ${p.minimum}`);
      if (p.maximum !== undefined && n > p.maximum) problems.push(`${p.name} is above ${p.maximum}`);
    }
    if (p.pattern !== undefined && !new RegExp(p.pattern).test(value)) problems.push(`${p.name} does not match ${p.pattern}`);
    if (p.minLength !== undefined && value.length < p.minLength) problems.push(`${p.name} is shorter than ${p.minLength}`);
  }
  return problems;
}

/** An example of the specification (`x-ms-examples`): the request's parameters and the answers. */
export interface SpecExample {
  parameters: Record<string, Json>;
  responses: Record<string, { body?: Json }>;
  operationId: string;
  title: string;
}

export function readExample(file: string): SpecExample {
  return JSON.parse(readFileSync(join(specFolder, file), 'utf8')) as SpecExample;
}
