import type { ClickHouseClient, ExecParams } from '@clickhouse/client';
import { Turns } from '#lib/steps';

const NEWLINE = 0x0a;

/**
 * Runs a `JSONCompactEachRow` query and gives each row to `onRow` as the response arrives, without
 * holding the whole answer in JavaScript: returns the number of rows.
 *
 * @NOTE For reads of a million rows (a recent feed's window). `ResultSet.json()` holds the answer
 * as one string, its lines and their parsed rows all at once: reading a 1 M-post window that way
 * took the heap from 0.1 to 0.9 GiB (`npm run bench:memory`). Here only a row's line and its parsed
 * array live at a time, beside the response's bytes (chDB answers in one buffer, a server in chunks).
 */
export async function forEachRow<Row>(
  client: ClickHouseClient,
  params: Pick<ExecParams, 'query' | 'query_params' | 'clickhouse_settings'>,
  onRow: (row: Row) => void,
): Promise<number> {
  const { stream } = await client.exec({ ...params, query: `${params.query} FORMAT JSONCompactEachRow` });
  return readRows(stream as AsyncIterable<Buffer>, onRow);
}

/**
 * Gives each line of a `JSONCompactEachRow` answer, parsed, to `onRow` as its chunks arrive; returns
 * the number of rows. The event loop gets a turn every few milliseconds of parsing (`Turns`): chDB's
 * answer is one buffer, and 60,000 rows of it took ~50 ms.
 */
export async function readRows<Row>(chunks: AsyncIterable<Buffer>, onRow: (row: Row) => void, turns = new Turns()): Promise<number> {
  let rows = 0;
  let rest: Buffer | undefined;
  for await (const chunk of chunks) {
    // Decoded only once a line is whole: a character may be split between two chunks.
    const bytes = rest ? Buffer.concat([rest, chunk]) : chunk;
    let start = 0;
    for (let end = bytes.indexOf(NEWLINE, start); end !== -1; end = bytes.indexOf(NEWLINE, start)) {
      if (end > start) {
        onRow(JSON.parse(bytes.toString('utf8', start, end)) as Row);
        rows += 1;
        if (rows % 256 === 0 && turns.due) await turns.take();
      }
      start = end + 1;
    }
    rest = start < bytes.length ? bytes.subarray(start) : undefined;
  }
  if (rest) {
    onRow(JSON.parse(rest.toString('utf8')) as Row);
    rows += 1;
  }
  return rows;
}
