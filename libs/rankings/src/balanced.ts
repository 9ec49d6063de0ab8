import { balance } from '#lib/bridging';
import { scoreWithin } from './bridging-within.js';
import { served } from './community-scores.js';
import type { Steps } from '#lib/steps';
import type { RankingInput, RankingResult } from './ranking.js';

/**
 * `balanced`: the `bridging-within` scores, re-ranked so both sides of the community's opinion axis
 * get their share (`feed.balance`) of every prefix of the feed.
 */
export function* rankBalanced(input: RankingInput): Steps<RankingResult> {
  const { ranked, result } = yield* scoreWithin(input);
  return { posts: served(balance(ranked, { shares: input.feed.balance })), ...result };
}
