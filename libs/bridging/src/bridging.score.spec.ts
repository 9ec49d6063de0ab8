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

  it('counts members who did not like a post by the chance that they saw it, given how much their group approves of it', () => {
    // Ten members of one group, each liking 2 of 4 live posts: coverage q = 2 / (1 × 4) = 0.5.
    const b = new InteractionTableBuilder();
    const likes: Record<string, string[]> = { x: ['u0', 'u1', 'u2', 'u3'], y: ['u4', 'u5', 'u6', 'u7'], everyone: [], some: ['u8', 'u9'] };
    for (let u = 0; u < 10; u++) likes['everyone']!.push(`u${u}`);
    for (const [post, users] of Object.entries(likes)) for (const user of users) b.add(user, post, Signal.Like, 10);
    const t = b.build();
    const membership = membershipFromAssignment(new Array<number>(10).fill(0), 1);
    const estimate = estimateExposure(t, membership, { postCreatedMs: new Float64Array(t.postCount), approvalRate: 1 });
    const exposureOf = (post: string) => estimate.value[estimate.postOffsets[b.posts.indexOf(post)!]!]!;
    // The fixed point S = A + n·q(1 − θ)/(1 − qθ), θ = (A + 1)/(S + 2), by direct iteration.
    const expected = (approvals: number, unrated: number) => {
      let exposure = approvals + unrated / 2;
      for (let i = 0; i < 200; i++) {
        const theta = (approvals + 1) / (exposure + 2);
        exposure = approvals + (unrated * 0.5 * (1 - theta)) / (1 - 0.5 * theta);
      }
      return exposure;
    };
    expect(exposureOf('everyone')).toBeCloseTo(10, 9);
    expect(exposureOf('x')).toBeCloseTo(expected(4, 6), 6);
    expect(exposureOf('some')).toBeCloseTo(expected(2, 8), 6);
    // Liked or not, a member counts at most once; one who did not like counts less than q.
    expect(exposureOf('x')).toBeLessThan(4 + 6 * 0.5);
    expect(exposureOf('x')).toBeGreaterThan(4);
  });
});
