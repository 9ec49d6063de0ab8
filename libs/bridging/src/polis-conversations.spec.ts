/**
 * The scorer against two real Polis conversations (compdemocracy/openData, CC BY 4.0 — attribution in
 * the loader). The reference is Polis's own group-informed consensus with Polis's opinion groups.
 */
import { join } from 'node:path';
import {
  loadPolisConversation,
  polisAgreeCounts,
  polisGroupConsensus,
  polisCommentsWithGroupVotes,
  type PolisConversation,
} from '../../testing/src/polis/polis-conversation.js';
import { polisInteractions } from '../../testing/src/polis/polis-interactions.js';
import { aggregateCells } from './rating-cells.js';
import { clusterAgreement } from './cluster-agreement.js';
import { estimateExposure } from './exposure-estimate.js';
import { fitFactorModel, opinionAxis, sideBalancedIntercepts } from './factor-model.js';
import { findOpinionGroups } from './opinion-groups.js';
import { groupEvidence } from './group-evidence.js';
import { groupInformedConsensus } from './group-consensus.js';
import { membershipFromAssignment } from './group-membership.js';
import { spearman, topKOverlap } from './rank-metrics.js';

const DATA = join(process.cwd(), 'test', 'fixtures', 'polis');

/** Targets the project has to meet (the brief): with exposure signals, and with likes only. */
const TARGET = { exposure: { rho: 0.95, top10: 8 }, likesOnly: { rho: 0.85 } };

interface Result {
  rho: number;
  top10: number;
}

function evaluate(conversation: PolisConversation) {
  const reference = polisGroupConsensus(conversation);
  const score = (scores: ArrayLike<number>): Result => ({
    rho: spearman(scores, reference),
    top10: topKOverlap(scores, reference, 10),
  });
  const popularity = score(polisAgreeCounts(conversation, { clusteredOnly: false }));

  // (a) Communities = Polis groups; agree → like, pass → seen, disagree → requestLess; exposure = who voted.
  const votes = polisInteractions(conversation, 'votes');
  const membership = membershipFromAssignment(votes.groupOfUser, conversation.groupIds.length);
  const voteCells = aggregateCells(votes.table);
  const gicA = groupInformedConsensus(groupEvidence(voteCells, membership), { scope: 'all' }).gic;
  let maxError = 0;
  for (let i = 0; i < reference.length; i++) maxError = Math.max(maxError, Math.abs(gicA[i]! - reference[i]!));

  // (b) No communities: the factor model has to find the opinion groups by itself.
  const model = fitFactorModel(voteCells, { seed: 1 });
  const axis = opinionAxis(model, voteCells);
  const intercept = score(model.postIntercept);
  const balanced = score(sideBalancedIntercepts(model, axis));

  // (c) Likes only: no pass, no disagree; exposure estimated from the members' own activity.
  const likes = polisInteractions(conversation, 'likes');
  const exposureFloor = estimateExposure(likes.table, membership, { postCreatedMs: likes.postCreatedMs });
  const gicC = groupInformedConsensus(groupEvidence(aggregateCells(likes.table), membership, { exposureFloor }), {
    scope: 'all',
  }).gic;

  return {
    popularity,
    a: score(gicA),
    maxError,
    bIntercept: intercept,
    bBalanced: balanced,
    c: score(gicC),
    modelConverged: model.converged,
  };
}

const fmt = (r: Result): string => `ρ ${r.rho.toFixed(3)}, top-10 ${r.top10}/10`;

describe.each([['brexit-consensus'], ['15-per-hour-seattle']])('Polis conversation %s', (folder) => {
  const conversation = loadPolisConversation(join(DATA, folder));
  const r = evaluate(conversation);

  it('loads the conversation and leaves out moderated-out comments', () => {
    expect(conversation.comments.length).toBeGreaterThan(25);
    expect(conversation.comments.every((c) => c.moderated !== -1)).toBe(true);
    expect(conversation.groupIds).toEqual([0, 1]);
    console.log(
      `${folder} (${conversation.comments.length} comments):\n` +
        `  popularity (raw agrees)            ${fmt(r.popularity)}\n` +
        `  (a) GIC, Polis groups, votes       ${fmt(r.a)}, max |Δ| ${r.maxError.toExponential(1)}\n` +
        `  (b) factor model, intercept        ${fmt(r.bIntercept)}\n` +
        `  (b) factor model, side-balanced    ${fmt(r.bBalanced)}\n` +
        `  (c) GIC, likes + estimated exposure ${fmt(r.c)}`,
    );
  });

  it('(a) reproduces Polis group-informed consensus exactly through the community path', () => {
    expect(r.maxError).toBeLessThan(1e-9);
    expect(r.a.rho).toBeGreaterThanOrEqual(TARGET.exposure.rho);
    expect(r.a.top10).toBeGreaterThanOrEqual(TARGET.exposure.top10);
  });

  it('(c) with likes only and estimated exposure meets the likes-only target', () => {
    expect(r.c.rho).toBeGreaterThanOrEqual(TARGET.likesOnly.rho);
  });

  it('every variant beats raw popularity', () => {
    for (const v of [r.a, r.bIntercept, r.bBalanced, r.c]) expect(v.rho).toBeGreaterThan(r.popularity.rho);
  });
});

