/**
 * `npm run bench`: every benchmark, one after the other, each in a process of its own, then one
 * table of every figure with its goal and verdict.
 *
 *     npm run bench                                   # all of them (BENCH_* settings pass through)
 *     BENCH_ONLY=embedded,ingest-serving npm run bench
 *
 * A benchmark that reports through `reportFigures` appends its figures to the results file this
 * run names in `BENCH_RESULTS`; for the others, the lines of their output that state a goal and
 * its verdict are taken as they are. Each benchmark stays runnable alone (`npm run bench:<name>`).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { formatGoal, formatMeasured, loadAverage, type BenchResult } from './bench-report.js';

const BENCHES = ['embedded', 'ingest-serving', 'like-visible', 'memory', 'kafka', 'kafka-broker', 'scoring', 'rankers', 'feed', 'console'];
const only = process.env.BENCH_ONLY?.split(',').map((name) => name.trim()).filter(Boolean);
const unknown = only?.filter((name) => !BENCHES.includes(name)) ?? [];
if (unknown.length > 0) {
  console.error(`BENCH_ONLY names unknown benchmarks: ${unknown.join(', ')} (known: ${BENCHES.join(', ')})`);
  process.exit(2);
}
const selected = only ?? BENCHES;
const here = path.dirname(fileURLToPath(import.meta.url));
const dir = await mkdtemp(path.join(os.tmpdir(), 'cg-bench-all-'));
const resultsFile = path.join(dir, 'results.jsonl');

interface Row {
  bench: string;
  figure: string;
  measured: string;
  goal: string;
  verdict: string;
  load: string;
}

/** A line of a benchmark without `reportFigures` that states a goal and whether it was met. */
const GOAL_LINE = /goal.*\b(met|not met)\b/i;
const rows: Row[] = [];

for (const bench of selected) {
  console.log(`\n=== ${bench} (${loadAverage()}) ===`);
  const before = (await readFile(resultsFile, 'utf8').catch(() => '')).split('\n').filter(Boolean).length;
  const goalLines: string[] = [];
  const child = spawn(process.execPath, [path.join(here, `${bench}.bench.js`)], {
    env: { ...process.env, BENCH_RESULTS: resultsFile },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout });
  lines.on('line', (line) => {
    console.log(line);
    if (GOAL_LINE.test(line)) goalLines.push(line);
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', (exitCode) => resolve(exitCode)));
  const reported = (await readFile(resultsFile, 'utf8').catch(() => '')).split('\n').filter(Boolean).slice(before).map((line) => JSON.parse(line) as BenchResult);
  for (const result of reported) {
    for (const figure of result.figures) {
      rows.push({
        bench,
        figure: figure.figure,
        measured: formatMeasured(figure),
        goal: figure.goal ? formatGoal(figure.goal, figure.unit) : '',
        verdict: figure.met === undefined ? '' : figure.met ? 'met' : 'not met',
        load: result.load.join(', '),
      });
    }
  }
  if (reported.length === 0) {
    for (const line of goalLines) {
      rows.push({ bench, figure: line.length > 160 ? `${line.slice(0, 159)}…` : line, measured: '', goal: '', verdict: /not met/i.test(line) ? 'not met' : 'met', load: '' });
    }
  }
  if (code !== 0) rows.push({ bench, figure: `${bench} did not finish (exit ${code})`, measured: '', goal: '', verdict: 'failed', load: '' });
}

const headers: Row = { bench: 'bench', figure: 'figure', measured: 'measured', goal: 'goal', verdict: 'met?', load: 'load average' };
const columns = Object.keys(headers) as (keyof Row)[];
const widths = columns.map((column) => Math.max(...[headers, ...rows].map((row) => row[column].length)));
const line = (row: Row) => `| ${columns.map((column, index) => row[column].padEnd(widths[index]!)).join(' | ')} |`;
console.log(`\n=== summary (${os.availableParallelism()} cores) ===`);
console.log(line(headers));
console.log(`|${widths.map((width) => '-'.repeat(width + 2)).join('|')}|`);
for (const row of rows) console.log(line(row));
await rm(dir, { recursive: true, force: true });
process.exitCode = rows.some((row) => row.verdict === 'failed') ? 1 : 0;
