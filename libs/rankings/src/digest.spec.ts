import type { DigestDefinition } from '#lib/curation';
import { latestCadencePoint, nextCadencePoint, rankDigest } from './digest.js';
import { campA, campB, feedOf, inputOf, post, signals, twoCamps } from './ranking.fixtures.js';

const digestOf = (overrides: Partial<DigestDefinition>): DigestDefinition => ({
  cadence: 'daily',
  at: '08:00',
  timeZone: 'UTC',
  size: 3,
  base: 'bridging',
  ...overrides,
});

describe('digest cadence points', () => {
  const at = (iso: string) => Date.parse(iso);
  it.each([
    ['daily 08:00 UTC, after today’s point', digestOf({}), '2026-12-03T10:00:00Z', '2026-12-03T08:00:00Z', '2026-12-04T08:00:00Z'],
    ['daily 08:00 UTC, a minute before it', digestOf({}), '2026-12-03T07:59:00Z', '2026-12-02T08:00:00Z', '2026-12-03T08:00:00Z'],
    ['daily 08:00 UTC, on the point itself', digestOf({}), '2026-12-03T08:00:00Z', '2026-12-03T08:00:00Z', '2026-12-04T08:00:00Z'],
    ['weekly Monday 08:00 Paris (UTC+1 in winter)', digestOf({ cadence: 'weekly', day: 'monday', timeZone: 'Europe/Paris' }), '2026-12-03T10:00:00Z', '2026-11-30T07:00:00Z', '2026-12-07T07:00:00Z'],
    ['weekly Thursday 12:00 Paris, before noon on Thursday', digestOf({ cadence: 'weekly', day: 'thursday', at: '12:00', timeZone: 'Europe/Paris' }), '2026-12-03T10:00:00Z', '2026-11-26T11:00:00Z', '2026-12-03T11:00:00Z'],
    ['daily 08:00 New York across the spring change (EST → EDT)', digestOf({ timeZone: 'America/New_York' }), '2026-03-08T12:30:00Z', '2026-03-08T12:00:00Z', '2026-03-09T12:00:00Z'],
    ['daily 08:00 New York, the day before the change', digestOf({ timeZone: 'America/New_York' }), '2026-03-08T11:30:00Z', '2026-03-07T13:00:00Z', '2026-03-08T12:00:00Z'],
    ['daily 00:30 Tokyo (UTC+9): the local date is a day ahead', digestOf({ at: '00:30', timeZone: 'Asia/Tokyo' }), '2026-12-03T20:00:00Z', '2026-12-03T15:30:00Z', '2026-12-04T15:30:00Z'],
  ])('%s', (_name, cadence, now, latest, next) => {
    expect(new Date(latestCadencePoint(cadence, at(now))).toISOString()).toBe(new Date(at(latest)).toISOString());
    expect(new Date(nextCadencePoint(cadence, at(now))).toISOString()).toBe(new Date(at(next)).toISOString());
  });
});

describe('digest', () => {
  const camps = twoCamps();
  // A second post both camps approve, by fewer of them: it bridges too, below the first.
  const second = post('bridge-2', 2);
  const candidates = [...camps.candidates, second];
  const all = [...camps.signals, ...signals(second, [...campA.slice(0, 4), ...campB.slice(0, 4)], 'like')];
  const feed = feedOf({ ranking: 'digest', digest: digestOf({ size: 1 }) });
  const input = inputOf(feed, candidates, all, { a: campA, b: campB });

  it('freezes the first edition at once: the top `size` of the base ranking, at the latest cadence point', () => {
    const result = rankDigest(input);
    expect(result.edition?.at).toBe(latestCadencePoint(feed.digest!, input.nowMs));
    expect(result.edition?.posts.map((p) => p.uri)).toEqual(result.posts.slice(0, 1).map((p) => p.uri));
    expect(result.edition?.posts[0]!.uri).toBe(camps.bridge.uri);
    expect(result.edition?.posts[0]!.components).toMatchObject({ ranking: 'digest', base: 'bridging' });
  });

  it('freezes nothing until the next cadence point, and then none of the posts earlier editions served', () => {
    const first = rankDigest(input).edition!;
    const served = new Set(first.posts.map((p) => p.uri));
    const same = rankDigest({ ...input, nowMs: input.nowMs + 3_600_000, editions: { latestAt: first.at, posts: served } });
    expect(same.edition).toBeUndefined();
    const next = rankDigest({ ...input, nowMs: first.at + 86_400_000, editions: { latestAt: first.at, posts: served } });
    expect(next.edition?.at).toBe(first.at + 86_400_000);
    expect(next.edition!.posts.map((p) => p.uri)).toEqual([second.uri]);
    for (const post of next.edition!.posts) expect(served.has(post.uri)).toBe(false);
  });

  it('never puts the end card in an edition', () => {
    const withCard = feedOf({ ranking: 'digest', digest: digestOf({ size: 1, endCard: camps.bridge.uri }) });
    const result = rankDigest({ ...input, feed: withCard });
    expect(result.edition!.posts.map((p) => p.uri)).not.toContain(camps.bridge.uri);
  });

  it('refuses a digest feed without its digest section', () => {
    expect(() => rankDigest({ ...input, feed: feedOf({ ranking: 'digest' }) })).toThrow('has no digest section');
  });
});
