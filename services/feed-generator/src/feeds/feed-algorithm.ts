import type { FeedDefinition, Ranking } from '#lib/curation';
import type { FeedCursor } from '#lib/domain';

export interface SkeletonRequest {
  feed: FeedDefinition;
  limit: number;
  /** Decoded cursor of the previous page; its ordering is checked by the algorithm. */
  cursor?: FeedCursor;
  /** Verified DID of the viewer, when the request carried service auth. */
  viewer?: string;
}

export interface SkeletonItem {
  post: string;
  cid: string;
  /** Position in the algorithm's ordering; with the CID it makes the page cursor. */
  sortKey: number;
  feedContext?: string;
  /** `pin`: served as pinned (`skeletonReasonPin`), as a digest's end card is. */
  reason?: 'pin';
  /** Opinion side of the post, where the ranking knows it (a balanced feed keeps each side's positions). */
  side?: string;
}

export interface SkeletonPage {
  /** Ordering the sort keys belong to (`t`, `s<snapshot>` or `e<edition>`). */
  ordering: string;
  items: SkeletonItem[];
  /** The feed ends with this page: it gets no cursor, so clients stop asking (a digest edition). */
  ends?: boolean;
  /** Where the next page starts when posts after the last item were looked at and left out (removed ones). */
  next?: Pick<SkeletonItem, 'sortKey' | 'cid'>;
}

/** Serves one or more rankings. A feed names its ranking; the algorithms are looked up by it. */
export interface FeedAlgorithm {
  readonly rankings: readonly Ranking[];
  skeleton(request: SkeletonRequest): Promise<SkeletonPage>;
}

export const FEED_ALGORITHMS = Symbol('FEED_ALGORITHMS');
