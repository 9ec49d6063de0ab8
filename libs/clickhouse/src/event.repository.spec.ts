import { jest } from '@jest/globals';
import { decodePipelineEvent, encodeMessage, type PipelineEventV1 } from '#lib/contracts';
import { mapJetstreamEvent, Nsid } from '#lib/domain';
import { epochBounds, epochOf } from '#lib/funding';
import { generateJetstreamEvents } from '#lib/testing';
import { createClickHouseClient, jsonRows, type ClickHouseClient } from './clickhouse.client.js';
import { CommunityRepository } from './community.repository.js';
import { encodedTables, EVENT_TABLE_COLUMNS, EventRepository, rowsOf, type EventTable } from './event.repository.js';
import { FundRepository } from './fund.repository.js';
import { applyMigrations } from './migrations.js';

describe('event rows', () => {
  it('give every column the insert names one value, in its place, so no field is dropped or shifted on the way to ClickHouse', () => {
    const { events } = generateJetstreamEvents({ seed: 11, users: 300, events: 6_000, startUs: 1_700_000_000_000_000, mix: { other: 0 } });
    const mapped = events.flatMap((raw) => {
      const result = mapJetstreamEvent(raw);
      return result.kind === 'event' ? [result.event] : ([] as PipelineEventV1[]);
    });
    // The generator writes no Bridge Fund pledges: one, and its withdrawal.
    const pledger = 'did:plc:pledger000000000000000000';
    mapped.push(
      { v: 1, type: 'pledge', op: 'create', did: pledger, timeUs: 1_700_000_000_000_001, rkey: '3kpledge', createdAtMs: 1_700_000_000_000, subjectUri: `at://${pledger}/app.bsky.feed.post/3kpost`, community: 'climate', amount: 5 },
      { v: 1, type: 'pledge', op: 'delete', did: pledger, timeUs: 1_700_000_000_000_002, rkey: '3kpledge' },
    );
    // What accounts ask of feeds: rare enough that the generator makes none.
    mapped.push({ v: 1, type: 'visibility', op: 'create', did: 'did:plc:asker', timeUs: 1_700_000_000_000_001, rkey: 'self', hideFromAlgorithms: true });
    // Context notes: a note, a rating of it, a request, and their withdrawals.
    const writer = 'did:plc:writer';
    const note = { did: writer, timeUs: 1_700_000_000_000_003, rkey: '3knote', createdAtMs: 1_700_000_000_000 };
    mapped.push(
      { v: 1, type: 'note', op: 'create', ...note, cid: 'bafynote', subjectUri: `at://${pledger}/app.bsky.feed.post/3kpost`, subjectCid: '', reason: 'factual_error', text: 'context' },
      { v: 1, type: 'rating', op: 'create', ...note, subjectUri: `at://${writer}/org.opencommunitynotes.label/3knote`, subjectCid: 'bafynote', helpfulness: 'helpful' },
      { v: 1, type: 'noterequest', op: 'create', ...note, subjectUri: `at://${pledger}/app.bsky.feed.post/3kpost` },
      { v: 1, type: 'note', op: 'delete', did: writer, timeUs: 1_700_000_000_000_004, rkey: '3knote' },
      { v: 1, type: 'rating', op: 'delete', did: writer, timeUs: 1_700_000_000_000_004, rkey: '3knote' },
      { v: 1, type: 'noterequest', op: 'delete', did: writer, timeUs: 1_700_000_000_000_004, rkey: '3knote' },
    );
    const rows = rowsOf(mapped);
    for (const table of Object.keys(rows) as EventTable[]) {
      expect(rows[table].length).toBeGreaterThan(0);
      expect(rows[table].filter((row) => row.length !== EVENT_TABLE_COLUMNS[table].length)).toEqual([]);
    }
    const named = (table: EventTable, row: unknown[]) => Object.fromEntries(EVENT_TABLE_COLUMNS[table].map((column, i) => [column, row[i]]));
    const pledge = rows.pledges.map((row) => named('pledges', row));
    expect(pledge).toEqual([
      { did: pledger, rkey: '3kpledge', subject_uri: `at://${pledger}/app.bsky.feed.post/3kpost`, community: 'climate', amount: 5, time_us: 1_700_000_000_000_001, deleted: 0, version: 1_700_000_000_000_001 },
      { did: pledger, rkey: '3kpledge', subject_uri: null, community: null, amount: null, time_us: 1_700_000_000_000_002, deleted: 1, version: 1_700_000_000_000_002 },
    ]);
    const reply = mapped.find((event) => event.type === 'post' && event.op === 'create' && event.replyParent);
    if (reply?.type !== 'post' || reply.op !== 'create') throw new Error('the generator wrote no reply');
    expect(named('posts', rows.posts.find((row) => row[0] === reply.did && row[1] === reply.rkey)!)).toMatchObject({
      did: reply.did,
      rkey: reply.rkey,
      cid: reply.cid,
      time_us: reply.timeUs,
      text: reply.text,
      langs: reply.langs,
      reply_parent: reply.replyParent,
      deleted: 0,
      version: reply.timeUs,
    });
    expect(rows.interactions.map((row) => named('interactions', row))).toContainEqual({
      actor: reply.did,
      kind: 'reply',
      rkey: reply.rkey,
      subject_uri: reply.replyParent,
      subject_did: reply.replyParent!.slice(5).split('/')[0],
      time_us: reply.timeUs,
      deleted: 0,
      version: reply.timeUs,
    });
  });
});

