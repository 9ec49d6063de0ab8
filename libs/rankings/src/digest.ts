import { Weekdays, type DigestDefinition } from '#lib/curation';
import { rankBalanced } from './balanced.js';
import { rankBridgingWithin } from './bridging-within.js';
import { rankBridging } from './bridging.js';
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
export function rankDigest(input: RankingInput): RankingResult {
  const { feed } = input;
  const digest = feed.digest;
  if (!digest) throw new NotADigestError(feed.shortname);
  const base = bases[digest.base]({ ...input, feed: { ...feed, ranking: digest.base } });
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
  const today = wallClock(cadence.timeZone, nowMs);
  const step = cadence.cadence === 'weekly' ? 7 : 1;
  const weekday = (new Date(Date.UTC(today.year, today.month - 1, today.day)).getUTCDay() + 6) % 7;
  const back = cadence.cadence === 'weekly' ? (weekday - Weekdays.indexOf(cadence.day!) + 7) % 7 : 0;
  const point = pointOn(cadence, today, -back);
  return point <= nowMs ? point : pointOn(cadence, today, -back - step);
}

/** The first cadence point after `nowMs`: when the edition served at `nowMs` gives way to the next. */
export function nextCadencePoint(cadence: Cadence, nowMs: number): number {
  const latest = latestCadencePoint(cadence, nowMs);
  return pointOn(cadence, wallClock(cadence.timeZone, latest), cadence.cadence === 'weekly' ? 7 : 1);
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

/**
 * The instant a wall-clock time (given as if it were UTC) shows in `zone`.
 *
 * @NOTE Node 24 has no `Temporal`; Intl gives a zone's offset at an instant, and two passes find
 * the offset in force at the wall time itself. A time a daylight-saving jump skips lands on the
 * hour after the jump, a time that occurs twice on its first occurrence.
 */
function instantOf(zone: string, wallMs: number): number {
  const guess = wallMs - offsetAt(zone, wallMs);
  return wallMs - offsetAt(zone, guess);
}

function offsetAt(zone: string, instantMs: number): number {
  const wall = wallClock(zone, instantMs);
  const seconds = Math.floor(instantMs / 1000) * 1000;
  return Date.UTC(wall.year, wall.month - 1, wall.day, wall.hour, wall.minute, wall.second) - seconds;
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
