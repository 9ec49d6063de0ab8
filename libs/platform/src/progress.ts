/** Where progress goes: a text stream (stderr), told whether it is a terminal. */
interface ProgressSink {
  write(text: string): unknown;
  readonly isTTY?: boolean;
  readonly columns?: number;
}

/** How fast a count moves, over the last `windowMs` of observations (recent speed, not the average since the start). */
export class RateWindow {
  private readonly points: { at: number; value: number }[] = [];

  constructor(private readonly windowMs = 10_000) {}

  add(at: number, value: number): void {
    this.points.push({ at, value });
    // Keep one point older than the window, so the rate always spans the whole window once it can.
    while (this.points.length > 2 && this.points[1]!.at <= at - this.windowMs) this.points.shift();
  }

  /** Units per second, or undefined before two observations some time apart. */
  perSecond(): number | undefined {
    const first = this.points[0];
    const last = this.points.at(-1);
    if (!first || !last || last.at - first.at < 1) return undefined;
    return ((last.value - first.value) * 1000) / (last.at - first.at);
  }
}

/** Seconds left at `perSecond`, or undefined when nothing moves. */
export function etaSeconds(remaining: number, perSecond: number | undefined): number | undefined {
  if (remaining <= 0) return 0;
  if (perSecond === undefined || !(perSecond > 0)) return undefined;
  return remaining / perSecond;
}

/** `4.2 s`, `38 s`, `3 min 05 s`, `2 h 10 min`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  if (seconds < 10) return `${seconds.toFixed(1)} s`;
  if (seconds < 120) return `${Math.round(seconds)} s`;
  const whole = Math.round(seconds);
  if (whole < 7_200) return `${Math.floor(whole / 60)} min ${String(whole % 60).padStart(2, '0')} s`;
  return `${Math.floor(whole / 3_600)} h ${String(Math.floor((whole % 3_600) / 60)).padStart(2, '0')} min`;
}

const formatCount = (value: number) => Math.round(value).toLocaleString('en-US');

interface ProgressOptions {
  label: string;
  /** Units of the whole job; without it, progress shows counts and rate but no bar or ETA. */
  total?: number;
  /** Name of a unit, e.g. `events`. */
  unit?: string;
  sink?: ProgressSink;
  clock?: () => number;
}

export interface Progress {
  /** `done` units so far; cheap enough to call on every poll (it draws at most ten times a second). */
  update(done: number, detail?: string): void;
  /** Ends the line with a summary (elapsed time and average rate). */
  finish(summary?: string): void;
}

/** Between two redraws on a terminal, and between two lines anywhere else (CI logs, files). */
const TTY_REDRAW_MS = 100;
const PLAIN_LINE_MS = 5_000;
const BAR_WIDTH = 24;

/**
 * Progress of a long run (a replay, a backfill, a bulk load) with a rate and an ETA. On a terminal
 * one line is redrawn in place; elsewhere a plain line is written every few seconds.
 *
 * @NOTE The ETA uses the rate over the last ten seconds, not since the start: replays and
 * backfills speed up and slow down (warm caches, merges, back-pressure), and the recent rate
 * predicts the rest better than the average does.
 */
