import { runSteps } from '#lib/steps';
import { rankBalanced } from './balanced.js';
import { rankBridging } from './bridging.js';
import type { RankingInput } from './ranking.js';
import { campA, campB, feedOf, inputOf, post, signals, twoCamps } from './ranking.fixtures.js';

const camps = twoCamps();
const labelled = (input: RankingInput, posts: Record<string, string[]>, accounts: Record<string, string[]> = {}): RankingInput => ({
  ...input,
  labels: {
    posts: new Map(Object.entries(posts).map(([uri, values]) => [uri, new Set(values)])),
    accounts: new Map(Object.entries(accounts).map(([did, values]) => [did, new Set(values)])),
  },
});

describe('labels from the labelers we follow, in the rankings', () => {
  const base = inputOf(feedOf({ communities: ['a', 'b'], labels: { exclude: ['spam'], downrank: { labels: ['rude'], factor: 0.1 } } }), camps.candidates, camps.signals, {
    a: campA,
    b: campB,
  });

  it('ranks as before when no label matches', () => {
    expect(runSteps(rankBridging(labelled(base, { [camps.bridge.uri]: ['other'] }))).posts).toEqual(runSteps(rankBridging(base)).posts);
  });

  it('exclude removes a labelled post, and every post of a labelled account', () => {
    expect(runSteps(rankBridging(labelled(base, { [camps.bridge.uri]: ['spam'] }))).posts.map((p) => p.uri)).not.toContain(camps.bridge.uri);
    expect(runSteps(rankBridging(labelled(base, {}, { [camps.bridge.author]: ['spam'] }))).posts).toEqual([]);
  });

  it('downrank scales the score by the factor, moves the post down and says which label did it', () => {
    // A second post both camps approve, a little less: without the label it ranks below.
    const second = post('bridge-2', 2);
    const both = { ...base, candidates: [...base.candidates, second], signals: [...base.signals, ...signals(second, [...campA.slice(0, 4), ...campB.slice(0, 4)], 'like')] };
    const before = runSteps(rankBridging(both)).posts;
    expect(before.map((p) => p.uri).slice(0, 2)).toEqual([camps.bridge.uri, second.uri]);
    const after = runSteps(rankBridging(labelled(both, { [camps.bridge.uri]: ['rude'] }))).posts;
    const moved = after.find((p) => p.uri === camps.bridge.uri)!;
    expect(moved.score).toBeCloseTo(before[0]!.score * 0.1, 10);
    expect(after.indexOf(moved)).toBeGreaterThan(0);
    expect(moved.components.labels).toEqual({ downrankedBy: ['rude'], factor: 0.1 });
  });

  it('downrank applies before balancing too', () => {
    const town = inputOf(feedOf({ ranking: 'balanced', communities: ['town'], labels: { exclude: [], downrank: { labels: ['rude'], factor: 0.1 } } }), camps.candidates, camps.signals, {
      town: [...campA, ...campB],
    });
    const after = runSteps(rankBalanced(labelled(town, { [camps.bridge.uri]: ['rude'] }))).posts;
    expect(after.find((p) => p.uri === camps.bridge.uri)?.components.labels).toEqual({ downrankedBy: ['rude'], factor: 0.1 });
  });

  it("a bot account's likes do not count: a post liked across camps only by bots of one camp stops bridging", () => {
    const bots = Object.fromEntries(campB.map((did) => [did, ['bot']]));
    const supporters = (input: RankingInput) => runSteps(rankBridging(input)).posts.find((p) => p.uri === camps.bridge.uri)?.components.supportedBy;
    expect(supporters(base)).toEqual(expect.arrayContaining(['a', 'b']));
    // Still a candidate (thin evidence is ranked, by its uncertainty), but no longer supported across camps.
    expect(supporters(labelled(base, {}, bots))).not.toContain('b');
  });
});