describe('a batch of events written in steps', () => {
  afterEach(() => jest.restoreAllMocks());

  it('is mapped 1,024 events and encoded 500 rows at a time at most, between turns of the event loop, to the bytes of one stretch', () => {
    const { events } = generateJetstreamEvents({ seed: 5, users: 500, events: 12_000, startUs: 1_700_000_000_000_000, mix: { other: 0 } });
    const mapped = events.flatMap((raw) => {
      const result = mapJetstreamEvent(raw);
      return result.kind === 'event' ? [result.event] : ([] as PipelineEventV1[]);
    });
    // Rows carry when they were stored: the same instant for both encodings.
    jest.spyOn(Date, 'now').mockReturnValue(1_763_000_000_000);
    const steps = encodedTables(mapped, new Map());
    let stretches = 1;
    let step = steps.next();
    for (; !step.done; step = steps.next()) stretches += 1;
    const whole = rowsOf(mapped);
    const written = (Object.keys(whole) as EventTable[]).filter((table) => whole[table].length > 0);
    expect(step.value.map(([table]) => table)).toEqual(written);
    for (const [table, encoded] of step.value) {
      expect(encoded.rows).toBe(whole[table].length);
      expect(Buffer.concat(encoded.parts).equals(jsonRows(whole[table]))).toBe(true);
    }
    // A stretch maps at most 1,024 events, or encodes at most 500 rows of a table.
    const least = Math.floor(mapped.length / 1_024) + written.reduce((sum, table) => sum + Math.ceil(whole[table].length / 500) - 1, 1);
    expect(stretches).toBeGreaterThanOrEqual(least);
  });
});

describe('event rows of what accounts ask of feeds', () => {
  const asker = 'did:plc:asker';
  const hidden: PipelineEventV1 = { v: 1, type: 'visibility', op: 'create', did: asker, timeUs: 1_700_000_000_000_001, rkey: 'self', hideFromAlgorithms: true };

  it('leave an account hidden when a record under another key than self is deleted, and un-hide it when its declaration is', () => {
    const junk: PipelineEventV1 = { v: 1, type: 'visibility', op: 'delete', did: asker, timeUs: 1_700_000_000_000_002, rkey: 'junk' };
    expect(rowsOf([hidden, junk]).visibility).toEqual([[asker, 1, 1_700_000_000_000_001]]);
    const withdrawn: PipelineEventV1 = { ...junk, rkey: 'self' };
    expect(rowsOf([hidden, withdrawn]).visibility).toEqual([
      [asker, 1, 1_700_000_000_000_001],
      [asker, 0, 1_700_000_000_000_002],
    ]);
  });
});

