import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { buffer } from 'node:stream/consumers';
import { createClient, type ClickHouseClient, type InsertParams, type InsertResult } from '@clickhouse/client';
import { drainPending } from 'chdb';
import { createChdbConnection } from 'chdb/connection';
import type { ClickHouseConfig } from '#lib/config';
import type { Steps } from '#lib/steps';

export type { ClickHouseClient };

type EmbeddedConnection = NonNullable<Parameters<typeof createClient>[0]>['connection'];
type ChdbConnection = ReturnType<typeof createChdbConnection>;

/** Settings every connection uses: wait for inserts to be written before acknowledging them. */
const clickhouseSettings = { async_insert: 0, wait_end_of_query: 1 } as const;

/** The row formats whose rows are one JSON value a line, as `@clickhouse/client` encodes them. */
const JSON_ROW_FORMATS = new Set(['JSONEachRow', 'JSONCompactEachRow']);

/**
 * One client for either ClickHouse: embedded in-process (chDB) or a server over HTTP.
 * Everything above this function is the same code and the same SQL.
 */
export function createClickHouseClient(config: ClickHouseConfig): ClickHouseClient {
  if (config.kind === 'embedded') {
    // Backups (`BACKUP … TO File(…)`) are written under the backup folder, the one the engine allows.
    const onDisk = config.path !== ':memory:' && config.backupPath !== undefined;
    const chdb = createChdbConnection({ path: config.path, ...(onDisk && { connectionArgs: [`--backups.allowed_path=${config.backupPath}`] }) });
    // @NOTE chdb types its connection against `@clickhouse/client-common`, which the client now
    // bundles under another path; the interfaces are the same, the declarations are not.
    const client = createClient({ connection: chdb as unknown as EmbeddedConnection, clickhouse_settings: clickhouseSettings });
    return untilReleased(withRawInserts(client, chdb));
  }
  return withEncodedInserts(createClient({
    url: config.url,
    username: config.username,
    password: config.password,
    clickhouse_settings: clickhouseSettings,
    request_timeout: 30_000,
    // A long statement (a migration's copy) keeps its request alive with a progress header every
    // 20 s; Node refuses a response whose headers pass 16 KiB, about 65 of them, so this is 1 MiB.
    max_response_headers_size: 1_048_576,
  }));
}

/**
 * The rows of a JSON row format (`JSONEachRow`, `JSONCompactEachRow`) as bytes: the array
 * encoded at once, `[row,row,…]`, without its brackets, which is the rows separated by commas;
 * ClickHouse reads that as it reads rows one a line.
 *
 * @NOTE One `JSON.stringify` of the array instead of one a row joined by newlines: no string a
 * row, no rope of them to flatten before the bytes are encoded.
 */
export function jsonRows(values: readonly unknown[]): Buffer {
  const json = Buffer.from(JSON.stringify(values));
  return json.subarray(1, json.length - 1);
}

const ROW_SEPARATOR = Buffer.from(',');

/**
 * `jsonRows` of `items`, each made a row by `row`, in steps of `every` items (`#lib/steps`): a
 * snapshot's tens of thousands of rows, with their explanations, encoded between turns of the
 * event loop instead of in one stretch (~200 ms at 28,000 posts). Insert them with `encoded`.
 */
export function* jsonRowsInSteps<T>(items: readonly T[], row: (item: T, index: number) => unknown, every = 500): Steps<EncodedRows> {
  const parts: Buffer[] = [];
  for (let start = 0; start < items.length; start += every) {
    if (start > 0) {
      parts.push(ROW_SEPARATOR);
      yield;
    }
    parts.push(jsonRows(items.slice(start, start + every).map((item, offset) => row(item, start + offset))));
  }
  return { parts, rows: items.length };
}

/** Rows encoded in a JSON row format (`jsonRowsInSteps`): their bytes, in parts, and how many rows they are. */
export interface EncodedRows {
  parts: readonly Buffer[];
  rows: number;
}

/** The key under which an `encoded` stream carries how many rows it holds (for the inserted-rows metric). */
// @NOTE Registered (`Symbol.for`): rows encoded by one copy of this module (a test's) are known to another.
const ROW_COUNT = Symbol.for('common-ground.encoded-rows');

/**
 * Rows already encoded, as `insert` takes them: a stream of their bytes, sent to a server as the
 * body of its `INSERT` (`withEncodedInserts`) and to chDB as one buffer (`withRawInserts`).
 */
export function encoded(rows: EncodedRows): Readable {
  return Object.assign(Readable.from(rows.parts, { objectMode: false }), { [ROW_COUNT]: rows.rows });
}

/** The number of rows of an insert's `values`: an array's length, or what an `encoded` stream holds. */
export function rowCountOf(values: unknown): number | undefined {
  if (Array.isArray(values)) return values.length;
  return isEncoded(values) ? values[ROW_COUNT] : undefined;
}

