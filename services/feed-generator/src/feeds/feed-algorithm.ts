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
  /** Opinion side of the post, where the ranking knows it (a balanced feed keeps each side's positions). */
  side?: string;
}

export interface SkeletonPage {
  /** Ordering the sort keys belong to (`t`, or `s<snapshot>`). */
  ordering: string;
  items: SkeletonItem[];
}

/** Serves one or more rankings. A feed names its ranking; the algorithms are looked up by it. */
export interface FeedAlgorithm {
  readonly rankings: readonly Ranking[];
  skeleton(request: SkeletonRequest): Promise<SkeletonPage>;
}

export const FEED_ALGORITHMS = Symbol('FEED_ALGORITHMS');
