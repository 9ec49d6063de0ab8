import { z } from 'zod';
import { integerParam, parseParams, requiredStringParam, stringParam } from './request-input.js';

/** getFeedSkeleton's query parameters: the schema, and the reading every request goes through. */
const FEED_MAX = 8192;
const CURSOR_MAX = 512;
const LIMIT = { min: 1, max: 100, fallback: 50 };
export const GetFeedSkeletonParams = z.object({
  feed: requiredStringParam(FEED_MAX),
  limit: integerParam(LIMIT),
  cursor: stringParam(CURSOR_MAX),
});
export type FeedSkeletonParams = z.output<typeof GetFeedSkeletonParams>;
const DIGITS = /^\d{1,3}$/;

/**
 * The parameters of a well-formed request, read directly; anything else (a missing feed, a
 * repeated parameter, a limit out of range…) goes through the schema, which words the error.
 *
 * @NOTE Every page pays for this: the schema's generic walk costs several times the page itself.
 * What is accepted here is exactly what the schema accepts, with the same output.
 */
export function feedSkeletonParams(query: unknown): FeedSkeletonParams {
  const { feed, limit, cursor } = (query ?? {}) as Record<string, unknown>;
  if (typeof feed === 'string' && feed !== '' && feed.length <= FEED_MAX && (cursor === undefined || (typeof cursor === 'string' && cursor.length <= CURSOR_MAX))) {
    const asked = limit === undefined || limit === '' ? LIMIT.fallback : typeof limit === 'string' && DIGITS.test(limit) ? Number(limit) : NaN;
    if (asked >= LIMIT.min && asked <= LIMIT.max) return { feed, limit: asked, cursor: cursor === '' ? undefined : cursor };
  }
  return parseParams(GetFeedSkeletonParams, query);
}
