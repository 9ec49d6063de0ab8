import { plantedCommunities, PlantedPostKind } from '../../testing/src/polis/planted-communities.js';
import { scoreBridging } from './bridging.score.js';
import { estimateExposure } from './exposure-estimate.js';
import { membershipFromAssignment } from './group-membership.js';
import { InteractionTableBuilder } from './interaction-table.js';
import { topK } from './rank-metrics.js';
import { Signal } from './signal.js';

describe('scoreBridging on planted communities', () => {
  const data = plantedCommunities({ users: 4000, posts: 2000, interactions: 200_000, bridgingPosts: 10, viralPosts: 10, seed: 5 });
  const scores = scoreBridging(
    { table: data.table, membership: data.membership },
    { factor: { seed: 1 }, consensus: { minExposure: 10 } },
  );

  it('puts the planted bridging posts on top by consensus and no viral one-sided post among them', () => {
    const c = scores.consensus!;
    const top = topK(Float64Array.from(c.geoMean, (g, p) => (c.eligible[p] ? g : -1)), 10);
    expect(top.filter((p) => data.postKind[p] === PlantedPostKind.Bridging).length).toBeGreaterThanOrEqual(8);
    expect(top.some((p) => data.postKind[p] === PlantedPostKind.ViralOneSided)).toBe(false);
  });

  it('explains a planted bridging post as supported across communities', () => {
    const c = scores.consensus!;
    const best = topK(Float64Array.from(c.geoMean, (g, p) => (c.eligible[p] ? g : -1)), 1)[0]!;
    const p = scores.provenance(best);
    expect(p.supportedBy.length).toBeGreaterThanOrEqual(2);
    expect(p.components.eligible).toBe(true);
    const viral = scores.provenance(data.viralPosts[0]!);
    expect(viral.supportedBy.length).toBeLessThan(4);
  });
});

describe('estimateExposure', () => {
  it('counts the members active while a post was live, within the window', () => {
    // Group 0: a (active at 0…100), b (at 50), c (at 300). Post created at 40.
    const b = new InteractionTableBuilder();
    b.add('a', 'other', Signal.Like, 0).add('a', 'p', Signal.Like, 100);
    b.add('b', 'other', Signal.Like, 50);
    b.add('c', 'other', Signal.Like, 300);
    const t = b.build();
    const membership = membershipFromAssignment([0, 0, 0], 1);
    const created = Float64Array.of(0, 40);
    const p = b.posts.indexOf('p')!;
    const all = estimateExposure(t, membership, { postCreatedMs: created, weighting: 'active' });
    expect(all.value[all.postOffsets[p]!]).toBe(3);
    const windowed = estimateExposure(t, membership, { postCreatedMs: created, weighting: 'active', windowMs: 100 });
    expect(windowed.value[windowed.postOffsets[p]!]).toBe(2);
  });
});
