import {
  aggregateCells,
  composeScore,
  decay,
  estimateExposureSteps,
  IdIndex,
  InteractionTableBuilder,
  isFiniteModel,
  membershipFromLists,
  provenanceContext,
  scoreBridgingSteps,
  Signal,
  type BridgingScores,
  type ConsensusOptions,
  type GroupMembership,
  type InteractionTable,
  type RatingCells,
  usersWithoutExposureReports,
} from '#lib/bridging';
import type { Steps } from '#lib/steps';
import { downranked, excludingLabels, isDiscountedBotSignal } from './label-effects.js';
import type { CandidatePost, RankedPost, RankingInput, RankingResult } from './ranking.js';

/** How each stored signal kind enters the ranking; kinds not listed carry no information here. */
const signalOfKind: Readonly<Record<string, Signal>> = {
  like: Signal.Like,
  repost: Signal.Repost,
  reply: Signal.Reply,
  quote: Signal.Quote,
  requestLess: Signal.RequestLess,
  requestMore: Signal.RequestMore,
  interactionSeen: Signal.Seen,
  impression: Signal.Seen,
  clickthroughItem: Signal.Seen,
  clickthroughEmbed: Signal.Seen,
};

/** A post needs raters on both sides of the opinion axis before bridging inside a community ranks it. */
const MIN_RATERS_PER_SIDE = 2;
const FACTOR_SEED = 20_261_122;
/** Items between two steps of the loops over posts and signals (see `#lib/steps`): well under a millisecond of work. */
const STEP_ITEMS = 1_024;

/**
 * Group-informed consensus across a feed's groups as Polis defines it (every group enters: a group
 * that saw nothing of a post gives it no support), each group's approval at the lower bound of
 * Polis's one-sided 90% test (z = 1.2816) on its reported exposure: thin evidence ranks by how sure
 * it is, below as high an approval on more votes. Estimated exposure is not a count of votes, so
 * with likes only the bound falls back to the posterior mean.
 * @NOTE a group gives evidence once half a member is expected to have seen the post. Reported
 * exposure comes in whole members, so there this is one member, as before; an estimate is an
 * expectation, and one that weighs non-likers by the chance they saw the post falls below one
 * member in a small group where nobody liked it (on freshwater's group of 9 it left out 2 of the
 * 51 comments both groups voted on).
 */
export const CONSENSUS: ConsensusOptions = Object.freeze({ scope: 'all', lowerBoundZ: 1.2816, minExposure: 0.5 });

/**
 * The consensus across opinion groups found in the members' own ratings: the posterior mean, as
 * Polis ranks it. The groups are found only where the ratings are dense (every grouped member rated
 * at least seven posts, and five or more rated both posts of a pair on average), so there is little
 * thin evidence to guard against, and the found groups can be small: a lower bound on a group of a
 * handful would rank posts by how many of that handful voted, not by consensus.
 */
export const FOUND_GROUPS_CONSENSUS: ConsensusOptions = Object.freeze({ scope: 'all' });

/** The members' signals on the window's posts, as the bridging maths takes them. */
interface CommunityEvidence {
  input: RankingInput;
  table: InteractionTable;
  cells: RatingCells;
  users: IdIndex;
  posts: IdIndex;
  postByUri: ReadonlyMap<string, CandidatePost>;
  /** Indices (in `feed.communities`) of the communities a DID belongs to. */
  memberOf(did: string): number[];
}

/**
 * First step of every bridging ranking: the interaction table of the feed's candidates, with only
 * the signals of members of the feed's communities (inside a community only its members' signals
 * count; across communities, only members of one).
 */
export function* communityEvidence(input: RankingInput): Steps<CommunityEvidence> {
  const { feed, members, candidates, signals, previous } = input;
  const memberOf = (did: string) => feed.communities.flatMap((id, group) => (members.get(id)?.has(did) ? [group] : []));
  // Indices only grow; once they hold far more than the window, start afresh rather than carry them.
  const kept = previous && previous.posts.size <= 2 * candidates.length + 1_000 ? previous : undefined;
  const users = kept?.users ?? new IdIndex();
  const posts = kept?.posts ?? new IdIndex();
  const builder = new InteractionTableBuilder({ users, posts, capacity: signals.length + 16 });
  const postByUri = new Map<string, CandidatePost>();
  for (const [index, post] of candidates.entries()) {
    if (index % STEP_ITEMS === 0) yield;
    if (excludingLabels(input, post).length > 0) continue;
    postByUri.set(post.uri, post);
    posts.intern(post.uri);
  }
  for (const [index, signal] of signals.entries()) {
    if (index % STEP_ITEMS === 0) yield;
    const kind = signalOfKind[signal.kind];
    if (kind === undefined || !postByUri.has(signal.uri)) continue;
    if (memberOf(signal.actor).length === 0) continue;
    if (isDiscountedBotSignal(input, signal.actor, signal.kind)) continue;
    builder.add(signal.actor, signal.uri, kind, signal.timeUs / 1000);
  }
  const table = builder.build();
  yield;
  const cells = aggregateCells(table);
  yield;
  return { input: kept === previous ? input : { ...input, previous: undefined }, table, cells, users, posts, postByUri, memberOf };
}

/** Every member of the feed's communities in one group: the population a within-community fit runs on. */
export function oneCommunity(evidence: CommunityEvidence): GroupMembership {
  const { table, users, memberOf, input } = evidence;
  const lists = Array.from({ length: table.userCount }, (_, user) => (memberOf(users.idAt(user)).length > 0 ? [0] : undefined));
  return membershipFromLists(lists, 1, [input.feed.communities.join('+')]);
}

