/**
 * The security figures docs/SECURITY.md reports, measured by the tests in test/security. Each
 * test file owns one section, written as its own generated file (test/support/generatedDocs.ts);
 * `npm run docs:generate` assembles them into docs/security-figures.json. Sections hold counts
 * only (no times), so the published file changes only when what is tested changes.
 */
import { writeGenerated } from '../../support/generatedDocs';

/** Writes one section of the figures. */
export function writeFigures(section: string, figures: unknown): void {
  writeGenerated(`security-figures.${section}.json`, JSON.stringify(figures, null, 2) + '\n');
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
