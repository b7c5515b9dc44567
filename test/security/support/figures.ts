/**
 * The figures security.md asks for, written by the tests that measure them into
 * docs/security-figures.json (docs/SECURITY.md cites it). Each test file owns one section and
 * replaces it at the end of its run; sections hold counts only (no times), so the file changes
 * only when what is tested changes.
 */
import { mkdirSync, readFileSync, renameSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const figuresPath = join(__dirname, '..', '..', '..', 'docs', 'security-figures.json');

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Replaces one section of the figures file (test files may run in parallel workers: a lock directory serialises the writes). */
export function writeFigures(section: string, figures: unknown): void {
  const lock = `${figuresPath}.lock`;
  for (let i = 0; ; i++) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      // A lock left by a killed run is stale after a few seconds: a write takes milliseconds.
      try {
        if (Date.now() - statSync(lock).mtimeMs > 10_000) rmdirSync(lock);
      } catch {
        // Gone already: try again.
      }
      if (i > 400) throw new Error(`could not lock ${lock}`);
      sleepSync(25);
    }
  }
  try {
    let all: Record<string, unknown> = {};
    try {
      all = JSON.parse(readFileSync(figuresPath, 'utf8')) as Record<string, unknown>;
    } catch {
      all = {};
    }
    all.$comment = 'Written by the tests in test/security (npm test). Counts only; see docs/SECURITY.md.';
    all[section] = figures;
    const sorted = Object.fromEntries(Object.entries(all).sort(([a], [b]) => (a === '$comment' ? -1 : b === '$comment' ? 1 : a.localeCompare(b))));
    const tmp = `${figuresPath}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(sorted, null, 2) + '\n');
    renameSync(tmp, figuresPath);
  } finally {
    rmdirSync(lock);
  }
}

/**
 * Counts the tests a file registers and the ones that start, so a partial run (jest -t) does not
 * overwrite the published figures with partial counts. Call at the top level of a test file and
 * register its tests with the returned `it`.
 */
export function trackRun(): { it: (name: string, fn: jest.ProvidesCallback, timeout?: number) => void; complete: () => boolean } {
  let registered = 0;
  let started = 0;
  beforeEach(() => {
    started++;
  });
  return {
    it: (name, fn, timeout) => {
      registered++;
      it(name, fn, timeout);
    },
    complete: () => registered > 0 && started === registered,
  };
}
