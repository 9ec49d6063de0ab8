import fc from 'fast-check';
import { Turns } from '#lib/steps';
import { readRows } from './each-row.js';

async function* chunksOf(bytes: Buffer, cuts: readonly number[]): AsyncGenerator<Buffer> {
  let start = 0;
  for (const cut of [...cuts].sort((a, b) => a - b)) {
    yield bytes.subarray(start, cut);
    start = cut;
  }
  yield bytes.subarray(start);
}

async function rowsOf(bytes: Buffer, cuts: readonly number[] = []): Promise<{ rows: unknown[]; count: number }> {
  const rows: unknown[] = [];
  const count = await readRows(chunksOf(bytes, cuts), (row) => rows.push(row));
  return { rows, count };
}

describe('rows of a JSONCompactEachRow answer, read as they arrive', () => {
  it('are the rows ClickHouse wrote, however the answer is cut into chunks (characters of several bytes and escapes included)', async () => {
    const row = fc.tuple(fc.string({ unit: 'binary' }), fc.string(), fc.integer(), fc.boolean());
    await fc.assert(
      fc.asyncProperty(fc.array(row, { maxLength: 20 }), fc.array(fc.nat(), { maxLength: 8 }), fc.boolean(), async (rows, cuts, finalNewline) => {
        const text = rows.map((r) => JSON.stringify(r)).join('\n') + (finalNewline && rows.length > 0 ? '\n' : '');
        const bytes = Buffer.from(text, 'utf8');
        const read = await rowsOf(bytes, cuts.map((cut) => cut % (bytes.length + 1)));
        expect(read.rows).toEqual(rows);
        expect(read.count).toBe(rows.length);
      }),
    );
  });

  it('reads a post window the shape the recent feed asks for, split inside a line', async () => {
    const line = (i: number) => JSON.stringify([`did:plc:author${i}`, `3k${i}`, `bafy${i}`, String(1_700_000_000_000_000 + i)]);
    const bytes = Buffer.from(`${line(1)}\n${line(2)}\n${line(3)}\n`);
    const { rows } = await rowsOf(bytes, [5, 70, 71, bytes.length - 1]);
    expect(rows).toEqual([1, 2, 3].map((i) => JSON.parse(line(i)) as unknown));
  });

  it('fails on a line that is not JSON rather than skipping it', async () => {
    await expect(rowsOf(Buffer.from('["a"]\nCode: 241. DB::Exception: Memory limit exceeded\n'))).rejects.toThrow(SyntaxError);
  });

  it('reads nothing from an empty answer', async () => {
    expect(await rowsOf(Buffer.alloc(0))).toEqual({ rows: [], count: 0 });
  });
});

describe('a long answer read as it arrives', () => {
  it('gives the event loop turns while it parses one large chunk (chDB answers in one buffer)', async () => {
    const bytes = Buffer.from(Array.from({ length: 2_000 }, (_, i) => JSON.stringify([`at://did:plc:a/app.bsky.feed.post/${i}`, i])).join('\n'));
    // Counts the event loop's turns: once a turn, other work (a request, ingest) runs there too.
    let turns = 0;
    let ticking: NodeJS.Immediate;
    const tick = () => {
      turns += 1;
      ticking = setImmediate(tick);
    };
    ticking = setImmediate(tick);
    const turnsAtRow: number[] = [];
    try {
      await readRows(chunksOf(bytes, []), () => turnsAtRow.push(turns), new Turns(0));
    } finally {
      clearImmediate(ticking);
    }
    expect(turnsAtRow).toHaveLength(2_000);
    expect(turnsAtRow.at(-1)! - turnsAtRow[0]!).toBeGreaterThanOrEqual(Math.floor(2_000 / 256));
  });
});
