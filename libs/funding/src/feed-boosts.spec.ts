import { placeBoosts } from './boost-placement.js';
import fc from 'fast-check';
import { boostedContext, boostOfContext, namesFunds } from './boost-context.js';
import { eligibility } from './eligibility.js';
import { clusterMatch } from './cluster-match.js';
import { boostFeed, describeBoost } from './feed-boosts.js';
import type { FundRules } from './fund.types.js';
import { checkPledges } from './pledge-validation.js';

const rules = (community: string, overrides: Partial<FundRules> = {}): FundRules => ({
  community,
  budget: 1_000,
  matchingPool: 500,
  memberAllowance: 100,
  pageShare: 0.2,
  minBridging: 0.5,
  maxLift: 1,
  feeds: [],
  ...overrides,
});
const support = (group: string, rate: number, exposure = 20) => ({ group, rate, exposure, approvals: rate * exposure });

/** Forty posts scored 40, 39, …, 1, each approved by both communities. */
const ranked = Array.from({ length: 40 }, (_, i) => ({
  uri: `p${i + 1}`,
  score: 40 - i,
  components: { groups: [support('climate', 0.8), support('farmers', 0.7)], divisiveIn: [] },
}));

describe('eligibility by measured bridging', () => {
  it('refuses a post that divides a funding community, whatever is pledged', () => {
    const divisive = { groups: [support('climate', 0.9), support('farmers', 0.9)], divisiveIn: ['farmers'] };
    expect(eligibility(divisive, [rules('climate'), rules('farmers')])).toEqual({ eligible: false, reason: 'divisive in farmers' });
    const boosts = boostFeed({
      feed: 'common',
      communities: ['climate', 'farmers'],
      ranked: [...ranked.slice(0, 10), { uri: 'split', score: 1, components: divisive }],
      funds: new Map([['climate', rules('climate')], ['farmers', rules('farmers')]]),
      funding: new Map([['split', { post: 'split', pledged: { climate: 1e6, farmers: 1e6 }, matched: { climate: 1e6, farmers: 1e6 } }]]),
      spent: () => 0,
      remaining: () => 1e9,
    });
    expect(boosts.boosts.size).toBe(0);
    expect(boosts.refused.get('split')).toBe('divisive in farmers');
    expect(boosts.placed.at(-1)).toMatchObject({ item: { uri: 'split' }, boosted: false });
  });

  it('refuses a post a funding community approves too little or has not seen, and takes one of its opinion groups as the community', () => {
    expect(eligibility({ groups: [support('climate', 0.3), support('farmers', 0.9)], divisiveIn: [] }, [rules('climate')])).toMatchObject({ eligible: false });
    expect(eligibility({ groups: [support('climate', 0.9, 2)], divisiveIn: [] }, [rules('climate')])).toMatchObject({ eligible: false });
    expect(eligibility({ groups: [support('climate/1', 0.9), support('climate/2', 0.6)], divisiveIn: [] }, [rules('climate')])).toEqual({ eligible: true });
    expect(eligibility(undefined, [rules('climate')])).toMatchObject({ eligible: false });
  });
});

