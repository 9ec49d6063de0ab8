import type { Pledge } from './fund.types.js';

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
 * pool; a pool asked for more than it holds pays every claim on it in the same proportion.
 */
export function clusterMatch(
  pledges: readonly Pledge[],
  memberOf: (did: string) => ReadonlySet<string>,
  pools: ReadonlyMap<string, number>,
): Map<string, PostFunding> {
  const byPost = new Map<string, Pledge[]>();
  for (const pledge of pledges) {
    const list = byPost.get(pledge.post);
    if (list) list.push(pledge);
    else byPost.set(pledge.post, [pledge]);
  }

  const claims: { post: string; community: string; raw: number }[] = [];
  const demand = new Map<string, number>();
  const funding = new Map<string, PostFunding>();
  for (const [post, list] of byPost) {
    const pledged: Record<string, number> = {};
    for (const pledge of list) pledged[pledge.community] = (pledged[pledge.community] ?? 0) + pledge.amount;
    funding.set(post, { post, pledged, matched: {} });
    const communities = Object.keys(pledged).sort();
    for (let i = 0; i < communities.length; i += 1) {
      for (let j = i + 1; j < communities.length; j += 1) {
        const g = communities[i]!;
        const h = communities[j]!;
        const gSide = supportOutside(list, g, h, memberOf);
        const hSide = supportOutside(list, h, g, memberOf);
        const raw = Math.sqrt(gSide * hSide);
        if (raw === 0) continue;
        for (const community of [g, h]) {
          claims.push({ post, community, raw: raw / 2 });
          demand.set(community, (demand.get(community) ?? 0) + raw / 2);
        }
      }
    }
  }

  for (const { post, community, raw } of claims) {
    const pool = pools.get(community) ?? 0;
    const asked = demand.get(community)!;
    const paid = raw * Math.min(1, pool / asked);
    if (paid <= 0) continue;
    const entry = funding.get(post)!;
    entry.matched[community] = (entry.matched[community] ?? 0) + paid;
  }
  return funding;
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
