import { Inject, Injectable } from '@nestjs/common';
import { LRUCache } from 'lru-cache';
import { ScoreRepository } from '#lib/clickhouse';
import type { FeedDefinition } from '#lib/curation';
import { DigestFeed } from './feeds/digest.feed.js';
import { FeedRegistry } from './feeds/feed.registry.js';

export interface Explanation {
  feed: string;
  post: string;
  snapshot: number | null;
  /** A digest feed's edition (its cadence point, unix ms) the answer is about; digest feeds only. */
  edition?: number | null;
  /** Position in the feed, or null when the post is not in it (with the reason). */
  rank: number | null;
  score: number | null;
  components: unknown;
  reason?: string;
}

/** Answers kept, all feeds and snapshots together (a few hundred bytes to a few KB each). */
const MAX_ANSWERS = 5_000;
/** How long a feed's latest snapshot number is trusted, as the feed pages trust it. */
const LATEST_TTL_MS = 2_000;

/**
 * Explanations of posts' ranks, cached per (feed, snapshot, post).
 *
 * @NOTE A complete snapshot never changes, so an answer read from it holds as long as it is asked
 * for; the cache is an LRU so that a caller asking about many posts cannot grow it. A miss costs
 * two reads of about one granule each (`ScoreRepository.explain`), never a scan of the snapshot.
 * Answers about a snapshot that does not exist (pruned, or not yet written) are not kept.
 */
@Injectable()
export class ExplanationService {
  private readonly answers = new LRUCache<string, Explanation>({ max: MAX_ANSWERS });
  private readonly latest = new LRUCache<string, { snapshot: number | undefined }>({ max: 1_000, ttl: LATEST_TTL_MS });

  constructor(
    private readonly registry: FeedRegistry,
    @Inject(ScoreRepository) private readonly scores: ScoreRepository,
    private readonly digests: DigestFeed,
  ) {}

  /**
   * `pinned` is a snapshot, or for a digest feed an edition (the number in its cursor, `e<edition>::…`):
   * a digest serves its frozen edition, not the base ranking's latest snapshot, so that is what is explained.
   */
  async explain(feed: FeedDefinition, post: string, pinned: number | undefined): Promise<Explanation> {
    const uri = this.registry.uriOf(feed);
    if (feed.ranking === 'digest') return this.explainEdition(feed, uri, post, pinned);
    if (feed.ranking === 'recent') {
      return { feed: uri, post, snapshot: null, rank: null, score: null, components: { ranking: 'recent' }, reason: 'recent feeds are ordered by time, newest first' };
    }
    const snapshot = pinned ?? (await this.latestSnapshot(uri));
    if (snapshot === undefined) return notRanked(uri, post, null);
    const key = `${uri} ${snapshot} ${post}`;
    const cached = this.answers.get(key);
    if (cached) return cached;
    const found = await this.scores.explain(uri, snapshot, post);
    if (found) return this.keep(key, { feed: uri, post, snapshot, ...found });
    if (pinned === undefined || (await this.scores.snapshotExists(uri, pinned))) return this.keep(key, notRanked(uri, post, snapshot));
    return {
      feed: uri,
      post,
      snapshot,
      rank: null,
      score: null,
      components: null,
      reason: `snapshot ${pinned} is no longer kept; ask without a snapshot for the latest`,
    };
  }

  private async explainEdition(feed: FeedDefinition, uri: string, post: string, pinned: number | undefined): Promise<Explanation> {
    const edition = pinned === undefined ? await this.digests.latestEdition(uri) : await this.digests.editionRecord(uri, pinned);
    const unranked = { feed: uri, post, snapshot: null, edition: edition?.edition ?? pinned ?? null, rank: null, score: null, components: null };
    if (!edition) {
      const reason = pinned === undefined ? 'no edition is frozen yet: the ranker freezes one at the next cadence point' : `the feed has no edition ${pinned}`;
      return { ...unranked, reason };
    }
    // The edition's posts as the feed serves them (kept there: an edition never changes under one epoch).
    const found = (await this.digests.editionPosts(uri, edition)).find((item) => item.uri === post);
    if (found) return { ...unranked, rank: found.rank, score: found.score, components: found.components };
    if (post === feed.digest?.endCard) return { ...unranked, rank: edition.posts + 1, reason: "the curator's end card: pinned after the edition's posts" };
    return { ...unranked, reason: 'not in this edition: not among the best posts of the base ranking that no earlier edition served' };
  }

  private keep(key: string, answer: Explanation): Explanation {
    this.answers.set(key, answer);
    return answer;
  }

  private async latestSnapshot(uri: string): Promise<number | undefined> {
    const cached = this.latest.get(uri);
    if (cached) return cached.snapshot;
    const snapshot = (await this.scores.latestSnapshot(uri))?.snapshot;
    this.latest.set(uri, { snapshot });
    return snapshot;
  }
}

function notRanked(feed: string, post: string, snapshot: number | null): Explanation {
  return {
    feed,
    post,
    snapshot,
    rank: null,
    score: null,
    components: null,
    reason: 'not ranked: outside the window, not by a member, or without evidence from enough communities or sides',
  };
}
