import { findOpinionGroups, membershipFromAssignment, membershipFromLists } from '#lib/bridging';
import { communityEvidence, FOUND_GROUPS_CONSENSUS, oneCommunity, scoreCommunityPosts, served } from './community-scores.js';
import type { Steps } from '#lib/steps';
import type { RankingInput, RankingResult } from './ranking.js';

/**
 * `bridging`: Polis group-informed consensus across the feed's communities, on approvals divided by
 * exposure (served impressions and `interactionSeen`, plus an estimate of the members who were
 * active while the post was live); only posts with evidence from two or more groups rank.
 *
 * A feed of one community is bridged across the opinion groups found in its members' ratings
 * (`findOpinionGroups`, as Polis finds them); when they rated too little of it for that (a sparse,
 * social-network community), it is ranked as `bridging-within` and the explanation says so.
 */
export function* rankBridging(input: RankingInput): Steps<RankingResult> {
  const evidence = yield* communityEvidence(input);
  const communities = input.feed.communities;
  if (communities.length === 1) {
    const found = findOpinionGroups(evidence.cells);
    yield;
    if (!found.reliable) {
      const { ranked, result } = yield* scoreCommunityPosts(evidence, oneCommunity(evidence), {
        base: 'intercept',
        explain: { opinionGroups: 'too sparse: ranked inside the community' },
      });
      return { posts: served(ranked), ...result };
    }
    const names = Array.from({ length: found.groupCount }, (_, g) => `${communities[0]}/${g + 1}`);
    const membership = membershipFromAssignment(found.groupOfUser, found.groupCount, names);
    const { ranked, result } = yield* scoreCommunityPosts(evidence, membership, {
      base: 'consensus',
      consensus: FOUND_GROUPS_CONSENSUS,
      explain: { opinionGroups: [...found.groupSizes] },
    });
    return { posts: served(ranked), ...result };
  }
  const { table, users, memberOf } = evidence;
  const lists = Array.from({ length: table.userCount }, (_, user) => memberOf(users.idAt(user)));
  const membership = membershipFromLists(lists, communities.length, communities);
  const { ranked, result } = yield* scoreCommunityPosts(evidence, membership, { base: 'consensus' });
  return { posts: served(ranked), ...result };
}
