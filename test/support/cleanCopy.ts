/**
 * The files of a clean copy of the repository: what a fresh clone holds, or an archive such as
 * GitHub's "Download ZIP" (which has no `.git`). With git and a work tree, git says (tracked
 * files, plus new ones it does not ignore); without either, the files on disk minus what
 * `.gitignore` ignores. The ignore file is read by the rules it actually uses; a rule this reader
 * does not understand (negation, `**`, a character class) is an error, never a silent guess.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** One line of `.gitignore`, as gitignore(5) reads it, for the subset of the syntax this repository uses. */
interface IgnoreRule {
  /** The pattern as a regular expression over a path relative to the root (`a/b/c`). */
  pattern: RegExp;
  /** A trailing `/`: the rule matches directories only. */
  directoryOnly: boolean;
}

/**
 * gitignore(5): a pattern without a slash (other than a trailing one) matches a name at any
 * depth; one with a slash is anchored at the root; `*` matches anything but `/`, `?` one such
 * character.
 */
export function readIgnoreRules(text: string): IgnoreRule[] {
  const rules: IgnoreRule[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/\s+$/, '');
    if (line === '' || line.startsWith('#')) continue;
    if (/^!|\*\*|\[|\\/.test(line)) throw new Error(`.gitignore: "${line}" uses syntax this reader does not handle (test/support/cleanCopy.ts)`);
    const directoryOnly = line.endsWith('/');
    const body = directoryOnly ? line.slice(0, -1) : line;
    const anchored = body.includes('/');
    const glob = (anchored ? body.replace(/^\//, '') : body)
      .split('')
      .map((c) => (c === '*' ? '[^/]*' : c === '?' ? '[^/]' : c.replace(/[.+^${}()|]/g, '\\$&')))
      .join('');
    rules.push({ pattern: new RegExp(anchored ? `^${glob}$` : `(^|/)${glob}$`), directoryOnly });
  }
  return rules;
}

function ignored(rules: IgnoreRule[], path: string, isDirectory: boolean): boolean {
  return rules.some((r) => (!r.directoryOnly || isDirectory) && r.pattern.test(path));
}

/** The files on disk under `root`, minus `.git` and what `.gitignore` ignores (an ignored directory is not entered). */
export function filesOnDisk(root: string): string[] {
  const ignoreFile = join(root, '.gitignore');
  const rules = existsSync(ignoreFile) ? readIgnoreRules(readFileSync(ignoreFile, 'utf8')) : [];
  const walk = (dir: string): string[] =>
    readdirSync(join(root, dir), { withFileTypes: true }).flatMap((entry) => {
      const path = dir ? `${dir}/${entry.name}` : entry.name;
      if (entry.name === '.git' || ignored(rules, path, entry.isDirectory())) return [];
      return entry.isDirectory() ? walk(path) : [path];
    });
  return walk('').sort();
}

/** What git lists for a clean clone of `root`, or undefined when git is missing or `root` is not a git work tree. */
export function filesGitLists(root: string): string[] | undefined {
  const inside = spawnSync('git', ['rev-parse', '--is-inside-work-tree'], { cwd: root, encoding: 'utf8' });
  if (inside.error || inside.status !== 0 || inside.stdout.trim() !== 'true') return undefined;
  const listed = spawnSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: root, encoding: 'utf8' });
  if (listed.status !== 0) throw new Error(`git ls-files failed: ${listed.stderr}`);
  return listed.stdout
    .split('\0')
    .filter((f) => f && existsSync(join(root, f)))
    .sort();
}

/** The files of a clean copy: git's list where git can tell, else the files on disk minus the ignored ones. */
export function cleanCopyFiles(root: string): { files: string[]; from: 'git' | 'disk' } {
  const fromGit = filesGitLists(root);
  return fromGit ? { files: fromGit, from: 'git' } : { files: filesOnDisk(root), from: 'disk' };
}
