import { Inject, Injectable } from '@nestjs/common';
import { LRUCache } from 'lru-cache';
import { ScoreRepository, type SnapshotItem } from '#lib/clickhouse';
import type { AppConfig } from '#lib/config';
import { InvalidCursorError } from '#lib/domain';
import { APP_CONFIG, LOGGER, type Logger } from '#lib/platform';
import { FeedRegistry } from './feed.registry.js';
import { authorOf, type FeedAlgorithm, type SkeletonItem, type SkeletonPage, type SkeletonRequest } from './feed-algorithm.js';
import { PostColumns } from './post-columns.js';
import { RemovedContent } from './removed-content.js';

/** How long the latest snapshot id (or an older snapshot's existence) is trusted before it is looked up again. */
const LATEST_TTL_MS = 2_000;
/** Ranks kept in memory per feed: the top of the feed, where nearly every request lands. */
const CACHED_RANKS = 2_000;
/** Ranks read at once below the top: a reader scrolling down gets 20 pages of 50 from one read. */
const CHUNK_RANKS = 1_000;
/** Chunks kept, all feeds and snapshots together (~250 bytes a rank: ~16 MB). */
const MAX_CHUNKS = 64;
/** Older snapshots whose existence is remembered. */
const MAX_KNOWN_SNAPSHOTS = 1_000;
/** Ranks read per query while a snapshot is loaded into memory: each read's parsing holds the event loop only briefly. */
const LOAD_RANKS = 20_000;
/** Ranks are ClickHouse `UInt32`: a cursor past the last one was not issued here. */
const MAX_RANK = 0xffff_ffff;

/** A snapshot's ranks held in memory: all of them (`whole`), or the first `SNAPSHOT_MEMORY_RANKS`. */
interface HeldSnapshot {
  ranks: PostColumns;
  whole: boolean;
}

interface CachedSnapshot {
  snapshot: number;
  checkedAt: number;
  /** Served as they are: every request for the top shares these objects (a viewer's cached personal order holds them too). */
  top: SkeletonItem[];
}

/**
 * Serves the ranked feeds (bridging, bridging-within, balanced) from the latest complete score
 * snapshot. A cursor pins its snapshot, so paging stays consistent while newer snapshots appear;
 * a cursor whose snapshot has been dropped ends the feed ("you are caught up").
 *
 * @NOTE Page cost independent of depth. A snapshot never changes once complete: the first time a
 * page below its cached top is asked for, the whole snapshot is loaded into memory in the
 * background (`PostColumns`, ~130 bytes a rank, read `LOAD_RANKS` at a time), and from then on
 * any page is found by binary search. `SNAPSHOT_MEMORY_RANKS` bounds the ranks held, all feeds
 * and snapshots together (LRU: typically the latest and the previous snapshot of the feeds being
 * paged); a snapshot larger than the bound is held up to it. Until its load completes, and below
 * what is held, ranks are read from ClickHouse in chunks of `CHUNK_RANKS` and kept (LRU): one read
 * of a 1 000-rank chunk costs about what one read of a 50-rank page does.
 */
@Injectable()
export class SnapshotFeed implements FeedAlgorithm {
  readonly rankings = ['bridging', 'bridging-within', 'balanced'] as const;
  private readonly cache = new Map<string, CachedSnapshot>();
  private readonly refreshing = new Map<string, Promise<CachedSnapshot | undefined>>();
  /** Chunk reads by `feed snapshot index`; callers asking at once share one read, a failed read is not kept. */
  private readonly chunks = new LRUCache<string, SnapshotItem[], { uri: string; snapshot: number; index: number }>({
    max: MAX_CHUNKS,
    fetchMethod: (_key, _stale, { context }) => this.scores.page(context.uri, context.snapshot, context.index * CHUNK_RANKS, CHUNK_RANKS),
  });
  /** `feed snapshot` of older snapshots lately seen to exist. */
  private readonly knownSnapshots = new LRUCache<string, true>({ max: MAX_KNOWN_SNAPSHOTS, ttl: LATEST_TTL_MS });
  /** Snapshots held in memory by `feed snapshot`, bounded by ranks; and those being loaded. */
  private readonly held?: LRUCache<string, HeldSnapshot>;
  private readonly loading = new Set<string>();
  /** Per feed, the snapshot it served before its latest: readers who started on it are still paging. */
  private readonly previous = new Map<string, number>();
  private readonly maxHeldRanks: number;
  private readonly log: Logger;

  constructor(
    private readonly registry: FeedRegistry,
    @Inject(ScoreRepository) private readonly scores: ScoreRepository,
    private readonly removed: RemovedContent,
    @Inject(APP_CONFIG) config: AppConfig,
    @Inject(LOGGER) logger: Logger,
  ) {
    this.maxHeldRanks = config.feedGenerator.memory.snapshotRanks;
    if (this.maxHeldRanks > 0) {
      this.held = new LRUCache<string, HeldSnapshot>({ maxSize: this.maxHeldRanks, sizeCalculation: (held) => Math.max(1, held.ranks.length) });
    }
    this.log = logger.child({ component: 'snapshot-feed' });
  }

