import { Injectable } from '@nestjs/common';
import { LRUCache } from 'lru-cache';
import { EditionRepository, type EditionItem, type EditionSummary } from '#lib/clickhouse';
import { InvalidCursorError } from '#lib/domain';
import { FeedRegistry } from './feed.registry.js';
import type { FeedAlgorithm, SkeletonItem, SkeletonPage, SkeletonRequest } from './feed-algorithm.js';
import { RemovedContent } from './removed-content.js';

/** How long which edition is latest, and which epoch an edition is of, are trusted before they are looked up again. */
const RECORD_TTL_MS = 2_000;
/** Editions kept in memory, all feeds together (at most 100 posts each). */
const MAX_EDITIONS = 256;

/**
 * Serves digest feeds: the latest frozen edition, in its order, then the curator's end card
 * (pinned), and then nothing: the last page has no cursor. A cursor pins its edition, so a reader
 * paging while the next edition appears finishes the one they started.
 *
 * @NOTE The posts of an edition never change under one ownership epoch, so they are kept (LRU) by
 * edition and epoch, without expiry. Its record is looked up again every `RECORD_TTL_MS`: a
 * ranker that lost the feed may have written the edition before its new owner froze it again,
 * and then the new owner's epoch is served.
 */
@Injectable()
export class DigestFeed implements FeedAlgorithm {
  readonly rankings = ['digest'] as const;
  private readonly latest = new LRUCache<string, { edition: EditionSummary | null }>({ max: 10_000, ttl: RECORD_TTL_MS });
  private readonly records = new LRUCache<string, { edition: EditionSummary | null }>({ max: 10_000, ttl: RECORD_TTL_MS });
  private readonly editions = new LRUCache<string, EditionItem[]>({ max: MAX_EDITIONS });

  constructor(
    private readonly registry: FeedRegistry,
    private readonly store: EditionRepository,
    private readonly removed: RemovedContent,
  ) {}

  async skeleton({ feed, limit, cursor }: SkeletonRequest): Promise<SkeletonPage> {
    const uri = this.registry.uriOf(feed);
    let edition: number;
    let summary: EditionSummary | undefined;
    if (cursor) {
      const match = /^e(\d+)$/.exec(cursor.ordering);
      if (!match) throw new InvalidCursorError('cursor belongs to another ordering of this feed');
      edition = Number(match[1]);
      summary = await this.editionRecord(uri, edition);
    } else {
      summary = await this.latestEdition(uri);
      if (!summary) return { ordering: 'e0', items: [], ends: true };
      edition = summary.edition;
    }
    const posts = summary && (await this.editionPosts(uri, summary));
    const items: SkeletonItem[] = (posts ?? []).map((item) => ({
      post: item.uri,
      cid: item.cid,
      sortKey: item.rank,
      ...(item.feedContext && { feedContext: item.feedContext }),
    }));
    const endCard = feed.digest?.endCard;
    if (posts && endCard) items.push({ post: endCard, cid: '', sortKey: items.length + 1, reason: 'pin' });
    const after = cursor?.sortKey ?? 0;
    // A post deleted since the edition was frozen leaves it at once; the edition still ends where it ends.
    const left = this.removed.filter(items.filter((item) => item.sortKey > after));
    const page = left.slice(0, limit);
    return { ordering: `e${edition}`, items: page, ends: page.length === left.length };
  }

  /** The feed's latest complete edition, trusted for `RECORD_TTL_MS`. */
  async latestEdition(uri: string): Promise<EditionSummary | undefined> {
    let known = this.latest.get(uri);
    if (!known) {
      const [newest] = await this.store.list(uri, 1);
      known = { edition: newest ?? null };
      this.latest.set(uri, known);
    }
    return known.edition ?? undefined;
  }

  /** A complete edition's record, or undefined when the feed has no such edition. */
  async editionRecord(uri: string, edition: number): Promise<EditionSummary | undefined> {
    const key = `${uri} ${edition}`;
    let known = this.records.get(key);
    if (!known) {
      known = { edition: (await this.store.find(uri, edition)) ?? null };
      this.records.set(key, known);
    }
    return known.edition ?? undefined;
  }

  /** An edition's posts, in order, with their scores and score parts (kept: they never change under one epoch). */
  async editionPosts(uri: string, summary: EditionSummary): Promise<EditionItem[]> {
    const key = `${uri} ${summary.edition} ${summary.epoch}`;
    const cached = this.editions.get(key);
    if (cached) return cached;
    const items = await this.store.items(uri, summary);
    this.editions.set(key, items);
    return items;
  }
}
