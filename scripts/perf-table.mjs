#!/usr/bin/env node
// `npm run bench:table`: writes the tables of docs/PERFORMANCE.md from docs/performance-figures.json
// (what `npm run bench` measured). The prose around them is written by people; only the blocks
// between marker comments are generated:
//
//   <!-- perf-table:goals -->        … <!-- /perf-table:goals -->        every figure held to a goal
//   <!-- perf-table:SUITE -->        … <!-- /perf-table:SUITE -->        one suite: when, on what, its figures and tables
//
// `--check` changes nothing and exits 1 when a block differs from what the figures give (the
// tables are stale), 2 when the files or markers are wrong. Needs no build, no bench run and no
// network, so CI can run it on every change.
//
// Usage: node scripts/perf-table.mjs [--check] [--figures FILE] [--doc FILE]
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function cell(value) {
  return String(value ?? '')
    .replace(/\|/g, '\\|')
    .replace(/\n/g, ' ');
}

function table(columns, rows) {
  return [
    `| ${columns.map(cell).join(' | ')} |`,
    `|${columns.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`),
  ].join('\n');
}

function number(value, digits = 0) {
  if (typeof value !== 'number' || !Number.isFinite(value)) return String(value ?? '');
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function withUnit(value, unit, digits) {
  if (value === null || value === undefined) return 'not measured';
  const n = number(value, digits);
  if (!unit) return n;
  return unit === '×' ? `${n}×` : `${n} ${unit}`;
}

function verdict(f) {
  if (!f.goal) return '';
  return f.met ? '**met**' : '**not met**';
}

function machineLine(s) {
  const m = s.machine;
  const l = s.load;
  const other = l.otherCores === null ? 'unknown' : `${number(l.otherCores, 2)} of ${m.cpus} cores`;
  return (
    `Measured ${s.measuredAt.slice(0, 10)} in ${number(s.durationSeconds)} s on ${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB, ${m.os}, Node ${m.node}. ` +
    `Load average ${number(l.loadAverage.before, 2)} → ${number(l.loadAverage.after, 2)}; other work on the machine kept ${other} busy on average.`
  );
}

function goalsBlock(file) {
  const rows = [];
  for (const s of Object.values(file.suites)) {
    for (const f of s.figures) {
      if (!f.goal) continue;
      const baseline = f.baseline ? `${f.baseline.label}: ${withUnit(f.baseline.value, f.baseline.unit, f.baseline.digits)}` : '';
      rows.push([f.label, f.goal.text, withUnit(f.value, f.unit, f.digits), baseline, verdict(f), `${s.suite}, ${s.measuredAt.slice(0, 10)}`]);
    }
  }
  return table(['figure', 'goal', 'measured', 'next to (same run)', '', 'suite, date'], rows);
}

function suiteBlock(s) {
  const parameters = Object.entries(s.parameters)
    .map(([k, v]) => `${k}: ${typeof v === 'number' ? number(v) : v}`)
    .join('; ');
  const parts = [
    machineLine(s),
    parameters ? `Run with ${parameters}.` : '',
    table(
      ['figure', 'measured', 'goal', '', 'note'],
      s.figures.map((f) => [
        f.label,
        withUnit(f.value, f.unit, f.digits) +
          (f.baseline ? ` (${f.baseline.label}: ${withUnit(f.baseline.value, f.baseline.unit, f.baseline.digits)})` : ''),
        f.goal?.text ?? '',
        verdict(f),
        f.note ?? '',
      ]),
    ),
    ...s.tables.map(
      (t) =>
        `${t.title}:\n\n${table(
          t.columns,
          t.rows.map((r) => r.map((c) => (typeof c === 'number' ? number(c, Number.isInteger(c) ? 0 : 1) : c))),
        )}`,
    ),
  ];
  return parts.filter(Boolean).join('\n\n');
}

const marker = /<!-- perf-table:([a-z0-9-]+) -->\n[\s\S]*?<!-- \/perf-table:\1 -->/g;

/** The document with every block regenerated; throws on a block the figures cannot fill. */
export function render(doc, file) {
  const problems = [];
  const out = doc.replace(marker, (whole, name) => {
    let body;
    if (name === 'goals') body = goalsBlock(file);
    else if (file.suites[name]) body = suiteBlock(file.suites[name]);
    else {
      problems.push(`no figures for block "${name}" (suites measured: ${Object.keys(file.suites).join(', ') || 'none'})`);
      return whole;
    }
    return `<!-- perf-table:${name} -->\n${body}\n<!-- /perf-table:${name} -->`;
  });
  if (problems.length) throw new Error(problems.join('; '));
  return out;
}

function main(argv) {
  const arg = (name, fallback) => {
    const i = argv.indexOf(name);
    return i >= 0 ? resolve(argv[i + 1] ?? '') : fallback;
  };
  const figuresPath = arg('--figures', join(repoRoot, 'docs', 'performance-figures.json'));
  const docPath = arg('--doc', join(repoRoot, 'docs', 'PERFORMANCE.md'));
  const file = JSON.parse(readFileSync(figuresPath, 'utf8'));
  if (file.schema !== 1) throw new Error(`${relative(repoRoot, figuresPath)}: unknown schema ${file.schema}`);
  const doc = readFileSync(docPath, 'utf8');
  if (!marker.test(doc)) throw new Error(`${relative(repoRoot, docPath)} has no <!-- perf-table:NAME --> blocks`);
  marker.lastIndex = 0;
  const next = render(doc, file);
  if (argv.includes('--check')) {
    if (next !== doc) {
      console.error(
        `${relative(repoRoot, docPath)}: the tables are stale; run \`npm run bench:table\` (they come from ${relative(repoRoot, figuresPath)})`,
      );
      process.exit(1);
    }
    console.log(`${relative(repoRoot, docPath)}: tables up to date`);
    return;
  }
  if (next !== doc) writeFileSync(docPath, next);
  console.log(`${relative(repoRoot, docPath)}: tables ${next !== doc ? 'written' : 'already up to date'}`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    main(process.argv.slice(2));
  } catch (err) {
    console.error(`perf-table: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(2);
  }
}