  /** Ranks held in memory, all snapshots together (for the memory bound's measurement). */
  get heldRanks(): { ranks: number; bytes: number } {
    let ranks = 0;
    let bytes = 0;
    for (const held of this.held?.values() ?? []) {
      ranks += held.ranks.length;
      bytes += held.ranks.bytes;
    }
    return { ranks, bytes };
  }

  async skeleton({ feed, limit, cursor, withRemoved = false }: SkeletonRequest): Promise<SkeletonPage> {
    const uri = this.registry.uriOf(feed);
    const latest = await this.latest(uri);
    if (!cursor) {
      if (!latest) return { ordering: 's0', items: [] };
      return this.page(uri, latest, 0, limit, withRemoved);
    }
    const match = /^s(\d+)$/.exec(cursor.ordering);
    if (!match) throw new InvalidCursorError('cursor belongs to another ordering of this feed');
    if (cursor.sortKey > MAX_RANK) throw new InvalidCursorError('cursor is out of range');
    const snapshot = Number(match[1]);
    if (latest && latest.snapshot === snapshot) return this.page(uri, latest, cursor.sortKey, limit, withRemoved);
    if (!(await this.snapshotExists(uri, snapshot))) return { ordering: cursor.ordering, items: [] };
    return this.page(uri, { snapshot, checkedAt: 0, top: [] }, cursor.sortKey, limit, withRemoved);
  }

  private async page(uri: string, snapshot: CachedSnapshot, afterRank: number, limit: number, withRemoved: boolean): Promise<SkeletonPage> {
    const ordering = `s${snapshot.snapshot}`;
    if (withRemoved) return { ordering, items: await this.ranks(uri, snapshot, afterRank, limit) };
    return { ordering, ...(await this.removed.keptPage(limit, (after: SkeletonItem | undefined, n) => this.ranks(uri, snapshot, after?.sortKey ?? afterRank, n))) };
  }

  /** The first `limit` items with rank > `afterRank`: from the cached top, the snapshot held in memory or ClickHouse. */
  private async ranks(uri: string, snapshot: CachedSnapshot, afterRank: number, limit: number): Promise<SkeletonItem[]> {
    const cached = snapshot.top;
    const start = firstAfter(cached, afterRank);
    if (start + limit <= cached.length) return cached.slice(start, start + limit);
    return this.heldPage(uri, snapshot.snapshot, afterRank, limit) ?? (await this.ranksAfter(uri, snapshot.snapshot, afterRank, limit)).map(skeletonItem);
  }

  /** The page after `afterRank` from the snapshot held in memory; undefined while it is not (its load is then started). */
  private heldPage(uri: string, snapshot: number, afterRank: number, limit: number): SkeletonItem[] | undefined {
    if (!this.held) return undefined;
    const key = `${uri} ${snapshot}`;
    const held = this.held.get(key);
    if (!held) {
      this.load(key, uri, snapshot);
      return undefined;
    }
    const { ranks } = held;
    const start = ranks.firstNotBelow(afterRank + 1);
    if (start + limit > ranks.length && !held.whole) return undefined;
    const items: SkeletonItem[] = [];
    for (let index = start; index < ranks.length && items.length < limit; index += 1) {
      const { uri: post, cid, key: rank, feedContext, side } = ranks.at(index);
      items.push({ post, cid, sortKey: rank, ...(side && { side }), ...(feedContext && { feedContext }) });
    }
    return items;
  }

  /**
   * Loads a snapshot into memory in the background, `LOAD_RANKS` at a time, up to the bound: the
   * feed's latest or the one before it, and one load at a time.
   *
   * @NOTE A load reads and holds up to `SNAPSHOT_MEMORY_RANKS` ranks before the bound evicts
   * anything, so loads at once are memory at once: a cursor naming each of a feed's older snapshots
   * (dozens are kept for half an hour) started as many loads as it named (ten at once: +856 MB and
   * 4 M rows read for 400 k ranks each, measured). Pages of any other snapshot, and of one while
   * another loads, are read in chunks.
   */
  private load(key: string, uri: string, snapshot: number): void {
    if (this.loading.size > 0) return;
    if (snapshot !== this.cache.get(uri)?.snapshot && snapshot !== this.previous.get(uri)) return;
    this.loading.add(key);
    const read = async () => {
      const ranks = new PostColumns(LOAD_RANKS);
      let after = 0;
      let whole = false;
      while (ranks.length < this.maxHeldRanks) {
        const want = Math.min(LOAD_RANKS, this.maxHeldRanks - ranks.length);
        const parts = await this.scores.ranksAsParts(uri, snapshot, after, want);
        for (const [rank, prefix, rkey, cid, feedContext, positive] of parts) {
          ranks.pushParts(prefix, rkey, cid, Number(rank), feedContext || undefined, Number(positive) === 1 ? 'positive' : 'negative');
        }
        if (parts.length < want) {
          whole = true;
          break;
        }
        after = ranks.keyAt(ranks.length - 1);
      }
      this.held!.set(key, { ranks, whole });
    };
    read()
      .catch((error: unknown) => this.log.warn({ feed: uri, snapshot, err: (error as Error).message }, 'snapshot could not be loaded into memory; reading its pages'))
      .finally(() => this.loading.delete(key));
  }

