import { CoalescedWriter } from './topic-writer.consumer.js';

/** A write that stays under way until `finish` is called, recording what it was given. */
function pausedWrites() {
  const writes: number[][] = [];
  const pending: { resolve: () => void; reject: (error: Error) => void }[] = [];
  const write = (messages: number[]) =>
    new Promise<void>((resolve, reject) => {
      writes.push(messages);
      pending.push({ resolve, reject });
    });
  const finish = async (error?: Error) => {
    const next = pending.shift()!;
    if (error) next.reject(error);
    else next.resolve();
    // Lets the writer take its next batches.
    await new Promise((resolve) => setImmediate(resolve));
  };
  return { writes, write, finish };
}

describe('coalesced writes', () => {
  it('write a lone batch at once, and the batches handed over during a write together in the next one', async () => {
    const { writes, write, finish } = pausedWrites();
    const writer = new CoalescedWriter(write, 100);
    const first = writer.write([1, 2]);
    expect(writes).toEqual([[1, 2]]);
    const second = writer.write([3]);
    const third = writer.write([4, 5]);
    expect(writes).toHaveLength(1);
    await finish();
    await first;
    expect(writes).toEqual([[1, 2], [3, 4, 5]]);
    await finish();
    await Promise.all([second, third]);
  });

  it('keep each write within the most messages it may carry, a batch larger than that going alone', async () => {
    const { writes, write, finish } = pausedWrites();
    const writer = new CoalescedWriter(write, 3);
    const all = [writer.write([1]), writer.write([2, 3]), writer.write([4]), writer.write([5, 6, 7, 8])];
    await finish();
    await finish();
    await finish();
    await Promise.all(all);
    expect(writes).toEqual([[1], [2, 3, 4], [5, 6, 7, 8]]);
  });

  it('tell every batch of a failed write its error, and go on with the next batches', async () => {
    const { writes, write, finish } = pausedWrites();
    const writer = new CoalescedWriter(write, 100);
    const first = writer.write([1]);
    const second = writer.write([2]);
    const third = writer.write([3]);
    await finish();
    await first;
    await finish(new Error('refused'));
    await expect(second).rejects.toThrow('refused');
    await expect(third).rejects.toThrow('refused');
    const fourth = writer.write([4]);
    expect(writes).toEqual([[1], [2, 3], [4]]);
    await finish();
    await fourth;
  });
});
