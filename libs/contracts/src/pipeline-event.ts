/**
 * `PipelineEventV1`: what ingest publishes on `Topics.events` for each Jetstream event it keeps.
 * Records are already reduced to the fields the ranking needs; the wire format is JSON. Each shape
 * is one zod schema; its type is inferred, and each field's `describe` is what a message that
 * breaks it is told (`field "timeUs": expected …`).
 */
import { z } from 'zod';
import { hasWellFormedStrings, ILL_FORMED_STRING } from './well-formed.js';

export const RecordKinds = ['post', 'like', 'repost', 'follow', 'block', 'listitem', 'starterpack', 'pledge', 'visibility', 'note', 'rating', 'noterequest'] as const;
export type RecordKind = (typeof RecordKinds)[number];

/**
 * @NOTE Numbers are integers in a sane range, never merely finite: a float, a negative or a far
 * future `timeUs` would reach a UInt64 column as garbage (ClickHouse truncates or wraps it) or
 * refuse the whole insert. Jetstream's `time_us` is a positive integer of microseconds; the upper
 * bound (year 2100) leaves room for clock skew and none for nonsense.
 */
export const MAX_TIME_US = 4_102_444_800_000_000;
/** A client-set `createdAt` in milliseconds: any integer a JavaScript `Date` can hold (before 1970 too). */
const MAX_DATE_MS = 8_640_000_000_000_000;

export const did = z.string().startsWith('did:').describe('a DID');
export const atUri = z.string().startsWith('at://').describe('an AT-URI');
export const timeUs = z.number().int().positive().max(MAX_TIME_US).describe('a positive integer of microseconds');
const createdAtMs = z.number().int().min(-MAX_DATE_MS).max(MAX_DATE_MS).describe('an integer of milliseconds');
const rkey = z.string().min(1).describe('a record key');
const cid = z.string().min(1).describe('a CID');
const nullableString = z.string().nullable().describe('a string or null');
const nullableAtUri = z.string().nullable().describe('an AT-URI or null');
const strings = z.array(z.string()).describe('an array of strings');
const boolean = z.boolean().describe('a boolean');

const base = {
  v: z.literal(1),
  /** Repo DID the event belongs to (the Kafka key). */
  did,
  /** Jetstream `time_us`: when the relay saw the event, unix microseconds. */
  timeUs,
};

export const PostCreateSchema = z.object({
  ...base,
  type: z.literal('post'),
  op: z.enum(['create', 'update']),
  rkey,
  cid,
  /** Client-set `createdAt` as unix milliseconds (untrusted; may be in the future). */
  createdAtMs,
  text: z.string().describe('a string'),
  langs: strings,
  /** Lower-cased hashtags from facets and inline tags, without '#'. */
  tags: strings,
  replyRoot: nullableAtUri,
  replyParent: nullableAtUri,
  /** AT-URI of a quoted post (`app.bsky.embed.record` or `recordWithMedia`). */
  quote: nullableAtUri,
  hasMedia: boolean,
});
export type PostCreate = z.infer<typeof PostCreateSchema>;

export const SubjectCreateSchema = z.object({
  ...base,
  type: z.enum(['like', 'repost']),
  op: z.enum(['create', 'update']),
  rkey,
  cid,
  createdAtMs,
  subjectUri: atUri,
  subjectCid: z.string().describe('a CID'),
});
export type SubjectCreate = z.infer<typeof SubjectCreateSchema>;

export const GraphCreateSchema = z.object({
  ...base,
  type: z.enum(['follow', 'block']),
  op: z.enum(['create', 'update']),
  rkey,
  createdAtMs,
  subjectDid: did,
});
export type GraphCreate = z.infer<typeof GraphCreateSchema>;

export const ListItemCreateSchema = z.object({
  ...base,
  type: z.literal('listitem'),
  op: z.enum(['create', 'update']),
  rkey,
  createdAtMs,
  /** AT-URI of the `app.bsky.graph.list` the subject is added to. */
  list: atUri,
  subjectDid: did,
});
export type ListItemCreate = z.infer<typeof ListItemCreateSchema>;

/** A starter pack: curators name it as a community source; its members are those of its list. */
export const StarterPackCreateSchema = z.object({
  ...base,
  type: z.literal('starterpack'),
  op: z.enum(['create', 'update']),
  rkey,
  createdAtMs,
  /** AT-URI of the `app.bsky.graph.list` behind the pack. */
  list: atUri,
});
export type StarterPackCreate = z.infer<typeof StarterPackCreateSchema>;

/** The community ids curators may use (see the curator file's rules). */
export const COMMUNITY_ID = /^[a-z0-9][a-z0-9_-]{0,63}$/;
/** A pledge's credits: the lexicon's bounds. */
export const MAX_PLEDGE_CREDITS = 1_000_000;

/** A Bridge Fund pledge (`org.commonground.fund.pledge`): credits of a community's fund directed to a post. */
export const PledgeCreateSchema = z.object({
  ...base,
  type: z.literal('pledge'),
  op: z.enum(['create', 'update']),
  rkey,
  createdAtMs,
  subjectUri: atUri,
  /** Community id the pledge names (checked against the curator's funds by the ranker). */
  community: z.string().regex(COMMUNITY_ID).describe('a community id'),
  /** Credits, a positive integer. */
  amount: z.number().int().min(1).max(MAX_PLEDGE_CREDITS).describe('a whole number of credits from 1 to 1000000'),
});
export type PledgeCreate = z.infer<typeof PledgeCreateSchema>;

