import type { PipelineEventV1 } from '#lib/contracts';
import { openEmbeddedStore, type EmbeddedStore } from '#lib/testing';
import type { ClickHouseClient } from './clickhouse.client.js';
import { EventRepository } from './event.repository.js';
import { NoteRepository } from './note.repository.js';
import { PostRepository } from './post.repository.js';
import { VALUES_PER_QUERY } from './query-shares.js';

// A ClickHouse server takes a query's parameters in its URL, capped at 1 MiB, and a query past the
// cap fails however often it is tried: a notes run with tens of thousands of raters, a batch of
// pledge edits from as many accounts, would fail at every try. chDB has no such cap, so the client
// here refuses what a server would, as a server's default `http_max_uri_size` does.

const MAX_URI_BYTES = 1024 * 1024;
const COUNT = 5_000;
const did = (i: number) => `did:plc:${String(i).padStart(24, 'a')}`;

describe('lists of keys that grow with the network, asked about a share at a time', () => {
  let store: EmbeddedStore;
  let client: ClickHouseClient;
  let database: string;
  /** The largest list one query was given. */
  let largest = 0;

  beforeAll(async () => {
    store = await openEmbeddedStore('query_shares');
    database = store.database;
    const capped = Object.create(store.client) as ClickHouseClient;
    capped.query = ((params: Parameters<ClickHouseClient['query']>[0]) => {
      const values = Object.values(params.query_params ?? {});
      largest = Math.max(largest, ...values.map((value) => (Array.isArray(value) ? value.length : 1)));
      const bytes = encodeURIComponent(JSON.stringify(params.query_params ?? {})).length;
      if (bytes > MAX_URI_BYTES) return Promise.reject(new Error(`Code: 1001. the query's URL is ${bytes} bytes, over the server's cap`));
      return store.client.query(params);
    });
    client = capped;
  });

  afterAll(() => store?.close());

  beforeEach(() => {
    largest = 0;
  });

  it('finds when each of a run\'s raters was first seen and created', async () => {
    const nowUs = Date.now() * 1000;
    const dids = Array.from({ length: COUNT * 5 }, (_, i) => did(i));
    await store.client.insert({ table: `${database}.first_seen`, values: dids.map((d, i) => [d, nowUs - i]), format: 'JSONCompactEachRow' });
    const notes = new NoteRepository(client, database);
    await notes.recordCreatedAt(dids.map((d, i) => ({ did: d, createdUs: nowUs - 2 * i })));
    const seen = await notes.firstSeen(dids);
    const created = await notes.createdAt(dids);
    expect(seen.size).toBe(dids.length);
    expect(created.get(did(COUNT * 5 - 1))).toBe(nowUs - 2 * (COUNT * 5 - 1));
    expect(largest).toBeLessThanOrEqual(VALUES_PER_QUERY);
  });

  it('finds the notes and live versions of many posts, in the order of a single read', async () => {
    const posts = Array.from({ length: COUNT }, (_, i) => `at://${did(i)}/app.bsky.feed.post/3kpost${String(i).padStart(7, '0')}`);
    const at = Date.now() * 1000;
    const events: PipelineEventV1[] = posts.flatMap((uri, i): PipelineEventV1[] => [
      { v: 1, type: 'post', op: 'create', did: did(i), rkey: uri.slice(uri.lastIndexOf('/') + 1), cid: `bafypost${i}`, timeUs: at, createdAtMs: at / 1000, text: 'a post', langs: [], tags: [], replyParent: null, replyRoot: null, quote: null, hasMedia: false },
      { v: 1, type: 'note', op: 'create', did: did(COUNT - i), rkey: `3knote${String(i).padStart(7, '0')}`, cid: `bafynote${i}`, timeUs: at + (i % 7), createdAtMs: at / 1000, subjectUri: uri, subjectCid: '', reason: 'other', text: 'context' },
    ]);
    await new EventRepository(client, database).write(events);
    const notes = await new NoteRepository(client, database).notes(posts);
    expect(notes).toHaveLength(COUNT);
    // Oldest first, then by author and record: as one query of every post orders them.
    const all = await new NoteRepository(store.client, database).notes();
    expect(notes.map((note) => note.uri)).toEqual(all.filter((note) => posts.includes(note.post)).map((note) => note.uri));
    expect([...(await new PostRepository(client, database).states(posts)).values()].filter((cid) => cid !== null)).toHaveLength(COUNT);
    expect(largest).toBeLessThanOrEqual(VALUES_PER_QUERY);
  });

  it('writes a batch of edits to pledges of as many accounts, each in the epoch it was made in', async () => {
    const madeUs = (Date.now() - 10 * 86_400_000) * 1000;
    const pledge = (i: number, op: 'create' | 'update', timeUs: number, amount: number): PipelineEventV1 => ({
      v: 1,
      type: 'pledge',
      op,
      did: did(i),
      rkey: `3kpledge${String(i).padStart(6, '0')}`,
      timeUs,
      createdAtMs: timeUs / 1000,
      subjectUri: `at://${did(0)}/app.bsky.feed.post/3kpost0000000`,
      community: 'gardeners',
      amount,
    });
    const events = new EventRepository(client, database);
    await events.write(Array.from({ length: COUNT }, (_, i) => pledge(i, 'create', madeUs, 10)));
    await events.write(Array.from({ length: COUNT }, (_, i) => pledge(i, 'update', madeUs + 86_400_000_000, 5)));
    const result = await store.client.query({ query: `SELECT toString(count()) AS n, min(time_us) = max(time_us) AS one, toString(any(time_us)) AS t, max(amount) AS a FROM ${database}.pledges FINAL WHERE deleted = 0`, format: 'JSONEachRow' });
    expect(await result.json()).toEqual([{ n: String(COUNT), one: 1, t: String(madeUs), a: 5 }]);
    expect(largest).toBeLessThanOrEqual(VALUES_PER_QUERY);
  });
});
