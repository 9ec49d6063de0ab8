import { Inject, Injectable } from '@nestjs/common';
import { ScoreRepository, type SnapshotItem } from '#lib/clickhouse';
import { InvalidCursorError } from '#lib/domain';
import { FeedRegistry } from './feed.registry.js';
import type { FeedAlgorithm, SkeletonPage, SkeletonRequest } from './feed-algorithm.js';

/** How long the latest snapshot id is trusted before it is looked up again. */
const LATEST_TTL_MS = 2_000;
/** Ranks kept in memory per feed: the top of the feed, where nearly every request lands. */
const CACHED_RANKS = 2_000;

interface CachedSnapshot {
  snapshot: number;
  checkedAt: number;
  top: SnapshotItem[];
}

/**
 * Serves the ranked feeds (bridging, bridging-within, balanced) from the latest complete score
 * snapshot. A cursor pins its snapshot, so paging stays consistent while newer snapshots appear;
 * a cursor whose snapshot has been dropped ends the feed ("you are caught up").
 */
@Injectable()
export class SnapshotFeed implements FeedAlgorithm {
  readonly rankings = ['bridging', 'bridging-within', 'balanced'] as const;
  private readonly cache = new Map<string, CachedSnapshot>();

  constructor(
    private readonly registry: FeedRegistry,
    @Inject(ScoreRepository) private readonly scores: ScoreRepository,
  ) {}

  async skeleton({ feed, limit, cursor }: SkeletonRequest): Promise<SkeletonPage> {
    const uri = this.registry.uriOf(feed);
    const latest = await this.latest(uri);
    if (!cursor) {
      if (!latest) return { ordering: 's0', items: [] };
      return this.page(uri, latest, 0, limit);
    }
    const match = /^s(\d+)$/.exec(cursor.ordering);
    if (!match) throw new InvalidCursorError('cursor belongs to another ordering of this feed');
    const snapshot = Number(match[1]);
    if (latest && latest.snapshot === snapshot) return this.page(uri, latest, cursor.sortKey, limit);
    if (!(await this.scores.snapshotExists(uri, snapshot))) return { ordering: cursor.ordering, items: [] };
    return this.page(uri, { snapshot, checkedAt: 0, top: [] }, cursor.sortKey, limit);
  }

  private async page(uri: string, snapshot: CachedSnapshot, afterRank: number, limit: number): Promise<SkeletonPage> {
    const cached = snapshot.top;
    const items =
      afterRank + limit <= cached.length
        ? cached.slice(afterRank, afterRank + limit)
        : await this.scores.page(uri, snapshot.snapshot, afterRank, limit);
    return {
      ordering: `s${snapshot.snapshot}`,
      items: items.map((item) => ({
        post: item.uri,
        cid: item.cid,
        sortKey: item.rank,
        ...(item.feedContext && { feedContext: item.feedContext }),
      })),
    };
  }

  /** The newest complete snapshot of a feed with its top ranks, refreshed at most every `LATEST_TTL_MS`. */
  private async latest(uri: string): Promise<CachedSnapshot | undefined> {
    const cached = this.cache.get(uri);
    if (cached && Date.now() - cached.checkedAt < LATEST_TTL_MS) return cached;
    const info = await this.scores.latestSnapshot(uri);
    if (!info) return undefined;
    if (cached && cached.snapshot === info.snapshot) {
      cached.checkedAt = Date.now();
      return cached;
    }
    const fresh = { snapshot: info.snapshot, checkedAt: Date.now(), top: await this.scores.page(uri, info.snapshot, 0, CACHED_RANKS) };
    this.cache.set(uri, fresh);
    return fresh;
  }
}
