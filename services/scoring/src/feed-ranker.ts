import {
  aggregateCells,
  balance,
  composeScore,
  decay,
  estimateExposure,
  findOpinionGroups,
  IdIndex,
  InteractionTableBuilder,
  membershipFromAssignment,
  membershipFromLists,
  provenanceContext,
  scoreBridging,
  Signal,
  type BridgingScores,
  type FactorModel,
  type GroupMembership,
} from '#lib/bridging';
import type { FeedDefinition } from '#lib/curation';

/** A post that may appear in the feed: inside the window, by a member or approved by members. */
export interface CandidatePost {
  uri: string;
  cid: string;
  author: string;
  timeUs: number;
}

/** One signal on a candidate post: a record (like, repost, reply, quote) or viewer feedback. */
export interface PostSignal {
  actor: string;
  uri: string;
  kind: string;
  timeUs: number;
}

export interface RankedPost {
  uri: string;
  cid: string;
  score: number;
  feedContext: string;
  /** Why the post is where it is: score parts and evidence counts, for the explanation endpoint. */
  components: Record<string, unknown>;
}

export interface RankingResult {
  posts: RankedPost[];
  /** Model and index of users/posts, kept to warm-start the next refresh. */
  state?: RankerState;
}

export interface RankerState {
  users: IdIndex;
  posts: IdIndex;
  model: FactorModel;
}

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

/**
 * Ranks a feed's candidates from their signals. Pure: the same data, `nowMs` and state give the
 * same feed.
 *
 * - `bridging`: Polis group-informed consensus across the feed's communities, on approvals divided
 *   by exposure (served impressions and `interactionSeen`, plus an estimate of the members who were
 *   active while the post was live); only posts with evidence from two or more communities rank. A
 *   feed of one community is bridged across the opinion groups found in its members' ratings
 *   (`findOpinionGroups`, as Polis finds them); when they rated too little of it for that (a sparse,
 *   social-network community), it is ranked as `bridging-within`.
 * - `bridging-within`: the Community Notes factorisation over the members' signals; the score is the
 *   post's intercept (approval the opinion axis cannot explain); posts need raters on both sides.
 * - `balanced`: the within-community score, re-ranked so both sides of the axis get their share of
 *   every prefix of the feed.
 * Every score decays with the post's age (`halfLifeHours`).
 */
export function rankFeed(
  feed: FeedDefinition,
  members: ReadonlyMap<string, ReadonlySet<string>>,
  candidates: readonly CandidatePost[],
  signals: readonly PostSignal[],
  options: { nowMs: number; previous?: RankerState },
): RankingResult {
  if (feed.ranking === 'recent') throw new RangeError('recent feeds are served from the posts table, not ranked');
  const communityIds = feed.communities;
  const memberOf = (did: string) => communityIds.flatMap((id, group) => (members.get(id)?.has(did) ? [group] : []));

  // Indices only grow; once they hold far more than the window, start afresh rather than carry them.
  const previous =
    options.previous && options.previous.posts.size <= 2 * candidates.length + 1_000 ? options.previous : undefined;
  const users = previous?.users ?? new IdIndex();
  const posts = previous?.posts ?? new IdIndex();
  const builder = new InteractionTableBuilder({ users, posts, capacity: signals.length + 16 });
  const postByUri = new Map<string, CandidatePost>();
  for (const post of candidates) {
    postByUri.set(post.uri, post);
    posts.intern(post.uri);
  }
  for (const signal of signals) {
    const kind = signalOfKind[signal.kind];
    if (kind === undefined || !postByUri.has(signal.uri)) continue;
    // Inside a community only its members' signals count; across communities, only members of one.
    if (memberOf(signal.actor).length === 0) continue;
    builder.add(signal.actor, signal.uri, kind, signal.timeUs / 1000);
  }
  const table = builder.build();
  const cells = aggregateCells(table);
  // One community bridged across the opinion groups its members' own ratings form (Polis), when they
  // rated enough of its posts to find them; else inside it, as `bridging-within`.
  const found = feed.ranking === 'bridging' && communityIds.length === 1 ? findOpinionGroups(cells) : undefined;
  const within = feed.ranking !== 'bridging' || (found !== undefined && !found.reliable);
  let membership: GroupMembership;
  if (found && !within) {
    const names = Array.from({ length: found.groupCount }, (_, g) => `${communityIds[0]}/${g + 1}`);
    membership = membershipFromAssignment(found.groupOfUser, found.groupCount, names);
  } else {
    const groupLists = Array.from({ length: table.userCount }, (_, user) => {
      const groups = memberOf(users.idAt(user));
      return within ? (groups.length > 0 ? [0] : undefined) : groups;
    });
    const groupNames = within ? [communityIds.join('+')] : communityIds;
    membership = membershipFromLists(groupLists, groupNames.length, groupNames);
  }
  const postCreatedMs = new Float64Array(table.postCount);
  for (let p = 0; p < table.postCount; p += 1) postCreatedMs[p] = (postByUri.get(posts.idAt(p))?.timeUs ?? 0) / 1000;

  const canWarmStart = previous !== undefined && previous.model.postIntercept.length <= table.postCount;
  const scores = scoreBridging(
    {
      table,
      cells,
      membership,
      exposureFloor: estimateExposure(table, membership, { postCreatedMs, windowMs: feed.windowHours * 3_600_000 }),
    },
    {
      factor: {
        seed: FACTOR_SEED,
        // Warm-started fits converge in a few sweeps when little changed, and run on when much did.
        ...(canWarmStart && { warmStart: previous.model }),
      },
    },
  );

  const ranked: (RankedPost & { side: string; id: string })[] = [];
  for (let p = 0; p < table.postCount; p += 1) {
    const post = postByUri.get(posts.idAt(p));
    if (!post) continue;
    const bridging = baseScore(scores, p, within);
    if (bridging === undefined) continue;
    const ageMs = Math.max(0, options.nowMs - post.timeUs / 1000);
    const halfLifeMs = feed.halfLifeHours * 3_600_000;
    // A negative score (approval below what the opinion axis predicts) sinks further with age
    // instead of being clamped: the bottom of the feed keeps its order too.
    const score = bridging >= 0 ? composeScore(bridging, ageMs, { halfLifeMs }) : bridging / Math.max(decay(ageMs, halfLifeMs), 1e-12);
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
        ...(found && { opinionGroups: found.reliable ? [...found.groupSizes] : 'too sparse: ranked inside the community' }),
        score,
        bridging,
        decay: decay(ageMs, halfLifeMs),
        ageHours: Math.round(ageMs / 36_000) / 100,
        supportedBy: explanation.supportedBy,
        divisiveIn: explanation.divisiveIn,
        ...explanation.components,
        ...(scores.sides && {
          raters: { positive: scores.sides.positiveRaters[p], negative: scores.sides.negativeRaters[p] },
        }),
      },
    });
  }
  ranked.sort((a, b) => b.score - a.score || (a.uri < b.uri ? -1 : a.uri > b.uri ? 1 : 0));
  const ordered = feed.ranking === 'balanced' ? balance(ranked, { shares: feed.balance }) : ranked;
  return {
    posts: ordered.map(({ uri, cid, score, feedContext, components }) => ({ uri, cid, score, feedContext, components })),
    ...(scores.model && { state: { users, posts, model: scores.model } }),
  };
}

function baseScore(scores: BridgingScores, post: number, within: boolean): number | undefined {
  if (!within) {
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
