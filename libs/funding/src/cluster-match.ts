import { perCommunity, type Pledge } from './fund.types.js';

/** What a post received in one epoch: pledges and matches, per community. */
export interface PostFunding {
  post: string;
  /** Community → credits its members pledged. */
  pledged: Record<string, number>;
  /** Community → credits its matching pool adds. */
  matched: Record<string, number>;
}

/**
 * Cluster matching over communities (after Gitcoin's connection-oriented cluster matching).
 *
 * Per post, each unordered pair of communities {g, h} that both pledged earns
 * `√(C_g¬h · C_h¬g)`, where `C_g¬h` is what g's pledgers who are not also members of h pledged
 * through g: support from one community earns nothing, support from two earns the geometric mean
 * of theirs, and a person in both communities is never two clusters (their pledge counts as a
 * pledge but on neither side of that pair). Each pair's match is paid half from each community's
 * pool. A pool is never promised twice: what a post holds of it (`held`, community → post →
 * credits: the match of a post the fund was charged for) stays the post's, with or without a
 * pledge left, and a pool asked for more than it holds pays every claim the same share of what it
 * asks, the largest share the pool covers beside what is held.
 */
export function clusterMatch(
  pledges: readonly Pledge[],
  memberOf: (did: string) => ReadonlySet<string>,
  pools: ReadonlyMap<string, number>,
  held: (community: string) => ReadonlyMap<string, number> = () => NOTHING_HELD,
): Map<string, PostFunding> {
  const byPost = new Map<string, Pledge[]>();
  for (const pledge of pledges) {
    const list = byPost.get(pledge.post);
    if (list) list.push(pledge);
    else byPost.set(pledge.post, [pledge]);
  }

  /** Community → post → what the post's pairs ask of the community's pool. */
  const claims = new Map<string, Map<string, number>>();
  const funding = new Map<string, PostFunding>();
  for (const [post, list] of byPost) {
    const pledged = perCommunity();
    for (const pledge of list) pledged[pledge.community] = (pledged[pledge.community] ?? 0) + pledge.amount;
    funding.set(post, { post, pledged, matched: perCommunity() });
    const communities = Object.keys(pledged).sort();
    for (let i = 0; i < communities.length; i += 1) {
      for (let j = i + 1; j < communities.length; j += 1) {
        const g = communities[i]!;
        const h = communities[j]!;
        const raw = Math.sqrt(supportOutside(list, g, h, memberOf) * supportOutside(list, h, g, memberOf));
        if (raw === 0) continue;
        for (const community of [g, h]) {
          let asked = claims.get(community);
          if (!asked) claims.set(community, (asked = new Map()));
          asked.set(post, (asked.get(post) ?? 0) + raw / 2);
        }
      }
    }
  }

  for (const community of new Set([...claims.keys(), ...pools.keys()])) {
    const asked = claims.get(community) ?? new Map<string, number>();
    const floors = held(community);
    const share = poolShare(pools.get(community) ?? 0, asked, floors);
    for (const post of new Set([...asked.keys(), ...floors.keys()])) {
      const paid = Math.max(floors.get(post) ?? 0, share * (asked.get(post) ?? 0));
      if (paid <= 0) continue;
      // A post that holds a match and no pledge any more keeps it (it is boosted by pledges only).
      let entry = funding.get(post);
      if (!entry) funding.set(post, (entry = { post, pledged: perCommunity(), matched: perCommunity() }));
      entry.matched[community] = paid;
    }
  }
  return funding;
}

const NOTHING_HELD: ReadonlyMap<string, number> = new Map();

/**
 * The share λ ≤ 1 of its claim each post is paid from a pool, the largest for which
 * `Σ max(held, λ · asked)` stays within the pool (0 when what is held fills it): the sum grows
 * with λ, linearly between the points where a post's share passes what it holds.
 */
function poolShare(pool: number, asked: ReadonlyMap<string, number>, held: ReadonlyMap<string, number>): number {
  const posts = new Set([...asked.keys(), ...held.keys()]);
  const at = (share: number) => [...posts].reduce((sum, post) => sum + Math.max(held.get(post) ?? 0, share * (asked.get(post) ?? 0)), 0);
  if (at(1) <= pool) return 1;
  // Below the first breakpoint every post is paid what it holds; past each, its claim grows with λ.
  const breaks = [...asked].filter(([, claim]) => claim > 0).map(([post, claim]) => ({ at: (held.get(post) ?? 0) / claim, claim, held: held.get(post) ?? 0 }));
  breaks.sort((a, b) => a.at - b.at);
  let growing = 0;
  let fixed = [...posts].reduce((sum, post) => sum + (held.get(post) ?? 0), 0);
  if (fixed >= pool) return 0;
  for (const point of breaks) {
    if (growing * point.at + fixed > pool) break;
    growing += point.claim;
    fixed -= point.held;
  }
  return Math.min(1, Math.max(0, (pool - fixed) / growing));
}

/** Credits pledged through `community` by pledgers who are not members of `other`. */
function supportOutside(pledges: readonly Pledge[], community: string, other: string, memberOf: (did: string) => ReadonlySet<string>): number {
  let sum = 0;
  for (const pledge of pledges) {
    if (pledge.community === community && !memberOf(pledge.pledger).has(other)) sum += pledge.amount;
  }
  return sum;
}

/** Total credits of a record of credits per community. */
export function totalCredits(credits: Readonly<Record<string, number>>): number {
  let sum = 0;
  for (const value of Object.values(credits)) sum += value;
  return sum;
}
