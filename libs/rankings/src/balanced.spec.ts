import { runSteps } from '#lib/steps';
import { rankBalanced } from './balanced.js';
import { rankBridgingWithin } from './bridging-within.js';
import { campA, campB, feedOf, inputOf, post, signals } from './ranking.fixtures.js';

describe('balanced', () => {
  it('gives each side of the community its share of the top, where bridging-within would give one side all of it', () => {
    // Side A's posts are liked by all of A and half of B; side B's by all of B and a third of A:
    // every post qualifies, and A's posts score higher.
    const postsA = Array.from({ length: 6 }, (_, i) => post(`a${i}`));
    const postsB = Array.from({ length: 6 }, (_, i) => post(`b${i}`));
    const all = [
      ...postsA.flatMap((p) => [...signals(p, campA, 'like'), ...signals(p, campB.slice(0, 3), 'like'), ...signals(p, campB.slice(3), 'requestLess')]),
      ...postsB.flatMap((p) => [...signals(p, campB, 'like'), ...signals(p, campA.slice(0, 2), 'like'), ...signals(p, campA.slice(2), 'requestLess')]),
    ];
    const members = { town: [...campA, ...campB] };
    const sideOf = (uri: string) => (postsA.some((p) => p.uri === uri) ? 'A' : 'B');
    const topSides = (uris: string[]) => new Set(uris.slice(0, 4).map(sideOf));

    const within = runSteps(rankBridgingWithin(inputOf(feedOf({ communities: ['town'], ranking: 'bridging-within' }), [...postsA, ...postsB], all, members)));
    const balanced = runSteps(rankBalanced(inputOf(feedOf({ communities: ['town'], ranking: 'balanced' }), [...postsA, ...postsB], all, members)));
    expect(balanced.posts).toHaveLength(within.posts.length);
    expect(topSides(within.posts.map((p) => p.uri))).toEqual(new Set(['A']));
    expect(topSides(balanced.posts.map((p) => p.uri))).toEqual(new Set(['A', 'B']));
    expect(new Set(balanced.posts.map((p) => p.uri))).toEqual(new Set(within.posts.map((p) => p.uri)));
  });
});
