/**
 * `PipelineEventV1`: what ingest publishes on `Topics.events` for each Jetstream event it keeps.
 * Records are already reduced to the fields the ranking needs; the wire format is JSON.
 */

export type RecordKind = 'post' | 'like' | 'repost' | 'follow' | 'block' | 'listitem' | 'starterpack' | 'pledge' | 'visibility';

interface EventBase {
  v: 1;
  /** Repo DID the event belongs to (the Kafka key). */
  did: string;
  /** Jetstream `time_us`: when the relay saw the event, unix microseconds. */
  timeUs: number;
}

export interface PostCreate extends EventBase {
  type: 'post';
  op: 'create' | 'update';
  rkey: string;
  cid: string;
  /** Client-set `createdAt` as unix milliseconds (untrusted; may be in the future). */
  createdAtMs: number;
  text: string;
  langs: string[];
  /** Lower-cased hashtags from facets and inline tags, without '#'. */
  tags: string[];
  replyRoot: string | null;
  replyParent: string | null;
  /** AT-URI of a quoted post (`app.bsky.embed.record` or `recordWithMedia`). */
  quote: string | null;
  hasMedia: boolean;
}

export interface SubjectCreate extends EventBase {
  type: 'like' | 'repost';
  op: 'create';
  rkey: string;
  cid: string;
  createdAtMs: number;
  subjectUri: string;
  subjectCid: string;
}

export interface GraphCreate extends EventBase {
  type: 'follow' | 'block';
  op: 'create';
  rkey: string;
  createdAtMs: number;
  subjectDid: string;
}

export interface ListItemCreate extends EventBase {
  type: 'listitem';
  op: 'create';
  rkey: string;
  createdAtMs: number;
  /** AT-URI of the `app.bsky.graph.list` the subject is added to. */
  list: string;
  subjectDid: string;
}

/** A starter pack: curators name it as a community source; its members are those of its list. */
export interface StarterPackCreate extends EventBase {
  type: 'starterpack';
  op: 'create' | 'update';
  rkey: string;
  createdAtMs: number;
  /** AT-URI of the `app.bsky.graph.list` behind the pack. */
  list: string;
}

/** A Bridge Fund pledge (`org.commonground.fund.pledge`): credits of a community's fund directed to a post. */
export interface PledgeCreate extends EventBase {
  type: 'pledge';
  op: 'create';
  rkey: string;
  createdAtMs: number;
  subjectUri: string;
  /** Community id the pledge names (checked against the curator's funds by the ranker). */
  community: string;
  /** Credits, a positive integer. */
  amount: number;
}

/**
 * An account's `app.bsky.actor.contentVisibilityDeclaration` (record key `self`): whether it asks
 * to be left out of algorithmic feeds. Its delete means the default again: not hidden.
 */
export interface VisibilityDeclaration extends EventBase {
  type: 'visibility';
  op: 'create' | 'update';
  rkey: string;
  hideFromAlgorithms: boolean;
}

export interface RecordDelete extends EventBase {
  type: RecordKind;
  op: 'delete';
  rkey: string;
}

/** Account status from Jetstream `account` events; inactive accounts are hidden from every feed. */
export interface AccountStatus extends EventBase {
  type: 'account';
  active: boolean;
  /** `takendown`, `suspended`, `deleted`, `deactivated`, … when inactive. */
  status: string | null;
}

export interface IdentityChange extends EventBase {
  type: 'identity';
  handle: string | null;
}

export type PipelineEventV1 =
  | PostCreate
  | SubjectCreate
  | GraphCreate
  | ListItemCreate
  | StarterPackCreate
  | PledgeCreate
  | VisibilityDeclaration
  | RecordDelete
  | AccountStatus
  | IdentityChange;
