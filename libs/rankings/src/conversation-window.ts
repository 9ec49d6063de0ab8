import { TID } from '@atproto/common';

/** How long before its root post's key time a reply may be stamped: clocks of relays and PDSes disagree. */
const ROOT_CLOCK_MARGIN_US = 86_400_000_000;

/**
 * Where a root post's conversation starts: a little before the root was written (its key is a TID),
 * so that the first statements, the most voted on, stay in it however long it runs; a hashtag's, or
 * a root whose key is no TID, starts at the feed's window.
 */
export function conversationSinceUs(root: string, windowSinceUs: number): number {
  const rkey = root.slice(root.lastIndexOf('/') + 1);
  if (!TID.is(rkey)) return windowSinceUs;
  return Math.max(0, Math.min(windowSinceUs, TID.fromStr(rkey).timestamp() - ROOT_CLOCK_MARGIN_US));
}
