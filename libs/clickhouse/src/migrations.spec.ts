import { createClickHouseClient, type ClickHouseClient } from './clickhouse.client.js';
import { ClickHouseUnavailableError } from './clickhouse.errors.js';
import { applyMigrations, migrations } from './migrations.js';
import { InterruptedRestoreError, StoreBackups } from './store-backups.js';
import { EventRepository } from './event.repository.js';
import { LabelRepository } from './label.repository.js';
import { NoteRepository } from './note.repository.js';

/** What a client gives when nothing listens at the server's address. */
const refused = () => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8123'), { code: 'ECONNREFUSED' });
/** What a server answers when a query's id names one still running, as `@clickhouse/client` throws it. */
const alreadyRunning = (id: string) => Object.assign(new Error(`Query with id = ${id} is already running.`), { code: '216', type: 'QUERY_WITH_SAME_ID_IS_ALREADY_RUNNING' });

describe('applyMigrations at start-up', () => {
  const database = `migrations_${process.pid}_${Date.now()}`;
  let client: ClickHouseClient;
  let test = 0;

  beforeAll(() => {
    client = createClickHouseClient({ kind: 'embedded', path: ':memory:', database });
  });
  afterAll(() => client.close());

  /** The client, with `fail` deciding the fate of each command first (undefined: it runs); and the query ids it saw. */
  function failing(fail: (query: { query: string; query_id?: string }, call: number) => Error | undefined) {
    let calls = 0;
    const queryIds: string[] = [];
    const flaky = Object.create(client) as ClickHouseClient;
    flaky.command = (params) => {
      if (params.query_id) queryIds.push(params.query_id);
      const error = fail(params, ++calls);
      return error ? Promise.reject(error) : client.command(params);
    };
    return { client: flaky, queryIds };
  }

  const fresh = () => `${database}_${++test}`;

  it('waits for a ClickHouse that is not reachable yet, logging each try, then applies every migration', async () => {
    const db = fresh();
    const flaky = failing((_query, call) => (call <= 2 ? refused() : undefined));
    const retries: { attempt: number; waitMs: number; error: Error }[] = [];
    const applied = await applyMigrations(flaky.client, db, { onRetry: (retry) => retries.push(retry) });
    expect(applied).toEqual(migrations.map((migration) => migration.version));
    expect(retries).toEqual([
      { attempt: 1, waitMs: expect.any(Number), error: expect.objectContaining({ code: 'ECONNREFUSED' }) },
      { attempt: 2, waitMs: expect.any(Number), error: expect.objectContaining({ code: 'ECONNREFUSED' }) },
    ]);
    // Every statement under an id of its own, the same in every process that applies it.
    expect(flaky.queryIds).toContain(`cg-migration-${db}-1-0`);
    expect(new Set(flaky.queryIds).size).toBe(flaky.queryIds.length);
  });

  it('gives up after its bound with an error that says so, and fails at once on a statement ClickHouse refuses', async () => {
    const unreachable = failing(() => refused());
    const started = Date.now();
    const gaveUp = applyMigrations(unreachable.client, fresh(), { giveUpAfterMs: 600 });
    await expect(gaveUp).rejects.toThrow(ClickHouseUnavailableError);
    await expect(gaveUp).rejects.toThrow(/gave up after \d+ tries in 1 s: connect ECONNREFUSED/);
    expect(Date.now() - started).toBeLessThan(3_000);

    const retries: unknown[] = [];
    const broken = [{ version: 1, name: 'a typo', statements: ['CREATE TABLE {db}.t (x UInt8) ENGIN = Memory'] }];
    await expect(applyMigrations(client, fresh(), { list: broken, onRetry: (retry) => retries.push(retry) })).rejects.toThrow(/Syntax error/);
    expect(retries).toEqual([]);
  });

  it('waits while another process runs the same statement, then goes on from the versions recorded then', async () => {
    const db = fresh();
    const list = [
      { version: 1, name: 'one', statements: ['CREATE TABLE IF NOT EXISTS {db}.one (x UInt8) ENGINE = Memory'] },
      { version: 2, name: 'two', statements: ['CREATE TABLE IF NOT EXISTS {db}.two (x UInt8) ENGINE = Memory'] },
    ];
    let other: Promise<number[]> | undefined;
    let otherDone = false;
    // Migration 1 is found running elsewhere until the other process has applied it.
    const busy = failing((query) => {
      if (query.query_id !== `cg-migration-${db}-1-0` || otherDone) return undefined;
      other ??= applyMigrations(client, db, { list: list.slice(0, 1) }).finally(() => (otherDone = true));
      return alreadyRunning(query.query_id);
    });
    const retries: { error: Error }[] = [];
    // Whatever happens, the other process is done before the test is.
    const applied = await applyMigrations(busy.client, db, { list, onRetry: (retry) => retries.push(retry) }).finally(() => other);
    expect(await other).toEqual([1]);
    expect(applied).toEqual([2]);
    expect(retries.length).toBeGreaterThan(0);
    for (const retry of retries) expect(retry.error).toMatchObject({ code: '216' });
  });

  it('takes a migration another process applied meanwhile as done, when a statement of it fails because a later one ran', async () => {
    const db = fresh();
    const list = [
      { version: 1, name: 'a table', statements: ['CREATE TABLE IF NOT EXISTS {db}.old (x UInt8) ENGINE = MergeTree ORDER BY x'] },
      { version: 2, name: 'copied', statements: ['CREATE TABLE IF NOT EXISTS {db}.new (x UInt8) ENGINE = MergeTree ORDER BY x', 'INSERT INTO {db}.new SELECT x FROM {db}.old'] },
      { version: 3, name: 'the old one goes', statements: ['DROP TABLE IF EXISTS {db}.old'] },
    ];
    await applyMigrations(client, db, { list: list.slice(0, 1) });
    // This process reads the versions (1), then another applies 2 and 3 before this one copies.
    const late = Object.create(client) as ClickHouseClient;
    let other: Promise<number[]> | undefined;
    late.command = async (params) => {
      if (params.query_id === `cg-migration-${db}-2-1`) await (other ??= applyMigrations(client, db, { list }));
      return client.command(params);
    };
    expect(await applyMigrations(late, db, { list })).toEqual([]);
    expect(await other).toEqual([2, 3]);
    // Without the other process's record, the failure is this process's.
    const alone = fresh();
    await applyMigrations(client, alone, { list: list.slice(0, 1) });
    await client.command({ query: `DROP TABLE ${alone}.old` });
    await expect(applyMigrations(client, alone, { list })).rejects.toThrow(/Unknown table|UNKNOWN_TABLE|does(n't| not) exist/i);
  });

  it('on upgrade, raises the first sightings a backfill dated before the store began to its start, and leaves those it saw', async () => {
    const db = fresh();
    await applyMigrations(client, db, { list: migrations.filter((migration) => migration.version < 28) });
    const started = await client.query({ query: `SELECT toString(toUnixTimestamp64Micro(min(applied_at))) AS us FROM ${db}.schema_migrations`, format: 'JSONEachRow' });
    const storeStartUs = Number((await started.json<{ us: string }>())[0]!.us);
    // As the view wrote them before: a follow backfilled with its record's date, years back, and an account seen live since.
    const backdatedUs = storeStartUs - 3 * 365 * 86_400_000_000;
    const liveUs = storeStartUs + 60_000_000;
    await client.insert({ table: `${db}.event_log`, values: [['did:plc:sybil', backdatedUs, 'follow', 'create', '3kfollow'], ['did:plc:regular', liveUs, 'like', 'create', '3klike']], columns: ['did', 'time_us', 'type', 'op', 'rkey'], format: 'JSONCompactEachRow' });
    const notes = new NoteRepository(client, db);
    expect(await notes.storeStartUs()).toBe(backdatedUs);

    expect(await applyMigrations(client, db, { list: migrations.filter((migration) => migration.version <= 28) })).toEqual([28]);
    expect(Object.fromEntries(await notes.firstSeen(['did:plc:sybil', 'did:plc:regular']))).toEqual({ 'did:plc:sybil': storeStartUs, 'did:plc:regular': liveUs });
    expect(await notes.storeStartUs()).toBe(storeStartUs);
    // Another process that started meanwhile runs the migration again from its first statement: the same table.
    for (const statement of migrations.find((migration) => migration.version === 28)!.statements) await client.command({ query: statement.replaceAll('{db}', db) });
    expect(Object.fromEntries(await notes.firstSeen(['did:plc:sybil', 'did:plc:regular']))).toEqual({ 'did:plc:sybil': storeStartUs, 'did:plc:regular': liveUs });
  });

  it('refuses to start on a store a restore left half done, until the database set aside is put back', async () => {
    const db = fresh();
    await applyMigrations(client, db);
    await new EventRepository(client, db).write([{ v: 1, type: 'noterequest', op: 'create', did: 'did:plc:asker', rkey: '3kask', timeUs: Date.now() * 1000, createdAtMs: Date.now(), subjectUri: 'at://did:plc:a/app.bsky.feed.post/3k' }]);
    // A restore set the database aside and was stopped after it had created a few tables.
    await client.command({ query: `RENAME DATABASE ${db} TO ${db}_before_restore_1` });
    await client.command({ query: `CREATE DATABASE ${db}` });
    await expect(applyMigrations(client, db)).rejects.toThrow(InterruptedRestoreError);
    await expect(new StoreBackups(client, db).restore('nightly', { replace: true })).rejects.toThrow(/was interrupted.*--put-back/);
    expect(await new StoreBackups(client, db).putBack()).toBe(`${db}_before_restore_1`);
    expect(await applyMigrations(client, db)).toEqual([]);
    expect(await new NoteRepository(client, db).requestCount('at://did:plc:a/app.bsky.feed.post/3k')).toBe(1);
  });

  it('numbers labels above a floor a restore set: none is given out twice', async () => {
    const db = fresh();
    await applyMigrations(client, db);
    const labels = new LabelRepository(client, db);
    await labels.append([{ seq: 1, ver: 1, src: 'did:plc:us', uri: 'at://did:plc:a/app.bsky.feed.post/3k', val: 'common-ground', cts: new Date().toISOString(), sig: new Uint8Array(64) }]);
    // The store as a backup had it, when numbers up to 5 had been given out since.
    await labels.keepSequenceAbove(5);
    expect(await labels.lastSeq()).toBe(5);
    await labels.keepSequenceAbove(3);
    expect(await labels.lastSeq()).toBe(5);
  });

  it('on upgrade, finds the notes and requests stored before by their post', async () => {
    const db = fresh();
    await applyMigrations(client, db, { list: migrations.filter((migration) => migration.version < 29) });
    const post = 'at://did:plc:author/app.bsky.feed.post/3kpost';
    const at = Date.now() * 1000;
    await new EventRepository(client, db).write([
      { v: 1, type: 'note', op: 'create', did: 'did:plc:writer', rkey: '3knote', timeUs: at, createdAtMs: at / 1000, cid: 'bafynote', subjectUri: post, subjectCid: '', reason: 'other', text: 'context' },
      { v: 1, type: 'noterequest', op: 'create', did: 'did:plc:asker', rkey: '3kask', timeUs: at, createdAtMs: at / 1000, subjectUri: post },
    ]);
    // 29 and every migration after it, as a process of this version applies them.
    expect((await applyMigrations(client, db))[0]).toBe(29);
    const notes = new NoteRepository(client, db);
    expect((await notes.onPost(post, 10)).notes.map(({ note }) => note.text)).toEqual(['context']);
    expect(await notes.requestCount(post)).toBe(1);
  });

  it('on upgrade, serves the labels stored before from their current statements, and follows the labels appended after', async () => {
    const db = fresh();
    await applyMigrations(client, db, { list: migrations.filter((migration) => migration.version < 30) });
    const label = (seq: number, uri: string, val: string, neg = false) => ({ seq, ver: 1 as const, src: 'did:plc:us', uri, val, neg, cts: '2026-01-01T00:00:00.000Z', sig: new Uint8Array(64) });
    const [a, b] = ['at://did:plc:a/app.bsky.feed.post/3ka', 'at://did:plc:b/app.bsky.feed.post/3kb'];
    // Stored by the version before, which kept no current statements.
    await client.insert({
      table: `${db}.labels`,
      values: [label(1, a, 'common-ground'), label(2, b, 'common-ground'), label(3, a, 'common-ground', true)].map((l) => ({ ...l, cid: '', exp: '', neg: l.neg ? 1 : 0, sig: '' })),
      format: 'JSONEachRow',
    });
    expect(await applyMigrations(client, db, { list: migrations.filter((migration) => migration.version <= 30) })).toEqual([30]);
    const labels = new LabelRepository(client, db);
    const every = async () => (await labels.query({ exact: [], prefixes: [], all: true, sources: [], afterSeq: 0, limit: 10 })).map((found) => `${found.seq}${found.neg ? '-' : ''}`);
    expect(await every()).toEqual(['2', '3-']);
    expect([...(await labels.inForce('did:plc:us')).keys()]).toEqual([b]);
    // b negated, a labelled again.
    await labels.append([label(4, b, 'common-ground', true), label(5, a, 'common-ground')]);
    expect(await every()).toEqual(['4-', '5']);
    // A second run of the migration's statements (a process stopped before recording it) adds nothing twice.
    const thirty = migrations.filter((migration) => migration.version === 30);
    await client.command({ query: `ALTER TABLE ${db}.schema_migrations DELETE WHERE version = 30 SETTINGS mutations_sync = 2` });
    expect(await applyMigrations(client, db, { list: thirty })).toEqual([30]);
    await labels.append([]);
    expect(await every()).toEqual(['4-', '5']);
  });

  it('runs a statement longer than the application query limit to its end (a large copy would otherwise fail at every start)', async () => {
    // The client's own limit stands for the server profile's `max_execution_time` (30 s in deploy/).
    const capped = Object.create(client) as ClickHouseClient;
    capped.command = (params) => client.command({ ...params, clickhouse_settings: { max_execution_time: 1, ...params.clickhouse_settings } });
    const db = fresh();
    const slowCopy = 'INSERT INTO {db}.copy SELECT number FROM numbers(6) WHERE sleepEachRow(0.3) = 0 SETTINGS max_block_size = 1';
    const list = [{ version: 1, name: 'a slow copy', statements: ['CREATE TABLE IF NOT EXISTS {db}.copy (n UInt64) ENGINE = MergeTree ORDER BY n', slowCopy] }];
    await expect(capped.command({ query: `SELECT count() FROM numbers(4) WHERE sleepEachRow(0.4) = 0 SETTINGS max_block_size = 1` })).rejects.toThrow(/Timeout exceeded/);
    expect(await applyMigrations(capped, db, { list })).toEqual([1]);
    const result = await client.query({ query: `SELECT toUInt32(count()) AS n FROM ${db}.copy`, format: 'JSONEachRow' });
    expect(await result.json()).toEqual([{ n: 6 }]);
  });
});
