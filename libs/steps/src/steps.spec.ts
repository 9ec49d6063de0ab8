import { runInTurns, runSteps, StreamTurns, type Steps } from './steps.js';

/** Work in `count` steps; before each yield it asks the event loop to note the step it stopped after. */
function* noting(count: number, turns: number[]): Steps<number> {
  let sum = 0;
  for (let step = 0; step < count; step++) {
    sum += step;
    setImmediate(() => turns.push(step));
    yield;
  }
  return sum;
}

describe('work in steps', () => {
  it('run in turns, gives the event loop a turn between its stretches, and returns what it computed', async () => {
    const turns: number[] = [];
    const steps = noting(5, turns);
    const seenAtStep: number[][] = [];
    const observed = (function* () {
      for (;;) {
        const step = steps.next();
        if (step.done) return step.value;
        seenAtStep.push([...turns]);
        yield;
      }
    })();
    expect(await runInTurns(observed, 0)).toBe(0 + 1 + 2 + 3 + 4);
    // At each step, everything the loop was asked to do before the last turn has run.
    expect(seenAtStep).toEqual([[], [0], [0, 1], [0, 1, 2], [0, 1, 2, 3]]);
  });

  it('run straight through, hold the thread to the end', async () => {
    const turns: number[] = [];
    expect(runSteps(noting(5, turns))).toBe(10);
    expect(turns).toEqual([]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(turns).toEqual([0, 1, 2, 3, 4]);
  });

  it('run in turns, fail with the error the work threw, wherever it threw', async () => {
    function* failing(): Steps<number> {
      yield;
      throw new RangeError('the fit diverged');
    }
    await expect(runInTurns(failing(), 0)).rejects.toThrow(new RangeError('the fit diverged'));
  });

  it('within their budget, run on without a turn', async () => {
    const turns: number[] = [];
    expect(await runInTurns(noting(3, turns), 60_000)).toBe(3);
    expect(turns).toEqual([]);
  });
});

describe('a stream in turns', () => {
  const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

  it('pauses once the items of a turn have used its budget, resumes at the next turn, and starts each turn\'s budget afresh', async () => {
    const turns = new StreamTurns(0);
    const events: string[] = [];
    const deliver = (item: string) => {
      events.push(item);
      if (turns.due()) {
        events.push('pause');
        turns.resumeNextTurn(() => events.push('resume'));
      }
    };
    // The first item of a turn starts it; the next is past a budget of 0; a paused stream is not paused again.
    for (const item of ['a', 'b', 'c']) deliver(item);
    await nextTurn();
    await nextTurn();
    for (const item of ['d', 'e']) deliver(item);
    expect(events).toEqual(['a', 'b', 'pause', 'c', 'resume', 'd', 'e', 'pause']);
  });

  it('within its budget, never pauses', async () => {
    const turns = new StreamTurns(60_000);
    const due = Array.from({ length: 1_000 }, () => turns.due());
    await nextTurn();
    expect(due.filter(Boolean)).toEqual([]);
    expect(turns.due()).toBe(false);
  });
});