describe('event rows of a post edited', () => {
  const author = 'did:plc:author';
  const quoted = 'at://did:plc:quoted/app.bsky.feed.post/3kquoted';
  const parent = 'at://did:plc:parent/app.bsky.feed.post/3kparent';
  const post = (op: 'create' | 'update', timeUs: number, replyParent: string | null, quote: string | null): PipelineEventV1 => ({
    v: 1, type: 'post', op, did: author, rkey: '3kpost', timeUs, cid: `bafy${timeUs}`, createdAtMs: 1_700_000_000_000, text: 'hi', langs: [], tags: [],
    replyRoot: replyParent, replyParent, quote, hasMedia: false,
  });
  const interactions = (events: PipelineEventV1[]) =>
    rowsOf(events).interactions.map((row) => Object.fromEntries(EVENT_TABLE_COLUMNS.interactions.map((column, i) => [column, row[i]])));

  it('withdraw the reply and the quote an edit drops, with the edit\'s version, so that no ranker counts them on', () => {
    expect(interactions([post('create', 1, parent, quoted), post('update', 2, null, null)])).toEqual([
      { actor: author, kind: 'reply', rkey: '3kpost', subject_uri: parent, subject_did: 'did:plc:parent', time_us: 1, deleted: 0, version: 1 },
      { actor: author, kind: 'quote', rkey: '3kpost', subject_uri: quoted, subject_did: 'did:plc:quoted', time_us: 1, deleted: 0, version: 1 },
      { actor: author, kind: 'reply', rkey: '3kpost', subject_uri: null, subject_did: null, time_us: 2, deleted: 1, version: 2 },
      { actor: author, kind: 'quote', rkey: '3kpost', subject_uri: null, subject_did: null, time_us: 2, deleted: 1, version: 2 },
    ]);
  });

  it('keep what an edit still replies to or quotes, and write nothing for what a new post does not', () => {
    expect(interactions([post('update', 2, null, quoted)])).toEqual([
      { actor: author, kind: 'reply', rkey: '3kpost', subject_uri: null, subject_did: null, time_us: 2, deleted: 1, version: 2 },
      { actor: author, kind: 'quote', rkey: '3kpost', subject_uri: quoted, subject_did: 'did:plc:quoted', time_us: 2, deleted: 0, version: 2 },
    ]);
    expect(interactions([post('create', 1, null, null)])).toEqual([]);
  });
});

