import { describe, expect, it } from '@jest/globals';
import type { RemovalRepository, ScoreRepository, SnapshotInfo, SnapshotItem, SnapshotPart } from '#lib/clickhouse';
import type { AppConfig } from '#lib/config';
import { capturedLogger, waitFor } from '#lib/testing';
import type { FeedDefinition } from '#lib/curation';
import type { FeedRegistry } from './feed.registry.js';
import { RemovedContent } from './removed-content.js';
import { SnapshotFeed } from './snapshot.feed.js';

const FEED = 'at://did:plc:publisher/app.bsky.feed.generator/bridging';
const definition = { shortname: 'bridging' } as FeedDefinition;
const registry = { uriOf: () => FEED } as unknown as FeedRegistry;

/** Snapshots in memory, answering like ScoreRepository (`rank > afterRank ORDER BY rank LIMIT limit`), counting reads. */
class MemoryScores {
  readonly reads = { latest: 0, page: 0, exists: 0, parts: 0 };
  constructor(readonly snapshots: Map<number, SnapshotItem[]>) {}

  async latestSnapshot(): Promise<SnapshotInfo | undefined> {
    this.reads.latest += 1;
    await new Promise((resolve) => setImmediate(resolve));
    const snapshot = Math.max(...this.snapshots.keys());
    return { snapshot, posts: this.snapshots.get(snapshot)!.length, completedAt: '' };
  }

  async snapshotExists(_feed: string, snapshot: number): Promise<boolean> {
    this.reads.exists += 1;
    return this.snapshots.has(snapshot);
  }

  async page(_feed: string, snapshot: number, afterRank: number, limit: number): Promise<SnapshotItem[]> {
    this.reads.page += 1;
    return reference(this.snapshots.get(snapshot) ?? [], afterRank, limit);
  }

  async ranksAsParts(_feed: string, snapshot: number, afterRank: number, limit: number): Promise<SnapshotPart[]> {
    this.reads.parts += 1;
    return reference(this.snapshots.get(snapshot) ?? [], afterRank, limit).map((item) => {
      const cut = item.uri.lastIndexOf('/');
      return [item.rank, item.uri.slice(0, cut), item.uri.slice(cut + 1), item.cid, item.feedContext, item.side === 'positive' ? 1 : 0];
    });
  }
}

const reference = (items: SnapshotItem[], afterRank: number, limit: number) => items.filter((item) => item.rank > afterRank).slice(0, limit);
const itemsWithRanks = (ranks: number[]) =>
  ranks.map((rank) => ({
    rank,
    uri: `at://did:plc:a${rank % 3}/app.bsky.feed.post/${rank}`,
    cid: `bafy${rank}`,
    feedContext: rank % 2 === 0 ? 'bridging in north and south' : '',
    side: rank % 5 === 0 ? ('negative' as const) : ('positive' as const),
  }));

/** A snapshot feed over `snapshots`; `heldRanks` 0 serves every page below the top from reads, as without memory. */
function feedOver(snapshots: Map<number, SnapshotItem[]>, heldRanks = 0) {
  const scores = new MemoryScores(snapshots);
  const { logger } = capturedLogger();
  // Nothing removed: these tests are about paging.
  const config = { feedGenerator: { memory: { snapshotRanks: heldRanks } } } as AppConfig;
  const removed = new RemovedContent({ since: () => Promise.resolve([]) } as unknown as RemovalRepository, logger, config);
  return { scores, feed: new SnapshotFeed(registry, scores as unknown as ScoreRepository, removed, config, logger) };
}

const fullPageAfter = async (feed: SnapshotFeed, snapshot: number, afterRank: number, limit: number) =>
  (await feed.skeleton({ feed: definition, limit, cursor: { ordering: `s${snapshot}`, sortKey: afterRank, cid: 'bafyx' } })).items;
const referenceItems = (items: SnapshotItem[], afterRank: number, limit: number) =>
  reference(items, afterRank, limit).map((item) => ({ post: item.uri, cid: item.cid, sortKey: item.rank, side: item.side, ...(item.feedContext && { feedContext: item.feedContext }) }));

const pageAfter = async (feed: SnapshotFeed, snapshot: number, afterRank: number, limit: number) =>
  (await feed.skeleton({ feed: definition, limit, cursor: { ordering: `s${snapshot}`, sortKey: afterRank, cid: 'bafyx' } })).items.map((item) => item.sortKey);

