import { runSteps } from '#lib/steps';
import { rankBridgingWithin } from './bridging-within.js';
import { campA, campB, feedOf, inputOf, twoCamps } from './ranking.fixtures.js';

describe('bridging-within', () => {
  const camps = twoCamps();
  const result = runSteps(rankBridgingWithin(inputOf(feedOf({ communities: ['town'], ranking: 'bridging-within' }), camps.candidates, camps.signals, { town: [...campA, ...campB] })));

  it('puts the post both sides of the community approve above every partisan post', () => {
    expect(result.posts[0]!.uri).toBe(camps.bridge.uri);
    for (const partisan of [...camps.partisanA, ...camps.partisanB]) {
      const ranked = result.posts.find((p) => p.uri === partisan.uri);
      if (ranked) expect(ranked.score).toBeLessThan(result.posts[0]!.score);
    }
  });

  it('explains a post by the numbers that ranked it: its intercept centred between the sides, decayed', () => {
    for (const ranked of result.posts) {
      const c = ranked.components as Record<string, number>;
      expect(c).not.toHaveProperty('eligible');
      expect(c).not.toHaveProperty('gic');
      expect(c).not.toHaveProperty('geoMean');
      expect(c.intercept! + c.midpoint! * c.factor!).toBeCloseTo(c.bridging!, 12);
      expect(c.bridging! >= 0 ? c.bridging! * c.decay! : c.bridging! / c.decay!).toBeCloseTo(ranked.score, 12);
    }
  });

  it('ranks only posts with raters on both sides of the axis', () => {
    for (const ranked of result.posts) {
      const raters = ranked.components.raters as { positive: number; negative: number };
      expect(Math.min(raters.positive, raters.negative)).toBeGreaterThanOrEqual(2);
    }
  });

  it('ranks after a run without signals as it would from nothing: that run keeps no model that is not a number', () => {
    const feed = feedOf({ communities: ['town'], ranking: 'bridging-within' });
    const quiet = runSteps(rankBridgingWithin(inputOf(feed, camps.candidates, [], { town: [...campA, ...campB] })));
    expect(quiet.posts).toEqual([]);
    for (const value of quiet.state?.model.postIntercept ?? []) expect(Number.isFinite(value)).toBe(true);
    const after = runSteps(rankBridgingWithin({ ...inputOf(feed, camps.candidates, camps.signals, { town: [...campA, ...campB] }), previous: quiet.state }));
    expect(after.posts.length).toBeGreaterThan(0);
    expect(after.posts.map((p) => [p.uri, p.score])).toEqual(result.posts.map((p) => [p.uri, p.score]));
  });

  it('keeps its fitted model for the next run to warm-start from', () => {
    expect(result.state?.model.postIntercept.length).toBeGreaterThan(0);
    const again = runSteps(rankBridgingWithin({ ...inputOf(feedOf({ communities: ['town'], ranking: 'bridging-within' }), camps.candidates, camps.signals, { town: [...campA, ...campB] }), previous: result.state }));
    expect(again.posts.map((p) => p.uri)).toEqual(result.posts.map((p) => p.uri));
  });
});
