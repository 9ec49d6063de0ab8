import { runInTurns, runSteps, type Steps } from './steps.js';

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
