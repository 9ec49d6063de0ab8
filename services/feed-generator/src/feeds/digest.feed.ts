import { Injectable } from '@nestjs/common';
import { LRUCache } from 'lru-cache';
import { EditionRepository, type EditionItem, type EditionSummary } from '#lib/clickhouse';
import { InvalidCursorError } from '#lib/domain';
import { FeedRegistry } from './feed.registry.js';
import type { FeedAlgorithm, SkeletonItem, SkeletonPage, SkeletonRequest } from './feed-algorithm.js';
import { RemovedContent } from './removed-content.js';

/** How long the latest edition of a feed is trusted before it is looked up again. */
const LATEST_TTL_MS = 2_000;
/** Editions kept in memory, all feeds together (at most 100 posts each). */
const MAX_EDITIONS = 256;

interface LoadedEdition {
  summary: EditionSummary;
  items: EditionItem[];
}

/**
 * Serves digest feeds: the latest frozen edition, in its order, then the curator's end card
 * (pinned), and then nothing: the last page has no cursor. A cursor pins its edition, so a reader
 * paging while the next edition appears finishes the one they started.
 *
 * @NOTE Editions never change once their record exists, so they are kept (LRU) without expiry;
 * only which edition is latest is looked up again, every `LATEST_TTL_MS`.
 */
@Injectable()
export class DigestFeed implements FeedAlgorithm {
  readonly rankings = ['digest'] as const;
  private readonly latest = new LRUCache<string, { edition: number | null }>({ max: 10_000, ttl: LATEST_TTL_MS });
  private readonly editions = new LRUCache<string, LoadedEdition>({ max: MAX_EDITIONS });

  constructor(
    private readonly registry: FeedRegistry,
    private readonly store: EditionRepository,
    private readonly removed: RemovedContent,
  ) {}

  async skeleton({ feed, limit, cursor }: SkeletonRequest): Promise<SkeletonPage> {
    const uri = this.registry.uriOf(feed);
    let edition: number | undefined;
    if (cursor) {
      const match = /^e(\d+)$/.exec(cursor.ordering);
      if (!match) throw new InvalidCursorError('cursor belongs to another ordering of this feed');
      edition = Number(match[1]);
    } else {
      edition = await this.latestEdition(uri);
      if (edition === undefined) return { ordering: 'e0', items: [], ends: true };
    }
    const loaded = await this.load(uri, edition);
    const items: SkeletonItem[] = (loaded?.items ?? []).map((item) => ({
      post: item.uri,
      cid: item.cid,
      sortKey: item.rank,
      ...(item.feedContext && { feedContext: item.feedContext }),
    }));
    const endCard = feed.digest?.endCard;
    if (loaded && endCard) items.push({ post: endCard, cid: '', sortKey: items.length + 1, reason: 'pin' });
    const after = cursor?.sortKey ?? 0;
    // A post deleted since the edition was frozen leaves it at once; the edition still ends where it ends.
    const left = this.removed.filter(items.filter((item) => item.sortKey > after));
    const page = left.slice(0, limit);
    return { ordering: `e${edition}`, items: page, ends: page.length === left.length };
  }

  private async latestEdition(uri: string): Promise<number | undefined> {
    let known = this.latest.get(uri);
    if (!known) {
      const [newest] = await this.store.list(uri, 1);
      known = { edition: newest?.edition ?? null };
      this.latest.set(uri, known);
    }
    return known.edition ?? undefined;
  }

  /** A complete edition with its posts, or undefined when the feed has no such edition. */
  private async load(uri: string, edition: number): Promise<LoadedEdition | undefined> {
    const key = `${uri} ${edition}`;
    const cached = this.editions.get(key);
    if (cached) return cached;
    const summary = await this.store.find(uri, edition);
    if (!summary) return undefined;
    const loaded = { summary, items: await this.store.items(uri, summary) };
    this.editions.set(key, loaded);
    return loaded;
  }
}
