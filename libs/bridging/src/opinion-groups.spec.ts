import { join } from 'node:path';
import { loadPolisConversation } from '../../testing/src/polis/polis-conversation.js';
import { polisInteractions } from '../../testing/src/polis/polis-interactions.js';
import { clusterAgreement } from './cluster-agreement.js';
import { groupEvidence } from './group-evidence.js';
import { groupInformedConsensus } from './group-consensus.js';
import { membershipFromAssignment } from './group-membership.js';
import { InteractionTableBuilder } from './interaction-table.js';
import { findOpinionGroups } from './opinion-groups.js';
import { seededRandom } from './random.js';
import { aggregateCells } from './rating-cells.js';
import { Signal } from './signal.js';

/**
 * 70 users: camp A (0–44) and camp B (45–64), unequal, each rating all 30 posts, and 5 passers-by
 * (65–69) with 3 ratings each. Posts 0–11 are A's (liked by A, pushed away by B), 12–23 B's, 24–26
 * liked by both (bridging), 27–29 viral in A alone (liked by all of A, seen by B). Users are interned
 * in `order`, so the same people can be indexed differently.
 */
function plantedCamps(order: (u: number) => number = (u) => u) {
  const rng = seededRandom(5);
  const b = new InteractionTableBuilder();
  const camp = (u: number) => (u < 45 ? 0 : u < 65 ? 1 : -1);
  for (let i = 0; i < 70; i++) b.users.intern(`u${order(i)}`);
  for (let p = 0; p < 30; p++) b.posts.intern(`p${p}`);
  for (let u = 0; u < 70; u++) {
    const index = b.users.intern(`u${u}`);
    for (let p = 0; p < 30; p++) {
      if (camp(u) < 0 && p % 10 !== u % 10) continue;
      const own = p < 12 ? 0 : p < 24 ? 1 : -1;
      const viral = p >= 27;
      const approve = viral ? (camp(u) === 0 ? 0.95 : 0.05) : own < 0 ? 0.8 : own === camp(u) ? 0.85 : 0.1;
      const x = rng.next();
      const signal = x < approve ? Signal.Like : own >= 0 && x > 0.7 ? Signal.RequestLess : Signal.Seen;
      b.addIndexed(index, p, signal, p);
    }
  }
  return { table: b.build(), users: b.users, camp };
}