export function terminalProgress(options: ProgressOptions): Progress {
  const sink = options.sink ?? process.stderr;
  const clock = options.clock ?? (() => performance.now());
  const tty = sink.isTTY === true;
  const unit = options.unit ? ` ${options.unit}` : '';
  const started = clock();
  const rate = new RateWindow();
  let lastDraw = -Infinity;
  let lastDone = 0;
  let finished = false;

  const render = (done: number, detail?: string): string => {
    const now = clock();
    const perSecond = rate.perSecond();
    const parts = [options.label];
    if (options.total !== undefined && options.total > 0) {
      const share = Math.min(1, Math.max(0, done / options.total));
      const filled = Math.round(share * BAR_WIDTH);
      if (tty) parts.push(`[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}]`);
      parts.push(`${(share * 100).toFixed(share < 0.1 ? 1 : 0)}%`, `${formatCount(done)}/${formatCount(options.total)}${unit}`);
    } else {
      parts.push(`${formatCount(done)}${unit}`);
    }
    if (perSecond !== undefined) parts.push(`${formatCount(perSecond)}${unit}/s`);
    if (options.total !== undefined) {
      const eta = etaSeconds(options.total - done, perSecond);
      parts.push(eta === undefined ? 'ETA …' : `ETA ${formatDuration(eta)}`);
    }
    parts.push(`elapsed ${formatDuration((now - started) / 1000)}`);
    if (detail) parts.push(detail);
    const line = parts.join('  ');
    return tty && sink.columns ? line.slice(0, sink.columns - 1) : line;
  };

  return {
    update(done, detail) {
      if (finished) return;
      const now = clock();
      rate.add(now, done);
      lastDone = done;
      if (now - lastDraw < (tty ? TTY_REDRAW_MS : PLAIN_LINE_MS)) return;
      lastDraw = now;
      sink.write(tty ? `\r\x1b[2K${render(done, detail)}` : `${render(done, detail)}\n`);
    },
    finish(summary) {
      if (finished) return;
      finished = true;
      const seconds = (clock() - started) / 1000;
      const average = seconds > 0 ? `, ${formatCount(lastDone / seconds)}${unit}/s` : '';
      const line = `${options.label}  done: ${formatCount(lastDone)}${unit} in ${formatDuration(seconds)}${average}${summary ? `  ${summary}` : ''}`;
      sink.write(tty ? `\r\x1b[2K${line}\n` : `${line}\n`);
    },
  };
}

/** A run of several phases (keys, replay, scoring…) with notes between them; each phase is one progress line. */
export interface ProgressReport {
  phase(label: string, total?: number, unit?: string): Progress;
  /** A line of its own (a heading, a warning), written below whatever line is being redrawn. */
  note(line: string): void;
}

/** Discards everything: for programmatic runs (tests) that only want the results. */
export const silentProgressReport: ProgressReport = {
  phase: () => ({ update: () => undefined, finish: () => undefined }),
  note: () => undefined,
};

/** A `ProgressReport` whose phases are `terminalProgress` lines on one sink. */
export function terminalProgressReport(sink: ProgressSink = process.stderr, clock?: () => number): ProgressReport {
  return {
    phase: (label, total, unit) => terminalProgress({ label, total, unit, sink, clock }),
    note: (line) => void sink.write(sink.isTTY === true ? `\r\x1b[2K${line}\n` : `${line}\n`),
  };
}

export interface CatchUpState {
  /** Seconds the stream position is behind real time. */
  behindSeconds: number;
  /** Seconds of stream handled per second (above 1 the gap closes; below 1 it grows). */
  speed: number | undefined;
  etaSeconds: number | undefined;
  caughtUp: boolean;
}

/**
 * Progress of a stream catching up with real time (ingest resuming from an old cursor, a
 * backfill): how far behind, how fast the gap closes, when it will be closed. Reports at most every
 * `everyMs` while behind by more than `minBehindSeconds`, and once more when caught up.
 */
export class CatchUpProgress {
  private readonly position = new RateWindow(60_000);
  private lastReport = -Infinity;
  private behind = false;

  constructor(
    private readonly report: (state: CatchUpState) => void,
    private readonly options: { minBehindSeconds: number; everyMs: number } = { minBehindSeconds: 120, everyMs: 30_000 },
  ) {}

  /** `positionUs`: `time_us` of the newest event handled. */
  observe(positionUs: number, nowMs = Date.now()): void {
    this.position.add(nowMs, positionUs / 1000);
    const behindSeconds = Math.max(0, nowMs / 1000 - positionUs / 1e6);
    if (behindSeconds < this.options.minBehindSeconds) {
      if (this.behind) this.report({ behindSeconds, speed: undefined, etaSeconds: 0, caughtUp: true });
      this.behind = false;
      return;
    }
    this.behind = true;
    if (nowMs - this.lastReport < this.options.everyMs) return;
    this.lastReport = nowMs;
    // Stream milliseconds per wall millisecond; real time itself advances at 1.
    const advance = this.position.perSecond();
    const speed = advance === undefined ? undefined : advance / 1000;
    this.report({ behindSeconds, speed, etaSeconds: etaSeconds(behindSeconds, speed === undefined ? undefined : speed - 1), caughtUp: false });
  }
}
