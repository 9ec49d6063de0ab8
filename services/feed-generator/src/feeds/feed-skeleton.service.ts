import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import type { Ranking } from '#lib/curation';
import { decodeFeedCursor, encodeFeedCursor, LexType } from '#lib/domain';
import { BoostedImpressions } from './boosted-impressions.js';
import { CommunityMembersService } from './community-members.service.js';
import { FEED_ALGORITHMS, type FeedAlgorithm, type SkeletonItem } from './feed-algorithm.js';
import { FeedRegistry } from './feed.registry.js';
import { ImpressionRecorder } from './impression.recorder.js';
import { ServablePosts } from './servable-posts.js';
import { ViewerAdjustment } from './viewer-adjustment.js';
import { ViewerFeedbackStore } from './viewer-feedback.store.js';

/** `feedContext` is passed through to clients; the lexicon allows at most 2000 bytes of UTF-8 (a UTF-16 unit is at most 3). */
const MAX_FEED_CONTEXT_BYTES = 2000;
const SURELY_WITHIN = Math.floor(MAX_FEED_CONTEXT_BYTES / 3);

export interface SkeletonResponse {
  feed: { post: string; feedContext?: string; reason?: { $type: typeof LexType.skeletonReasonPin } }[];
  cursor?: string;
  reqId: string;
}

export class UnknownFeedRequestedError extends Error {
  override name = 'UnknownFeedRequestedError';
  constructor(readonly feed: string) {
    super(`Unknown feed: ${feed}`);
  }
}

export class NoAlgorithmError extends Error {
  override name = 'NoAlgorithmError';
}

/** A members-only feed asked for by someone who is not (or not known to be) a member. */
export class MembersOnlyError extends Error {
  override name = 'MembersOnlyError';
  constructor(readonly reason: 'anonymous' | 'not-member') {
    super(
      reason === 'anonymous'
        ? 'This feed is for members of its communities: sign in to read it'
        : 'This feed is for members of its communities only',
    );
  }
}

const PIN_REASON = Object.freeze({ $type: LexType.skeletonReasonPin });

/** An item as the lexicon has it: the post, its pin reason, its context within bounds. */
function responseItem(item: SkeletonItem): SkeletonResponse['feed'][number] {
  const out: SkeletonResponse['feed'][number] = { post: item.post };
  if (item.reason === 'pin') out.reason = PIN_REASON;
  // A context too long for the lexicon is left out whole: cut, it would be JSON nobody can read, and the AppView refuses the page.
  const context = item.feedContext;
  if (context !== undefined && (context.length <= SURELY_WITHIN || Buffer.byteLength(context) <= MAX_FEED_CONTEXT_BYTES)) out.feedContext = context;
  return out;
}

/**
 * getFeedSkeleton as a small pipeline: find the feed, let its algorithm produce a page, apply
 * the rules every page obeys (no post twice, at most `limit`, context within bounds), and
 * present it with a cursor that names the page's last item.
 */
@Injectable()
export class FeedSkeletonService {
  private readonly algorithms: ReadonlyMap<Ranking, FeedAlgorithm>;

  constructor(
    private readonly registry: FeedRegistry,
    private readonly members: CommunityMembersService,
    private readonly impressions: ImpressionRecorder,
    private readonly servable: ServablePosts,
    private readonly boosted: BoostedImpressions,
    private readonly viewerAdjustment: ViewerAdjustment,
    private readonly viewerFeedback: ViewerFeedbackStore,
    @Inject(FEED_ALGORITHMS) algorithms: FeedAlgorithm[],
  ) {
    this.algorithms = new Map(algorithms.flatMap((algorithm) => algorithm.rankings.map((ranking) => [ranking, algorithm] as const)));
  }

  /** `reqId`: the HTTP request's id, so the response, the impressions and the request log share one id. */
  async skeleton(request: { feed: string; limit: number; cursor?: string; viewer?: string; reqId?: string }): Promise<SkeletonResponse> {
    const feed = this.registry.byUri(request.feed);
    if (!feed) throw new UnknownFeedRequestedError(request.feed);
    if (feed.membersOnly) {
      // Checked before anything is read: no post of a members-only feed reaches anyone else.
      if (!request.viewer) throw new MembersOnlyError('anonymous');
      if (!(await this.members.membersOfAll(feed.communities)).has(request.viewer)) throw new MembersOnlyError('not-member');
    }
    const algorithm = this.algorithms.get(feed.ranking);
    if (!algorithm) throw new NoAlgorithmError(`no algorithm serves the ranking "${feed.ranking}"`);
    const cursor = request.cursor === undefined ? undefined : decodeFeedCursor(request.cursor);
    const page = await this.viewerAdjustment.page(algorithm, { feed, limit: request.limit, cursor, viewer: request.viewer });

    // One pass: no post twice, at most `limit`; the response's items built on the way.
    const seen = new Set<string>();
    const items: SkeletonItem[] = [];
    const posts: string[] = [];
    const feedItems: SkeletonResponse['feed'] = [];
    for (const item of page.items) {
      if (items.length >= request.limit) break;
      if (seen.has(item.post)) continue;
      seen.add(item.post);
      items.push(item);
      posts.push(item.post);
      feedItems.push(responseItem(item));
    }
    const last = page.next ?? items.at(-1);
    const reqId = request.reqId ?? randomUUID();
    this.servable.remember(posts);
    if (request.viewer && items.length > 0) {
      const timeUs = Date.now() * 1000;
      this.impressions.record(request.viewer, request.feed, posts, reqId, { timeUs, origin: this.viewerFeedback.origin });
      this.viewerFeedback.served(request.viewer, posts, timeUs);
    }
    this.boosted.record(request.viewer, request.feed, items, reqId);
    return {
      feed: feedItems,
      cursor: last && !page.ends ? encodeFeedCursor({ ordering: page.ordering, sortKey: last.sortKey, cid: last.cid }) : undefined,
      reqId,
    };
  }
}
