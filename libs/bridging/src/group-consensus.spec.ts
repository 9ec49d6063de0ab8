import { aggregateCells } from './rating-cells.js';
import { consensusFromCounts, groupInformedConsensus, wilsonLowerBound } from './group-consensus.js';
import { groupEvidence } from './group-evidence.js';
import { membershipFromAssignment } from './group-membership.js';
import { InteractionTableBuilder } from './interaction-table.js';
import { Signal } from './signal.js';
import { topK } from './rank-metrics.js';

describe('group-informed consensus', () => {
  it('reproduces the Polis formula on a hand-computed fixture (agree = A, votes = S)', () => {
    // Group 0: 3 members, group 1: 2 members. Post 0: group 0 votes agree, agree, pass; group 1 agree, disagree.
    // Post 1: group 0 agree, disagree; group 1 not seen at all.
    const b = new InteractionTableBuilder();
    b.add('a', 'p0', Signal.Like, 1).add('b', 'p0', Signal.Like, 1).add('c', 'p0', Signal.Seen, 1);
    b.add('d', 'p0', Signal.Like, 1).add('e', 'p0', Signal.RequestLess, 1);
    b.add('a', 'p1', Signal.Like, 2).add('b', 'p1', Signal.RequestLess, 2);
    const membership = membershipFromAssignment([0, 0, 0, 1, 1], 2);
    const evidence = groupEvidence(aggregateCells(b.build()), membership);
    const polis = groupInformedConsensus(evidence, { scope: 'all' });
    // By hand: p0 = (2+1)/(3+2) × (1+1)/(2+2) = 3/5 × 1/2 = 0.3; p1 = (1+1)/(2+2) × (0+1)/(0+2) = 0.25.
    expect(Math.abs(polis.gic[0]! - 0.3)).toBeLessThan(1e-9);
    expect(Math.abs(polis.gic[1]! - 0.25)).toBeLessThan(1e-9);
    expect(Math.abs(polis.geoMean[0]! - Math.sqrt(0.3))).toBeLessThan(1e-9);
    expect(consensusFromCounts([2, 1], [3, 2]).gic).toBeCloseTo(0.3, 12);
    // Under the default scope a group that never saw the post does not enter the product.
    const exposed = groupInformedConsensus(evidence);
    expect(Math.abs(exposed.gic[1]! - 0.5)).toBeLessThan(1e-9);
    expect(exposed.groupsCounted[1]).toBe(1);
  });

  it('ranks a planted bridging post first, keeps a one-sided viral post low, and needs evidence from two groups', () => {
    // Two groups of 20. "bridge": 10/20 likes in each group. "viral": reposted by 20/20 in group 0 and 1/20 in
    // group 1 (more approvals than "bridge"). "solo": 18/20 likes in group 0, never shown to group 1.
    // "meh": 5/20 in each group.
    const b = new InteractionTableBuilder();
    const users = Array.from({ length: 40 }, (_, i) => `did:u${i}`);
    const groupOf = users.map((_, i) => (i < 20 ? 0 : 1));
    users.forEach((u, i) => {
      const inGroup = i % 20;
      b.add(u, 'bridge', inGroup < 10 ? Signal.Like : Signal.Seen, 1);
      b.add(u, 'viral', (i < 20 && inGroup < 20) || (i >= 20 && inGroup < 1) ? Signal.Repost : Signal.Seen, 1);
      if (i < 20) b.add(u, 'solo', inGroup < 18 ? Signal.Like : Signal.Seen, 1);
      b.add(u, 'meh', inGroup < 5 ? Signal.Like : Signal.Seen, 1);
    });
    const table = b.build();
    const membership = membershipFromAssignment(groupOf, 2, ['left', 'right']);
    const consensus = groupInformedConsensus(groupEvidence(aggregateCells(table), membership), { minExposure: 5 });
    const post = (id: string): number => b.posts.indexOf(id)!;
    const ranked = topK(Float64Array.from(consensus.geoMean, (g, p) => (consensus.eligible[p] ? g : -1)), 4);
    expect(ranked[0]).toBe(post('bridge'));
    const approvals = (id: string): number =>
      Array.from({ length: table.rowCount }, (_, i) => i).filter((i) => table.post[i] === post(id) && table.signal[i] !== Signal.Seen).length;
    expect(approvals('viral')).toBeGreaterThan(approvals('bridge'));
    // By hand: bridge √(11/22 · 11/22) = 0.5; viral, each reposting member one approval, √((20+1)/22 · (1+1)/22) ≈ 0.295.
    expect(Math.abs(consensus.geoMean[post('bridge')]! - 0.5)).toBeLessThan(1e-9);
    expect(Math.abs(consensus.geoMean[post('viral')]! - Math.sqrt((21 / 22) * (2 / 22)))).toBeLessThan(1e-9);
    expect(consensus.eligible[post('solo')]).toBe(0);
    expect(consensus.groupsWithEvidence[post('solo')]).toBe(1);
    expect(consensus.eligible[post('bridge')]).toBe(1);
  });

  it('lets an exposure hint raise the denominator but never below what was observed', () => {
    const b = new InteractionTableBuilder();
    b.add('a', 'p', Signal.Like, 1).add('b', 'p', Signal.Like, 1);
    const membership = membershipFromAssignment([0, 0], 1);
    const floor = { postOffsets: Uint32Array.of(0, 1), group: Uint32Array.of(0), value: Float64Array.of(8) };
    const low = { postOffsets: Uint32Array.of(0, 1), group: Uint32Array.of(0), value: Float64Array.of(1) };
    const cells = aggregateCells(b.build());
    expect(groupEvidence(cells, membership, { exposureFloor: floor }).exposure[0]).toBe(8);
    expect(groupEvidence(cells, membership, { exposureFloor: low }).exposure[0]).toBe(2);
  });

  it('adds the exposure members reported to the estimate of the others, instead of taking the larger', () => {
    // a and b report what they were shown (a saw and passed, b liked after seeing); c and d only like.
    const b = new InteractionTableBuilder();
    b.add('a', 'p', Signal.Seen, 1).add('b', 'p', Signal.Seen, 1).add('b', 'p', Signal.Like, 2).add('c', 'p', Signal.Like, 2);
    b.add('d', 'q', Signal.Like, 3);
    const membership = membershipFromAssignment([0, 0, 0, 0], 1);
    const cells = aggregateCells(b.build());
    const floor = { postOffsets: Uint32Array.of(0, 1, 1), group: Uint32Array.of(0), value: Float64Array.of(1.5) };
    const estimatedUsers = Uint8Array.of(0, 0, 1, 1);
    const evidence = groupEvidence(cells, membership, { exposureFloor: floor, estimatedUsers });
    // a and b observed (2) + max(c observed 1, estimate 1.5) = 3.5, of which 2 reported.
    expect(evidence.exposure[0]).toBe(3.5);
    expect(evidence.reportedExposure?.[0]).toBe(2);
    // Without the mask every member's exposure is estimated: max(3 observed, 1.5) = 3, none reported.
    const unmasked = groupEvidence(cells, membership, { exposureFloor: floor });
    expect(unmasked.exposure[0]).toBe(3);
    expect(unmasked.reportedExposure?.[0]).toBe(0);
  });

  it('ranks thin evidence by its lower bound below the same approval on more votes, and the mean where exposure is estimated', () => {
    // Two groups of 20. "thin": 3 of 3 shown in each group liked it; "broad": 16 of 20 in each.
    const b = new InteractionTableBuilder();
    const users = Array.from({ length: 40 }, (_, i) => `did:u${i}`);
    users.forEach((u, i) => {
      b.add(u, 'broad', i % 20 < 16 ? Signal.Like : Signal.Seen, 1);
      if (i % 20 < 3) b.add(u, 'thin', Signal.Like, 1);
    });
    const membership = membershipFromAssignment(users.map((_, i) => (i < 20 ? 0 : 1)), 2);
    const evidence = groupEvidence(aggregateCells(b.build()), membership);
    const post = (id: string): number => b.posts.indexOf(id)!;
    const mean = groupInformedConsensus(evidence, { scope: 'all' });
    expect(mean.geoMean[post('thin')]).toBeGreaterThan(mean.geoMean[post('broad')]!);
    const bound = groupInformedConsensus(evidence, { scope: 'all', lowerBoundZ: 1.2816 });
    expect(bound.geoMean[post('thin')]).toBeLessThan(bound.geoMean[post('broad')]!);
    // By hand: the bound on (A + 1) of (S + 2) trials, per group.
    expect(bound.geoMean[post('broad')]).toBeCloseTo(wilsonLowerBound(17, 22, 1.2816), 12);
    expect(wilsonLowerBound(17, 22, 0)).toBeCloseTo(17 / 22, 12);
    // An estimated exposure is not a count of trials: with nothing reported the bound is the mean.
    const estimated = { ...evidence, reportedExposure: new Float64Array(evidence.exposure.length) };
    expect(groupInformedConsensus(estimated, { scope: 'all', lowerBoundZ: 1.2816 }).geoMean).toEqual(mean.geoMean);
    expect(() => groupInformedConsensus(evidence, { lowerBoundZ: -1 })).toThrow('lowerBoundZ must be ≥ 0');
  });

  it('bounds a proportion held to [0, 1]: more successes than trials is a bound, not NaN', () => {
    expect(wilsonLowerBound(13, 12, 1.2816)).toBe(wilsonLowerBound(12, 12, 1.2816));
    expect(wilsonLowerBound(12, 12, 1.2816)).toBeGreaterThan(0.8);
    expect(wilsonLowerBound(12, 12, 1.2816)).toBeLessThan(1);
  });
});
