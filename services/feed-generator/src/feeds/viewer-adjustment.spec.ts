import type { Removal, RemovalRepository } from '#lib/clickhouse';
import type { AppConfig } from '#lib/config';
import type { FeedDefinition } from '#lib/curation';
import { createLogger } from '#lib/platform';
import type { FeedAlgorithm, SkeletonItem, SkeletonPage, SkeletonRequest } from './feed-algorithm.js';
import { emptyFeedback, type ViewerFeedback } from './personal-order.js';
import { RemovedContent } from './removed-content.js';
import { ViewerAdjustment } from './viewer-adjustment.js';
import type { ViewerFeedbackStore } from './viewer-feedback.store.js';

// A signed-in reader's personal order over a snapshot of 30 posts, while posts are removed: the
// order, the removals (RemovedContent, fed from a stand-in for the removals table) and the paging
// are the real ones; the snapshot is in memory, served as SnapshotFeed serves one.

const viewer = 'did:plc:alice00000000000000000000';
const authorOf = (rank: number) => (rank >= 5 && rank <= 12 ? 'did:plc:fred0000000000000000000' : `did:plc:author${rank % 3}00000000000000000`);
const ranking: SkeletonItem[] = Array.from({ length: 30 }, (_, index) => ({
  post: `at://${authorOf(index + 1)}/app.bsky.feed.post/3kpost${String(index + 1).padStart(5, '0')}`,
  cid: `bafyreirank${index + 1}`,
  sortKey: index + 1,
}));
const feed = { shortname: 'ranked', ranking: 'bridging', communities: ['club'] } as unknown as FeedDefinition;
const config = { feedGenerator: { viewerFeedback: { window: 4, depth: 24 }, removalsPollMs: 1_000 } } as unknown as AppConfig;

describe("a signed-in reader's personal order while posts are removed", () => {
  let pending: Removal[] = [];
  const removed = new RemovedContent({ since: async () => pending.splice(0) } as unknown as RemovalRepository, createLogger({ logLevel: 'silent', role: 'all' }), config);
  const remove = async (...removals: Omit<Removal, 'arrivedUs' | 'version'>[]) => {
    pending = removals.map((removal, i) => ({ ...removal, arrivedUs: Date.now() * 1000 + i, version: Date.now() * 1000 + i }));
    await removed.poll();
  };

  /** The snapshot `s1`, as SnapshotFeed pages it: by rank, without removed posts unless asked for them. */
  const snapshot: FeedAlgorithm = {
    rankings: ['bridging'],
    async skeleton({ limit, cursor, withRemoved }: SkeletonRequest): Promise<SkeletonPage> {
      const after = cursor?.sortKey ?? 0;
      const read = (from: SkeletonItem | undefined, n: number) => ranking.filter((item) => item.sortKey > (from?.sortKey ?? after)).slice(0, n);
      if (withRemoved) return { ordering: 's1', items: read(undefined, limit) };
      return { ordering: 's1', ...(await removed.keptPage(limit, read)) };
    },
  };
  // Alice has seen a post: she has history, so she is served her personal order.
  const feedback: ViewerFeedback = { ...emptyFeedback(), seen: new Map([[ranking[29]!.post, Date.now() - 60_000]]) };
  /** A replica: each keeps the session orders it computed. */
  const replica = () => new ViewerAdjustment({ feedbackOf: async () => feedback } as unknown as ViewerFeedbackStore, removed, config, createLogger({ logLevel: 'silent', role: 'all' }));
  const [one, other] = [replica(), replica()];
  const rankOf = (item: SkeletonItem) => ranking.findIndex((ranked) => ranked.post === item.post) + 1;
  const page = async (cursor?: SkeletonPage & { last: SkeletonItem }, adjustment = one) => {
    const served = await adjustment.page(snapshot, { feed, limit: 2, viewer, ...(cursor && { cursor: { ordering: cursor.ordering, sortKey: cursor.last.sortKey, cid: cursor.last.cid } }) });
    return { ...served, last: served.items.at(-1)!, ranks: served.items.map(rankOf) };
  };

  it('goes on from the post after the last one served when that one is removed, and past a run of removed posts', async () => {
    const first = await page();
    const second = await page(first);
    expect([...first.ranks, ...second.ranks]).toEqual([1, 2, 3, 4]);
    // Fred, the author of ranks 5–12, is taken down; so is the post that ends the next page.
    const third = await page(second);
    await remove({ subject: ranking[third.ranks[1]! - 1]!.post, kind: 'post', active: false }, { subject: 'did:plc:fred0000000000000000000', kind: 'account', active: false });
    const fourth = await page(third);
    expect([...third.ranks, ...fourth.ranks]).toEqual([5, 6, 13, 14]);
    expect((await page(fourth)).ranks).toEqual([15, 16]);
    // The other replica computes the session's order after the removals: the same positions, so the same pages.
    expect((await page(third, other)).ranks).toEqual([13, 14]);
    expect((await page(fourth, other)).ranks).toEqual([15, 16]);
  });
});
