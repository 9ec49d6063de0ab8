import { type ClickHouseClient } from './clickhouse.client.js';
import { LabelRepository } from './label.repository.js';
import { applyMigrations } from './migrations.js';
import { openEmbeddedStore, type EmbeddedStore } from '#lib/testing';

describe('the followed labels a ranking run reads', () => {
  let store: EmbeddedStore;
  let database: string;
  let client: ClickHouseClient;

  beforeAll(async () => {
    store = await openEmbeddedStore('label_repository');
    ({ client, database } = store);
  });

  afterAll(() => store?.close());

  it('finds the labels on any of a large run\'s subjects, in force and from the labelers followed only', async () => {
    const labeler = 'did:plc:labeler';
    const subjects = Array.from({ length: 5_000 }, (_, i) => `at://did:plc:author${i}/app.bsky.feed.post/3k${String(i).padStart(10, '0')}`);
    const row = (uri: string, overrides: Record<string, unknown> = {}) => ({ src: labeler, uri, val: 'spam', cid: '', neg: 0, cts: '2026-01-01T00:00:00.000Z', exp: '', sig: '', version: 1, ...overrides });
    await client.insert({
      table: `${database}.external_labels`,
      values: [
        // On the first subject, and on one far down the list (another query's share of the subjects).
        row(subjects[0]!),
        row(subjects[4_321]!),
        // Negated, expired, of another labeler, of a value the feed does not act on, on no subject of the run.
        row(subjects[7]!, { neg: 1 }),
        row(subjects[8]!, { exp: '2020-01-01T00:00:00.000Z' }),
        row(subjects[9]!, { src: 'did:plc:unfollowed' }),
        row(subjects[10]!, { val: 'nudity' }),
        row('at://did:plc:elsewhere/app.bsky.feed.post/3kzzzzzzzzzz'),
      ],
      format: 'JSONEachRow',
    });
    const found = await new LabelRepository(client, database).externalInForce({ sources: [labeler], values: ['spam'], subjects, nowIso: new Date().toISOString() });
    expect(found.map((label) => label.uri).sort()).toEqual([subjects[0], subjects[4_321]].sort());
  });

  it('takes a followed labeler\'s statements in the order received: a negation overrides its label whatever the clocks of its instances say', async () => {
    const labels = new LabelRepository(client, database);
    const uri = 'at://did:plc:skewed/app.bsky.feed.post/3kskewed0001';
    const statement = { ver: 1 as const, src: 'did:plc:labeler', uri, val: 'spam', sig: new Uint8Array(64) };
    const inForce = async () => (await labels.externalInForce({ sources: [statement.src], values: ['spam'], subjects: [uri], nowIso: new Date().toISOString() })).length;
    await labels.writeExternal([{ ...statement, cts: '2026-01-01T00:00:01.000Z' }]);
    expect(await inForce()).toBe(1);
    await labels.writeExternal([{ ...statement, neg: true, cts: '2026-01-01T00:00:00.500Z' }]);
    expect(await inForce()).toBe(0);
    // Within one frame too, the later statement wins.
    await labels.writeExternal([{ ...statement, cts: '2026-01-01T00:00:03.000Z' }, { ...statement, neg: true, cts: '2026-01-01T00:00:02.000Z' }]);
    expect(await inForce()).toBe(0);
  });

  it('pages our current statements after a cursor: the newest per post and value, a negation included, whatever came before the cursor', async () => {
    const db = `${database}_ours`;
    await applyMigrations(client, db);
    const labels = new LabelRepository(client, db);
    const src = 'did:plc:us';
    const label = (seq: number, uri: string, val: string, neg = false) => ({ seq, ver: 1 as const, src, uri, val, neg, cts: '2026-01-01T00:00:00.000Z', sig: new Uint8Array(64) });
    const a = 'at://did:plc:a/app.bsky.feed.post/3ka';
    const b = 'at://did:plc:b/app.bsky.feed.post/3kb';
    // a is labelled (1) then negated (4); b labelled (2) and its second value (3); b's first value again (5).
    await labels.append([label(1, a, 'common-ground'), label(2, b, 'common-ground'), label(3, b, 'supported-by-x'), label(4, a, 'common-ground', true), label(5, b, 'common-ground')]);
    const page = async (afterSeq: number, limit = 10, exact: string[] = []) =>
      (await labels.query({ exact, prefixes: [], all: exact.length === 0, sources: [], afterSeq, limit })).map((found) => `${found.seq}${found.neg ? '-' : ''}`);
    expect(await page(0)).toEqual(['3', '4-', '5']);
    expect(await page(3)).toEqual(['4-', '5']);
    expect(await page(4)).toEqual(['5']);
    expect(await page(5)).toEqual([]);
    expect(await page(0, 2)).toEqual(['3', '4-']);
    expect(await page(1, 10, [b])).toEqual(['3', '5']);
    expect(await page(3, 10, [b])).toEqual(['5']);
  });
  it('follows the statements an append left unfollowed, and drops a superseded statement a late copy brought back', async () => {
    const db = `${database}_follow`;
    await applyMigrations(client, db);
    const labels = new LabelRepository(client, db);
    const a = 'at://did:plc:a/app.bsky.feed.post/3ka';
    const b = 'at://did:plc:b/app.bsky.feed.post/3kb';
    const row = (seq: number, uri: string, neg = 0) => ({ seq, src: 'did:plc:us', uri, cid: '', val: 'common-ground', neg, cts: '2026-01-01T00:00:00.000Z', exp: '', sig: '' });
    const page = async () => (await labels.query({ exact: [], prefixes: [], all: true, sources: [], afterSeq: 0, limit: 10 })).map((found) => `${found.seq}${found.neg ? '-' : ''}`);
    await labels.append([{ ...row(1, a), ver: 1, neg: false, sig: new Uint8Array(64) }]);
    // Stored, and the writer stopped before following them (or was of the version before).
    await client.insert({ table: `${db}.labels`, values: [row(2, a, 1), row(3, b)], format: 'JSONEachRow' });
    expect(await page()).toEqual(['1']);
    await labels.followHistory();
    expect(await page()).toEqual(['2-', '3']);
    expect([...(await labels.inForce('did:plc:us')).keys()]).toEqual([b]);
    expect((await labels.totals()).inForce).toEqual({ 'common-ground': 1 });
    // A migration's copy, read before the writer superseded a statement, lands after it.
    await client.insert({ table: `${db}.labels_current`, values: [row(1, a)], format: 'JSONEachRow' });
    expect(await page()).toEqual(['1', '2-', '3']);
    await labels.prune(new Date(0).toISOString());
    expect(await page()).toEqual(['2-', '3']);
  });
  it('keeps the current statement when two rankers follow at once (one held the shared work until a moment ago)', async () => {
    const db = `${database}_race`;
    await applyMigrations(client, db);
    const a = 'at://did:plc:a/app.bsky.feed.post/3ka';
    const label = (seq: number, neg = false) => ({ seq, ver: 1 as const, src: 'did:plc:us', uri: a, val: 'common-ground', neg, cts: '2026-01-01T00:00:00.000Z', sig: new Uint8Array(64) });
    // The ranker before stops after reading how far to follow, before it changes anything.
    let resume = () => {};
    const paused = new Promise<void>((resolve) => (resume = resolve));
    let reached = () => {};
    const stopped = new Promise<void>((resolve) => (reached = resolve));
    const slow = Object.create(client) as ClickHouseClient;
    slow.command = async (params) => {
      reached();
      await paused;
      return client.command(params);
    };
    const before = new LabelRepository(slow, db);
    const now = new LabelRepository(client, db);
    await now.append([label(1)]);
    // The ranker before negates the label; the one that holds the shared work now labels the post again.
    const appending = before.append([label(2, true)]);
    await stopped;
    await now.append([label(3)]);
    resume();
    await appending;
    const page = async () => (await now.query({ exact: [], prefixes: [], all: true, sources: [], afterSeq: 0, limit: 10 })).map((found) => `${found.seq}${found.neg ? '-' : ''}`);
    expect(await page()).toEqual(['3']);
    expect([...(await now.inForce('did:plc:us')).keys()]).toEqual([a]);
  });
});
