/**
 * The figures a benchmark measured, printed with their goals (`met` / `not met`) and, when
 * `BENCH_RESULTS` names a file, appended to it as one JSON line per benchmark: `npm run bench`
 * runs every benchmark with the one file and prints the table of all of them at the end.
 */
import { appendFileSync } from 'node:fs';
import os from 'node:os';

export interface Goal {
  /** `atLeast`: the measure must reach the value; `atMost`: it must not exceed it. */
  kind: 'atLeast' | 'atMost';
  value: number;
}

export interface Figure {
  figure: string;
  measured: number;
  unit: string;
  goal?: Goal;
  /** What else to know beside the number: CPU per operation, settings, sizes. */
  note?: string;
}

export interface BenchResult {
  bench: string;
  figures: (Figure & { met?: boolean })[];
  /** 1-, 5- and 15-minute load averages when the benchmark ended. */
  load: number[];
  cores: number;
  at: string;
}

export const atLeast = (value: number): Goal => ({ kind: 'atLeast', value });
export const atMost = (value: number): Goal => ({ kind: 'atMost', value });

export const isMet = (measured: number, goal: Goal): boolean => (goal.kind === 'atLeast' ? measured >= goal.value : measured <= goal.value);

const number = (value: number): string =>
  Math.abs(value) >= 100 ? Math.round(value).toLocaleString('en-US') : Number(value.toPrecision(3)).toLocaleString('en-US');

export const formatGoal = (goal: Goal, unit: string): string => `${goal.kind === 'atLeast' ? '≥' : '≤'} ${number(goal.value)} ${unit}`;

export const formatMeasured = (figure: Pick<Figure, 'measured' | 'unit'>): string => `${number(figure.measured)} ${figure.unit}`;

/** `uptime`'s three load averages, as printed beside every throughput figure. */
export const loadAverage = (): string => `load average ${os.loadavg().map((load) => load.toFixed(2)).join(', ')} on ${os.availableParallelism()} cores`;

/** Prints each figure with its goal and verdict, and appends them to `BENCH_RESULTS` when set. */
export function reportFigures(bench: string, figures: Figure[]): BenchResult {
  const result: BenchResult = {
    bench,
    figures: figures.map((figure) => ({ ...figure, ...(figure.goal ? { met: isMet(figure.measured, figure.goal) } : {}) })),
    load: os.loadavg().map((load) => Math.round(load * 100) / 100),
    cores: os.availableParallelism(),
    at: new Date().toISOString(),
  };
  for (const figure of result.figures) {
    const verdict = figure.goal ? ` (goal ${formatGoal(figure.goal, figure.unit)}: ${figure.met ? 'met' : 'not met'})` : '';
    console.log(`${figure.figure}: ${formatMeasured(figure)}${verdict}${figure.note ? `; ${figure.note}` : ''}`);
  }
  console.log(loadAverage());
  const file = process.env.BENCH_RESULTS;
  if (file) appendFileSync(file, `${JSON.stringify(result)}\n`);
  return result;
}

/** CPU time of this process (every thread: chDB's included) since `since`, in ms. */
export function cpuMs(since?: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1000;
}
