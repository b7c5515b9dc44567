/**
 * A small reader for Bicep templates, standing in for the Bicep compiler (which cannot be
 * installed on these machines). tree-sitter-bicep parses the text; the functions here find
 * declarations and read literal values out of the tree. They resolve only what a reviewer
 * would resolve by eye: a `var` holding a literal, a loop over a literal array.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import type Parser = require('tree-sitter');
import Bicep = require('tree-sitter-bicep');

export type Node = Parser.SyntaxNode;

export interface BicepFile {
  /** Path relative to the folder it was loaded from, with forward slashes (e.g. `app/api.bicep`). */
  path: string;
  source: string;
  /** Kept so the native tree outlives every node read from it (nodes die with their tree). */
  tree: Parser.Tree;
  root: Node;
}

/** A value as far as the template text determines it: literals, or `undefined` for an expression. */
export type Literal = string | number | boolean | null | undefined;

/*
 * tree-sitter patches the prototypes of its native classes when its JavaScript loads, and a
 * native module exists once per process. Jest loads every test file's modules afresh, so a
 * second copy of tree-sitter's JavaScript would patch over the first and every tree would come
 * back without a root node. The first copy is therefore kept on the (process-wide, native)
 * language object and reused by every test file.
 */
const shared = Bicep as { treeSitterParser?: typeof Parser };
// eslint-disable-next-line @typescript-eslint/no-require-imports
shared.treeSitterParser ??= require('tree-sitter') as typeof Parser;
const TreeSitter = shared.treeSitterParser;

let parser: Parser | undefined;
function bicepParser(): Parser {
  if (!parser) {
    parser = new TreeSitter();
    // tree-sitter-bicep types its `language` field as unknown; it is the same object tree-sitter expects.
    parser.setLanguage(Bicep as unknown as Parser.Language);
  }
  return parser;
}

export function parseBicep(source: string, path = '<memory>.bicep'): BicepFile {
  const tree = bicepParser().parse(source);
  return { path, source, tree, root: tree.rootNode };
}

/** Every `.bicep` file under `dir`, keyed by its path relative to `dir`. */
export function loadTemplates(dir: string): Map<string, BicepFile> {
  const files = new Map<string, BicepFile>();
  const walk = (folder: string): void => {
    for (const name of readdirSync(folder).sort()) {
      const full = join(folder, name);
      if (statSync(full).isDirectory()) walk(full);
      else if (name.endsWith('.bicep')) {
        const path = relative(dir, full).split(sep).join('/');
        files.set(path, parseBicep(readFileSync(full, 'utf8'), path));
      }
    }
  };
  walk(dir);
  return files;
}

/** 1-based line of a node, as an editor shows it. */
export function lineOf(node: Node): number {
  return node.startPosition.row + 1;
}

export function descendants(node: Node, type: string): Node[] {
  return node.descendantsOfType(type);
}

// ---------------------------------------------------------------- declarations

export interface ParamDecl {
  name: string;
  node: Node;
  hasDefault: boolean;
  /** Text of each decorator call, e.g. `description('Required. …')`. */
  decorators: Node[];
  description: string | undefined;
}

/** Decorators sit in a `decorators` node right before the declaration they belong to. */
function decoratorsOf(decl: Node): Node[] {
  let previous = decl.previousNamedSibling;
  while (previous && previous.type === 'comment') previous = previous.previousNamedSibling;
  if (!previous || previous.type !== 'decorators') return [];
  return previous.namedChildren.filter((d) => d.type === 'decorator');
}

function decoratorCall(decorator: Node, name: string): Node | undefined {
  const call = decorator.namedChildren[0];
  if (call?.type !== 'call_expression') return undefined;
  return call.childForFieldName('function')?.text === name ? call : undefined;
}

export function params(file: BicepFile): ParamDecl[] {
  return file.root.namedChildren
    .filter((n) => n.type === 'parameter_declaration')
    .map((node) => {
      const decorators = decoratorsOf(node);
      const descriptionCall = decorators.map((d) => decoratorCall(d, 'description')).find((c) => c);
      const descriptionArg = descriptionCall?.childForFieldName('arguments')?.namedChildren[0];
      // `param name type = default`: a default value follows the type node.
      const typeIndex = node.namedChildren.findIndex((c) => c.type === 'type');
      return {
        name: node.namedChildren[0]?.text ?? '',
        node,
        hasDefault: typeIndex >= 0 && node.namedChildren.length > typeIndex + 1,
        decorators,
        description: descriptionArg ? asString(descriptionArg) : undefined,
      };
    });
}

