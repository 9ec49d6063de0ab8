import { communityEvidence, oneCommunity, scoreCommunityPosts, served, type ScoredPost } from './community-scores.js';
import type { Steps } from '#lib/steps';
import type { RankingInput, RankingResult } from './ranking.js';

/**
 * `bridging-within`: the Community Notes factorisation over the members' signals; a post's score is
 * its intercept (the approval the community's opinion axis cannot explain), and it ranks only with
 * raters on both sides of that axis.
 */
export function* rankBridgingWithin(input: RankingInput): Steps<RankingResult> {
  const { ranked, result } = yield* scoreWithin(input);
  return { posts: served(ranked), ...result };
}

/** The within-community scores with each post's side of the axis (what `balanced` re-ranks). */
export function* scoreWithin(input: RankingInput): Steps<{ ranked: ScoredPost[]; result: Omit<RankingResult, 'posts'> }> {
  const evidence = yield* communityEvidence(input);
  return yield* scoreCommunityPosts(evidence, oneCommunity(evidence), { base: 'intercept' });
}