/** Bytes of rows made by `encoded` (which marks them), not any other stream an insert may be given. */
function isEncoded(values: unknown): values is Readable & { [ROW_COUNT]: number } {
  return typeof values === 'object' && values !== null && ROW_COUNT in values;
}

/** Refuses what an insert of `encoded` rows cannot honour, rather than drop it or fail in the client. */
function checkEncodedInsert(params: InsertParams<Readable, unknown>, format: string): void {
  if (!JSON_ROW_FORMATS.has(format)) throw new TypeError(`encoded rows are JSON rows; the format ${format} is not`);
  if (params.columns !== undefined && !Array.isArray(params.columns)) throw new TypeError('encoded rows go into named columns, not all columns except some');
}

/**
 * Inserts of rows already `encoded` go to a server as `INSERT … FORMAT` with the bytes as the
 * request's body (`exec`): the client's own `insert` takes a JSON row format only as row objects,
 * to encode them itself in one stretch. Any other insert takes the client's path.
 */
function withEncodedInserts(client: ClickHouseClient): ClickHouseClient {
  const insert = client.insert.bind(client);
  client.insert = async <T>(params: InsertParams<Readable, T>): Promise<InsertResult> => {
    if (!isEncoded(params.values)) return insert(params);
    const { table, values, columns, format = 'JSONCompactEachRow', ...request } = params;
    checkEncodedInsert(params, format);
    const columnList = Array.isArray(columns) && columns.length > 0 ? ` (${columns.join(', ')})` : '';
    // Everything else of the insert (settings, query id, session, abort signal, headers) goes with it.
    const result = await client.exec({ ...request, query: `INSERT INTO ${table.trim()}${columnList} FORMAT ${format}`, values });
    // The answer to an insert is empty; read to its end, it frees the connection.
    await finished(result.stream.resume());
    return { executed: true, query_id: result.query_id, response_headers: result.response_headers };
  };
  return client;
}

/**
 * Array inserts in a JSON row format go to chDB's own insert path: the same rows, each encoded as
 * the client encodes it (`JSON.stringify`), handed to chDB as one buffer (`jsonRows`) under the
 * same `INSERT INTO t (columns) FORMAT …` statement. Any other insert takes the client's path.
 *
 * @NOTE The client's chDB connection concatenates the statement and the rows into one string of
 * SQL that chDB parses whole; the raw path passes the rows' bytes as they are. Writing the event
 * tables took about 17 µs of CPU per pipeline event through the client and 13.5 µs through the
 * raw path (rows built the same way; three alternating rounds of 100,000 events in batches of
 * 20,000, chDB 3.4), a fifth of the embedded ingest's write.
 */
/**
 * `close()` resolves once chDB has let go of the data folder.
 *
 * @NOTE chDB binds one data folder per process, and a close while a query still runs (a poll,
 * say) defers the connection's teardown behind it: the next connection at another folder in the
 * same process (a test file after another in one Jest worker, an app started after another) was
 * refused with "only one active data directory per process".
 */
export function untilReleased<T extends { close(): Promise<void> }>(closable: T): T {
  const close = closable.close.bind(closable);
  closable.close = async () => {
    await close();
    await drainPending();
  };
  return closable;
}

function withRawInserts(client: ClickHouseClient, chdb: ChdbConnection): ClickHouseClient {
  const insert = client.insert.bind(client);
  const raw = async <T>(params: InsertParams<Readable, T>): Promise<InsertResult> => {
    const { values, columns, format = 'JSONCompactEachRow' } = params;
    const plain = params.query_id === undefined && params.abort_signal === undefined && params.session_id === undefined;
    const bytes = isEncoded(values);
    if (bytes) {
      checkEncodedInsert(params, format);
      // The client's insert takes JSON rows only as objects: chDB's raw path is the one way in.
      if (!plain) throw new TypeError('encoded rows go to chDB without a query id, session or abort signal');
    } else if (!plain || !Array.isArray(values) || !JSON_ROW_FORMATS.has(format) || !(columns === undefined || Array.isArray(columns))) {
      return insert(params);
    }
    const rows = bytes ? await buffer(values) : jsonRows(values as readonly unknown[]);
    if (rows.length === 0) return { executed: false, query_id: '', response_headers: {} };
    await chdb.chdb.rawInsert({
      table: params.table,
      values: rows,
      format: format as 'JSONEachRow' | 'JSONCompactEachRow',
      ...(Array.isArray(columns) && { columns }),
      settings: (params.clickhouse_settings ?? {}) as Record<string, string | number | boolean>,
    });
    return { executed: true, query_id: '', response_headers: {} };
  };
  client.insert = raw;
  return client;
}