  /**
   * The first `limit` items with rank > `afterRank`, in rank order: the answer of
   * `ScoreRepository.page`, assembled from chunks. Chunk `c` is the first `CHUNK_RANKS` items after
   * rank `c * CHUNK_RANKS`; ranks are unique integers, so a full chunk always reaches past
   * `(c + 1) * CHUNK_RANKS` and the walk moves forward; a short chunk is the end of the snapshot.
   */
  private async ranksAfter(uri: string, snapshot: number, afterRank: number, limit: number): Promise<SnapshotItem[]> {
    const items: SnapshotItem[] = [];
    let after = afterRank;
    while (items.length < limit) {
      const chunk = await this.chunk(uri, snapshot, Math.floor(after / CHUNK_RANKS));
      const start = firstRankAfter(chunk, after);
      const taken = chunk.slice(start, start + limit - items.length);
      items.push(...taken);
      if (chunk.length < CHUNK_RANKS || taken.length === 0) break;
      after = taken.at(-1)!.rank;
    }
    return items;
  }

  private chunk(uri: string, snapshot: number, index: number): Promise<SnapshotItem[]> {
    return this.chunks.forceFetch(`${uri} ${snapshot} ${index}`, { context: { uri, snapshot, index } });
  }

  /** Whether an older snapshot still exists; a yes is trusted for `LATEST_TTL_MS` (pruning keeps snapshots longer than that). */
  private async snapshotExists(uri: string, snapshot: number): Promise<boolean> {
    const key = `${uri} ${snapshot}`;
    if (this.knownSnapshots.get(key)) return true;
    const exists = await this.scores.snapshotExists(uri, snapshot);
    if (exists) this.knownSnapshots.set(key, true);
    else this.knownSnapshots.delete(key);
    return exists;
  }

  /**
   * The newest complete snapshot of a feed with its top ranks, never older than `LATEST_TTL_MS`.
   *
   * @NOTE A feed in use is looked up again in the background once its entry is half that old, so
   * requests do not wait for ClickHouse every `LATEST_TTL_MS`; only after a quiet spell does a
   * request wait (with any others arriving meanwhile: they share the one look-up).
   */
  private latest(uri: string): Promise<CachedSnapshot | undefined> | CachedSnapshot {
    const cached = this.cache.get(uri);
    const age = cached ? Date.now() - cached.checkedAt : Infinity;
    if (cached && age < LATEST_TTL_MS) {
      // A failed background look-up changes nothing: the entry ages and a request retries.
      if (age >= LATEST_TTL_MS / 2) void this.refreshShared(uri, cached).catch(() => undefined);
      return cached;
    }
    return this.refreshShared(uri, cached);
  }

  private refreshShared(uri: string, cached: CachedSnapshot | undefined): Promise<CachedSnapshot | undefined> {
    let pending = this.refreshing.get(uri);
    if (!pending) {
      pending = this.refresh(uri, cached).finally(() => this.refreshing.delete(uri));
      this.refreshing.set(uri, pending);
    }
    return pending;
  }

  private async refresh(uri: string, cached: CachedSnapshot | undefined): Promise<CachedSnapshot | undefined> {
    const info = await this.scores.latestSnapshot(uri);
    if (!info) return undefined;
    if (cached && cached.snapshot === info.snapshot) {
      cached.checkedAt = Date.now();
      return cached;
    }
    // The top's items carry their authors: every signed-in first page weighs a hundred of them for the viewer.
    const top = (await this.scores.page(uri, info.snapshot, 0, CACHED_RANKS)).map((item) => ({ ...skeletonItem(item), author: authorOf(item.uri) }));
    const fresh = { snapshot: info.snapshot, checkedAt: Date.now(), top };
    if (cached) this.previous.set(uri, cached.snapshot);
    this.cache.set(uri, fresh);
    return fresh;
  }
}

function skeletonItem(item: SnapshotItem): SkeletonItem {
  return { post: item.uri, cid: item.cid, sortKey: item.rank, side: item.side, ...(item.feedContext && { feedContext: item.feedContext }) };
}

/** Index of the first item with rank > `rank` (items are in rank order), or `items.length`. */
function firstAfter(items: readonly SkeletonItem[], rank: number): number {
  return lowerBound(items.length, (index) => items[index]!.sortKey > rank);
}

function firstRankAfter(items: readonly SnapshotItem[], rank: number): number {
  return lowerBound(items.length, (index) => items[index]!.rank > rank);
}

/** The first index in `[0, length)` where `above` holds (it holds from some index on), or `length`. */
function lowerBound(length: number, above: (index: number) => boolean): number {
  let low = 0;
  let high = length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (above(mid)) high = mid;
    else low = mid + 1;
  }
  return low;
}
