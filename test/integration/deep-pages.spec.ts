import { EventRepository, type ClickHouseClient } from '#lib/clickhouse';
import type { PipelineEventV1 } from '#lib/contracts';
import { CLICKHOUSE } from '#lib/platform';
import { startTestApp, waitFor, type TestApp } from '#lib/testing';
import { RecentFeed } from '../../services/feed-generator/src/feeds/recent.feed.js';
import { SnapshotFeed } from '../../services/feed-generator/src/feeds/snapshot.feed.js';

const publisher = 'did:plc:publisher0000000000000000';
const feedUri = (name: string) => `at://${publisher}/app.bsky.feed.generator/${name}`;
const did = (community: string, i: number) => `did:plc:${community}${String(i).padStart(20, '0')}`;
const members = (community: string) => Array.from({ length: 10 }, (_, i) => did(community, i));
/** Posts a recent feed's window holds (the bound is per feed). */
const WINDOW = 2_000;
const SNAPSHOT_RANKS = 12_000;

function post(author: string, index: number, timeUs: number): PipelineEventV1 {
  return {
    v: 1, type: 'post', op: 'create', did: author, rkey: `3kdeep${String(index).padStart(7, '0')}`, cid: `bafyreideep${String(index * 7919 % 100_003).padStart(8, '0')}`,
    timeUs, createdAtMs: timeUs / 1000, text: `post ${index}`, langs: ['en'], tags: [], replyRoot: null, replyParent: null, quote: null, hasMedia: false,
  };
}

/** `count` posts by the community's members in the last hour, two at each instant (the CID orders them). */
function postsOf(community: string, count: number, first: number, newestUs: number): PipelineEventV1[] {
  return Array.from({ length: count }, (_, i) => post(did(community, i % 10), first + i, newestUs - Math.floor(i / 2) * 1_000));
}

/** Newest first, ties by CID descending: the recent feed's order. */
const recentOrder = (events: PipelineEventV1[]) =>
  events
    .filter((event): event is Extract<PipelineEventV1, { type: 'post' }> => event.type === 'post')
    .toSorted((a, b) => b.timeUs - a.timeUs || (a.cid < b.cid ? 1 : a.cid > b.cid ? -1 : 0))
    .map((event) => `at://${event.did}/app.bsky.feed.post/${event.rkey}`);