describe('(b) the factor model finds the groups by itself', () => {
  const brexit = evaluate(loadPolisConversation(join(DATA, 'brexit-consensus')));
  const seattle = evaluate(loadPolisConversation(join(DATA, '15-per-hour-seattle')));

  it('meets the exposure target on brexit-consensus, by intercept and by side-balanced intercept', () => {
    expect(brexit.modelConverged).toBe(true);
    for (const v of [brexit.bIntercept, brexit.bBalanced]) {
      expect(v.rho).toBeGreaterThanOrEqual(TARGET.exposure.rho);
      expect(v.top10).toBeGreaterThanOrEqual(TARGET.exposure.top10);
    }
  });

  // @NOTE The intercept misses the exposure target on Seattle (ρ ≈ 0.89), strongly polarised with unequal
  // groups (99 vs 39 clustered, 201 unclustered); finding the groups first and taking consensus across
  // them meets it (below), and that is what a `bridging` feed of one community does.
  it('on 15-per-hour-seattle reaches ρ ≥ 0.85 side-balanced (0.82 by plain intercept)', () => {
    expect(seattle.bBalanced.rho).toBeGreaterThanOrEqual(0.85);
    expect(seattle.bIntercept.rho).toBeGreaterThanOrEqual(0.8);
  });
});

describe('(b) without groups: opinion groups found in the votes', () => {
  const run = (folder: string) => {
    const conversation = loadPolisConversation(join(DATA, folder));
    const votes = polisInteractions(conversation, 'votes');
    const cells = aggregateCells(votes.table);
    const found = findOpinionGroups(cells);
    const foundGroups = new Map<number, number>();
    const publishedGroups = new Map<number, number>();
    votes.groupOfUser.forEach((published, u) => {
      if (published >= 0) publishedGroups.set(u, published);
      if (found.groupOfUser[u]! >= 0) foundGroups.set(u, found.groupOfUser[u]!);
    });
    const agreement = clusterAgreement(foundGroups, publishedGroups);
    const gic = groupInformedConsensus(groupEvidence(cells, membershipFromAssignment(found.groupOfUser, found.groupCount)), {
      scope: 'all',
    }).gic;
    const compared = polisCommentsWithGroupVotes(conversation);
    const pick = (values: ArrayLike<number>) => compared.map((i) => values[i]!);
    const reference = pick(polisGroupConsensus(conversation));
    return {
      agreement: agreement.matched,
      groups: found.groupCount,
      clustered: publishedGroups.size,
      rho: spearman(pick(gic), reference),
      top10: topKOverlap(pick(gic), reference, 10),
    };
  };
  const brexit = run('brexit-consensus');
  const seattle = run('15-per-hour-seattle');

  it('meets the exposure target on both conversations', () => {
    console.log(
      `opinion groups found: brexit ${brexit.agreement.toFixed(3)} of ${brexit.clustered} participants in their published group, ${fmt(brexit)}; ` +
        `seattle ${seattle.agreement.toFixed(3)} of ${seattle.clustered}, ${fmt(seattle)}`,
    );
    for (const r of [brexit, seattle]) {
      expect(r.rho).toBeGreaterThanOrEqual(TARGET.exposure.rho);
      expect(r.top10).toBeGreaterThanOrEqual(TARGET.exposure.top10);
    }
  });

  // @NOTE The silhouette prefers three groups on brexit-consensus where the published clustering has
  // two: one of Polis's groups splits in two, so about four participants in five are in the group
  // matched to theirs, and the consensus order stays as close (above).
  it("finds the number of groups by silhouette and puts most participants in the group matched to their published one", () => {
    expect(brexit.groups).toBe(3);
    expect(brexit.agreement).toBeGreaterThan(0.75);
    expect(seattle.groups).toBe(2);
    expect(seattle.clustered).toBe(138);
    expect(seattle.agreement).toBeGreaterThan(0.9);
  });
});
