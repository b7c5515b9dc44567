/** Where things are: the repository (found from this file, wherever the bench was compiled to) and the compiled bench. */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

function findRepoRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'scripts', 'package.mjs')) && existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no repository above ${from}`);
  }
}

export const repoRoot = findRepoRoot(__dirname);
/** The compiled bench/ folder (this file is bench/lib/paths.ts). */
export const benchDir = resolve(__dirname, '..');
export const workerJs = join(benchDir, 'worker.js');
export const figuresPath = join(repoRoot, 'docs', 'performance-figures.json');