describe('deep pages: every page of a large feed, served from memory, each post once and in order', () => {
  let running: TestApp;
  const newestUs = Date.now() * 1000 - 60_000_000;
  const held = postsOf('held', 1_500, 0, newestUs);
  const beyond = postsOf('beyond', 3_000, 10_000, newestUs);
  const gone = postsOf('gone', 300, 20_000, newestUs);
  const snapshot = Date.now();
  const ranks = Array.from({ length: SNAPSHOT_RANKS }, (_, i) => `at://did:plc:author${String(i % 97).padStart(16, '0')}/app.bsky.feed.post/3k${String(i).padStart(11, '0')}`);

  async function page(feed: string, limit: number, cursor?: string): Promise<{ feed: { post: string }[]; cursor?: string }> {
    const response = await fetch(
      `${running.url}/xrpc/app.bsky.feed.getFeedSkeleton?feed=${encodeURIComponent(feedUri(feed))}&limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
    );
    expect(response.status).toBe(200);
    return (await response.json()) as { feed: { post: string }[]; cursor?: string };
  }

  /** Every post of the feed, paged from the top to its end. */
  async function pageToEnd(feed: string, limit: number): Promise<string[]> {
    const posts: string[] = [];
    let cursor: string | undefined;
    for (;;) {
      const data = await page(feed, limit, cursor);
      posts.push(...data.feed.map((item) => item.post));
      if (!data.cursor || data.feed.length === 0) return posts;
      cursor = data.cursor;
    }
  }

  beforeAll(async () => {
    running = await startTestApp({
      name: 'deep_pages',
      feeds: [
        'communities:',
        `  held: { members: { dids: [${members('held').join(', ')}] } }`,
        `  beyond: { members: { dids: [${members('beyond').join(', ')}] } }`,
        `  gone: { members: { dids: [${members('gone').join(', ')}] } }`,
        'feeds:',
        '  held-new: { displayName: Held, communities: [held], ranking: recent }',
        '  beyond-new: { displayName: Beyond, communities: [beyond], ranking: recent }',
        '  gone-new: { displayName: Gone, communities: [gone], ranking: recent }',
        '  ranked: { displayName: Ranked, communities: [held, beyond], ranking: bridging }',
      ].join('\n'),
      // The snapshot here is the test's own; no process computes any.
      overrides: { FEEDGEN_PUBLISHER_DID: publisher, SCORING_SNAPSHOTS: 'false', RECENT_WINDOW_POSTS: String(WINDOW) },
      configure: (config) => ({ ...config, role: 'feed-generator' }),
    });
    await running.app.get(EventRepository).write([...held, ...beyond, ...gone]);
    const client = running.app.get<ClickHouseClient>(CLICKHOUSE);
    const { database } = running.config.clickhouse;
    await client.command({
      query: `INSERT INTO ${database}.feed_scores (feed, snapshot, rank, uri, cid, score, feed_context, components)
        SELECT {feed:String}, {snapshot:UInt64}, toUInt32(number + 1),
          concat('at://did:plc:author', leftPad(toString(number % 97), 16, '0'), '/app.bsky.feed.post/3k', leftPad(toString(number), 11, '0')),
          concat('bafyrank', toString(number)), 1 / (number + 1),
          multiIf(number = 5, repeat('界', 700), number % 3 = 0, 'bridging in held and beyond', ''), '{"factor": 0.1}'
        FROM numbers({ranks:UInt64})`,
      query_params: { feed: feedUri('ranked'), snapshot, ranks: SNAPSHOT_RANKS },
    });
    await client.insert({ table: `${database}.feed_snapshots`, values: [{ feed: feedUri('ranked'), snapshot, posts: SNAPSHOT_RANKS }], format: 'JSONEachRow' });
  });

  afterAll(async () => {
    await running?.close();
  });

  it('pages a recent feed its window holds whole to the end', async () => {
    await page('held-new', 1);
    await waitFor('the window read whole', () => running.app.get(RecentFeed).heldPosts.posts >= held.length);
    const posts = await pageToEnd('held-new', 100);
    expect(posts).toEqual(recentOrder(held));
  });

  it('pages a recent feed larger than its window to the end: the window first, then ClickHouse below it', async () => {
    await page('beyond-new', 1);
    await waitFor('the window read up to its bound', () => running.app.get(RecentFeed).heldPosts.posts >= held.length + WINDOW);
    const posts = await pageToEnd('beyond-new', 75);
    expect(posts).toEqual(recentOrder(beyond));
  });

  it('takes new posts in at the top of the window, and a cursor from before still continues where it was', async () => {
    const first = await page('held-new', 50);
    const fresh = postsOf('held', 3, 5_000, Date.now() * 1000);
    await running.app.get(EventRepository).write(fresh);
    await waitFor('the new posts at the top', async () => {
      const top = await page('held-new', 3);
      return top.feed.map((item) => item.post).join() === recentOrder(fresh).join();
    });
    const next = await page('held-new', 50, first.cursor);
    expect(next.feed.map((item) => item.post)).toEqual(recentOrder(held).slice(50, 100));
    expect(await pageToEnd('held-new', 100)).toEqual(recentOrder([...held, ...fresh]));
  });

  it('passes each item\'s context through, and leaves out one longer than the lexicon\'s 2000 bytes rather than cut it', async () => {
    const response = await fetch(`${running.url}/xrpc/app.bsky.feed.getFeedSkeleton?feed=${encodeURIComponent(feedUri('ranked'))}&limit=7`);
    const { feed } = (await response.json()) as { feed: { post: string; feedContext?: string }[] };
    // Rank 6's context is 700 characters of three bytes each.
    expect(feed.map((item) => item.feedContext)).toEqual(['bridging in held and beyond', undefined, undefined, 'bridging in held and beyond', undefined, undefined, 'bridging in held and beyond']);
  });

  it('pages a snapshot to its end, before and after it is held in memory', async () => {
    expect(await pageToEnd('ranked', 100)).toEqual(ranks);
    await waitFor('the snapshot held in memory', () => running.app.get(SnapshotFeed).heldRanks.ranks === SNAPSHOT_RANKS);
    expect(await pageToEnd('ranked', 100)).toEqual(ranks);
  });

  it('pages on past a run of deleted posts longer than a page, in a recent feed and a ranked one', async () => {
    // Posts 61 to 180 of the recent feed and ranks 201 to 450 of the snapshot are deleted: pages of 50 hold nothing else there.
    const recent = recentOrder(gone);
    const deleted = [...recent.slice(60, 180), ...ranks.slice(200, 450)];
    const nowUs = Date.now() * 1000;
    await running.app.get(EventRepository).write(
      deleted.map((uri, i): PipelineEventV1 => {
        const [, author, , rkey] = /^at:\/\/([^/]+)\/([^/]+)\/(.+)$/.exec(uri)!;
        return { v: 1, type: 'post', op: 'delete', did: author!, rkey: rkey!, timeUs: nowUs + i };
      }),
    );
    const removed = new Set(deleted);
    const keptRecent = recent.filter((uri) => !removed.has(uri));
    const keptRanks = ranks.filter((uri) => !removed.has(uri));
    let last: { recent: number; ranked: number } | undefined;
    await waitFor('every post but the deleted ones, to the end of each feed', async () => {
      const [pagedRecent, pagedRanks] = [await pageToEnd('gone-new', 50), await pageToEnd('ranked', 50)];
      last = { recent: pagedRecent.length, ranked: pagedRanks.length };
      return pagedRecent.join() === keptRecent.join() && pagedRanks.join() === keptRanks.join();
    }, { context: () => `last paged: ${JSON.stringify(last)} of ${keptRecent.length} and ${keptRanks.length}` });
  });

  it("serves an account's posts by its newest status, whatever order its statuses arrive in", async () => {
    const author = did('gone', 3);
    const byAuthor = (posts: string[]) => posts.filter((uri) => uri.startsWith(`at://${author}/`));
    const served = async () => byAuthor(await pageToEnd('gone-new', 100)).length;
    const before = await served();
    expect(before).toBeGreaterThan(0);
    const nowUs = Date.now() * 1000;
    // Taken down and back within one write: both statuses arrive at the same moment.
    await running.app.get(EventRepository).write([
      { v: 1, type: 'account', did: author, timeUs: nowUs, active: false, status: 'takendown' },
      { v: 1, type: 'account', did: author, timeUs: nowUs + 1, active: true, status: null },
    ]);
    // Then a takedown older than that, arriving late.
    await running.app.get(EventRepository).write([{ v: 1, type: 'account', did: author, timeUs: nowUs - 1_000_000, active: false, status: 'takendown' }]);
    // A later takedown, for the check that the statuses were read at all.
    const probe = did('gone', 4);
    await running.app.get(EventRepository).write([{ v: 1, type: 'account', did: probe, timeUs: nowUs + 2, active: false, status: 'takendown' }]);
    await waitFor('the removals read', async () => (await pageToEnd('gone-new', 100)).every((uri) => !uri.startsWith(`at://${probe}/`)));
    for (let i = 0; i < 5; i += 1) expect(await served()).toBe(before);
  });
});
