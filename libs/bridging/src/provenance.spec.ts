import { describeProvenance, FEED_CONTEXT_MAX_BYTES, provenance, provenanceContext, supportInContext } from './provenance.js';
import { groupEvidence } from './group-evidence.js';
import { membershipFromLists } from './group-membership.js';
import { aggregateCells } from './rating-cells.js';
import { InteractionTableBuilder } from './interaction-table.js';
import { Signal } from './signal.js';
import { composeScore, decay } from './decay.js';

describe('social provenance', () => {
  // Communities A, B, C with 10 members each. Members of C are split on the opinion axis (5 per side).
  // Post "p": liked by 8/10 in A and 7/10 in B; in C by all 5 on the positive side and none on the negative side.
  const b = new InteractionTableBuilder();
  const lists: number[][] = [];
  const side = new Int8Array(30);
  for (let u = 0; u < 30; u++) {
    const g = Math.floor(u / 10);
    lists.push([g]);
    side[u] = u % 2 === 0 ? 1 : -1;
    const liked = g === 0 ? u % 10 < 8 : g === 1 ? u % 10 < 7 : side[u] === 1;
    b.add(`did:${u}`, 'p', liked ? Signal.Like : Signal.Seen, 1);
  }
  const membership = membershipFromLists(lists, 3, ['A', 'B', 'C']);
  const evidence = groupEvidence(aggregateCells(b.build()), membership, { userSide: side });

  it('names the communities that support a post and those divided on it', () => {
    const p = provenance(evidence, membership, 0);
    expect(p.supportedBy).toEqual(['A', 'B']);
    expect(p.divisiveIn).toEqual(['C']);
    const c = p.components.groups.find((g) => g.group === 'C')!;
    expect(c.sides?.positive).toMatchObject({ approvals: 5, exposure: 5 });
    expect(c.sides?.negative).toMatchObject({ approvals: 0, exposure: 5 });
    expect(describeProvenance(p)).toBe('bridging in A and B · divisive in C');
    expect(JSON.parse(provenanceContext(p))).toEqual({ v: 1, b: ['A', 'B'], d: ['C'] });
    expect(supportInContext(provenanceContext(p))).toEqual(['A', 'B']);
  });

  it('names a community on thin evidence once it decides, as the consensus ranks it: 3 of 3 yes, 2 of 2 not yet', () => {
    // Four communities of 5; post "p" seen by 3 of A (all liked), 4 of B (all liked), 2 of C (both
    // liked) and 4 of D (2 liked). Each below the exposure at which the rate alone decides (5).
    const table = new InteractionTableBuilder();
    const seen = [
      [3, 3],
      [4, 4],
      [2, 2],
      [4, 2],
    ];
    seen.forEach(([shown, liked], g) => {
      for (let u = 0; u < 5; u++) {
        const did = `did:${g}:${u}`;
        table.users.intern(did);
        if (u < shown!) table.add(did, 'p', u < liked! ? Signal.Like : Signal.Seen, 1);
      }
    });
    const communities = membershipFromLists(Array.from({ length: 20 }, (_, u) => [Math.floor(u / 5)]), 4, ['A', 'B', 'C', 'D']);
    const p = provenance(groupEvidence(aggregateCells(table.build()), communities), communities, 0);
    expect(p.supportedBy).toEqual(['A', 'B']);
    expect(describeProvenance(p)).toBe('bridging in A and B');
  });

  it('judges a divided community by the members whose exposure is observed, not by who reports it', () => {
    // Community C of 20: 10 on the negative side who only like (4 liked "p", their exposure is
    // estimated), 10 on the positive side whose clients report what they were shown (all saw "p", 4 liked it).
    const table = new InteractionTableBuilder();
    const sides = new Int8Array(20);
    const estimated = new Uint8Array(20);
    for (let u = 0; u < 20; u++) {
      table.users.intern(`did:c${u}`);
      sides[u] = u < 10 ? -1 : 1;
      estimated[u] = u < 10 ? 1 : 0;
    }
    table.posts.intern('p');
    for (let u = 0; u < 4; u++) table.add(`did:c${u}`, 'p', Signal.Like, 1);
    for (let u = 10; u < 20; u++) table.add(`did:c${u}`, 'p', u < 14 ? Signal.Like : Signal.Seen, 1);
    const community = membershipFromLists(Array.from({ length: 20 }, () => [0]), 1, ['C']);
    // Every like-only member was active while "p" was live: the estimate counts all ten as shown it.
    const exposureFloor = { postOffsets: Uint32Array.of(0, 1), group: Uint32Array.of(0), value: Float64Array.of(10) };
    const observed = groupEvidence(aggregateCells(table.build()), community, { userSide: sides, exposureFloor, estimatedUsers: estimated });
    const p = provenance(observed, community, 0);
    expect(p.divisiveIn).toEqual([]);
    const c = p.components.groups[0]!;
    expect(c).toMatchObject({ approvals: 8, exposure: 20 });
    expect(c.sides).toMatchObject({ negative: { approvals: 0, exposure: 0 }, positive: { approvals: 4, exposure: 10 } });
  });

  it.each([null, '', 'hello', '{"v":1,"b":', '{"v":1,"b":"A"}', '{"v":2,"b":["A"]}'])('reads no support from a feed context that is not ours: %j', (text) => {
    expect(supportInContext(text)).toEqual([]);
  });

  it('keeps the feed context within 2000 bytes by dropping names and counting them', () => {
    const many = { supportedBy: Array.from({ length: 300 }, (_, i) => `community-${i}-é`), divisiveIn: ['x'] };
    const text = provenanceContext(many);
    expect(new TextEncoder().encode(text).length).toBeLessThanOrEqual(FEED_CONTEXT_MAX_BYTES);
    const parsed = JSON.parse(text) as { b: string[]; d: string[]; '+': number };
    expect(parsed.b.length + parsed.d.length + parsed['+']).toBe(301);
  });
});

describe('time decay', () => {
  it('halves per half-life, ignores future timestamps and composes with the bridging score', () => {
    expect(decay(0, 1000)).toBe(1);
    expect(decay(2000, 1000)).toBeCloseTo(0.25, 12);
    expect(decay(-5000, 1000)).toBe(1);
    expect(composeScore(0.8, 1000, { halfLifeMs: 1000 })).toBeCloseTo(0.4, 12);
    expect(composeScore(-0.3, 0)).toBe(0);
  });
});
