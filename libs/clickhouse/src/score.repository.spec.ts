import type { PipelineEventV1 } from '#lib/contracts';
import { type ClickHouseClient } from './clickhouse.client.js';
import { CommunityRepository } from './community.repository.js';
import { EventRepository } from './event.repository.js';
import { ScoreRepository } from './score.repository.js';
import { openEmbeddedStore, type EmbeddedStore } from '#lib/testing';

const HOUR_US = 3_600_000_000;
/** Posts of the history outside any window: far more than a feed's reads may touch. */
const OLD_POSTS = 200_000;
/** What a read may touch: a few granules (8,192 rows each) of the tables it reads, never the history. */
const MAX_ROWS_READ = 40_000;

const members = ['did:plc:member0', 'did:plc:member1', 'did:plc:member2'];
const outsider = 'did:plc:outsider';
const uri = (did: string, rkey: string) => `at://${did}/app.bsky.feed.post/${rkey}`;

const post = (did: string, rkey: string, timeUs: number, tags: string[] = []): PipelineEventV1 =>
  ({ v: 1, type: 'post', op: 'create', did, rkey, cid: `bafy${rkey}`, timeUs, createdAtMs: timeUs / 1000, text: '', langs: [], tags, replyRoot: null, replyParent: null, quote: null, hasMedia: false });
const like = (did: string, rkey: string, subject: string, timeUs: number): PipelineEventV1 =>
  ({ v: 1, type: 'like', op: 'create', did, rkey, cid: `bafy${rkey}`, timeUs, createdAtMs: timeUs / 1000, subjectUri: subject, subjectCid: 'bafysubject' });

/**
 * Runs `read` on a client that notes every query it is given, then asks ClickHouse again how many
 * rows each of those queries reads (the JSON format's statistics count every table a query reads,
 * its subqueries and the parts of a union too).
 */
async function rowsRead<T>(client: ClickHouseClient, read: (client: ClickHouseClient) => Promise<T>): Promise<{ result: T; rows: number[] }> {
  const queries: Parameters<ClickHouseClient['query']>[0][] = [];
  const recording = Object.create(client) as ClickHouseClient;
  recording.query = (params) => {
    queries.push(params);
    return client.query(params);
  };
  const result = await read(recording);
  const rows: number[] = [];
  for (const { query, query_params, clickhouse_settings } of queries) {
    const answer = await client.query({ query, ...(query_params && { query_params }), ...(clickhouse_settings && { clickhouse_settings }), format: 'JSON' });
    rows.push((await answer.json<unknown>()).statistics!.rows_read);
  }
  return { result, rows };
}

describe("a feed's window read from a long history of posts", () => {
  let store: EmbeddedStore;
  let database: string;
  let client: ClickHouseClient;
  const nowUs = Date.now() * 1000;
  const sinceUs = nowUs - 72 * HOUR_US;

  beforeAll(async () => {
    store = await openEmbeddedStore('score_window');
    ({ client, database } = store);
    // Months of the network's posts by accounts that are no members, with the hashtag too.
    const oldUs = nowUs - 90 * 24 * HOUR_US;
    await client.command({
      query: `INSERT INTO ${database}.posts (did, rkey, cid, time_us, tags, deleted, version)
        SELECT concat('did:plc:old', toString(number % 20000)), toString(number), 'bafyold', ${oldUs} + number, ['birds'], 0, ${oldUs} + number
        FROM numbers(${OLD_POSTS})`,
    });
    const t = sinceUs + HOUR_US;
    await new EventRepository(client, database).write([
      post(members[0]!, 'own', t, ['birds']),
      post(members[1]!, 'before', sinceUs - HOUR_US),
      post(outsider, 'approved', t + 1, ['birds']),
      post(outsider, 'ignored', t + 2),
      like(members[2]!, 'l1', uri(outsider, 'approved'), t + 10),
      like(members[2]!, 'l2', uri('did:plc:old7', '7'), t + 11),
      like(members[1]!, 'l3', uri(members[0]!, 'own'), t + 12),
    ]);
  });
  afterAll(() => store?.close());

  it("reads the members' posts and those they approved, by key, without reading the history", async () => {
    const window = { authors: members, sinceUs, includeReplies: false };
    const candidates = await rowsRead(client, (c) => new ScoreRepository(c, database).candidates(window));
    expect(candidates.result.map((c) => c.uri)).toEqual([uri(members[0]!, 'own'), uri(outsider, 'approved')]);
    const signals = await rowsRead(client, (c) => new ScoreRepository(c, database).signals({ ...window, actors: members }));
    expect(signals.result.map((s) => [s.actor, s.uri, s.kind])).toEqual([
      [members[2], uri(outsider, 'approved'), 'like'],
      [members[1], uri(members[0]!, 'own'), 'like'],
    ]);
    for (const rows of [...candidates.rows, ...signals.rows]) expect(rows).toBeLessThan(MAX_ROWS_READ);
  });

  it("reads a hashtag's members from the posts in its window, without reading the history", async () => {
    const none = { dids: [], lists: [], starterPacks: [], followersOf: [], exclude: [] };
    const hashtag = await rowsRead(client, (c) => new CommunityRepository(c, database).members({ ...none, hashtags: ['birds'] }, sinceUs));
    expect(hashtag.result).toEqual([members[0], outsider]);
    for (const rows of hashtag.rows) expect(rows).toBeLessThan(MAX_ROWS_READ);
  });
});