/** Value node of each top-level `var`. */
export function variables(file: BicepFile): Map<string, Node> {
  const vars = new Map<string, Node>();
  for (const node of file.root.namedChildren) {
    if (node.type !== 'variable_declaration') continue;
    const [name, value] = node.namedChildren;
    if (name && value) vars.set(name.text, value);
  }
  return vars;
}

export interface ResourceDecl {
  file: BicepFile;
  symbol: string;
  /** Resource type without the API version, e.g. `Microsoft.KeyVault/vaults`. */
  type: string;
  apiVersion: string;
  existing: boolean;
  /** The condition of `= if (…) {…}`, when there is one. */
  condition: Node | undefined;
  /** `[for item in items: {…}]`: the loop variable and what it iterates over. */
  loop: { variable: string; iterable: Node } | undefined;
  /** The resource body `{ … }`. */
  body: Node;
  node: Node;
}

/** Splits a declaration's value into condition / loop / body object. */
function unwrapBody(value: Node): Pick<ResourceDecl, 'condition' | 'loop'> & { body: Node | undefined } {
  if (value.type === 'object') return { body: value, condition: undefined, loop: undefined };
  if (value.type === 'if_statement') {
    const condition = value.namedChildren.find((c) => c.type === 'parenthesized_expression');
    const body = value.namedChildren.find((c) => c.type === 'object');
    return { body, condition, loop: undefined };
  }
  if (value.type === 'for_statement') {
    const body = value.childForFieldName('body') ?? undefined;
    const initializer = value.childForFieldName('initializer');
    const loopParameters = value.namedChildren.find((c) => c.type === 'for_loop_parameters');
    const variable = initializer?.text ?? loopParameters?.namedChildren[0]?.text ?? '';
    // The iterable is the named child right before the body.
    const named = value.namedChildren;
    const iterable = named[named.length - 2];
    const inner = body && body.type !== 'object' ? unwrapBody(body) : undefined;
    return {
      body: inner ? inner.body : body,
      condition: inner?.condition,
      loop: iterable ? { variable, iterable } : undefined,
    };
  }
  return { body: undefined, condition: undefined, loop: undefined };
}

export function resources(file: BicepFile): ResourceDecl[] {
  const found: ResourceDecl[] = [];
  const visit = (decl: Node, parentType: string | undefined): void => {
    const [symbolNode, typeNode] = decl.namedChildren;
    const typeText = typeNode ? (asString(typeNode) ?? '') : '';
    const [rawType = '', apiVersion = ''] = typeText.split('@');
    const type = parentType && !rawType.includes('/') ? `${parentType}/${rawType}` : rawType;
    const value = decl.namedChildren[decl.namedChildren.length - 1];
    const { body, condition, loop } = value ? unwrapBody(value) : { body: undefined, condition: undefined, loop: undefined };
    if (!body) return;
    found.push({
      file,
      symbol: symbolNode?.text ?? '',
      type,
      apiVersion,
      existing: decl.children.some((c) => c.type === 'existing'),
      condition,
      loop,
      body,
      node: decl,
    });
    // Nested child resources (`resource x 'config' = {…}` inside the body).
    for (const property of body.namedChildren) {
      for (const nested of property.namedChildren) {
        if (nested.type === 'resource_declaration') visit(nested, type);
      }
    }
  };
  for (const node of file.root.namedChildren) if (node.type === 'resource_declaration') visit(node, undefined);
  return found;
}

export interface ModuleDecl {
  file: BicepFile;
  symbol: string;
  /** The module path as written, e.g. `app/api.bicep`. */
  source: string;
  body: Node;
  node: Node;
}

export function modules(file: BicepFile): ModuleDecl[] {
  return file.root.namedChildren
    .filter((n) => n.type === 'module_declaration')
    .flatMap((node) => {
      const [symbolNode, pathNode] = node.namedChildren;
      const value = node.namedChildren[node.namedChildren.length - 1];
      const body = value ? unwrapBody(value).body : undefined;
      if (!body) return [];
      return [{ file, symbol: symbolNode?.text ?? '', source: pathNode ? (asString(pathNode) ?? '') : '', body, node }];
    });
}