describe('edits of records, from Jetstream to the store', () => {
  const database = `event_edits_${process.pid}`;
  const curator = 'did:plc:curator';
  const member = 'did:plc:member';
  const listA = `at://${curator}/${Nsid.list}/3klista`;
  const listB = `at://${curator}/${Nsid.list}/3klistb`;
  const postUri = (rkey: string) => `at://${member}/${Nsid.post}/${rkey}`;
  const t0 = 1_763_000_000_000_000;
  let client: ClickHouseClient;
  let events: EventRepository;

  /** Each Jetstream event as the store receives it: mapped by ingest (a refused edit's withdrawal published too), then through the bus. */
  const store = async (...commits: { did: string; timeUs: number; operation: 'create' | 'update'; collection: string; rkey: string; record: Record<string, unknown> }[]) => {
    const mapped = commits.map(({ did, timeUs, ...commit }) => mapJetstreamEvent({ did, time_us: timeUs, kind: 'commit', commit: { rev: '3krev', cid: 'bafyrec', ...commit } }));
    const published = mapped.map((result) => (result.kind === 'event' ? result.event : result.kind === 'malformed' ? result.withdrawal : undefined));
    await events.write(published.flatMap((event) => (event ? [decodePipelineEvent(encodeMessage(event))] : [])));
  };
  const pledge = (timeUs: number, operation: 'create' | 'update', post: string, amount: number, rkey = '3kpledge') => ({
    did: member, timeUs, operation, collection: Nsid.pledge, rkey,
    record: { $type: Nsid.pledge, subject: { uri: postUri(post), cid: 'bafypost' }, community: 'climate', amount, createdAt: '2025-11-13T02:13:20.000Z' },
  });
  const item = (timeUs: number, operation: 'create' | 'update', subject: string, list: string, rkey = '3kitem') => ({
    did: curator, timeUs, operation, collection: Nsid.listitem, rkey, record: { $type: Nsid.listitem, subject, list, createdAt: '2025-11-13T02:13:20.000Z' },
  });
  const members = (lists: string[]) => new CommunityRepository(client, database).members({ dids: [], lists, starterPacks: [], hashtags: [], followersOf: [], exclude: [] }, 0);

  beforeAll(async () => {
    client = createClickHouseClient({ kind: 'embedded', path: ':memory:', database });
    await applyMigrations(client, database);
    events = new EventRepository(client, database);
  });

  afterAll(() => client.close());

  it('count a pledge at the amount and on the post its latest version names, made when its first version was', async () => {
    await store(pledge(t0, 'create', '3kpost1', 500), pledge(t0 + 1, 'update', '3kpost2', 20));
    const pledges = await new FundRepository(client, database).pledges(t0, t0 + 10);
    expect(pledges.map(({ pledger, post, amount, timeUs }) => ({ pledger, post, amount, timeUs }))).toEqual([{ pledger: member, post: postUri('3kpost2'), amount: 20, timeUs: t0 }]);
  });

  it('keep an edited pledge in the epoch it was made in: lowered in the next epoch and moved in the one after, it counts in its own as last edited and in neither of the others', async () => {
    const days = 7;
    const made = epochOf(Date.now(), days) - 3;
    const bounds = (epoch: number) => {
      const { startMs, endMs } = epochBounds(epoch, days);
      return [startMs * 1000, endMs * 1000] as const;
    };
    const [start] = bounds(made);
    const [next] = bounds(made + 1);
    const [later] = bounds(made + 2);
    await store(pledge(start + 1, 'create', '3kpost1', 80, '3kepoch'));
    await store(pledge(next + 1, 'update', '3kpost1', 30, '3kepoch'));
    await store(pledge(later + 1, 'update', '3kpost2', 10, '3kepoch'));
    const funds = new FundRepository(client, database);
    expect(await funds.pledges(...bounds(made))).toEqual([{ pledger: member, rkey: '3kepoch', community: 'climate', post: postUri('3kpost2'), amount: 10, timeUs: start + 1 }]);
    expect(await funds.pledges(...bounds(made + 1))).toEqual([]);
    expect(await funds.pledges(...bounds(made + 2))).toEqual([]);
  });

  it('withdraw a like edited to like what is not a post, a pledge edited to credits out of range, a list item edited to name what is not a list', async () => {
    // An hour ago: interactions expire after 45 days.
    const t1 = (Date.now() - 3_600_000) * 1000;
    const liked = postUri('3kliked');
    const approvals = async () => {
      const result = await client.query({
        query: `SELECT count() FROM ${database}.interactions FINAL WHERE deleted = 0 AND subject_uri = {liked:String}`,
        query_params: { liked },
        format: 'JSONCompactEachRow',
      });
      return Number((await result.json<[string]>())[0]?.[0]);
    };
    const like = (timeUs: number, operation: 'create' | 'update', subject: string) => ({
      did: member, timeUs, operation, collection: Nsid.like, rkey: '3klike', record: { $type: Nsid.like, subject: { uri: subject, cid: 'bafypost' }, createdAt: '2025-11-13T02:13:20.000Z' },
    });
    const listC = `at://${curator}/${Nsid.list}/3klistc`;
    await store(like(t1, 'create', liked), pledge(t1, 'create', '3kpost1', 50, '3kpledgec'), item(t1, 'create', member, listC, '3kitemc'));
    expect(await approvals()).toBe(1);
    expect(await new FundRepository(client, database).pledges(t1, t1 + 10)).toHaveLength(1);
    expect(await members([listC])).toEqual([member]);

    await store(
      like(t1 + 1, 'update', `at://${curator}/${Nsid.generator}/3kfeed`),
      pledge(t1 + 1, 'update', '3kpost1', 0, '3kpledgec'),
      item(t1 + 1, 'update', member, postUri('3kpost1'), '3kitemc'),
    );
    expect(await approvals()).toBe(0);
    expect(await new FundRepository(client, database).pledges(t1, t1 + 10)).toEqual([]);
    expect(await members([listC])).toEqual([]);
  });

  it('make the account a list item names now the member, of the list it names now, and no longer the one before', async () => {
    await store(item(t0, 'create', member, listA));
    expect(await members([listA])).toEqual([member]);
    await store(item(t0 + 1, 'update', 'did:plc:other', listA));
    expect(await members([listA])).toEqual(['did:plc:other']);
    await store(item(t0 + 2, 'update', 'did:plc:other', listB));
    expect(await members([listA])).toEqual([]);
    expect(await members([listB])).toEqual(['did:plc:other']);
  });
});
