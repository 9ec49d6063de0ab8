import { runInTurns, runSteps } from '#lib/steps';
import { rankBridging } from './bridging.js';
import type { RankingResult } from './ranking.js';
import { campA, campB, feedOf, inputOf, post, signals, twoCamps } from './ranking.fixtures.js';

describe('bridging', () => {
  // @NOTE Both communities saw `onlyA` (B's members were shown it and passed it over), so it ranks:
  // a community that saw a post and did not approve it said something about it.
  it('ranks a post both communities approve first, and one that only one community approves far below it', () => {
    const camps = twoCamps();
    const result = runSteps(rankBridging(inputOf(feedOf({ communities: ['a', 'b'] }), camps.candidates, camps.signals, { a: campA, b: campB })));
    const [first] = result.posts;
    expect(first!.uri).toBe(camps.bridge.uri);
    expect(JSON.parse(first!.feedContext)).toEqual({ v: 1, b: ['a', 'b'], d: [] });
    expect(first!.components).toMatchObject({ ranking: 'bridging', supportedBy: ['a', 'b'] });
    const onlyA = result.posts.find((p) => p.uri === camps.onlyA.uri);
    expect(onlyA).toBeDefined();
    expect(onlyA!.score).toBeLessThan(first!.score / 2);
    expect(JSON.parse(onlyA!.feedContext)).toEqual({ v: 1, b: ['a'], d: [] });
  });

  it('counts a member who reposts a post as one approval of it: a post every member shown reposted ranks first, with a score', () => {
    const a = Array.from({ length: 10 }, (_, i) => `did:plc:ra${i}`);
    const b = Array.from({ length: 10 }, (_, i) => `did:plc:rb${i}`);
    const reposted = post('reposted');
    const liked = post('liked');
    const all = [...signals(reposted, [...a, ...b], 'repost'), ...signals(liked, [...a.slice(0, 8), ...b.slice(0, 8)], 'like'), ...signals(liked, [...a.slice(8), ...b.slice(8)], 'interactionSeen')];
    const result = runSteps(rankBridging(inputOf(feedOf({ communities: ['a', 'b'] }), [liked, reposted], all, { a, b })));
    expect(result.posts.map((p) => p.uri)).toEqual([reposted.uri, liked.uri]);
    for (const ranked of result.posts) expect(Number.isFinite(ranked.score)).toBe(true);
    expect(result.posts[0]!.components).toMatchObject({ supportedBy: ['a', 'b'], groups: [expect.objectContaining({ approvals: 10, exposure: 10 }), expect.objectContaining({ approvals: 10, exposure: 10 })] });
  });

  // @NOTE The members' clients report what they were shown (interactionSeen), and none was shown
  // the post: no community gave evidence on it, so it is not ranked at all.
  it('counts only members: likes from outside the communities do not make a post bridge, it is left out', () => {
    const lone = post('lone');
    const strangers = Array.from({ length: 12 }, (_, i) => `did:plc:stranger${i}`);
    const camps = twoCamps();
    const result = runSteps(rankBridging(
      inputOf(feedOf({ communities: ['a', 'b'] }), [...camps.candidates, lone], [...camps.signals, ...signals(lone, strangers, 'like')], { a: campA, b: campB }),
    ));
    expect(result.posts.map((p) => p.uri)).not.toContain(lone.uri);
    expect(result.posts[0]!.uri).toBe(camps.bridge.uri);
  });

  // @NOTE With likes only, exposure is estimated: members of both communities were active while the
  // post was live and did not approve it, which is what a community says about a post when all we
  // see is likes. The post stays a candidate and ranks last.
  it('with likes only, a post only outsiders liked ranks last', () => {
    const lone = post('lone');
    const strangers = Array.from({ length: 12 }, (_, i) => `did:plc:stranger${i}`);
    const camps = twoCamps();
    const likesOnly = [...camps.signals, ...signals(lone, strangers, 'like')].filter((signal) => signal.kind === 'like');
    const result = runSteps(rankBridging(inputOf(feedOf({ communities: ['a', 'b'] }), [...camps.candidates, lone], likesOnly, { a: campA, b: campB })));
    expect(result.posts.at(-1)!.uri).toBe(lone.uri);
    expect(result.posts.at(-1)!.score).toBeLessThan(result.posts[0]!.score / 2);
  });

  it('bridges one community across the opinion groups its members form, and says so', () => {
    const camps = twoCamps();
    const result = runSteps(rankBridging(inputOf(feedOf({ communities: ['town'] }), camps.candidates, camps.signals, { town: [...campA, ...campB] })));
    expect(result.posts[0]!.uri).toBe(camps.bridge.uri);
    expect(result.posts[0]!.components.opinionGroups).toEqual([6, 6]);
  });

  it('ranks a community that rated too little to find groups inside it, as bridging-within', () => {
    const posts = Array.from({ length: 60 }, (_, i) => post(`p${i}`));
    // Each member rates two posts of sixty: far below the density groups can be found at.
    const all = [...campA, ...campB].flatMap((did, i) => [...signals(posts[i % 60]!, [did], 'like'), ...signals(posts[(i + 7) % 60]!, [did], 'like')]);
    const result = runSteps(rankBridging(inputOf(feedOf({ communities: ['town'] }), posts, all, { town: [...campA, ...campB] })));
    for (const ranked of result.posts) expect(ranked.components.opinionGroups).toBe('too sparse: ranked inside the community');
  });

  it('ranked in turns of the event loop (as the snapshot job ranks), gives the feed it gives straight through, and the state to warm-start from', async () => {
    const camps = twoCamps();
    const input = inputOf(feedOf({ communities: ['a', 'b'] }), camps.candidates, camps.signals, { a: campA, b: campB });
    const through = runSteps(rankBridging(input));
    let turns = 0;
    let ticking = setImmediate(function tick() {
      turns += 1;
      ticking = setImmediate(tick);
    });
    let inTurns: RankingResult;
    try {
      inTurns = await runInTurns(rankBridging(input), 0);
    } finally {
      clearImmediate(ticking);
    }
    expect(turns).toBeGreaterThan(1);
    expect(inTurns.posts).toEqual(through.posts);
    expect(inTurns.state!.model.postIntercept).toEqual(through.state!.model.postIntercept);
    // Warm-started from either, the next run gives the same feed again.
    const next = runSteps(rankBridging({ ...input, previous: inTurns.state! }));
    expect(next.posts.map((p) => p.uri)).toEqual(through.posts.map((p) => p.uri));
  });
});