describe('boost placement', () => {
  it('raises a boosted post no further than its lift allows, and keeps everything else in order', () => {
    // p30 scores 11; a lift of 1 lets it pass posts scoring below 22 (p20 and after), not p19 (22).
    const placed = placeBoosts(ranked, new Map([['p30', 1]]), 0.2);
    const order = placed.map(({ item }) => item.uri);
    expect(order.indexOf('p30')).toBe(order.indexOf('p19') + 1);
    expect(placed.find(({ item }) => item.uri === 'p30')).toMatchObject({ boosted: true, unboostedRank: 30 });
    expect(order.filter((uri) => uri !== 'p30')).toEqual(ranked.map(({ uri }) => uri).filter((uri) => uri !== 'p30'));
  });

  it('never gives boosts more than the page share of any page, and never places a post twice', () => {
    const lifts = new Map(ranked.slice(20).map(({ uri }) => [uri, 10]));
    const placed = placeBoosts(ranked, lifts, 0.2);
    const order = placed.map(({ item }) => item.uri);
    expect(new Set(order).size).toBe(ranked.length);
    for (const limit of [1, 5, 7, 10, 25]) {
      for (let start = 0; start + limit <= placed.length; start += 1) {
        const onPage = placed.slice(start, start + limit).filter(({ boosted }) => boosted).length;
        expect(onPage).toBeLessThanOrEqual(Math.ceil(limit * 0.2));
      }
    }
    expect(placed.filter(({ boosted }) => boosted).length).toBeGreaterThanOrEqual(5);
  });

  it('passes no item scoring above the lifted score in a ranking out of score order', () => {
    // As balanced orders: p3 (score 50) stands below p2 (score 5); a lift of 1 takes p4 (score 10) past p2, not past p3.
    const mixed = [
      { uri: 'p1', score: 100 },
      { uri: 'p2', score: 5 },
      { uri: 'p3', score: 50 },
      { uri: 'p4', score: 10 },
    ];
    expect(placeBoosts(mixed, new Map([['p4', 1]]), 1).map(({ item }) => item.uri)).toEqual(['p1', 'p2', 'p3', 'p4']);
    expect(placeBoosts(mixed, new Map([['p4', 5]]), 1).map(({ item }) => item.uri)).toEqual(['p1', 'p4', 'p2', 'p3']);
  });

  it('does not call a post boosted when it stands where it would anyway', () => {
    const placed = placeBoosts(ranked, new Map([['p1', 1]]), 0.2);
    expect(placed[0]).toMatchObject({ item: { uri: 'p1' }, boosted: false });
  });
});

describe('a feed’s boosts', () => {
  const funds = new Map([
    ['climate', rules('climate')],
    ['farmers', rules('farmers', { feeds: ['other'] })],
  ]);
  const funding = new Map([['p30', { post: 'p30', pledged: { climate: 120, farmers: 50 }, matched: { climate: 80, farmers: 40 } }]]);

  it('applies only the funds of the feed’s communities that may boost it and hold credits on the post', () => {
    const { boosts } = boostFeed({ feed: 'common', communities: ['climate', 'farmers'], ranked, funds, funding, spent: () => 0, remaining: () => 500 });
    expect(boosts.get('p30')).toMatchObject({ funds: ['climate'], pledged: { climate: 120 }, matched: { climate: 80 }, credits: 200 });
    expect(describeBoost(boosts.get('p30')!)).toBe('raised by the climate fund: 120 credits, 80 matched');

    const elsewhere = boostFeed({ feed: 'common', communities: ['towns'], ranked, funds, funding, spent: () => 0, remaining: () => 100 });
    expect(elsewhere.boosts.size).toBe(0);
  });

  it('boosts beside a fund whose community is named `constructor`, and pays that fund as any other', () => {
    const pledges = [
      { pledger: 'c1', rkey: 'a', community: 'climate', post: 'p30', amount: 50, timeUs: 1 },
      { pledger: 'k1', rkey: 'b', community: 'constructor', post: 'p10', amount: 50, timeUs: 2 },
    ];
    const matchedFunding = clusterMatch(pledges, () => new Set<string>(), new Map());
    const odd = new Map([['climate', rules('climate')], ['constructor', rules('constructor')]]);
    const across = ranked.map((item) => ({ ...item, components: { groups: [support('climate', 0.8), support('constructor', 0.7)], divisiveIn: [] } }));
    const { boosts } = boostFeed({ feed: 'common', communities: ['climate', 'constructor'], ranked: across, funds: odd, funding: matchedFunding, spent: () => 0, remaining: () => 500 });
    expect(boosts.get('p30')).toMatchObject({ funds: ['climate'], credits: 50 });
    expect(boosts.get('p10')).toMatchObject({ funds: ['constructor'], credits: 50 });
  });

  it('stops a boost once its credits are spent, or its fund has no budget left', () => {
    const spentOut = boostFeed({ feed: 'common', communities: ['climate'], ranked, funds, funding, spent: () => 200, remaining: () => 100 });
    expect(spentOut.boosts.size).toBe(0);
    const broke = boostFeed({ feed: 'common', communities: ['climate'], ranked, funds, funding, spent: () => 0, remaining: () => 0 });
    expect(broke.boosts.size).toBe(0);
  });

  it('lifts a post by no more than its fund has left to pay for', () => {
    const flush = boostFeed({ feed: 'common', communities: ['climate'], ranked, funds, funding, spent: () => 0, remaining: () => 500 });
    const nearlySpent = boostFeed({ feed: 'common', communities: ['climate'], ranked, funds, funding, spent: () => 0, remaining: () => 0.01 });
    expect(flush.placed.findIndex(({ item }) => item.uri === 'p30')).toBeLessThan(29);
    // A hundredth of a credit buys no lift past the post above it: the post stays where it ranks, unboosted.
    expect(nearlySpent.placed.findIndex(({ item }) => item.uri === 'p30')).toBe(29);
    expect(nearlySpent.boosts.size).toBe(0);
  });
});