describe('SnapshotFeed', () => {
  it('serves any page of a large snapshot exactly as a direct read would, across chunk boundaries and at the end', async () => {
    const items = itemsWithRanks(Array.from({ length: 5_000 }, (_, i) => i + 1));
    const { feed } = feedOver(new Map([[7, items]]));
    for (const [after, limit] of [[0, 50], [1_990, 50], [2_000, 50], [2_990, 50], [2_999, 100], [3_000, 1], [4_980, 50], [5_000, 50], [9_999, 50]] as const) {
      expect(await pageAfter(feed, 7, after, limit)).toEqual(reference(items, after, limit).map((item) => item.rank));
    }
  });

  it('gets ranks with gaps right (each chunk is "the next 1 000 after a rank", not a rank range)', async () => {
    const items = itemsWithRanks(Array.from({ length: 3_000 }, (_, i) => (i + 1) * 7));
    const { feed } = feedOver(new Map([[3, items]]));
    for (const after of [0, 2_100, 6_999, 7_000, 7_001, 13_993, 20_950, 20_993, 21_000]) {
      expect(await pageAfter(feed, 3, after, 50)).toEqual(reference(items, after, 50).map((item) => item.rank));
    }
  });

  it('reads a reader scrolling down once per 1 000 ranks, not once per page', async () => {
    const { feed, scores } = feedOver(new Map([[1, itemsWithRanks(Array.from({ length: 100_000 }, (_, i) => i + 1))]]));
    await pageAfter(feed, 1, 0, 50);
    const before = scores.reads.page;
    for (let after = 50_000; after < 52_000; after += 50) await pageAfter(feed, 1, after, 50);
    expect(scores.reads.page - before).toBe(2);
  });

  it('serves a cursor of an older snapshot from that snapshot, and ends the feed when it is gone', async () => {
    const older = itemsWithRanks(Array.from({ length: 3_000 }, (_, i) => i + 1));
    const { feed } = feedOver(new Map([[1, older], [2, itemsWithRanks([1, 2, 3])]]));
    expect(await pageAfter(feed, 1, 2_500, 10)).toEqual(reference(older, 2_500, 10).map((item) => item.rank));
    expect(await pageAfter(feed, 9, 10, 10)).toEqual([]);
  });

  it('holds a snapshot in memory once a deep page is asked for, then serves every page, to the end, without a read', async () => {
    const items = itemsWithRanks(Array.from({ length: 45_000 }, (_, i) => (i + 1) * 2));
    const { feed, scores } = feedOver(new Map([[4, items]]), 1_000_000);
    expect(await fullPageAfter(feed, 4, 30_000, 50)).toEqual(referenceItems(items, 30_000, 50));
    await waitFor('the snapshot held in memory', () => feed.heldRanks.ranks === items.length);
    const reads = { ...scores.reads };
    for (const [after, limit] of [[4_001, 50], [4_002, 50], [60_000, 100], [89_950, 50], [89_999, 50], [90_000, 50], [123_456, 1]] as const) {
      expect(await fullPageAfter(feed, 4, after, limit)).toEqual(referenceItems(items, after, limit));
    }
    // Every rank once and in order, paging to the end.
    const ranks: number[] = [];
    for (let after = 0; ; ) {
      const page = await fullPageAfter(feed, 4, after, 100);
      if (page.length === 0) break;
      ranks.push(...page.map((item) => item.sortKey));
      after = page.at(-1)!.sortKey;
    }
    expect(ranks).toEqual(items.map((item) => item.rank));
    expect(scores.reads.page).toBe(reads.page);
    expect(scores.reads.parts).toBe(reads.parts);
  });

  it("loads into memory only the feed's latest snapshot (or the one before), not every older one a cursor names", async () => {
    const snapshots = new Map([1, 2, 3, 4].map((snapshot) => [snapshot, itemsWithRanks(Array.from({ length: 3_000 }, (_, i) => i + 1))] as const));
    const { feed, scores } = feedOver(snapshots, 1_000_000);
    // Deep pages of three older snapshots at once: each is served, from reads, and none is loaded.
    const pages = await Promise.all([1, 2, 3].map((snapshot) => fullPageAfter(feed, snapshot, 2_500, 10)));
    for (const page of pages) expect(page).toEqual(referenceItems(snapshots.get(1)!, 2_500, 10));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect({ parts: scores.reads.parts, held: feed.heldRanks.ranks }).toEqual({ parts: 0, held: 0 });
    // The latest is loaded once a reader pages deep in it.
    await feed.skeleton({ feed: definition, limit: 10 });
    await fullPageAfter(feed, 4, 2_500, 10);
    await waitFor('the latest snapshot held in memory', () => feed.heldRanks.ranks === 3_000);
  });

  it('holds a snapshot larger than the bound up to the bound, and reads the pages below it', async () => {
    const items = itemsWithRanks(Array.from({ length: 30_000 }, (_, i) => i + 1));
    const { feed, scores } = feedOver(new Map([[5, items]]), 25_000);
    await fullPageAfter(feed, 5, 3_000, 50);
    await waitFor('the first 25 000 ranks held in memory', () => feed.heldRanks.ranks === 25_000);
    const reads = scores.reads.page;
    expect(await fullPageAfter(feed, 5, 20_000, 50)).toEqual(referenceItems(items, 20_000, 50));
    expect(scores.reads.page).toBe(reads);
    for (const after of [24_980, 27_000, 29_990]) expect(await fullPageAfter(feed, 5, after, 50)).toEqual(referenceItems(items, after, 50));
    expect(scores.reads.page).toBeGreaterThan(reads);
  });

  it('lets concurrent requests share one look-up of the latest snapshot', async () => {
    const { feed, scores } = feedOver(new Map([[1, itemsWithRanks([1, 2, 3])]]));
    const pages = await Promise.all(Array.from({ length: 20 }, () => feed.skeleton({ feed: definition, limit: 2 })));
    expect(pages.map((page) => page.items.map((item) => item.sortKey))).toEqual(Array.from({ length: 20 }, () => [1, 2]));
    expect(scores.reads.latest).toBe(1);
  });
});
