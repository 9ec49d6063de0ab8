import { Injectable } from '@nestjs/common';
import { ConversationRepository } from '#lib/clickhouse';
import type { FeedAlgorithm, SkeletonItem, SkeletonPage, SkeletonRequest } from './feed-algorithm.js';
import { SnapshotFeed } from './snapshot.feed.js';

/** Snapshot pages read at most for one request while the signed-in viewer has voted on everything in them. */
const MAX_ROUNDS = 5;

/**
 * Serves a conversation's statements for voting: the ranker's routing order (a score snapshot),
 * without the statements a signed-in viewer already voted on. Pages the viewer voted through are
 * skipped, up to `MAX_ROUNDS` of them, so that a page is not empty while statements remain; when
 * the rounds run out first, the page says where the next one starts (`next`), past what was read.
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
    /** Where the statements read so far end, while more may follow. */
    let readTo: Pick<SkeletonItem, 'sortKey' | 'cid'> | undefined;
    for (let round = 0; round < MAX_ROUNDS && items.length < request.limit; round += 1) {
      const page = await this.snapshots.skeleton({ ...request, cursor });
      ordering = page.ordering;
      if (page.items.length > 0) {
        const voted = await this.conversations.votedBy(request.feed.shortname, viewer, page.items.map((item) => item.post));
        items.push(...page.items.filter((item) => !voted.has(item.post)));
      }
      // A short page without `next` is the end of the snapshot.
      readTo = page.next ?? (page.items.length >= request.limit ? page.items.at(-1) : undefined);
      if (!readTo) break;
      cursor = { ordering: page.ordering, sortKey: readTo.sortKey, cid: readTo.cid };
    }
    return { ordering, items, ...(items.length < request.limit && readTo && { next: readTo }) };
  }
}