/** Which score a post ranks by, and what its explanation says beyond the shared parts. */
interface ScoringRule {
  /** `consensus`: group-informed consensus across the groups; `intercept`: the within-community intercept. */
  base: 'consensus' | 'intercept';
  /** Extra explanation fields, shown for every post of the feed. */
  explain?: Record<string, unknown>;
  /** How the consensus weighs the groups' evidence (default `CONSENSUS`). */
  consensus?: ConsensusOptions;
}

export interface ScoredPost extends RankedPost {
  /** The post's URI, as `balance` names items. */
  id: string;
  /** Side of the opinion axis the post leans to (for balancing). */
  side: 'positive' | 'negative';
}

/**
 * Scores the evidence across `membership`'s groups (exposure-normalised approval, the factor model)
 * and ranks the posts that qualify by their base score, decayed with age, best first.
 */
export function* scoreCommunityPosts(
  evidence: CommunityEvidence,
  membership: GroupMembership,
  rule: ScoringRule,
): Steps<{ ranked: ScoredPost[]; result: Omit<RankingResult, 'posts'> }> {
  const { input, table, cells, users, posts, postByUri } = evidence;
  const { feed, nowMs, previous } = input;
  const postCreatedMs = new Float64Array(table.postCount);
  for (let p = 0; p < table.postCount; p += 1) postCreatedMs[p] = (postByUri.get(posts.idAt(p))?.timeUs ?? 0) / 1000;

  // Members whose clients report what they were shown have their exposure counted; only the
  // others' is estimated from their activity.
  const estimatedUsers = usersWithoutExposureReports(table);
  // A model with a parameter that is not a finite number is never started from (a fit does not
  // return one; a state kept from elsewhere might hold one).
  const canWarmStart = previous !== undefined && previous.model.postIntercept.length <= table.postCount && isFiniteModel(previous.model);
  const exposureFloor = yield* estimateExposureSteps(table, membership, { postCreatedMs, windowMs: feed.windowHours * 3_600_000, users: estimatedUsers, cells });
  const scores = yield* scoreBridgingSteps(
    { table, cells, membership, exposureFloor, estimatedUsers },
    {
      factor: {
        seed: FACTOR_SEED,
        // Warm-started fits converge in a few sweeps when little changed, and run on when much did.
        ...(canWarmStart && { warmStart: previous.model }),
      },
      // A post ranked by its intercept is explained by it, not by a consensus across one group.
      consensus: rule.base === 'consensus' ? (rule.consensus ?? CONSENSUS) : false,
    },
  );

  const halfLifeMs = feed.halfLifeHours * 3_600_000;
  const ranked: ScoredPost[] = [];
  for (let p = 0; p < table.postCount; p += 1) {
    if (p % STEP_ITEMS === 0) yield;
    const post = postByUri.get(posts.idAt(p));
    if (!post) continue;
    const bridging = baseScore(scores, p, rule.base);
    if (bridging === undefined) continue;
    const ageMs = Math.max(0, nowMs - post.timeUs / 1000);
    // A negative score (approval below what the opinion axis predicts) sinks further with age
    // instead of being clamped: the bottom of the feed keeps its order too.
    const decayed = bridging >= 0 ? composeScore(bridging, ageMs, { halfLifeMs }) : bridging / Math.max(decay(ageMs, halfLifeMs), 1e-12);
    const { score, effect } = downranked(input, post, decayed);
    const explanation = scores.provenance(p);
    const factor = scores.model?.postFactor[p] ?? 0;
    ranked.push({
      id: post.uri,
      uri: post.uri,
      cid: post.cid,
      score,
      side: factor >= 0 ? 'positive' : 'negative',
      feedContext: provenanceContext(explanation),
      components: {
        ranking: feed.ranking,
        ...rule.explain,
        score,
        bridging,
        decay: decay(ageMs, halfLifeMs),
        ageHours: Math.round(ageMs / 36_000) / 100,
        supportedBy: explanation.supportedBy,
        divisiveIn: explanation.divisiveIn,
        ...explanation.components,
        ...(effect && { labels: effect }),
        ...(scores.sides && {
          raters: { positive: scores.sides.positiveRaters[p], negative: scores.sides.negativeRaters[p] },
        }),
      },
    });
  }
  yield;
  ranked.sort((a, b) => b.score - a.score || (a.uri < b.uri ? -1 : a.uri > b.uri ? 1 : 0));
  yield;
  return { ranked, result: scores.model ? { state: { users, posts, model: scores.model } } : {} };
}

/** The served shape of scored posts (without the balancing side). */
export function served(ranked: readonly ScoredPost[]): RankedPost[] {
  return ranked.map(({ uri, cid, score, feedContext, components }) => ({ uri, cid, score, feedContext, components }));
}

function baseScore(scores: BridgingScores, post: number, base: ScoringRule['base']): number | undefined {
  if (base === 'consensus') {
    const consensus = scores.consensus;
    if (!consensus || consensus.eligible[post] !== 1) return undefined;
    return consensus.geoMean[post];
  }
  const sides = scores.sides;
  const intercept = scores.balancedIntercept?.[post];
  if (!sides || intercept === undefined) return undefined;
  if (sides.positiveRaters[post]! < MIN_RATERS_PER_SIDE || sides.negativeRaters[post]! < MIN_RATERS_PER_SIDE) return undefined;
  return intercept;
}
