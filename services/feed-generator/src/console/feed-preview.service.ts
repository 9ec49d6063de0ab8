import { Inject, Injectable } from '@nestjs/common';
import { LRUCache } from 'lru-cache';
import { describeProvenance } from '#lib/bridging';
import { PostRepository, ScoreRepository, type PostSummary, type RankedItem } from '#lib/clickhouse';
import type { FeedDefinition } from '#lib/curation';
import { DigestFeed } from '../feeds/digest.feed.js';
import { FeedRegistry } from '../feeds/feed.registry.js';
import { RecentFeed } from '../feeds/recent.feed.js';

export interface Provenance {
  supportedBy: string[];
  divisiveIn: string[];
  /** Names left out of the feed context to keep it under its size limit. */
  omitted: number;
  /** "bridging in A and B · divisive in C". */
  summary: string;
}

export interface PreviewItem {
  rank: number;
  post: string;
  /** Text of the post when the store has it (posts by authors outside the window may be gone). */
  text: string | null;
  postedAtUs: number | null;
  score: number | null;
  /** The `feedContext` getFeedSkeleton sends with the item, as sent and decoded. */
  feedContext: string | null;
  provenance: Provenance | null;
  /** The score parts and evidence counts that placed the post (ranked feeds). */
  components: Record<string, unknown>;
}

export interface FeedPreview {
  feed: string;
  uri: string;
  displayName: string;
  ranking: FeedDefinition['ranking'];
  /** Snapshot the items come from (ranked feeds), with its size and completion time. */
  snapshot: { id: number; posts: number; completedAt: string } | null;
  /** A digest feed's latest edition, which is what it serves (its cadence point as id, unix ms), with when it was frozen. */
  edition?: { id: number; posts: number; frozenAt: string } | null;
  items: PreviewItem[];
}

/** Tops of snapshots kept (a snapshot never changes once complete). */
const MAX_TOPS = 32;
/** Post texts are kept this long: a deleted post may linger in a preview that long (the feed keeps it until the next snapshot anyway). */
const TEXT_TTL_MS = 60_000;
const MAX_TEXTS = 5_000;

/** Decodes the provenance `feedContext` (`{"v":1,"b":[…],"d":[…],"+":n}`); anything else is not provenance. */
export function parseProvenance(feedContext: string | null | undefined): Provenance | null {
  if (!feedContext) return null;
  try {
    const value = JSON.parse(feedContext) as { v?: unknown; b?: unknown; d?: unknown; '+'?: unknown };
    if (value.v !== 1 || !Array.isArray(value.b) || !Array.isArray(value.d)) return null;
    const supportedBy = value.b.filter((name): name is string => typeof name === 'string');
    const divisiveIn = value.d.filter((name): name is string => typeof name === 'string');
    return {
      supportedBy,
      divisiveIn,
      omitted: typeof value['+'] === 'number' ? value['+'] : 0,
      summary: describeProvenance({ supportedBy, divisiveIn }),
    };
  } catch {
    return null;
  }
}

/**
 * What a feed shows now, for curators: the top of the page getFeedSkeleton serves, each post with
 * its provenance and the score components that placed it.
 *
 * @NOTE Bounded whatever the size of the store: a ranked feed reads the first `limit` ranks of its
 * newest snapshot (a range of the table's sort key) and the texts of those posts only; a recent
 * feed reads through the same in-memory timeline getFeedSkeleton uses. The top of a snapshot is
 * kept once read (snapshots never change) and texts for a minute, so reopening a preview costs
 * one look-up of the newest snapshot.
 */
