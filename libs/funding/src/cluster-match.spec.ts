import { clusterMatch, totalCredits } from './cluster-match.js';
import type { Pledge } from './fund.types.js';

const post = 'at://did:plc:author/app.bsky.feed.post/1';
let next = 0;
const pledge = (pledger: string, community: string, amount: number, to = post): Pledge => ({
  pledger,
  rkey: `r${(next += 1)}`,
  community,
  post: to,
  amount,
  timeUs: next,
});

/** Who belongs where: `climate1` is in climate, `farm1` in farmers, `both` in the two. */
const membership: Record<string, string[]> = {
  climate1: ['climate'],
  climate2: ['climate'],
  farm1: ['farmers'],
  farm2: ['farmers'],
  both: ['climate', 'farmers'],
};
const memberOf = (did: string) => new Set(membership[did] ?? []);
const deepPools = new Map([
  ['climate', 1e9],
  ['farmers', 1e9],
  ['towns', 1e9],
]);

describe('cluster matching over communities', () => {
  it('gives no match to pledges from one community, however large', () => {
    const funding = clusterMatch([pledge('climate1', 'climate', 500), pledge('climate2', 'climate', 700)], memberOf, deepPools);
    expect(funding.get(post)).toEqual({ post, pledged: { climate: 1200 }, matched: {} });
  });

  it('matches pledges from two communities by the square root of the product of their support', () => {
    const funding = clusterMatch([pledge('climate1', 'climate', 100), pledge('farm1', 'farmers', 400)], memberOf, deepPools).get(post)!;
    expect(totalCredits(funding.matched)).toBeCloseTo(Math.sqrt(100 * 400));
    // Each pool pays half of the pair's match.
    expect(funding.matched).toEqual({ climate: 100, farmers: 100 });

    const quadrupled = clusterMatch([pledge('climate1', 'climate', 400), pledge('farm1', 'farmers', 400)], memberOf, deepPools).get(post)!;
    expect(totalCredits(quadrupled.matched)).toBeCloseTo(2 * totalCredits(funding.matched));
  });

  it('reads every community id as a name of its own, `constructor` and `__proto__` too', () => {
    const odd: Record<string, string[]> = { c1: ['constructor'], p1: ['__proto__'] };
    const funding = clusterMatch([pledge('c1', 'constructor', 100), pledge('p1', '__proto__', 400)], (did) => new Set(odd[did] ?? []), new Map([['constructor', 1e9], ['__proto__', 1e9]])).get(post)!;
    expect(Object.entries(funding.pledged)).toEqual([['constructor', 100], ['__proto__', 400]]);
    expect(Object.entries(funding.matched)).toEqual([['__proto__', 100], ['constructor', 100]]);
    expect(totalCredits(funding.pledged)).toBe(500);
  });

  it('does not let a member of both communities double the match', () => {
    const base = [pledge('climate1', 'climate', 100), pledge('farm1', 'farmers', 100)];
    const without = totalCredits(clusterMatch(base, memberOf, deepPools).get(post)!.matched);
    const withBoth = clusterMatch([...base, pledge('both', 'climate', 300), pledge('both', 'farmers', 300)], memberOf, deepPools).get(post)!;
    expect(totalCredits(withBoth.matched)).toBeCloseTo(without);
    expect(withBoth.pledged).toEqual({ climate: 400, farmers: 400 });
    // Alone, the member of both communities earns nothing: one person is not two clusters.
    const alone = clusterMatch([pledge('both', 'climate', 300), pledge('both', 'farmers', 300)], memberOf, deepPools).get(post)!;
    expect(alone.matched).toEqual({});
  });

  it('sums the pairs of three communities, and pays claims on a short pool in proportion', () => {
    const second = 'at://did:plc:author/app.bsky.feed.post/2';
    const pledges = [
      pledge('climate1', 'climate', 100),
      pledge('farm1', 'farmers', 100),
      pledge('town1', 'towns', 100),
      pledge('climate2', 'climate', 100, second),
      pledge('farm2', 'farmers', 100, second),
    ];
    const memberOfAll = (did: string) => new Set(did.startsWith('town') ? ['towns'] : (membership[did] ?? []));
    const deep = clusterMatch(pledges, memberOfAll, deepPools);
    expect(totalCredits(deep.get(post)!.matched)).toBeCloseTo(300);
    expect(totalCredits(deep.get(second)!.matched)).toBeCloseTo(100);

    // Climate's pool (60) is asked for 100 + 50 = 150 in all: each claim gets 60/150 of itself.
    const short = clusterMatch(pledges, memberOfAll, new Map([...deepPools, ['climate', 60]]));
    expect(short.get(post)!.matched.climate).toBeCloseTo(40);
    expect(short.get(second)!.matched.climate).toBeCloseTo(20);
    expect(short.get(post)!.matched.farmers).toBeCloseTo(100);
    expect(clusterMatch(pledges, memberOfAll, new Map()).get(post)!.matched).toEqual({});
  });

  it('never promises a pool twice: what a post was matched stays its, and later claims share what is left', () => {
    const second = 'at://did:plc:author/app.bsky.feed.post/2';
    const first = [pledge('climate1', 'climate', 100), pledge('farm1', 'farmers', 400)];
    const later = [pledge('climate2', 'climate', 100, second), pledge('farm2', 'farmers', 100, second)];
    const pools = new Map([
      ['climate', 100],
      ['farmers', 1e9],
    ]);
    // The first post's pair asks climate for 100 and empties its pool.
    expect(clusterMatch(first, memberOf, pools).get(post)!.matched.climate).toBeCloseTo(100);
    // Later the second asks for 50: the pool holds nothing more, and the first keeps what it was matched.
    const heldAll = clusterMatch([...first, ...later], memberOf, pools, (community) => new Map(community === 'climate' ? [[post, 100]] : []));
    expect(heldAll.get(post)!.matched.climate).toBeCloseTo(100);
    expect(heldAll.get(second)!.matched.climate ?? 0).toBe(0);

    // With 120 in the pool and 40 held, both claims get 0.8 of what they ask (80 and 40): all the pool, no more.
    const larger = new Map([...pools, ['climate', 120]]);
    const shared = clusterMatch([...first, ...later], memberOf, larger, (community) => new Map(community === 'climate' ? [[post, 40]] : []));
    expect(shared.get(post)!.matched.climate).toBeCloseTo(80);
    expect(shared.get(second)!.matched.climate).toBeCloseTo(40);
    // Holding more than its share (100), the first keeps it and the second gets what is left (20).
    const uneven = clusterMatch([...first, ...later], memberOf, larger, (community) => new Map(community === 'climate' ? [[post, 100]] : []));
    expect(uneven.get(post)!.matched.climate).toBeCloseTo(100);
    expect(uneven.get(second)!.matched.climate).toBeCloseTo(20);
  });
});
