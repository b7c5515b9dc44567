/**
 * The Bicep source as tree-sitter-bicep parses it, for what the compiled template no longer
 * carries: comments (the role name written beside each role GUID). Everything the compiler
 * checks or keeps is tested on its output instead (compiler.ts, arm.ts).
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

// ---------------------------------------------------------------- values

const escapes: Record<string, string> = { "\\'": "'", '\\\\': '\\', '\\n': '\n', '\\r': '\r', '\\t': '\t', '\\$': '$' };

/** The string a string literal stands for; `undefined` for an interpolated string or a non-string node. */
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

/** Comments on the same line as a node (e.g. `var x = '…' // Role name`). */
export function trailingComment(file: BicepFile, node: Node): string | undefined {
  const line = node.startPosition.row;
  const comment = descendants(file.root, 'comment').find((c) => c.startPosition.row === line && c.startIndex > node.startIndex);
  return comment?.text.replace(/^\/\/\s*/, '').trim();
}
