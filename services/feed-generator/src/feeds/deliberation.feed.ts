import { Injectable } from '@nestjs/common';
import { ConversationRepository } from '#lib/clickhouse';
import type { FeedAlgorithm, SkeletonItem, SkeletonPage, SkeletonRequest } from './feed-algorithm.js';
import { SnapshotFeed } from './snapshot.feed.js';

/** Snapshot pages read at most for one request while the signed-in viewer has voted on everything in them. */
const MAX_ROUNDS = 5;

/**
 * Serves a conversation's statements for voting: the ranker's routing order (a score snapshot),
 * without the statements a signed-in viewer already voted on. Pages the viewer voted through are
 * skipped, up to `MAX_ROUNDS` of them, so that a page is not empty while statements remain.
 */
@Injectable()
export class DeliberationFeed implements FeedAlgorithm {
  readonly rankings = ['deliberation'] as const;

  constructor(
    private readonly snapshots: SnapshotFeed,
    private readonly conversations: ConversationRepository,
  ) {}

  async skeleton(request: SkeletonRequest): Promise<SkeletonPage> {
    const { viewer } = request;
    if (!viewer) return this.snapshots.skeleton(request);
    const items: SkeletonItem[] = [];
    let cursor = request.cursor;
    let ordering = cursor?.ordering ?? 's0';
    for (let round = 0; round < MAX_ROUNDS && items.length < request.limit; round += 1) {
      const page = await this.snapshots.skeleton({ ...request, cursor });
      ordering = page.ordering;
      const last = page.items.at(-1);
      if (!last) break;
      const voted = await this.conversations.votedBy(viewer, page.items.map((item) => item.post));
      items.push(...page.items.filter((item) => !voted.has(item.post)));
      cursor = { ordering: page.ordering, sortKey: last.sortKey, cid: last.cid };
    }
    return { ordering, items };
  }
}
