import { setImmediate as nextTurn } from 'node:timers/promises';

/**
 * Synchronous work written in steps: a generator that yields (nothing) between stretches of work
 * and returns its result. A caller that owns its thread runs it straight through (`runSteps`); one
 * that shares the event loop with requests and ingest (the snapshot job in embedded mode) runs it
 * in turns (`runInTurns`), giving the loop back between stretches.
 *
 * @NOTE Steps rather than a worker thread: the snapshot job's input and its result (tens of
 * thousands of posts with their explanations) would cross the thread boundary as structured
 * clones, and the factor model kept between runs with them. Measured at 1.2 M events, ranking on
 * a worker held the loop 216–241 ms (the clone and its garbage) and made runs 30–40% longer
 * (docs/scaling.md, *A snapshot run and the event loop*); steps cost a generator resumption per
 * stretch.
 */
export type Steps<T> = Generator<void, T, void>;

/** Runs `steps` to the end without giving the thread up; returns the result. */
export function runSteps<T>(steps: Steps<T>): T {
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}

/**
 * How long a stretch may hold the event loop before `runInTurns` gives it a turn, ms.
 * @NOTE 5 rather than 10: a snapshot run at 1.2 M events held the loop at most 26–34 ms against
 * 34–50 ms, in runs as long (a turn costs microseconds when nothing waits).
 */
export const TURN_BUDGET_MS = 5;

/**
 * Runs `steps` to the end, giving the event loop a turn (`setImmediate`: timers, I/O and the
 * requests waiting on them run first) whenever `budgetMs` of work has passed since the last turn.
 * A single stretch longer than the budget still runs whole: the steps decide where they can stop.
 */
export async function runInTurns<T>(steps: Steps<T>, budgetMs = TURN_BUDGET_MS): Promise<T> {
  const turns = new Turns(budgetMs);
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
    if (turns.due) await turns.take();
  }
}

/** The same turns for a loop that is async already (rows parsed as a response arrives): ask `due`, then `take` the turn. */
export class Turns {
  private since = performance.now();

  constructor(private readonly budgetMs = TURN_BUDGET_MS) {}

  /** Whether `budgetMs` of work has passed since the last turn. */
  get due(): boolean {
    return performance.now() - this.since >= this.budgetMs;
  }

  async take(): Promise<void> {
    await nextTurn();
    this.since = performance.now();
  }
}

/**
 * Turns for a stream whose data arrives in callbacks rather than steps (a socket): ask `due` as
 * each item is handed over; once the items of this turn of the event loop have taken `budgetMs`,
 * it answers true (once), the caller pauses the stream, and `resumeNextTurn` resumes it.
 *
 * @NOTE A socket that has fallen behind has megabytes waiting, and libuv reads a ready socket up to
 * 32 times a turn: without a pause, thousands of items are handled in one stretch. What the socket
 * already handed over (one read) is still delivered after the pause.
 */
export class StreamTurns {
  /** When this turn's items began (`performance.now()`); undefined between turns. */
  private turnStartedMs: number | undefined;
  private pausing = false;

  constructor(private readonly budgetMs = TURN_BUDGET_MS) {}

  /** True when the stream should pause until the next turn (then `resumeNextTurn`). */
  due(): boolean {
    const now = performance.now();
    if (this.turnStartedMs === undefined) {
      this.turnStartedMs = now;
      setImmediate(() => (this.turnStartedMs = undefined));
      return false;
    }
    if (this.pausing || now - this.turnStartedMs < this.budgetMs) return false;
    this.pausing = true;
    return true;
  }

  /** Calls `resume` at the next turn of the event loop. */
  resumeNextTurn(resume: () => void): void {
    setImmediate(() => {
      this.pausing = false;
      resume();
    });
  }
}
