import { Weekdays, type DigestDefinition } from '#lib/curation';
import { rankBalanced } from './balanced.js';
import { rankBridgingWithin } from './bridging-within.js';
import { rankBridging } from './bridging.js';
import type { Steps } from '#lib/steps';
import type { RankFn, RankingInput, RankingResult } from './ranking.js';

const bases: Readonly<Record<DigestDefinition['base'], RankFn>> = {
  bridging: rankBridging,
  'bridging-within': rankBridgingWithin,
  balanced: rankBalanced,
};

export class NotADigestError extends Error {
  override name = 'NotADigestError';
  constructor(feed: string) {
    super(`feed "${feed}" is ranked as a digest but has no digest section`);
  }
}

/**
 * `digest`: the base ranking without the posts earlier editions served (nor the end card), and,
 * once a cadence point has passed since the latest stored edition, a new edition: the top `size`
 * of them, frozen at that point. A feed with no edition yet gets one at once, for the latest point.
 */
export function* rankDigest(input: RankingInput): Steps<RankingResult> {
  const { feed } = input;
  const digest = feed.digest;
  if (!digest) throw new NotADigestError(feed.shortname);
  const base = yield* bases[digest.base]({ ...input, feed: { ...feed, ranking: digest.base } });
  const served = input.editions?.posts ?? new Set<string>();
  const waiting = base.posts
    .filter((post) => !served.has(post.uri) && post.uri !== digest.endCard)
    .map((post) => ({ ...post, components: { ...post.components, ranking: 'digest', base: digest.base } }));
  const at = latestCadencePoint(digest, input.nowMs);
  const latest = input.editions?.latestAt;
  const due = latest === undefined || latest < at;
  return { posts: waiting, ...(base.state && { state: base.state }), ...(due && { edition: { at, posts: waiting.slice(0, digest.size) } }) };
}

type Cadence = Pick<DigestDefinition, 'cadence' | 'day' | 'at' | 'timeZone'>;

/** The latest cadence point at or before `nowMs` (unix ms): today's or an earlier day's `at`, in the digest's time zone. */
export function latestCadencePoint(cadence: Cadence, nowMs: number): number {
  return cadencePointsAround(cadence, nowMs).latest;
}

/** The first cadence point after `nowMs`: when the edition served at `nowMs` gives way to the next. */
export function nextCadencePoint(cadence: Cadence, nowMs: number): number {
  return cadencePointsAround(cadence, nowMs).next;
}

/**
 * The cadence points either side of `nowMs`: `latest` ≤ `nowMs` < `next`, consecutive.
 *
 * @NOTE The walk goes by local date, never by reading a point back: a point whose `at` a jump
 * skips may read as the next day (Nuuk skips 23:00–23:59 on its spring-forward day), and that
 * day still has its own point. It checks both bounds rather than trusting the date `nowMs` reads
 * as, so `next` is after `nowMs` even if a fall-back ever carried the clock back over midnight.
 */
function cadencePointsAround(cadence: Cadence, nowMs: number): { latest: number; next: number } {
  const today = wallClock(cadence.timeZone, nowMs);
  const step = cadence.cadence === 'weekly' ? 7 : 1;
  const weekday = (new Date(Date.UTC(today.year, today.month - 1, today.day)).getUTCDay() + 6) % 7;
  let days = cadence.cadence === 'weekly' ? -((weekday - Weekdays.indexOf(cadence.day!) + 7) % 7) : 0;
  let latest = pointOn(cadence, today, days);
  let next = pointOn(cadence, today, days + step);
  while (latest > nowMs) {
    next = latest;
    days -= step;
    latest = pointOn(cadence, today, days);
  }
  while (next <= nowMs) {
    latest = next;
    days += step;
    next = pointOn(cadence, today, days + step);
  }
  return { latest, next };
}

interface WallDate {
  year: number;
  month: number;
  day: number;
}

/** `at` on the local date `days` after `date`, as unix ms. */
function pointOn(cadence: Cadence, date: WallDate, days: number): number {
  const [hour, minute] = cadence.at.split(':').map(Number) as [number, number];
  return instantOf(cadence.timeZone, Date.UTC(date.year, date.month - 1, date.day + days, hour, minute));
}

const DAY_MS = 86_400_000;

/**
 * The first instant at which `zone`'s clock shows a wall-clock time (given as if it were UTC) or
 * a later one: for a time that occurs twice (the hour a fall-back repeats), its first occurrence;
 * for a time a spring-forward skips, the moment of the jump, which reads as the end of the gap
 * (New York's 02:30 on a spring-forward day is 03:00 EDT; Santiago's 00:00 on 2025-09-07 is 01:00).
 *
 * @NOTE Node 24 has no `Temporal`. Intl gives a zone's offset at an instant; the offsets a day
 * either side of the wall time are those before and after any transition near it, and the
 * earlier of the two candidates that reads back as the wall time is the first occurrence. When
 * neither does, the time was skipped: the jump lies between them, found to the second by bisection.
 */
function instantOf(zone: string, wallMs: number): number {
  const withOffsetBefore = wallMs - offsetAt(zone, wallMs - DAY_MS);
  const withOffsetAfter = wallMs - offsetAt(zone, wallMs + DAY_MS);
  const first = Math.min(withOffsetBefore, withOffsetAfter);
  const second = Math.max(withOffsetBefore, withOffsetAfter);
  if (localMs(zone, first) === wallMs) return first;
  if (localMs(zone, second) === wallMs) return second;
  // Skipped: `first` reads before the wall time, `second` after it.
  let before = first;
  let after = second;
  while (after - before > 1000) {
    const middle = before + Math.floor((after - before) / 2000) * 1000;
    if (localMs(zone, middle) < wallMs) before = middle;
    else after = middle;
  }
  return after;
}

function offsetAt(zone: string, instantMs: number): number {
  return localMs(zone, instantMs) - Math.floor(instantMs / 1000) * 1000;
}

/** The wall-clock time `zone` shows at an instant, to the second, as if it were UTC. */
function localMs(zone: string, instantMs: number): number {
  const wall = wallClock(zone, instantMs);
  return Date.UTC(wall.year, wall.month - 1, wall.day, wall.hour, wall.minute, wall.second);
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function wallClock(zone: string, instantMs: number): WallDate & { hour: number; minute: number; second: number } {
  let format = formatters.get(zone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(zone, format);
  }
  const parts = Object.fromEntries(format.formatToParts(instantMs).map((part) => [part.type, part.value]));
  return {
    year: Number(parts.year),
    month: Number(parts.month),
    day: Number(parts.day),
    hour: Number(parts.hour),
    minute: Number(parts.minute),
    second: Number(parts.second),
  };
}
