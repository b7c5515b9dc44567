/**
 * Where tests put the figures they measure for the docs: `build/generated/`, which git ignores,
 * so a test run never changes a tracked file. `npm run docs:generate` copies them into docs/,
 * and `npm run docs:check` (in CI, after `npm test`) fails when docs/ no longer matches.
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const generatedDir = join(__dirname, '..', '..', 'build', 'generated');

/** Writes one generated document (atomically: test files run in parallel workers). */
export function writeGenerated(name: string, text: string): void {
  mkdirSync(generatedDir, { recursive: true });
  const path = join(generatedDir, name);
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}
