/** What a suite is: an id for `npm run bench -- <id>`, and a run that returns figures (never prose). */
import type { Figure, Table } from '../lib/figures';
import type { World } from '../world/world';

export interface SuiteContext {
  world: World;
  /** Fewer and smaller runs, to try the bench out; its figures are not written to docs/. */
  quick: boolean;
  progress(line: string): void;
}

export interface SuiteOutput {
  parameters: Record<string, string | number | boolean>;
  figures: Figure[];
  tables: Table[];
}

export interface Suite {
  id: string;
  title: string;
  run(ctx: SuiteContext): Promise<SuiteOutput>;
}
