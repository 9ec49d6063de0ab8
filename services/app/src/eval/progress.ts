/** Where progress goes: a writable text stream (stderr), told whether it is a terminal. */
export interface ProgressSink {
  write(text: string): unknown;
  readonly isTTY?: boolean;
}

/** Reports progress of a long step; `update` is cheap enough to call on every poll. */
export interface ProgressPhase {
  /** `done` of `total` units (the phase's total may be unknown: then no ETA). */
  update(done: number, detail?: string): void;
  /** Ends the phase with a final line. */
  finish(summary?: string): void;
}

export interface Progress {
  phase(label: string, total?: number, unit?: string): ProgressPhase;
  /** A line of its own (a heading, a warning). */
  note(line: string): void;
}

/** Minimum time between two lines when the sink is not a terminal (CI logs, files). */
const PLAIN_INTERVAL_MS = 2_000;
/** Minimum time between two in-place refreshes on a terminal. */
const TTY_INTERVAL_MS = 100;

/** Discards everything: for programmatic runs (tests) that only want the results. */
export const silentProgress: Progress = {
  phase: () => ({ update: () => undefined, finish: () => undefined }),
  note: () => undefined,
};

/**
 * Line-based progress with an ETA. On a terminal the current line is rewritten in place; anywhere
 * else a line is written at most every 2 s, plus one when each phase ends.
 * @NOTE the ETA is the phase's average rate so far applied to what is left: good enough for steps
 * that proceed at a steady rate (replay, feedback), and honest about being an estimate ("~").
 */
export function terminalProgress(sink: ProgressSink = process.stderr, clock: () => number = () => performance.now()): Progress {
  const tty = sink.isTTY === true;
  let open = false;
  const clear = () => {
    if (open) sink.write('\r\x1b[2K');
    open = false;
  };
  return {
    note(line) {
      clear();
      sink.write(`${line}\n`);
    },
    phase(label, total, unit = '') {
      const started = clock();
      let last = -Infinity;
      let finished = false;
      const render = (done: number, detail?: string): string => {
        const elapsed = (clock() - started) / 1000;
        const parts = [label];
        if (total !== undefined && total > 0) {
          const share = Math.min(1, done / total);
          parts.push(`${formatCount(done)}/${formatCount(total)}${unit ? ` ${unit}` : ''}`, `${Math.floor(share * 100)}%`);
          // The first second's rate says little (start-up, key resolution): no ETA before it.
          const eta = done > 0 && share < 1 && elapsed >= 1 ? (elapsed / done) * (total - done) : undefined;
          parts.push(share >= 1 ? `${formatSeconds(elapsed)}` : eta === undefined ? `${formatSeconds(elapsed)}, ETA …` : `${formatSeconds(elapsed)}, ETA ~${formatSeconds(eta)}`);
        } else {
          parts.push(formatSeconds(elapsed));
        }
        if (detail) parts.push(detail);
        return parts.join('  ');
      };
      return {
        update(done, detail) {
          if (finished) return;
          const now = clock();
          if (now - last < (tty ? TTY_INTERVAL_MS : PLAIN_INTERVAL_MS)) return;
          last = now;
          if (tty) {
            sink.write(`\r\x1b[2K${render(done, detail)}`);
            open = true;
          } else {
            sink.write(`${render(done, detail)}\n`);
          }
        },
        finish(summary) {
          if (finished) return;
          finished = true;
          clear();
          const elapsed = (clock() - started) / 1000;
          sink.write(`${label}  done in ${formatSeconds(elapsed)}${summary ? `  ${summary}` : ''}\n`);
        },
      };
    },
  };
}

function formatCount(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

export function formatSeconds(seconds: number): string {
  if (seconds < 10) return `${seconds.toFixed(1)} s`;
  if (seconds < 120) return `${Math.round(seconds)} s`;
  return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
}
