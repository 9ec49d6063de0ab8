export { isNsid, LexType, Nsid } from './nsid.js';
export { atUri, isDid, parseAtUri } from './at-uri.js';
export {
  isJetstreamTimeUs,
  type JetstreamCommitEvent,
  type JetstreamEvent,
  mapJetstreamEvent,
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
