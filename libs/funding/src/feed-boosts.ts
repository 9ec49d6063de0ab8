import { totalCredits, type PostFunding } from './cluster-match.js';
import { eligibility, measureOf } from './eligibility.js';
import { perCommunity, type FundRules } from './fund.types.js';
import { liftOf, placeBoosts, type Placed } from './boost-placement.js';

/** A ranked post as the snapshot writer holds it. */
export interface RankedForBoost {
  uri: string;
  score: number;
  components: Readonly<Record<string, unknown>>;
}

/** Why a post is boosted in a feed, shown with it (explanation, console) and charged from. */
export interface Boost {
  /** Communities whose funds raise it here. */
  funds: string[];
  /** Credits pledged and matched this epoch, per funding community. */
  pledged: Record<string, number>;
  matched: Record<string, number>;
  /** Credits of those not yet spent on impressions, at most what each fund's budget has left. */
  credits: number;
  lift: number;
}

export interface FeedBoostInput<T extends RankedForBoost> {
  /** The feed's short name and communities. */
  feed: string;
  communities: readonly string[];
  ranked: readonly T[];
  funds: ReadonlyMap<string, FundRules>;
  /** The epoch's pledges and matches per post (`clusterMatch`). */
  funding: ReadonlyMap<string, PostFunding>;
  /** Credits each fund has spent this epoch on each post: `spent(community, post)`. */
  spent: (community: string, post: string) => number;
  /** Credits each fund has left this epoch; a fund at zero or below boosts nothing. */
  remaining: (community: string) => number;
}

export interface FeedBoosts<T> {
  placed: Placed<T>[];
  /** Boosts of the posts the placement raised. */
  boosts: Map<string, Boost>;
  /** Posts offered a boost that are not eligible, with the reason. */
  refused: Map<string, string>;
}

/**
 * Applies the funds of a feed's communities to its ranking: a post is offered a boost by each
 * fund of the feed's communities that may boost this feed, has budget left and holds credits
 * (pledged plus matched, less spent, at most the budget it has left) on it; the offer stands only when the post's bridging across
 * those funders is eligible. Placement follows `placeBoosts` with the smallest page share among them.
 */
export function boostFeed<T extends RankedForBoost>(input: FeedBoostInput<T>): FeedBoosts<T> {
  const applicable = input.communities
    .map((community) => input.funds.get(community))
    .filter((fund): fund is FundRules => fund !== undefined && (fund.feeds.length === 0 || fund.feeds.includes(input.feed)) && input.remaining(fund.community) > 0);
  const lifts = new Map<string, number>();
  const offered = new Map<string, Boost>();
  const refused = new Map<string, string>();
  for (const post of input.ranked) {
    const funding = input.funding.get(post.uri);
    if (!funding) continue;
    const funders: FundRules[] = [];
    const pledged = perCommunity();
    const matched = perCommunity();
    let credits = 0;
    for (const fund of applicable) {
      const own = funding.pledged[fund.community] ?? 0;
      if (own <= 0) continue;
      // A fund pays for no more than its budget has left, so a boost lifts by no more than that buys.
      const left = Math.min(own + (funding.matched[fund.community] ?? 0) - input.spent(fund.community, post.uri), input.remaining(fund.community));
      if (left <= 0) continue;
      funders.push(fund);
      pledged[fund.community] = own;
      matched[fund.community] = funding.matched[fund.community] ?? 0;
      credits += left;
    }
    if (funders.length === 0) continue;
    const verdict = eligibility(measureOf(post.components), funders);
    if (!verdict.eligible) {
      refused.set(post.uri, verdict.reason);
      continue;
    }
    const lift = liftOf(credits, Math.max(...funders.map((fund) => fund.maxLift)));
    lifts.set(post.uri, lift);
    offered.set(post.uri, { funds: funders.map((fund) => fund.community), pledged, matched, credits, lift });
  }
  const pageShare = Math.min(1, ...applicable.map((fund) => fund.pageShare));
  const placed = placeBoosts(input.ranked, lifts, pageShare);
  const boosts = new Map<string, Boost>();
  for (const { item, boosted } of placed) if (boosted) boosts.set(item.uri, offered.get(item.uri)!);
  return { placed, boosts, refused };
}

/** A boost's credits as one line: "raised by the climate × farmers fund: 120 credits, 80 matched". */
export function describeBoost(boost: Pick<Boost, 'funds' | 'pledged' | 'matched'>): string {
  const pledged = Math.round(totalCredits(boost.pledged));
  const matched = Math.round(totalCredits(boost.matched));
  return `raised by the ${boost.funds.join(' × ')} fund: ${pledged} credits, ${matched} matched`;
}
