import type { FeedDefinition, Ranking } from '#lib/curation';
import type { FeedCursor } from '#lib/domain';

export interface SkeletonRequest {
  feed: FeedDefinition;
  limit: number;
  /** Decoded cursor of the previous page; its ordering is checked by the algorithm. */
  cursor?: FeedCursor;
  /** Verified DID of the viewer, when the request carried service auth. */
  viewer?: string;
  /**
   * Keep the posts removed since the snapshot (deleted, or their account inactive): a viewer's
   * personal order is computed over them, so that its positions stay where they were when one is
   * removed, and leaves them out when it serves a page. Snapshot orderings only.
   */
  withRemoved?: boolean;
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
  /** The post's author (the DID of its URI), where the algorithm keeps it: a personal order reads it for every post it weighs. */
  author?: string;
}

/** The DID of an `at://did/collection/rkey` URI. */
export function authorOf(uri: string): string {
  const end = uri.indexOf('/', 5);
  return end < 0 ? uri.slice(5) : uri.slice(5, end);
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
