/**
 * Communities far larger than a URL: 40 000 named members, resolved and used by the ranking's and
 * the recent feed's queries against ClickHouse's HTTP interface (the chDB front in libs/testing,
 * which refuses URLs over 1 MiB as a server does).
 */
import type { PipelineEventV1 } from '#lib/contracts';
import {
  applyMigrations,
  CommunityRepository,
  CommunityTooLargeError,
  createClickHouseClient,
  DidSetStore,
  EventRepository,
  PostRepository,
  ScoreRepository,
  type ClickHouseClient,
} from '#lib/clickhouse';
import { startChdbHttpServer, type ChdbHttpServer } from '#lib/testing';

const MEMBERS = 40_000;
const member = (n: number) => `did:plc:member${String(n).padStart(17, '0')}`;
const outsider = 'did:plc:outsider00000000000000';
// A day ago, in whole seconds: the network's events expire from the store after 45 days.
const t0 = Math.floor(Date.now() / 1000 - 86_400) * 1_000_000;
const uri = (did: string, rkey: string) => `at://${did}/app.bsky.feed.post/${rkey}`;

const post = (did: string, rkey: string, timeUs: number): PipelineEventV1 =>
  ({
    v: 1, type: 'post', op: 'create', did, rkey, cid: `bafy${rkey}`, timeUs, createdAtMs: timeUs / 1000,
    text: 'hello', langs: ['en'], tags: [], replyRoot: null, replyParent: null, quote: null, hasMedia: false,
  });

describe('communities of 40 000 members over the HTTP interface', () => {
  let server: ChdbHttpServer;
  let client: ClickHouseClient;
  const database = `test_large_${process.pid}`;
  const members = Array.from({ length: MEMBERS }, (_, n) => member(n));
  // Every 500th member posts; the outsider posts twice, and members like one of those.
  const authors = members.filter((_, n) => n % 500 === 0);

  beforeAll(async () => {
    server = await startChdbHttpServer({ path: ':memory:' });
    client = createClickHouseClient({ kind: 'server', url: server.url, username: 'default', password: '', database });
    await applyMigrations(client, database);
    await new EventRepository(client, database).write([
      ...authors.map((did, i) => post(did, `3kpost${String(i).padStart(7, '0')}`, t0 + i)),
      post(outsider, '3kout00000001', t0 + 500),
      post(outsider, '3kout00000002', t0 + 501),
      ...members.slice(0, 3).map((did, i): PipelineEventV1 => ({
        v: 1, type: 'like', op: 'create', did, rkey: `3klike000000${i}`, cid: 'bafylike', timeUs: t0 + 600 + i, createdAtMs: 0,
        subjectUri: uri(outsider, '3kout00000001'), subjectCid: 'bafy3kout00000001',
      })),
    ]);
  }, 60_000);

  afterAll(async () => {
    await client?.command({ query: `DROP DATABASE IF EXISTS ${database}` });
    await client?.close();
    await server?.close();
  });

  it('is more than a server takes as URL parameters', async () => {
    const asParameter = (list: string[]) =>
      client.query({ query: 'SELECT length({members:Array(String)}) AS n', query_params: { members: list }, format: 'JSONEachRow' }).then((result) => result.json<{ n: number }>());
    // The same query answers with a few members, and the server refuses the whole list.
    expect(await asParameter(members.slice(0, 3))).toEqual([{ n: 3 }]);
    await expect(asParameter(members)).rejects.toThrow();
  });

  it('resolves the named members minus exclusions', async () => {
    const resolved = await new CommunityRepository(client, database).members(
      { dids: members, lists: [], starterPacks: [], hashtags: [], followersOf: [], exclude: [member(1)] },
      0,
    );
    expect(resolved).toHaveLength(MEMBERS - 1);
    expect(resolved).not.toContain(member(1));
    expect(resolved).toContain(member(MEMBERS - 1));
  });

  it('refuses a community over the deployment’s members bound, naming the bound, and resolves it at the bound', async () => {
    const sources = { dids: members, lists: [], starterPacks: [], hashtags: [], followersOf: [], exclude: [] };
    const over = new CommunityRepository(client, database, MEMBERS - 1).members(sources, 0);
    await expect(over).rejects.toBeInstanceOf(CommunityTooLargeError);
    await expect(over).rejects.toThrow(/more than 39,999 accounts \(COMMUNITY_MAX_MEMBERS\)/);
    expect(await new CommunityRepository(client, database, MEMBERS).members(sources, 0)).toHaveLength(MEMBERS);
  });

  it('ranks from the members’ posts and the posts they approved, with their signals', async () => {
    const scores = new ScoreRepository(client, database);
    const window = { authors: members, sinceUs: 0, includeReplies: true };
    const candidates = await scores.candidates(window);
    expect(candidates.map((c) => c.uri).sort()).toEqual(
      [...authors.map((did, i) => uri(did, `3kpost${String(i).padStart(7, '0')}`)), uri(outsider, '3kout00000001')].sort(),
    );
    const signals = await scores.signals({ ...window, actors: members });
    expect(signals.map((s) => `${s.actor} ${s.kind}`).sort()).toEqual(members.slice(0, 3).map((did) => `${did} like`));
  });

  it('pages the recent feed of the whole community', async () => {
    const page = await new PostRepository(client, database).recentByAuthors({ authors: members, limit: 100, includeReplies: true });
    expect(page).toHaveLength(authors.length);
    expect(page[0]!.uri).toBe(uri(authors.at(-1)!, `3kpost${String(authors.length - 1).padStart(7, '0')}`));
  });

  it('keeps a short list a parameter: small communities write no set', async () => {
    const before = await client.query({ query: `SELECT count() AS n FROM ${database}.did_sets`, format: 'JSONEachRow' });
    const page = await new PostRepository(client, database).recentByAuthors({ authors: authors.slice(0, 50), limit: 10, includeReplies: true });
    expect(page).toHaveLength(10);
    const after = await client.query({ query: `SELECT count() AS n FROM ${database}.did_sets`, format: 'JSONEachRow' });
    expect(await after.json()).toEqual(await before.json());
  });

  it('stores a list once per content, and again after a failed write', async () => {
    const store = DidSetStore.of(client, database);
    const a = await store.ensure(['did:plc:a', 'did:plc:b']);
    expect(await store.ensure(['did:plc:a', 'did:plc:b'])).toBe(a);
    expect(await store.ensure(['did:plc:b', 'did:plc:a'])).not.toBe(a);
    const rows = async (id: string) => {
      const result = await client.query({ query: `SELECT count() AS n FROM ${database}.did_sets FINAL WHERE set_id = {id:String}`, query_params: { id }, format: 'JSONEachRow' });
      return Number((await result.json<{ n: string }>())[0]!.n);
    };
    expect(await rows(a)).toBe(2);

    await server.stop();
    await expect(store.ensure(['did:plc:c'])).rejects.toThrow();
    await server.start();
    const c = await store.ensure(['did:plc:c']);
    expect(await rows(c)).toBe(1);
  });
});
