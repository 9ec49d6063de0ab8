/**
 * `FeedbackEventV1`: what the feed generator publishes on `Topics.feedback`, keyed by viewer DID.
 * Either an interaction a viewer's client sent through `app.bsky.feed.sendInteractions`, or an
 * impression: a post the feed generator served to a viewer (the exposure the ranking divides by).
 */

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

export interface FeedbackEventV1 {
  v: 1;
  type: 'feedback';
  viewer: string;
  /** AT-URI of the feed generator record, when known. */
  feed: string | null;
  /** AT-URI of the post. */
  item: string;
  event: InteractionEvent | 'impression';
  feedContext: string | null;
  reqId: string | null;
  timeUs: number;
}
