export { isNsid, LexType, Nsid } from './nsid.js';
export { atUri, isDid, parseAtUri } from './at-uri.js';
export { normaliseTag } from './hashtag.js';
export {
  isJetstreamTimeUs,
  type JetstreamCommitEvent,
  type JetstreamEvent,
  mapJetstreamEvent,
  READERS_ADDED_CONTEXT,
  wantedCollections,
} from './jetstream-mapping.js';
export {
  decodeFeedCursor,
  encodeFeedCursor,
  type FeedCursor,
  InvalidCursorError,
  parsePersonalOrdering,
  type PersonalOrdering,
  personalOrdering,
} from './feed-cursor.js';
