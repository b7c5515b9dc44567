/**
 * The figures file (docs/performance-figures.json): what `npm run bench` measured, one entry per
 * suite, each with when, on what and under which load. Measurement writes only this file;
 * scripts/perf-table.mjs turns it into the tables of docs/PERFORMANCE.md.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { LoadInfo, MachineInfo } from './machine';

/** A goal a figure is held to. */
export interface Goal {
  op: '<=' | '<' | '>=' | '>' | '==';
  value: number;
  /** How the goal reads, e.g. "≤ 1.15× hello-world". */
  text: string;
}

/** One measured number. `value` is null when the bench could not measure it (the note says why). */
export interface Figure {
  id: string;
  label: string;
  value: number | null;
  unit: string;
  /** Decimal places to show. */
  digits?: number;
  goal?: Goal;
  /** Set whenever there is a goal: value held against goal (false when value is null). */
  met?: boolean;
  /** What the figure was measured next to, in the same run. */
  baseline?: { label: string; value: number; unit: string; digits?: number };
  note?: string;
}

export interface Table {
  title: string;
  columns: string[];
  rows: (string | number)[][];
}

export interface SuiteResult {
  suite: string;
  title: string;
  measuredAt: string;
  durationSeconds: number;
  machine: MachineInfo;
  load: LoadInfo;
  /** How this suite was run (counts, latencies, sizes): facts, not prose. */
  parameters: Record<string, string | number | boolean>;
  figures: Figure[];
  tables: Table[];
}

export interface FiguresFile {
  /** Bumped when the shape changes, so the table generator can refuse a file it does not know. */
  schema: 1;
  generatedBy: string;
  suites: Record<string, SuiteResult>;
}

export function isMet(value: number | null, goal: Goal): boolean {
  if (value === null || !Number.isFinite(value)) return false;
  switch (goal.op) {
    case '<=':
      return value <= goal.value;
    case '<':
      return value < goal.value;
    case '>=':
      return value >= goal.value;
    case '>':
      return value > goal.value;
    case '==':
      return value === goal.value;
  }
}

/** A figure, with `met` worked out from its goal. */
export function figure(f: Omit<Figure, 'met'>): Figure {
  const value = f.value !== null && Number.isFinite(f.value) ? f.value : null;
  return { ...f, value, ...(f.goal ? { met: isMet(value, f.goal) } : {}) };
}

export function readFigures(path: string): FiguresFile {
  if (!existsSync(path)) return { schema: 1, generatedBy: 'npm run bench', suites: {} };
  const parsed = JSON.parse(readFileSync(path, 'utf8')) as FiguresFile;
  if (parsed.schema !== 1) throw new Error(`${path}: unknown schema ${String(parsed.schema)}`);
  return parsed;
}

/** Replaces the given suites' entries and keeps the others (a run of one suite updates only its own). */
export function writeFigures(path: string, results: SuiteResult[]): void {
  const file = readFigures(path);
  for (const r of results) file.suites[r.suite] = r;
  const ordered: FiguresFile = {
    schema: 1,
    generatedBy: 'npm run bench',
    suites: Object.fromEntries(Object.entries(file.suites).sort(([a], [b]) => a.localeCompare(b))),
  };
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, JSON.stringify(ordered, null, 2) + '\n');
}
