import { conversationVoteContext } from '#lib/bridging';
import { analyseConversation } from './conversation-report.js';
import type { Steps } from '#lib/steps';
import type { RankedPost, RankingInput, RankingResult } from './ranking.js';

/**
 * `deliberation`: a conversation's statements in the order Polis routes comments for voting:
 * statements with few votes first (`1 + 8·2^(−votes/5)`), weighted up by how far the opinion groups
 * part on them (`1 + spread`), which is what best tells the groups apart. The run also returns the
 * conversation's live report (`analyseConversation`). Votes count from anyone, or only from the
 * members of the feed's communities (`participants: members`). Which statements a signed-in viewer
 * already voted on is left out when the feed is served.
 */
export function* rankDeliberation(input: RankingInput): Steps<RankingResult> {
  const membersOnly = input.feed.deliberation?.participants === 'members';
  const counts = (actor: string) => !membersOnly || [...input.members.values()].some((members) => members.has(actor));
  const { report, statements } = analyseConversation(input, counts);
  const feedContext = conversationVoteContext(input.feed.shortname);
  yield;
  const posts: RankedPost[] = input.candidates.map((post) => {
    const line = statements.get(post.uri);
    const votes = line?.votes ?? 0;
    const spread = line?.spread ?? 0;
    const score = (1 + 8 * 2 ** (-votes / 5)) * (1 + spread);
    return {
      uri: post.uri,
      cid: post.cid,
      score,
      // What the client hands back with a vote says it is one, in this conversation (see `voteContext`).
      feedContext,
      components: { ranking: 'deliberation', score, votes, spread, consensus: line?.consensus ?? 0 },
    };
  });
  posts.sort((a, b) => b.score - a.score || (a.uri < b.uri ? -1 : a.uri > b.uri ? 1 : 0));
  return { posts, report };
}
