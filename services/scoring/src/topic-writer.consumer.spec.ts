import { ClickHouseError } from '@clickhouse/client';
import { InProcessBus } from '#lib/bus';
import { loadConfig } from '#lib/config';
import { DeadLetterHeaders, Topics, type MessageBatch } from '#lib/contracts';
import { createLogger, Metrics } from '#lib/platform';
import { CoalescedWriter, TopicWriterConsumer, type TopicWriterOptions } from './topic-writer.consumer.js';

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

interface Row {
  timeUs: number;
  id: string;
}

/** The writer of one topic over a store the test plays: `write` and `ping` as given. */
class RowWriter extends TopicWriterConsumer<Row> {
  constructor(store: Pick<TopicWriterOptions<Row>, 'write' | 'ping'>, bus: InProcessBus, attempts = 1) {
    super(
      { topic: Topics.events, groupId: () => 'rows', decode: (value) => JSON.parse(value) as Row, ...store },
      loadConfig({ SCORING_WRITE_ATTEMPTS: String(attempts) }),
      bus,
      createLogger({ logLevel: 'silent', role: 'all' }),
      new Metrics({ processMetrics: false }),
    );
  }
}

const batchOf = (...ids: string[]): MessageBatch => ({
  topic: Topics.events,
  partition: 0,
  messages: ids.map((id, offset) => ({ key: id, value: JSON.stringify({ timeUs: offset + 1, id }), headers: {}, partition: 0, offset: String(offset) })),
});
/** What ClickHouse says of a value it cannot parse, and of a table whose merges fell behind. */
const unparsable = () => new ClickHouseError({ message: 'Cannot parse input', code: '27', type: 'CANNOT_PARSE_INPUT_ASSERTION_FAILED' });
const tooManyParts = () => new ClickHouseError({ message: 'Too many parts', code: '252', type: 'TOO_MANY_PARTS' });

describe('a topic writer refused by ClickHouse', () => {
  let bus: InProcessBus;
  const deadLetters = () => bus.retained(Topics.deadLetter).messages;

  beforeEach(() => {
    bus = new InProcessBus({ retainedTopics: [Topics.deadLetter] });
  });

  afterEach(async () => {
    await bus.close();
  });

  it('dead-letters the message whose value ClickHouse cannot parse, and writes the others', async () => {
    const written: string[] = [];
    const writer = new RowWriter(
      {
        write: async (rows) => {
          if (rows.some((row) => row.id === 'bad')) throw unparsable();
          written.push(...rows.map((row) => row.id));
        },
        ping: async () => true,
      },
      bus,
    );
    await writer.handle(batchOf('a', 'b', 'bad', 'c'));
    expect(written.sort()).toEqual(['a', 'b', 'c']);
    expect(deadLetters().map((message) => [message.key, message.headers[DeadLetterHeaders.reason]])).toEqual([['bad', 'refused by ClickHouse: Cannot parse input']]);
    expect(writer.stats).toMatchObject({ written: 3, deadLettered: 1 });
  });

  it('dead-letters nothing and leaves the batch to be delivered again while ClickHouse answers its ping but refuses inserts for its own reasons', async () => {
    const writer = new RowWriter({ write: () => Promise.reject(tooManyParts()), ping: async () => true }, bus);
    await expect(writer.handle(batchOf('a', 'b', 'c'))).rejects.toMatchObject({ type: 'TOO_MANY_PARTS' });
    expect(deadLetters()).toEqual([]);
    expect(writer.stats).toMatchObject({ batches: 0, failedBatches: 1 });
  });

  it('dead-letters nothing when the store fails while the refused messages are being isolated', async () => {
    let writes = 0;
    const writer = new RowWriter({ write: () => Promise.reject((writes += 1) === 1 ? unparsable() : tooManyParts()), ping: async () => true }, bus);
    await expect(writer.handle(batchOf('a', 'bad', 'c'))).rejects.toMatchObject({ type: 'TOO_MANY_PARTS' });
    expect(deadLetters()).toEqual([]);
  });

  it('does not believe that the rows are bad when the store does not answer its ping', async () => {
    const writer = new RowWriter({ write: () => Promise.reject(unparsable()), ping: async () => false }, bus);
    await expect(writer.handle(batchOf('bad'))).rejects.toMatchObject({ type: 'CANNOT_PARSE_INPUT_ASSERTION_FAILED' });
    expect(deadLetters()).toEqual([]);
  });

  it('sends no message ClickHouse refused alone again, nor waits: each goes to the dead-letter topic at once', async () => {
    const writes: string[][] = [];
    const bad = new Set(['bad1', 'bad2', 'bad3']);
    const writer = new RowWriter(
      {
        write: async (rows) => {
          writes.push(rows.map((row) => row.id));
          if (rows.some((row) => bad.has(row.id))) throw unparsable();
        },
        ping: async () => true,
      },
      bus,
      5,
    );
    const ids = Array.from({ length: 200 }, (_, i) => `m${i}`);
    ids.splice(17, 0, 'bad1');
    ids.splice(120, 0, 'bad2', 'bad3');
    const started = performance.now();
    await writer.handle(batchOf(...ids));
    expect(deadLetters().map((message) => message.key)).toEqual(['bad1', 'bad2', 'bad3']);
    // The batch's first write carried no other batch: it is not sent again whole.
    expect(writes.filter((write) => write.length === ids.length)).toHaveLength(1);
    expect(writes.filter((write) => write.length === 1 && bad.has(write[0]!))).toEqual([['bad1'], ['bad2'], ['bad3']]);
    // Without waiting for ClickHouse to change its mind: the backoffs of five attempts are 1.5 s.
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(writer.stats).toMatchObject({ written: 200, deadLettered: 3 });
  });

  it('sends alone, before blaming it, a message refused in a write it shared with another batch', async () => {
    const { writes, write, finish } = pausedWrites();
    const written: string[] = [];
    const writer = new RowWriter(
      {
        write: async (rows) => {
          await write(rows.map((row) => Number(row.id)));
          written.push(...rows.map((row) => row.id));
        },
        ping: async () => true,
      },
      bus,
    );
    const writesReach = async (count: number) => {
      while (writes.length < count) await new Promise((resolve) => setImmediate(resolve));
    };
    const first = writer.handle(batchOf('1'));
    await writesReach(1);
    // Handed over while the first write is under way: written together in the next one.
    const second = writer.handle(batchOf('2'));
    const third = writer.handle(batchOf('3'));
    await finish();
    await first;
    expect(writes).toEqual([[1], [2, 3]]);
    // The third's rows were the bad ones; the second, alone, is taken.
    await finish(unparsable());
    await writesReach(4);
    expect(writes.slice(2).sort()).toEqual([[2], [3]]);
    for (const id of writes.slice(2).map(([id]) => id)) await finish(id === 3 ? unparsable() : undefined);
    await Promise.all([second, third]);
    expect(written).toEqual(['1', '2']);
    expect(deadLetters().map((message) => message.key)).toEqual(['3']);
  });

  it('dead-letters every message of a batch when ClickHouse blames each row on its own', async () => {
    const writer = new RowWriter({ write: () => Promise.reject(unparsable()), ping: async () => true }, bus);
    await writer.handle(batchOf('a', 'b', 'c'));
    expect(deadLetters().map((message) => message.key)).toEqual(['a', 'b', 'c']);
  });
});