/** The `reason` values of a `readers-added-context` note, as the Open Community Notes proposal defines them. */
export const NoteReasons = [
  'factual_error',
  'altered_media',
  'outdated_information',
  'misrepresentation_or_missing_context',
  'unverified_claim_as_fact',
  'joke_or_satire',
  'other',
] as const;
export type NoteReason = (typeof NoteReasons)[number];
/** A rating's `val`, as the proposal defines it. */
export const NoteHelpfulness = ['helpful', 'somewhat_helpful', 'not_helpful'] as const;
export type NoteHelpfulnessValue = (typeof NoteHelpfulness)[number];
/** The longest note text kept, in UTF-16 code units (our lexicon's `maxLength`). */
export const MAX_NOTE_TEXT = 3000;

/**
 * A proposed context note: an `org.opencommunitynotes.label` record with `val: readers-added-context`
 * in its writer's repository, on a post.
 */
export const NoteCreateSchema = z.object({
  ...base,
  type: z.literal('note'),
  /** Never `update`: a note is rated as it was written, so its edits are not taken (ingest skips them). */
  op: z.literal('create'),
  rkey,
  cid,
  createdAtMs,
  /** The post the note is about. */
  subjectUri: atUri,
  /** The post version the note names (`cid` of the record), or '' when it names none. */
  subjectCid: z.string().describe('a CID or an empty string'),
  reason: z.enum(NoteReasons).describe('a note reason'),
  text: z.string().min(1).max(MAX_NOTE_TEXT).describe('a note text of 1 to 3000 characters'),
});
export type NoteCreate = z.infer<typeof NoteCreateSchema>;

/** A rating of a note: an `org.opencommunitynotes.rating` record; its latest version counts. */
export const NoteRatingCreateSchema = z.object({
  ...base,
  type: z.literal('rating'),
  op: z.enum(['create', 'update']),
  rkey,
  createdAtMs,
  /** The note rated: the AT-URI of its `org.opencommunitynotes.label` record. */
  subjectUri: atUri,
  /**
   * The version of the note rated (the CID of its strong reference): a note deleted and written
   * again at the same record key is another note. Absent from messages written before it was kept.
   */
  subjectCid: z.string().min(1).describe('a CID').optional(),
  helpfulness: z.enum(NoteHelpfulness).describe('helpful, somewhat_helpful or not_helpful'),
});
export type NoteRatingCreate = z.infer<typeof NoteRatingCreateSchema>;

/** A request for a note on a post (`org.commonground.notes.request`): it queues the post for note writers. */
export const NoteRequestCreateSchema = z.object({
  ...base,
  type: z.literal('noterequest'),
  op: z.enum(['create', 'update']),
  rkey,
  createdAtMs,
  subjectUri: atUri,
});
export type NoteRequestCreate = z.infer<typeof NoteRequestCreateSchema>;

/** The one record key of an account's declaration (`literal:self` in its lexicon). */
export const DECLARATION_RKEY = 'self';

/**
 * An account's `app.bsky.actor.contentVisibilityDeclaration` (record key `self`): whether it asks
 * to be left out of algorithmic feeds. Its delete means the default again: not hidden.
 */
export const VisibilityDeclarationSchema = z.object({
  ...base,
  type: z.literal('visibility'),
  op: z.enum(['create', 'update']),
  rkey,
  hideFromAlgorithms: boolean,
});
export type VisibilityDeclaration = z.infer<typeof VisibilityDeclarationSchema>;

export const RecordDeleteSchema = z.object({ ...base, type: z.enum(RecordKinds), op: z.literal('delete'), rkey });
export type RecordDelete = z.infer<typeof RecordDeleteSchema>;

/** Account status from Jetstream `account` events; inactive accounts are hidden from every feed. */
export const AccountStatusSchema = z.object({
  ...base,
  type: z.literal('account'),
  active: boolean,
  /** `takendown`, `suspended`, `deleted`, `deactivated`, … when inactive. */
  status: nullableString,
});
export type AccountStatus = z.infer<typeof AccountStatusSchema>;

export const IdentityChangeSchema = z.object({ ...base, type: z.literal('identity'), handle: nullableString });
export type IdentityChange = z.infer<typeof IdentityChangeSchema>;

/** `schema`, for a message whose every string is well-formed, its unknown fields' too (as the decoders check it). */
export const withWellFormedStrings = <T extends z.ZodTypeAny>(schema: T) =>
  z
    .unknown()
    .refine((value) => typeof value !== 'object' || value === null || hasWellFormedStrings(value), ILL_FORMED_STRING)
    .pipe(schema);

export const PipelineEventSchema = withWellFormedStrings(z.union([
  PostCreateSchema,
  SubjectCreateSchema,
  GraphCreateSchema,
  ListItemCreateSchema,
  StarterPackCreateSchema,
  PledgeCreateSchema,
  VisibilityDeclarationSchema,
  NoteCreateSchema,
  NoteRatingCreateSchema,
  NoteRequestCreateSchema,
  RecordDeleteSchema,
  AccountStatusSchema,
  IdentityChangeSchema,
]));
export type PipelineEventV1 = z.infer<typeof PipelineEventSchema>;
