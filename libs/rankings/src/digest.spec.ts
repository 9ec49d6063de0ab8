import { runSteps } from '#lib/steps';
import fc from 'fast-check';
import { Weekdays, type DigestDefinition } from '#lib/curation';
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
    ['daily 18:30 Paris on a plain summer day (UTC+2)', digestOf({ at: '18:30', timeZone: 'Europe/Paris' }), '2025-06-15T12:00:00Z', '2025-06-14T16:30:00Z', '2025-06-15T16:30:00Z'],
    ['daily 08:00 Kathmandu (UTC+5:45)', digestOf({ timeZone: 'Asia/Kathmandu' }), '2025-06-15T02:00:00Z', '2025-06-14T02:15:00Z', '2025-06-15T02:15:00Z'],
  ])('%s', (_name, cadence, now, latest, next) => {
    expect(new Date(latestCadencePoint(cadence, at(now))).toISOString()).toBe(new Date(at(latest)).toISOString());
    expect(new Date(nextCadencePoint(cadence, at(now))).toISOString()).toBe(new Date(at(next)).toISOString());
  });
});

describe('digest cadence points across daylight-saving changes', () => {
  const at = (iso: string) => Date.parse(iso);
  // A time the jump skips is due at the jump itself, the first instant the clock shows it or later;
  // a time shown twice is due at its first showing, and not again at the second.
  it.each([
    ['Santiago daily 00:00, the night the clock jumps from 00:00 to 01:00', digestOf({ at: '00:00', timeZone: 'America/Santiago' }), '2025-09-07T03:30:00Z', '2025-09-06T04:00:00Z', '2025-09-07T04:00:00Z'],
    ['Santiago daily 00:00, at the jump', digestOf({ at: '00:00', timeZone: 'America/Santiago' }), '2025-09-07T04:00:00Z', '2025-09-07T04:00:00Z', '2025-09-08T03:00:00Z'],
    ['Santiago daily 00:30, skipped: due at the jump (01:00 -03)', digestOf({ at: '00:30', timeZone: 'America/Santiago' }), '2025-09-07T03:45:00Z', '2025-09-06T04:30:00Z', '2025-09-07T04:00:00Z'],
    ['Santiago daily 00:30, after the jump', digestOf({ at: '00:30', timeZone: 'America/Santiago' }), '2025-09-07T04:10:00Z', '2025-09-07T04:00:00Z', '2025-09-08T03:30:00Z'],
    ['Havana daily 00:00, skipped: due at 01:00 CDT', digestOf({ at: '00:00', timeZone: 'America/Havana' }), '2025-03-09T04:30:00Z', '2025-03-08T05:00:00Z', '2025-03-09T05:00:00Z'],
    ['New York daily 02:30, skipped: due at 03:00 EDT, not 01:30 EST', digestOf({ at: '02:30', timeZone: 'America/New_York' }), '2025-03-09T06:45:00Z', '2025-03-08T07:30:00Z', '2025-03-09T07:00:00Z'],
    ['New York weekly Sunday 02:30, skipped', digestOf({ cadence: 'weekly', day: 'sunday', at: '02:30', timeZone: 'America/New_York' }), '2025-03-09T06:45:00Z', '2025-03-02T07:30:00Z', '2025-03-09T07:00:00Z'],
    ['New York daily 01:30 shown twice, before it', digestOf({ at: '01:30', timeZone: 'America/New_York' }), '2025-11-02T05:00:00Z', '2025-11-01T05:30:00Z', '2025-11-02T05:30:00Z'],
    ['New York daily 01:30 shown twice, the first showing (EDT)', digestOf({ at: '01:30', timeZone: 'America/New_York' }), '2025-11-02T05:45:00Z', '2025-11-02T05:30:00Z', '2025-11-03T06:30:00Z'],
    ['New York daily 01:30 shown twice, the second showing (EST) is no new point', digestOf({ at: '01:30', timeZone: 'America/New_York' }), '2025-11-02T06:45:00Z', '2025-11-02T05:30:00Z', '2025-11-03T06:30:00Z'],
    ['Paris daily 02:30, skipped: due at 03:00 CEST, not 03:30', digestOf({ at: '02:30', timeZone: 'Europe/Paris' }), '2025-03-30T00:45:00Z', '2025-03-29T01:30:00Z', '2025-03-30T01:00:00Z'],
    ['Paris daily 02:30 shown twice: the first showing (CEST), not the second', digestOf({ at: '02:30', timeZone: 'Europe/Paris' }), '2025-10-26T01:45:00Z', '2025-10-26T00:30:00Z', '2025-10-27T01:30:00Z'],
    ['Lord Howe daily 02:15, skipped by its half-hour jump: due at 02:30 +11', digestOf({ at: '02:15', timeZone: 'Australia/Lord_Howe' }), '2025-10-04T15:00:00Z', '2025-10-03T15:45:00Z', '2025-10-04T15:30:00Z'],
    ['Lord Howe daily 01:45 shown twice: the first showing (+11)', digestOf({ at: '01:45', timeZone: 'Australia/Lord_Howe' }), '2025-04-05T15:20:00Z', '2025-04-05T14:45:00Z', '2025-04-06T15:15:00Z'],
    ['Nuuk daily 23:30, skipped (23:00 → 00:00): due at the jump, and the next day keeps its own', digestOf({ at: '23:30', timeZone: 'America/Nuuk' }), '2025-03-30T01:30:00Z', '2025-03-30T01:00:00Z', '2025-03-31T00:30:00Z'],
  ])('%s', (_name, cadence, now, latest, next) => {
    expect(new Date(latestCadencePoint(cadence, at(now))).toISOString()).toBe(new Date(at(latest)).toISOString());
    expect(new Date(nextCadencePoint(cadence, at(now))).toISOString()).toBe(new Date(at(next)).toISOString());
  });

  const MINUTE_MS = 60_000;
  const HOUR_MS = 60 * MINUTE_MS;
  const DAY_MS = 24 * HOUR_MS;
  const zones = Intl.supportedValuesOf('timeZone');
  const formats = new Map(zones.map((zone) => [zone, new Intl.DateTimeFormat('en-US', { timeZone: zone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' })]));
  /** What the clock in `zone` shows at `instant`, as if it were UTC (ms). */
  const shows = (zone: string, instant: number) => {
    const parts = Object.fromEntries(formats.get(zone)!.formatToParts(instant).map((part) => [part.type, part.value]));
    return Date.UTC(Number(parts.year), Number(parts.month) - 1, Number(parts.day), Number(parts.hour), Number(parts.minute), Number(parts.second));
  };
  const offset = (zone: string, instant: number) => shows(zone, instant) - instant;
  const atOf = (minutes: number) => `${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`;

  /** The local time `cadence` wanted at `point`: what the clock shows there, or the `at` a jump there skipped. */
  const wantedAt = (cadence: DigestDefinition, point: number): number => {
    const [hour, minute] = cadence.at.split(':').map(Number) as [number, number];
    const shown = shows(cadence.timeZone, point);
    const day = Math.floor(shown / DAY_MS) * DAY_MS;
    const time = (hour * 60 + minute) * MINUTE_MS;
    if (shown === day + time) return shown;
    const justBefore = shows(cadence.timeZone, point - 1000);
    const skipped = [day + time, day - DAY_MS + time].find((wanted) => justBefore < wanted && wanted < shown);
    if (skipped === undefined) throw new Error(`${new Date(point).toISOString()} shows ${new Date(shown).toISOString()} in ${cadence.timeZone}, neither ${cadence.at} nor the end of a jump over it`);
    return skipped;
  };

  const holds = (cadence: DigestDefinition, now: number) => {
    const latest = latestCadencePoint(cadence, now);
    const next = nextCadencePoint(cadence, now);
    const step = cadence.cadence === 'weekly' ? 7 * DAY_MS : DAY_MS;
    expect(latest).toBeLessThanOrEqual(now);
    expect(next).toBeGreaterThan(now);
    // A day of 24 hours, or more by what the clock goes back in between (an hour; two in Antarctica/Troll).
    expect(next - now).toBeLessThanOrEqual(step + Math.max(0, offset(cadence.timeZone, latest) - offset(cadence.timeZone, next)));
    for (const point of [latest, next]) {
      const wanted = wantedAt(cadence, point);
      if (cadence.cadence === 'weekly') expect(Weekdays[(new Date(wanted).getUTCDay() + 6) % 7]).toBe(cadence.day);
    }
    // One edition per point: every instant up to the next point belongs to this one, and the next begins there.
    expect(latestCadencePoint(cadence, next - 1)).toBe(latest);
    expect(latestCadencePoint(cadence, next)).toBe(next);
    expect(nextCadencePoint(cadence, latest)).toBe(next);
  };

  const cadenceIn = (timeZone: string, atMinutes: fc.Arbitrary<number>) =>
    fc.record({ weekly: fc.boolean(), day: fc.constantFrom(...Weekdays), minutes: atMinutes }).map(({ weekly, day, minutes }) =>
      digestOf({ timeZone, at: atOf(minutes), ...(weekly ? { cadence: 'weekly', day } : {}) }),
    );

  it('holds for any zone, time of day and instant in 2024–2026: latest ≤ now < next, one day (or week) apart, at the local time wanted', () => {
    const cases = fc.constantFrom(...zones).chain((zone) => fc.tuple(cadenceIn(zone, fc.integer({ min: 0, max: 24 * 60 - 1 })), fc.integer({ min: Date.UTC(2024, 0, 1), max: Date.UTC(2027, 0, 1) - 1 })));
    fc.assert(fc.property(cases, ([cadence, now]) => holds(cadence, now)), { numRuns: 1_000 });
  });

  /** The instants in 2024–2026 at which `zone` changes its offset (none for most zones), to the second. */
  const changesIn = (zone: string): number[] => {
    const changes: number[] = [];
    for (let month = 0; month < 36; month++) {
      let before = Date.UTC(2024, month, 1);
      let after = Date.UTC(2024, month + 1, 1);
      if (offset(zone, before) === offset(zone, after)) continue;
      const from = offset(zone, before);
      while (after - before > 1000) {
        const middle = before + Math.floor((after - before) / 2000) * 1000;
        if (offset(zone, middle) === from) before = middle;
        else after = middle;
      }
      changes.push(after);
    }
    return changes;
  };

  it('holds near every daylight-saving change of 2024–2026, for times of day in or around the hour skipped or repeated', () => {
    const changing = zones.map((zone) => ({ zone, changes: changesIn(zone) })).filter(({ changes }) => changes.length > 0);
    const cases = fc.constantFrom(...changing).chain(({ zone, changes }) =>
      fc.constantFrom(...changes).chain((change) => {
        const shown = Math.floor((shows(zone, change) % DAY_MS) / MINUTE_MS);
        const atMinutes = fc.integer({ min: -150, max: 90 }).map((shift) => (((shown + shift) % 1440) + 1440) % 1440);
        return fc.tuple(cadenceIn(zone, atMinutes), fc.integer({ min: change - 30 * HOUR_MS, max: change + 30 * HOUR_MS }));
      }),
    );
    fc.assert(fc.property(cases, ([cadence, now]) => holds(cadence, now)), { numRuns: 2_000 });
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
    const result = runSteps(rankDigest(input));
    expect(result.edition?.at).toBe(latestCadencePoint(feed.digest!, input.nowMs));
    expect(result.edition?.posts.map((p) => p.uri)).toEqual(result.posts.slice(0, 1).map((p) => p.uri));
    expect(result.edition?.posts[0]!.uri).toBe(camps.bridge.uri);
    expect(result.edition?.posts[0]!.components).toMatchObject({ ranking: 'digest', base: 'bridging' });
  });

  it('freezes nothing until the next cadence point, and then none of the posts earlier editions served', () => {
    const first = runSteps(rankDigest(input)).edition!;
    const served = new Set(first.posts.map((p) => p.uri));
    const same = runSteps(rankDigest({ ...input, nowMs: input.nowMs + 3_600_000, editions: { latestAt: first.at, posts: served } }));
    expect(same.edition).toBeUndefined();
    const next = runSteps(rankDigest({ ...input, nowMs: first.at + 86_400_000, editions: { latestAt: first.at, posts: served } }));
    expect(next.edition?.at).toBe(first.at + 86_400_000);
    expect(next.edition!.posts.map((p) => p.uri)).toEqual([second.uri]);
    for (const post of next.edition!.posts) expect(served.has(post.uri)).toBe(false);
  });

  it('never puts the end card in an edition', () => {
    const withCard = feedOf({ ranking: 'digest', digest: digestOf({ size: 1, endCard: camps.bridge.uri }) });
    const result = runSteps(rankDigest({ ...input, feed: withCard }));
    expect(result.edition!.posts.map((p) => p.uri)).not.toContain(camps.bridge.uri);
  });

  it('refuses a digest feed without its digest section', () => {
    expect(() => runSteps(rankDigest({ ...input, feed: feedOf({ ranking: 'digest' }) }))).toThrow('has no digest section');
  });
});