export function outputs(file: BicepFile): { name: string; value: Node | undefined; node: Node }[] {
  return file.root.namedChildren
    .filter((n) => n.type === 'output_declaration')
    .map((node) => ({
      name: node.namedChildren[0]?.text ?? '',
      value: node.namedChildren[node.namedChildren.length - 1],
      node,
    }));
}

// ---------------------------------------------------------------- values

/** The key of an object property, whether written `key:` or `'key':`. */
export function propertyKey(property: Node): string | undefined {
  const key = property.namedChildren[0];
  if (!key) return undefined;
  return key.type === 'string' ? asString(key) : key.text;
}

/** Keys of an object literal, in order. */
export function objectKeys(object: Node): string[] {
  return object.namedChildren
    .filter((p) => p.type === 'object_property')
    .map(propertyKey)
    .filter((k): k is string => k !== undefined);
}

/** Value node of `key` in an object literal. */
export function objectProperty(object: Node, key: string): Node | undefined {
  const property = object.namedChildren.find((p) => p.type === 'object_property' && propertyKey(p) === key);
  return property?.namedChildren[property.namedChildren.length - 1];
}

/**
 * Value node at a dotted path inside an object literal (`properties.siteConfig.minTlsVersion`);
 * a numeric segment indexes an array (`criteria.allOf.0.query`).
 */
export function property(object: Node, path: string): Node | undefined {
  let current: Node | undefined = object;
  for (const segment of path.split('.')) {
    if (!current) return undefined;
    if (/^\d+$/.test(segment)) {
      if (current.type !== 'array') return undefined;
      current = current.namedChildren.filter((c) => c.type !== 'comment')[Number(segment)];
    } else {
      if (current.type !== 'object') return undefined;
      current = objectProperty(current, segment);
    }
  }
  return current;
}

const escapes: Record<string, string> = { "\\'": "'", '\\\\': '\\', '\\n': '\n', '\\r': '\r', '\\t': '\t', '\\$': '$' };

/**
 * The string a string literal stands for; `undefined` for an interpolated string or a
 * non-string node. Multi-line `'''…'''` strings are taken verbatim (Bicep does not escape in them).
 */
export function asString(node: Node): string | undefined {
  if (node.type !== 'string') return undefined;
  if (node.text.startsWith("'''")) return node.text.slice(3, -3).replace(/^\r?\n/, '');
  let text = '';
  for (const part of node.namedChildren) {
    if (part.type === 'interpolation') return undefined;
    text += part.type === 'escape_sequence' ? (escapes[part.text] ?? part.text) : part.text;
  }
  return text;
}

/** The text between the quotes of a string, interpolations kept as written (`https://${host}/x`). */
export function stringTemplate(node: Node): string | undefined {
  if (node.type !== 'string') return undefined;
  const quote = node.text.startsWith("'''") ? 3 : 1;
  return node.text.slice(quote, -quote);
}

export function asLiteral(node: Node | undefined): Literal {
  if (!node) return undefined;
  switch (node.type) {
    case 'string':
      return asString(node);
    case 'number':
      return Number(node.text);
    case 'boolean':
      return node.text === 'true';
    case 'null':
      return null;
    default:
      return undefined;
  }
}

/**
 * Follows an identifier to the literal value of the `var` it names (repeatedly); any other
 * node comes back unchanged.
 */
export function resolve(file: BicepFile, node: Node | undefined): Node | undefined {
  const vars = variables(file);
  let current = node;
  for (let hops = 0; current?.type === 'identifier' && hops < 10; hops++) {
    const target = vars.get(current.text);
    if (!target) break;
    current = target;
  }
  return current;
}

/** Comments on the same line as a node (e.g. `var x = '…' // Role name`). */
export function trailingComment(file: BicepFile, node: Node): string | undefined {
  const line = node.startPosition.row;
  const comment = descendants(file.root, 'comment').find((c) => c.startPosition.row === line && c.startIndex > node.startIndex);
  return comment?.text.replace(/^\/\/\s*/, '').trim();
}
