import type { RecordKind } from '#lib/contracts';

/** Namespaced identifiers (NSIDs) of the record collections and XRPC methods the pipeline touches. */
export const Nsid = {
  post: 'app.bsky.feed.post',
  like: 'app.bsky.feed.like',
  repost: 'app.bsky.feed.repost',
  follow: 'app.bsky.graph.follow',
  block: 'app.bsky.graph.block',
  listitem: 'app.bsky.graph.listitem',
  list: 'app.bsky.graph.list',
  starterpack: 'app.bsky.graph.starterpack',
  generator: 'app.bsky.feed.generator',
  /** Our own lexicon (`lexicons/`), under the project's domain `commonground.org`: a Bridge Fund pledge. */
  pledge: 'org.commonground.fund.pledge',
  /**
   * Open Community Notes (johnwarden/open-community-notes, lexicon draft of July 2025): a note
   * proposed on a post is a `label` record with `val: readers-added-context` in its writer's
   * repository; a rating of it is a `rating` record in the rater's (`docs/notes.md`).
   */
  note: 'org.opencommunitynotes.label',
  rating: 'org.opencommunitynotes.rating',
  /** Our own lexicon: a request for a note on a post, which queues the post for note writers. */
  noterequest: 'org.commonground.notes.request',
  /** What an account asks of feeds (`hideFromAlgorithmicRecommendations`), at record key `self`. */
  visibility: 'app.bsky.actor.contentVisibilityDeclaration',

  getFeedSkeleton: 'app.bsky.feed.getFeedSkeleton',
  describeFeedGenerator: 'app.bsky.feed.describeFeedGenerator',
  sendInteractions: 'app.bsky.feed.sendInteractions',
  getFeed: 'app.bsky.feed.getFeed',
  queryLabels: 'com.atproto.label.queryLabels',
  subscribeLabels: 'com.atproto.label.subscribeLabels',
  labelerService: 'app.bsky.labeler.service',
} as const;

/** `$type` values inside records (embeds and rich-text facet features). */
export const LexType = {
  embedImages: 'app.bsky.embed.images',
  embedVideo: 'app.bsky.embed.video',
  embedExternal: 'app.bsky.embed.external',
  embedRecord: 'app.bsky.embed.record',
  embedRecordWithMedia: 'app.bsky.embed.recordWithMedia',
  facetMention: 'app.bsky.richtext.facet#mention',
  facetLink: 'app.bsky.richtext.facet#link',
  facetTag: 'app.bsky.richtext.facet#tag',
  blob: 'blob',
  skeletonReasonPin: 'app.bsky.feed.defs#skeletonReasonPin',
} as const;

/** Collection NSID of each record kind the pipeline keeps. */
const collectionOfKind: Readonly<Record<RecordKind, string>> = {
  post: Nsid.post,
  like: Nsid.like,
  repost: Nsid.repost,
  follow: Nsid.follow,
  block: Nsid.block,
  listitem: Nsid.listitem,
  starterpack: Nsid.starterpack,
  pledge: Nsid.pledge,
  visibility: Nsid.visibility,
  note: Nsid.note,
  rating: Nsid.rating,
  noterequest: Nsid.noterequest,
};

const kindByCollection = new Map<string, RecordKind>(
  (Object.entries(collectionOfKind) as [RecordKind, string][]).map(([kind, nsid]) => [nsid, kind]),
);

/** The record kind stored in `collection`, or `undefined` for collections the pipeline ignores. */
export function recordKindOf(collection: string): RecordKind | undefined {
  return kindByCollection.get(collection);
}

// @NOTE: NSID syntax from the atproto spec: a reversed domain authority (≥2 segments) plus a name segment
// that starts with a letter and holds only letters and digits.
const nsidPattern =
  /^[a-zA-Z](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)+\.[a-zA-Z][a-zA-Z0-9]{0,62}$/;

export function isNsid(value: string): boolean {
  return value.length <= 317 && nsidPattern.test(value);
}