@Injectable()
export class FeedPreviewService {
  /** Snapshot tops by `feed snapshot limit`; callers asking at once share one read, a failed read is not kept. */
  private readonly tops = new LRUCache<string, RankedItem[], { uri: string; snapshot: number; limit: number }>({
    max: MAX_TOPS,
    fetchMethod: (_key, _stale, { context }) => this.scores.top(context.uri, context.snapshot, context.limit),
  });
  /** Post texts by URI; `summary: null` remembers a post the store does not hold. */
  private readonly texts = new LRUCache<string, { summary: PostSummary | null }>({ max: MAX_TEXTS, ttl: TEXT_TTL_MS });

  constructor(
    private readonly registry: FeedRegistry,
    private readonly recent: RecentFeed,
    @Inject(ScoreRepository) private readonly scores: ScoreRepository,
    @Inject(PostRepository) private readonly posts: PostRepository,
    private readonly digests: DigestFeed,
  ) {}

  async preview(feed: FeedDefinition, limit: number): Promise<FeedPreview> {
    const uri = this.registry.uriOf(feed);
    const base = { feed: feed.shortname, uri, displayName: feed.displayName, ranking: feed.ranking };
    if (feed.ranking === 'recent') {
      const page = await this.recent.skeleton({ feed, limit });
      const texts = await this.summaries(page.items.map((item) => item.post));
      return {
        ...base,
        snapshot: null,
        items: page.items.map((item, index) => ({
          rank: index + 1,
          post: item.post,
          text: texts.get(item.post)?.text ?? null,
          postedAtUs: item.sortKey,
          score: null,
          feedContext: item.feedContext ?? null,
          provenance: parseProvenance(item.feedContext),
          components: { ranking: 'recent', order: 'newest first' },
        })),
      };
    }
    if (feed.ranking === 'digest') {
      // A digest serves its latest frozen edition, not its base ranking's newest snapshot.
      const edition = await this.digests.latestEdition(uri);
      if (!edition) return { ...base, snapshot: null, edition: null, items: [] };
      const items = (await this.digests.editionPosts(uri, edition)).slice(0, limit);
      const about = { id: edition.edition, posts: edition.posts, frozenAt: new Date(edition.frozenAtMs).toISOString() };
      return { ...base, snapshot: null, edition: about, items: await this.previewItems(items) };
    }
    const latest = await this.scores.latestSnapshot(uri);
    if (!latest) return { ...base, snapshot: null, items: [] };
    const top = await this.top(uri, latest.snapshot, limit);
    return { ...base, snapshot: { id: latest.snapshot, posts: latest.posts, completedAt: latest.completedAt }, items: await this.previewItems(top) };
  }

  /** Ranked posts as the preview shows them: with their texts, provenance and score parts. */
  private async previewItems(top: readonly RankedItem[]): Promise<PreviewItem[]> {
    const texts = await this.summaries(top.map((item) => item.uri));
    return top.map((item) => ({
      rank: item.rank,
      post: item.uri,
      text: texts.get(item.uri)?.text ?? null,
      postedAtUs: texts.get(item.uri)?.timeUs ?? null,
      score: item.score,
      feedContext: item.feedContext || null,
      provenance: parseProvenance(item.feedContext),
      components: item.components,
    }));
  }

  /** The top of a snapshot; complete snapshots are immutable, so a read is kept (LRU). */
  private top(uri: string, snapshot: number, limit: number): Promise<RankedItem[]> {
    return this.tops.forceFetch(`${uri} ${snapshot} ${limit}`, { context: { uri, snapshot, limit } });
  }

  /** Texts of the given posts, from memory when read in the last `TEXT_TTL_MS`. */
  private async summaries(uris: readonly string[]): Promise<Map<string, PostSummary>> {
    const missing = uris.filter((uri) => !this.texts.has(uri));
    if (missing.length > 0) {
      const read = await this.posts.summaries(missing);
      for (const uri of missing) this.texts.set(uri, { summary: read.get(uri) ?? null });
    }
    const found = new Map<string, PostSummary>();
    for (const uri of uris) {
      const summary = this.texts.get(uri)?.summary;
      if (summary) found.set(uri, summary);
    }
    return found;
  }
}