describe('opinion groups (Polis)', () => {
  it('finds two unequal camps from the ratings alone and leaves passers-by out', () => {
    const { table, users, camp } = plantedCamps();
    const found = findOpinionGroups(aggregateCells(table));
    expect(found.reliable).toBe(true);
    const groupOf = (u: number) => found.groupOfUser[users.intern(`u${u}`)]!;
    const groupOfA = groupOf(0);
    for (let u = 0; u < 70; u++) {
      if (camp(u) < 0) expect(groupOf(u)).toBe(-1);
      else expect(groupOf(u)).toBe(camp(u) === 0 ? groupOfA : 1 - groupOfA);
    }
    expect([...found.groupSizes].sort((a, b) => a - b)).toEqual([20, 45]);
  });

  it('finds the same people together however they are indexed', () => {
    const { table, users } = plantedCamps();
    const reversed = plantedCamps((i) => 69 - i);
    const a = findOpinionGroups(aggregateCells(table));
    const b = findOpinionGroups(aggregateCells(reversed.table));
    const together = (found: typeof a, index: typeof users) => (u: number, v: number) =>
      found.groupOfUser[index.intern(`u${u}`)] === found.groupOfUser[index.intern(`u${v}`)];
    for (let u = 0; u < 65; u += 3) {
      for (let v = 1; v < 65; v += 7) expect(together(b, reversed.users)(u, v)).toBe(together(a, users)(u, v));
    }
  });

  it('finds the same groups in a real conversation whichever order its participants come in', () => {
    // bg2050-volunteers (compdemocracy/openData, CC BY 4.0, Attribution to The Computational
    // Democracy Project): from 8 k-means starts its two orders gave partitions 0.50 apart (ARI).
    const conversation = loadPolisConversation(join(process.cwd(), 'test', 'fixtures', 'polis', 'bg2050-volunteers'));
    const partition = (participants: typeof conversation.participants) => {
      const { table, users } = polisInteractions({ ...conversation, participants }, 'votes');
      const found = findOpinionGroups(aggregateCells(table));
      return new Map(users.toArray().flatMap((id, u) => (found.groupOfUser[u]! >= 0 ? [[id, found.groupOfUser[u]!] as const] : [])));
    };
    const forward = partition(conversation.participants);
    const reversed = partition([...conversation.participants].reverse());
    expect(forward.size).toBeGreaterThan(100);
    expect(clusterAgreement(forward, reversed)).toEqual({ ari: 1, matched: 1, compared: forward.size });
  });

  it('ranks what both camps approve first and the post viral in one camp below it', () => {
    const { table } = plantedCamps();
    const cells = aggregateCells(table);
    const found = findOpinionGroups(cells);
    const { geoMean, eligible } = groupInformedConsensus(groupEvidence(cells, membershipFromAssignment(found.groupOfUser, found.groupCount)));
    const ranked = [...geoMean.keys()].filter((p) => eligible[p]).sort((p, q) => geoMean[q]! - geoMean[p]!);
    expect(ranked.slice(0, 3).sort((p, q) => p - q)).toEqual([24, 25, 26]);
    // Viral in camp A: its consensus (most of A, almost none of B) is below every bridging post's.
    const lowestBridging = Math.min(geoMean[24]!, geoMean[25]!, geoMean[26]!);
    for (const viral of [27, 28, 29]) expect(geoMean[viral]).toBeLessThan(lowestBridging / 2);
  });

  it('chooses the number of groups by silhouette: three camps of unequal size give three groups', () => {
    const rng = seededRandom(3);
    const b = new InteractionTableBuilder();
    const camp = (u: number) => (u < 30 ? 0 : u < 50 ? 1 : 2);
    for (let u = 0; u < 60; u++) {
      for (let p = 0; p < 30; p++) {
        const liked = Math.floor(p / 10) === camp(u) ? 0.9 : 0.1;
        b.add(`u${u}`, `p${p}`, rng.next() < liked ? Signal.Like : Signal.RequestLess, p);
      }
    }
    const found = findOpinionGroups(aggregateCells(b.build()));
    expect(found.reliable).toBe(true);
    expect(found.groupCount).toBe(3);
    expect([...found.groupSizes].sort((x, y) => x - y)).toEqual([10, 20, 30]);
    expect(found.silhouette).toBeGreaterThan(0.5);
    // A fixed number of groups is still honoured.
    expect(findOpinionGroups(aggregateCells(b.build()), { groups: 2 }).groupCount).toBe(2);
  });

  it('does not look for groups where each person rated a sliver of the posts, as on a social network', () => {
    const rng = seededRandom(9);
    const b = new InteractionTableBuilder();
    for (let u = 0; u < 200; u++) {
      for (let i = 0; i < 8; i++) b.add(`u${u}`, `p${rng.int(400)}`, rng.next() < 0.5 ? Signal.Like : Signal.Seen, i);
    }
    const found = findOpinionGroups(aggregateCells(b.build()));
    expect(found.coRaters).toBeLessThan(1);
    expect(found.reliable).toBe(false);
    expect(found.groupOfUser.every((g) => g === -1)).toBe(true);
  });

  it('finds the camps of a large conversation where each person rated a sixth of the posts, as in a big Polis conversation', () => {
    // 400 people in two camps of 240 and 160, each rating 24 of 150 posts at random (16 %, as
    // austria-climate.7z7ejpbmv5 of the openData export): about 10 people rated any pair of posts.
    const rng = seededRandom(11);
    const b = new InteractionTableBuilder();
    const camp = (u: number) => (u < 240 ? 0 : 1);
    for (let u = 0; u < 400; u++) {
      const rated = new Set<number>();
      while (rated.size < 24) rated.add(rng.int(150));
      for (const p of rated) {
        const approve = p < 50 ? camp(u) === 0 : p < 100 ? camp(u) === 1 : true;
        const signal = rng.next() < 0.85 ? (approve ? Signal.Like : Signal.RequestLess) : Signal.Seen;
        b.add(`u${u}`, `p${p}`, signal, p);
      }
    }
    const found = findOpinionGroups(aggregateCells(b.build()));
    expect(found.observedShare).toBeLessThan(0.2);
    expect(found.coRaters).toBeGreaterThan(5);
    expect(found.reliable).toBe(true);
    const byCamp = new Map<number, number>();
    const grouped = new Map<number, number>();
    for (let u = 0; u < 400; u++) {
      byCamp.set(u, camp(u));
      grouped.set(u, found.groupOfUser[u]!);
    }
    expect(clusterAgreement(grouped, byCamp).ari).toBeGreaterThan(0.9);
  });

  it('groups at least 15 people as Polis does, those who rated most joining the ones who rated enough', () => {
    const b = new InteractionTableBuilder();
    // Two camps over 10 posts: 10 people rate all of them, 8 rate 6, 6 and 5 (below Polis's 7).
    const rated = (u: number) => (u < 10 ? 10 : u < 13 ? 6 : 5);
    for (let u = 0; u < 18; u++) {
      for (let p = 0; p < rated(u); p++) b.add(`u${u}`, `p${p}`, (p % 2 === 0) === (u % 2 === 0) ? Signal.Like : Signal.RequestLess, p);
    }
    const found = findOpinionGroups(aggregateCells(b.build()));
    const grouped = [...found.groupOfUser].filter((g) => g >= 0).length;
    expect(grouped).toBe(15);
    // The three who rated 6 join; of those who rated 5, two (the first interned).
    for (const u of [10, 11, 12, 13, 14]) expect(found.groupOfUser[u]).toBeGreaterThanOrEqual(0);
    for (const u of [15, 16, 17]) expect(found.groupOfUser[u]).toBe(-1);
    // No group mixes the two camps.
    expect(found.reliable).toBe(true);
    for (let u = 0; u < 15; u++) {
      for (let v = 0; v < 15; v++) if (u % 2 !== v % 2) expect(found.groupOfUser[u]).not.toBe(found.groupOfUser[v]);
    }
  });

  it('tries no more groups than Polis for a handful of people: 2 + ⌊members / 12⌋', () => {
    // Five camps of three, each liking its own two posts and asking for less of the others': 15
    // people allow three groups, so five are never returned.
    const b = new InteractionTableBuilder();
    for (let u = 0; u < 15; u++) {
      for (let p = 0; p < 10; p++) b.add(`u${u}`, `p${p}`, Math.floor(p / 2) === Math.floor(u / 3) ? Signal.Like : Signal.RequestLess, p);
    }
    const found = findOpinionGroups(aggregateCells(b.build()));
    expect(found.groupCount).toBeLessThanOrEqual(3);
    expect(findOpinionGroups(aggregateCells(b.build()), { groups: 5, minGroupSize: 3 }).groupCount).toBe(5);
  });

  it('groups nobody when too few people rated enough', () => {
    const b = new InteractionTableBuilder();
    b.add('u0', 'p0', Signal.Like, 0);
    const found = findOpinionGroups(aggregateCells(b.build()));
    expect([...found.groupOfUser]).toEqual([-1]);
    expect([...found.groupSizes]).toEqual([0, 0]);
  });
});
