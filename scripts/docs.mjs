#!/usr/bin/env node
// The documents the tests measure: docs/security-figures.json (test/security) and
// docs/rotation-fault-matrix.md (test/integration/rotation.test.ts). Tests write them to
// build/generated/ (ignored by git); this script publishes them into docs/ or checks that docs/
// still says what the last full test run measured.
//
//   node scripts/docs.mjs write   copy build/generated/ into docs/
//   node scripts/docs.mjs check   exit 1 when docs/ differs from build/generated/ (run after `npm test`)
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const generated = join(root, 'build', 'generated');

const securitySections = ['callbackAbuse', 'canary', 'headers', 'inputCorpora'];

function rendered() {
  const missing = [];
  const read = (name) => {
    const path = join(generated, name);
    if (!existsSync(path)) {
      missing.push(name);
      return undefined;
    }
    return readFileSync(path, 'utf8');
  };
  const figures = { $comment: 'Measured by the tests in test/security; published by `npm run docs:generate`. Counts only; see docs/SECURITY.md.' };
  for (const section of securitySections) {
    const text = read(`security-figures.${section}.json`);
    if (text !== undefined) figures[section] = JSON.parse(text);
  }
  const matrix = read('rotation-fault-matrix.md');
  return {
    missing,
    files: {
      'docs/security-figures.json': JSON.stringify(figures, null, 2) + '\n',
      ...(matrix === undefined ? {} : { 'docs/rotation-fault-matrix.md': matrix }),
    },
  };
}

const mode = process.argv[2];
if (mode !== 'write' && mode !== 'check') {
  console.error('usage: node scripts/docs.mjs write|check');
  process.exit(2);
}
const { missing, files } = rendered();
if (missing.length > 0) {
  const known = existsSync(generated) ? readdirSync(generated).join(', ') || 'nothing' : 'nothing';
  console.error(`docs: the last test run did not measure ${missing.join(', ')} (build/generated/ holds ${known}); run the full \`npm test\` first.`);
  process.exit(1);
}
const stale = Object.entries(files).filter(([path, text]) => !existsSync(join(root, path)) || readFileSync(join(root, path), 'utf8') !== text);
if (mode === 'write') {
  for (const [path, text] of stale) writeFileSync(join(root, path), text);
  console.log(stale.length === 0 ? 'docs: up to date' : `docs: wrote ${stale.map(([p]) => p).join(', ')}`);
} else if (stale.length > 0) {
  // Name the lines that differ, so a CI log says which figure moved without a rerun.
  for (const [path, text] of stale) {
    const before = existsSync(join(root, path)) ? readFileSync(join(root, path), 'utf8').split('\n') : [];
    const after = text.split('\n');
    const changed = [];
    for (let i = 0; i < Math.max(before.length, after.length) && changed.length < 20; i++)
      if (before[i] !== after[i])
        changed.push(`  line ${i + 1}: docs has ${JSON.stringify(before[i] ?? '')}, the test run measured ${JSON.stringify(after[i] ?? '')}`);
    console.error(`docs: ${path} differs:\n${changed.join('\n')}`);
  }
  console.error(
    `docs: ${stale.map(([p]) => p).join(', ')} no longer match what the tests measured; run \`npm run docs:generate\` and commit the result.`,
  );
  process.exit(1);
} else {
  console.log('docs: generated documents match the last test run');
}