describe('boosted feed context', () => {
  it('adds the funds and epoch to the provenance, and reads them back', () => {
    const context = boostedContext('{"v":1,"b":["climate","farmers"],"d":[]}', ['climate'], 2921);
    expect(JSON.parse(context)).toEqual({ v: 1, b: ['climate', 'farmers'], d: [], f: ['climate'], e: 2921 });
    expect(boostOfContext(context)).toEqual({ funds: ['climate'], epoch: 2921 });
    expect(boostOfContext('{"v":1,"b":[],"d":[]}')).toBeUndefined();
    expect(boostOfContext('{"f":"x"')).toBeUndefined();
    expect(boostOfContext(null)).toBeUndefined();
    expect(Buffer.byteLength(boostedContext(JSON.stringify({ v: 1, b: ['x'.repeat(1990)], d: [] }), ['climate'], 1))).toBeLessThanOrEqual(2000);
  });

  it('finds the funds\' key wherever a context holds it, as a plain search for `"f"` does', () => {
    const text = fc.string({ unit: fc.constantFrom('"', 'f', 'e', ':', '{', '}', 'x', 'ф'), maxLength: 40 });
    fc.assert(fc.property(text, (context) => expect(namesFunds(context)).toBe(context.includes('"f"'))), { numRuns: 2_000 });
    expect(namesFunds('{"v":1,"b":["farmers","fishers"],"d":[]}')).toBe(false);
    expect(namesFunds('f"f"')).toBe(true);
    expect(namesFunds(boostedContext('{"v":1,"b":["farmers"],"d":[]}', ['climate'], 1))).toBe(true);
  });
});

describe('pledge checks', () => {
  it('refuses pledges without a fund, from non-members, to deleted posts and beyond the allowance, and counts them', () => {
    const pledge = (pledger: string, community: string, amount: number, post = 'p1', timeUs = 1) => ({ pledger, rkey: `${pledger}${timeUs}`, community, post, amount, timeUs });
    const { accepted, refused } = checkPledges(
      [pledge('a', 'climate', 60, 'p1', 1), pledge('a', 'climate', 60, 'p2', 2), pledge('a', 'climate', 40, 'p3', 3), pledge('b', 'climate', 10), pledge('a', 'towns', 10), pledge('a', 'climate', 1, 'gone', 4)],
      { allowanceOf: (c) => (c === 'climate' ? 100 : undefined), isMember: (_c, did) => did === 'a', isLivePost: (uri) => uri !== 'gone' },
    );
    expect(accepted.map((p) => `${p.post}:${p.amount}`)).toEqual(['p1:60', 'p3:40']);
    expect(refused.map((r) => r.reason).sort()).toEqual(['deleted-post', 'no-fund', 'not-member', 'over-allowance']);
  });
});
