/**
 * `FeedbackEventV1`: what the feed generator publishes on `Topics.feedback`, keyed by viewer DID.
 * Either an interaction a viewer's client sent through `app.bsky.feed.sendInteractions`, or an
 * impression: a post the feed generator served to a viewer (the exposure the ranking divides by).
 */

import { z } from 'zod';
import { atUri, did, timeUs, withWellFormedStrings } from './pipeline-event.js';

/** The `app.bsky.feed.defs#…` interaction events, without the lexicon prefix. */
export const InteractionEvents = [
  'requestLess',
  'requestMore',
  'clickthroughItem',
  'clickthroughAuthor',
  'clickthroughReposter',
  'clickthroughEmbed',
  'interactionSeen',
  'interactionLike',
  'interactionRepost',
  'interactionReply',
  'interactionQuote',
  'interactionShare',
] as const;
export type InteractionEvent = (typeof InteractionEvents)[number];

export const FeedbackEventSchema = withWellFormedStrings(z.object({
  v: z.literal(1),
  type: z.literal('feedback'),
  viewer: did,
  /** AT-URI of the feed generator record, when known. */
  feed: atUri.nullable().describe('an AT-URI or null'),
  /** AT-URI of the post. */
  item: atUri,
  event: z.enum([...InteractionEvents, 'impression']).describe('an interaction event'),
  feedContext: z.string().nullable().describe('a string or null'),
  reqId: z.string().nullable().describe('a string or null'),
  timeUs,
}));
export type FeedbackEventV1 = z.infer<typeof FeedbackEventSchema>;
