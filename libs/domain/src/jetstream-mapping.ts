import { normaliseTag } from './hashtag.js';
import { validateCidString } from '@atproto/lex-data';
import type {
  AccountStatus,
  GraphCreate,
  IdentityChange,
  ListItemCreate,
  NoteCreate,
  NoteRatingCreate,
  NoteRequestCreate,
  PipelineEventV1,
  PledgeCreate,
  PostCreate,
  RecordDelete,
  RecordKind,
  StarterPackCreate,
  SubjectCreate,
  VisibilityDeclaration,
} from '#lib/contracts';
import { DECLARATION_RKEY, hasWellFormedStrings, ILL_FORMED_STRING, isCommunityId, MAX_NOTE_TEXT, MAX_PLEDGE_CREDITS, MAX_TIME_US, NoteHelpfulness, NoteReasons } from '#lib/contracts';
import { isDid, isRecordKey, parseAtUri } from './at-uri.js';
import { LexType, Nsid, recordKindOf } from './nsid.js';

/**
 * Jetstream `/subscribe` events as they arrive on the wire (JSON). These types describe well-formed
 * events; `mapJetstreamEvent` takes `unknown` because nothing on the wire is guaranteed.
 */
interface JetstreamCommit {
  rev: string;
  operation: 'create' | 'update' | 'delete';
  collection: string;
  rkey: string;
  /** Present on create and update. */
  record?: Record<string, unknown>;
  /** Present on create and update. */
  cid?: string;
}

export interface JetstreamCommitEvent {
  did: string;
  time_us: number;
  kind: 'commit';
  commit: JetstreamCommit;
}

interface JetstreamIdentityEvent {
  did: string;
  time_us: number;
  kind: 'identity';
  identity: { did: string; handle?: string; seq: number; time: string };
}

interface JetstreamAccountEvent {
  did: string;
  time_us: number;
  kind: 'account';
  account: { active: boolean; did: string; seq: number; time: string; status?: string };
}

export type JetstreamEvent = JetstreamCommitEvent | JetstreamIdentityEvent | JetstreamAccountEvent;

/**
 * Outcome of mapping one Jetstream event. `reason` is a fixed string (never contains values from the
 * event) so it can be used as a metric label and a dead-letter header. An edit refused as malformed
 * carries `withdrawal`, the record's delete, to publish in its place: the record no longer says what
 * its earlier version did (see `mapCommit`).
 */
export type MappedEvent =
  | { kind: 'event'; event: PipelineEventV1 }
  | { kind: 'skip'; reason: string }
  | { kind: 'malformed'; reason: string; withdrawal?: RecordDelete };

/** The collections ingest subscribes to (exact NSIDs: a `app.bsky.graph.*` wildcard would also bring lists, starter packs, list blocks…). */
export const wantedCollections: readonly string[] = [
  Nsid.post,
  Nsid.like,
  Nsid.repost,
  Nsid.follow,
  Nsid.block,
  Nsid.listitem,
  Nsid.starterpack,
  Nsid.pledge,
  Nsid.visibility,
  Nsid.note,
  Nsid.rating,
  Nsid.noterequest,
];

/** The one label value whose records are note proposals (others, such as disputes, are not ingested). */
export const READERS_ADDED_CONTEXT = 'readers-added-context';

/** How far a Jetstream `time_us` may run ahead of this machine's clock: clock skew between the two, no more. */
export const MAX_TIME_US_AHEAD = 10 * 60 * 1_000_000;

/**
 * True for a usable Jetstream `time_us`: a positive integer no later than the bus contract's bound
 * (`MAX_TIME_US`) and, given the clock (`nowUs`), no more than `MAX_TIME_US_AHEAD` ahead of it.
 * Anything else (negative, fractional, a string, the future) makes the frame malformed and must
 * never move a cursor.
 *
 * @NOTE Jetstream stamps each event when it sees it, so a `time_us` from the future is its clock's
 * error or a hostile frame. Were it to move the cursor, every reconnect would ask for a cursor
 * ahead of the stream, which Jetstream answers from the live edge: the events of each disconnect
 * would be lost without a trace until real time caught up.
 */
export function isJetstreamTimeUs(value: unknown, nowUs?: number): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0 && value <= MAX_TIME_US && (nowUs === undefined || value <= nowUs + MAX_TIME_US_AHEAD);
}

/**
 * Limits of an `app.bsky.feed.post` record, from its lexicon: text of at most 3000 bytes (UTF-8) and
 * 300 graphemes, at most 3 languages and 8 extra tags, each tag at most 64 characters (as the
 * Bluesky app counts them). The lexicon sets no bound on facets; a facet marks a part of the text,
 * so a post holds at most as many facet features as its text has graphemes.
 */
const maxPostTextBytes = 3000;
const maxPostTextGraphemes = 300;
const maxPostLangs = 3;
const maxPostTags = 8;
const maxTagLength = 64;
const maxPostFacetFeatures = maxPostTextGraphemes;
/**
 * Fields stored as they come that no lexicon leaves unbounded: a language tag (BCP 47 allows 35
 * characters in practice; 128 is generous), a CID (a SHA-256 CIDv1 in base32 is 59), a handle (a
 * domain name, 253) and an account status (a known word). Longer is no such value, and would let
 * one event cost megabytes of store and bus.
 */
const MAX_LANG_LENGTH = 128;
const MAX_CID_LENGTH = 256;
const MAX_HANDLE_LENGTH = 253;
const MAX_STATUS_LENGTH = 64;

type Obj = Record<string, unknown>;

class MalformedEventError extends Error {
  override name = 'MalformedEventError';
}

function isObj(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function malformed(reason: string): never {
  throw new MalformedEventError(reason);
}

function skip(reason: string): MappedEvent {
  return { kind: 'skip', reason };
}

/**
 * Maps one raw Jetstream event (already JSON-parsed) to a `PipelineEventV1`. Pure and total: it never
 * throws, whatever `raw` is. Given the clock (`nowUs`, unix µs), an event stamped ahead of it is
 * malformed (see `isJetstreamTimeUs`); without it, only the bus contract's bound applies.
 */
export function mapJetstreamEvent(raw: unknown, nowUs?: number): MappedEvent {
  try {
    return wellFormed(mapOrThrow(raw, nowUs));
  } catch (error) {
    if (error instanceof MalformedEventError) return { kind: 'malformed', reason: error.message };
    throw error;
  }
}

/**
 * `mapped`, unless its event holds an unpaired surrogate (`"\ud800"` in the JSON): records are
 * DAG-CBOR, whose text is UTF-8, so a real event cannot. One that does is malformed here, before it
 * reaches the bus.
 */
function wellFormed(mapped: MappedEvent): MappedEvent {
  if (mapped.kind === 'event' && !hasWellFormedStrings(mapped.event)) malformed(ILL_FORMED_STRING);
  return mapped;
}

function mapOrThrow(raw: unknown, nowUs: number | undefined): MappedEvent {
  if (!isObj(raw)) malformed('event is not a JSON object');
  const { did, time_us: timeUs, kind } = raw;
  if (!isDid(did)) malformed('did is missing or not a DID');
  if (!Number.isSafeInteger(timeUs) || (timeUs as number) <= 0) malformed('time_us is missing or not a positive integer');
  if (!isJetstreamTimeUs(timeUs, nowUs)) malformed('time_us is in the future');
  if (typeof kind !== 'string') malformed('kind is missing');
  switch (kind) {
    case 'commit':
      return mapCommit(did, timeUs, raw.commit);
    case 'identity':
      return { kind: 'event', event: mapIdentity(did, timeUs, raw.identity) };
    case 'account':
      return { kind: 'event', event: mapAccount(did, timeUs, raw.account) };
    default:
      return skip('unknown event kind');
  }
}

function mapIdentity(did: string, timeUs: number, identity: unknown): IdentityChange {
  if (!isObj(identity)) malformed('identity is missing or not an object');
  if (identity.did !== undefined && identity.did !== did) malformed('identity.did does not match did');
  const { handle } = identity;
  if (handle !== undefined && handle !== null && typeof handle !== 'string') malformed('identity.handle is not a string');
  if (typeof handle === 'string' && handle.length > MAX_HANDLE_LENGTH) malformed(`identity.handle is longer than a handle (${MAX_HANDLE_LENGTH} characters)`);
  // @NOTE Handles are case-insensitive; lower-casing makes them comparable.
  return { v: 1, type: 'identity', did, timeUs, handle: handle ? handle.toLowerCase() : null };
}

function mapAccount(did: string, timeUs: number, account: unknown): AccountStatus {
  if (!isObj(account)) malformed('account is missing or not an object');
  if (account.did !== undefined && account.did !== did) malformed('account.did does not match did');
  if (typeof account.active !== 'boolean') malformed('account.active is missing or not a boolean');
  const { status } = account;
  if (status !== undefined && status !== null && typeof status !== 'string') malformed('account.status is not a string');
  if (typeof status === 'string' && status.length > MAX_STATUS_LENGTH) malformed(`account.status is longer than ${MAX_STATUS_LENGTH} characters`);
  return { v: 1, type: 'account', did, timeUs, active: account.active, status: status ?? null };
}

function mapCommit(did: string, timeUs: number, commit: unknown): MappedEvent {
  if (!isObj(commit)) malformed('commit is missing or not an object');
  const { operation, collection, rkey } = commit;
  if (typeof collection !== 'string' || collection === '') malformed('commit.collection is missing');
  if (operation !== 'create' && operation !== 'update' && operation !== 'delete') {
    malformed('commit.operation is not create, update or delete');
  }
  const type = recordKindOf(collection);
  if (type === undefined) return skip('collection not ingested');
  if (!isRecordKey(rkey)) malformed('commit.rkey is missing or not a record key');
  // Deletes too: a record under another key is not the declaration, nor is its delete.
  if (type === 'visibility' && rkey !== DECLARATION_RKEY) return skip('declaration not at record key self');

  const withdrawal: RecordDelete = { v: 1, type, op: 'delete', did, timeUs, rkey };
  if (operation === 'delete') return { kind: 'event', event: withdrawal };
  if (operation === 'create') return mapRecord(did, timeUs, operation, type, rkey, commit);
  // @NOTE An update (putRecord) is the record's new version, mapped as its create is: each table
  // holds one row per record (its author and record key) and keeps the newest version, so the edit
  // replaces what it edits (a pledge's amount or post, a list item's list or member, a like's
  // subject) rather than adding to it. A note is rated as it was written: its edits are skipped,
  // so the text shown is the text its raters read; other words make another note.
  if (type === 'note') return skip('update of a note');
  // @NOTE A new version the mapping skips (a like now of a feed generator) or refuses (a pledge of
  // no credits) still replaces the old one in the repository: the record no longer is a like of
  // that post, a pledge of that amount. Its delete withdraws the old version; a refused one is
  // reported as malformed all the same. Not a declaration's: an account's request to be left out
  // of algorithmic feeds is not lifted by a version that cannot be read.
  let mapped: MappedEvent;
  try {
    mapped = wellFormed(mapRecord(did, timeUs, operation, type, rkey, commit));
  } catch (error) {
    if (!(error instanceof MalformedEventError) || type === 'visibility') throw error;
    return { kind: 'malformed', reason: error.message, withdrawal };
  }
  return mapped.kind === 'skip' ? { kind: 'event', event: withdrawal } : mapped;
}

/** The event of a record's create or update, once its commit is known to name a record we keep. */
function mapRecord(did: string, timeUs: number, operation: 'create' | 'update', type: RecordKind, rkey: string, commit: Obj): MappedEvent {
  const { record } = commit;
  if (!isObj(record)) malformed('commit.record is missing or not an object');
  if (record.$type !== undefined && record.$type !== commit.collection) malformed('record.$type does not match commit.collection');
  if (type === 'visibility') return mapVisibility(did, timeUs, operation, rkey, record);
  const createdAtMs = parseCreatedAt(record.createdAt, timeUs);

  switch (type) {
    case 'post':
      return { kind: 'event', event: mapPost(did, timeUs, operation, rkey, commit.cid, createdAtMs, record) };
    case 'like':
    case 'repost': {
      const cid = requireCid(commit.cid);
      const subject = strongRef(record.subject, 'record.subject');
      if (subject.collection !== Nsid.post) return skip('subject is not a post');
      const event: SubjectCreate = {
        v: 1,
        type,
        op: operation,
        did,
        timeUs,
        rkey,
        cid,
        createdAtMs,
        subjectUri: subject.uri,
        subjectCid: subject.cid,
      };
      return { kind: 'event', event };
    }
    case 'follow':
    case 'block': {
      if (!isDid(record.subject)) malformed('record.subject is missing or not a DID');
      const event: GraphCreate = { v: 1, type, op: operation, did, timeUs, rkey, createdAtMs, subjectDid: record.subject };
      return { kind: 'event', event };
    }
    case 'listitem': {
      if (!isDid(record.subject)) malformed('record.subject is missing or not a DID');
      const list = parseAtUri(record.list);
      if (list === null || list.collection !== Nsid.list) malformed('record.list is not the AT-URI of a list');
      const event: ListItemCreate = {
        v: 1,
        type,
        op: operation,
        did,
        timeUs,
        rkey,
        createdAtMs,
        list: record.list as string,
        subjectDid: record.subject,
      };
      return { kind: 'event', event };
    }
    case 'pledge':
      return { kind: 'event', event: mapPledge(did, timeUs, operation, rkey, createdAtMs, record) };
    case 'note':
      return mapNote(did, timeUs, rkey, commit.cid, createdAtMs, record);
    case 'rating':
      // `val` has known values, an open set: a rating of another value is not one the scorer can count.
      if (typeof record.val === 'string' && !helpfulness.has(record.val)) return skip('rating of a value not known here');
      return { kind: 'event', event: mapRating(did, timeUs, operation, rkey, createdAtMs, record) };
    case 'noterequest': {
      const subject = strongRef(record.subject, 'record.subject');
      if (subject.collection !== Nsid.post) malformed('record.subject is not a post');
      const event: NoteRequestCreate = { v: 1, type, op: operation, did, timeUs, rkey, createdAtMs, subjectUri: subject.uri };
      return { kind: 'event', event };
    }
    case 'starterpack': {
      const list = parseAtUri(record.list);
      if (list === null || list.collection !== Nsid.list) malformed('record.list is not the AT-URI of a list');
      const event: StarterPackCreate = { v: 1, type, op: operation, did, timeUs, rkey, createdAtMs, list: record.list as string };
      return { kind: 'event', event };
    }
  }
}

function mapPledge(did: string, timeUs: number, op: 'create' | 'update', rkey: string, createdAtMs: number, record: Obj): PledgeCreate {
  const subject = strongRef(record.subject, 'record.subject');
  if (subject.collection !== Nsid.post) malformed('record.subject is not a post');
  if (!isCommunityId(record.community)) malformed('record.community is not a community id');
  const { amount } = record;
  if (!Number.isSafeInteger(amount) || (amount as number) < 1 || (amount as number) > MAX_PLEDGE_CREDITS) {
    malformed('record.amount is not a whole number of credits from 1 to 1000000');
  }
  return { v: 1, type: 'pledge', op, did, timeUs, rkey, createdAtMs, subjectUri: subject.uri, community: record.community, amount: amount as number };
}

const noteReasons = new Set<string>(NoteReasons);
const helpfulness = new Set<string>(NoteHelpfulness);

/**
 * A note proposal: an `org.opencommunitynotes.label` record. Only `readers-added-context` on a post
 * is a note; its `src`, when present, must be the writer (the repository holding the record).
 * The proposal's `reason` is optional; a note without one, or with one not known here, counts as `other`.
 */
function mapNote(did: string, timeUs: number, rkey: string, rawCid: unknown, createdAtMs: number, record: Obj): MappedEvent {
  if (record.val !== READERS_ADDED_CONTEXT) return skip('label record other than readers-added-context');
  const cid = requireCid(rawCid);
  if (record.src !== undefined && record.src !== did) malformed('record.src is not the repository that holds the note');
  const subject = parseAtUri(record.uri);
  if (subject === null || subject.collection !== Nsid.post) malformed('record.uri is not the AT-URI of a post');
  const subjectCid = record.cid;
  if (subjectCid !== undefined && (typeof subjectCid !== 'string' || !validateCidString(subjectCid))) malformed('record.cid is not a CID');
  // `reason` has known values, an open set: one defined after this code counts as `other`.
  if (record.reason !== undefined && typeof record.reason !== 'string') malformed('record.reason is not a string');
  const reason = typeof record.reason === 'string' && noteReasons.has(record.reason) ? record.reason : 'other';
  const { text } = record;
  if (typeof text !== 'string' || text.trim() === '' || text.length > MAX_NOTE_TEXT) malformed('record.text is missing, empty or longer than 3000 characters');
  const event: NoteCreate = {
    v: 1,
    type: 'note',
    op: 'create',
    did,
    timeUs,
    rkey,
    cid,
    createdAtMs,
    subjectUri: record.uri as string,
    subjectCid: subjectCid ?? '',
    reason: reason as NoteCreate['reason'],
    text,
  };
  return { kind: 'event', event };
}

/** A rating: an `org.opencommunitynotes.rating` record whose subject is a note (a label record). */
function mapRating(did: string, timeUs: number, op: 'create' | 'update', rkey: string, createdAtMs: number, record: Obj): NoteRatingCreate {
  const subject = strongRef(record.subject, 'record.subject');
  if (subject.collection !== Nsid.note) malformed('record.subject is not a note (org.opencommunitynotes.label)');
  if (typeof record.val !== 'string' || !helpfulness.has(record.val)) malformed('record.val is not a string');
  return { v: 1, type: 'rating', op, did, timeUs, rkey, createdAtMs, subjectUri: subject.uri, subjectCid: subject.cid, helpfulness: record.val as NoteRatingCreate['helpfulness'] };
}

/**
 * @NOTE The declaration lives at record key `self` (`literal:self`); a record under another key is
 * not the account's declaration (`mapCommit` skips it). A missing field means false, as the lexicon says.
 */
function mapVisibility(did: string, timeUs: number, op: 'create' | 'update', rkey: string, record: Obj): MappedEvent {
  const hide = record.hideFromAlgorithmicRecommendations;
  if (hide !== undefined && typeof hide !== 'boolean') malformed('record.hideFromAlgorithmicRecommendations is not a boolean');
  const event: VisibilityDeclaration = { v: 1, type: 'visibility', op, did, timeUs, rkey, hideFromAlgorithms: hide === true };
  return { kind: 'event', event };
}

/** Client-set `createdAt` in ms; falls back to the relay time when absent or unparseable. */
function parseCreatedAt(createdAt: unknown, timeUs: number): number {
  if (typeof createdAt === 'string') {
    const ms = parseDateMs(createdAt);
    if (Number.isFinite(ms)) return ms;
  }
  return Math.floor(timeUs / 1000);
}

/**
 * `Date.parse(text)`, with the form Bluesky's clients write (`toISOString()`,
 * `2024-11-19T07:06:40.123Z`) read directly when every part of it is in range; anything else,
 * and the dates `Date.parse` would roll over or read otherwise (a 30th of February, years
 * before 1000), goes to `Date.parse`.
 *
 * @NOTE Nearly every Jetstream event carries a `createdAt`: `Date.parse` was about a tenth of the
 * mapping's CPU in a profile of `bench:embedded`; this takes a third of its time. The spec holds the two to
 * the same answer on arbitrary strings of this shape and others.
 */
export function parseDateMs(text: string): number {
  if (
    text.length !== 24 ||
    text.charCodeAt(4) !== 0x2d ||
    text.charCodeAt(7) !== 0x2d ||
    text.charCodeAt(10) !== 0x54 ||
    text.charCodeAt(13) !== 0x3a ||
    text.charCodeAt(16) !== 0x3a ||
    text.charCodeAt(19) !== 0x2e ||
    text.charCodeAt(23) !== 0x5a
  ) {
    return Date.parse(text);
  }
  const year = digitsAt(text, 0, 4);
  const month = digitsAt(text, 5, 2);
  const day = digitsAt(text, 8, 2);
  const hour = digitsAt(text, 11, 2);
  const minute = digitsAt(text, 14, 2);
  const second = digitsAt(text, 17, 2);
  const ms = digitsAt(text, 20, 3);
  if (year < 1000 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month) || hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59 || ms < 0) {
    return Date.parse(text);
  }
  return daysFromCivil(year, month, day) * 86_400_000 + hour * 3_600_000 + minute * 60_000 + second * 1000 + ms;
}

/** The decimal number of `length` digits at `from`, or -1 when one of them is not a digit. */
function digitsAt(text: string, from: number, length: number): number {
  let value = 0;
  for (let i = from; i < from + length; i += 1) {
    const digit = text.charCodeAt(i) - 0x30;
    if (digit < 0 || digit > 9) return -1;
    value = value * 10 + digit;
  }
  return value;
}

const isLeapYear = (year: number): boolean => (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;

function daysInMonth(year: number, month: number): number {
  return month === 2 ? (isLeapYear(year) ? 29 : 28) : month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/** Days from 1970-01-01 to a date of the proleptic Gregorian calendar (Howard Hinnant's `days_from_civil`). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1;
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146_097 + dayOfEra - 719_468;
}

function requireCid(cid: unknown): string {
  if (typeof cid !== 'string' || cid === '') malformed('commit.cid is missing');
  if (cid.length > MAX_CID_LENGTH) malformed(`commit.cid is longer than a CID (${MAX_CID_LENGTH} characters)`);
  return cid;
}

interface StrongRef {
  uri: string;
  cid: string;
  collection: string;
}

function strongRef(value: unknown, path: string): StrongRef {
  if (!isObj(value)) malformed(`${path} is missing or not a strong ref`);
  const parsed = parseAtUri(value.uri);
  if (parsed === null) malformed(`${path}.uri is not a valid AT-URI`);
  if (typeof value.cid !== 'string' || value.cid === '') malformed(`${path}.cid is missing`);
  return { uri: value.uri as string, cid: value.cid, collection: parsed.collection };
}

function mapPost(
  did: string,
  timeUs: number,
  op: 'create' | 'update',
  rkey: string,
  rawCid: unknown,
  createdAtMs: number,
  record: Obj,
): PostCreate {
  const cid = requireCid(rawCid);
  const { text } = record;
  if (typeof text !== 'string') malformed('record.text is missing or not a string');
  if (!isPostTextWithinLimits(text)) malformed('record.text is longer than 3000 bytes or 300 graphemes');
  const langs = stringArray(record.langs, 'record.langs');
  if (langs.length > maxPostLangs) malformed('record.langs has more than 3 entries');
  if (langs.some((lang) => lang.length > MAX_LANG_LENGTH)) malformed(`record.langs has an entry longer than a language tag (${MAX_LANG_LENGTH} characters)`);

  let replyRoot: string | null = null;
  let replyParent: string | null = null;
  if (record.reply !== undefined) {
    if (!isObj(record.reply)) malformed('record.reply is not an object');
    replyRoot = strongRef(record.reply.root, 'record.reply.root').uri;
    replyParent = strongRef(record.reply.parent, 'record.reply.parent').uri;
  }

  const { quote, hasMedia } = readEmbed(record.embed);
  const tags = collectTags(text, record.facets, record.tags);
  return {
    v: 1,
    type: 'post',
    op,
    did,
    timeUs,
    rkey,
    cid,
    createdAtMs,
    text,
    langs,
    tags,
    replyRoot,
    replyParent,
    quote,
    hasMedia,
  };
}

const graphemes = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/**
 * @NOTE Checked before anything reads the text, which is searched for hashtags: a record beyond the
 * lexicon's limits is no post (the Bluesky AppView checks each record against its lexicon and does
 * not index it) and must not cost more than one. A UTF-16 code unit takes at most 3 bytes of UTF-8,
 * and a grapheme holds at least one code point, so nearly every post is within both limits by its
 * length alone; only the rest are measured (segmenting a text costs ~20 µs, counting its code points ~1).
 */
function isPostTextWithinLimits(text: string): boolean {
  if (text.length * 3 > maxPostTextBytes && Buffer.byteLength(text, 'utf8') > maxPostTextBytes) return false;
  if (text.length <= maxPostTextGraphemes || codePoints(text) <= maxPostTextGraphemes) return true;
  let count = 0;
  for (const _ of graphemes.segment(text)) if (++count > maxPostTextGraphemes) return false;
  return true;
}

/** Code points of `text`: its UTF-16 code units, less the second unit of each surrogate pair. */
function codePoints(text: string): number {
  let count = text.length;
  for (let i = 0; i < text.length; i += 1) {
    const unit = text.charCodeAt(i);
    if (unit >= 0xdc00 && unit <= 0xdfff && i > 0 && text.charCodeAt(i - 1) >= 0xd800 && text.charCodeAt(i - 1) <= 0xdbff) count -= 1;
  }
  return count;
}

function stringArray(value: unknown, path: string): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) {
    malformed(`${path} is not an array of strings`);
  }
  return value;
}

function readEmbed(embed: unknown): { quote: string | null; hasMedia: boolean } {
  if (embed === undefined) return { quote: null, hasMedia: false };
  if (!isObj(embed)) malformed('record.embed is not an object');
  switch (embed.$type) {
    case LexType.embedImages:
    case LexType.embedVideo:
    case LexType.embedExternal:
      return { quote: null, hasMedia: true };
    case LexType.embedRecord:
      return { quote: quotedPost(embed.record, 'record.embed.record'), hasMedia: false };
    case LexType.embedRecordWithMedia: {
      if (!isObj(embed.record)) malformed('record.embed.record is missing or not an object');
      return { quote: quotedPost(embed.record.record, 'record.embed.record.record'), hasMedia: true };
    }
    default:
      return { quote: null, hasMedia: false };
  }
}

/** A quote embed may also point at a feed generator, list, starter pack or labeler: only posts are quotes. */
function quotedPost(ref: unknown, path: string): string | null {
  const subject = strongRef(ref, path);
  return subject.collection === Nsid.post ? subject.uri : null;
}

// @NOTE Same rule as the Bluesky app's facet detection (@atproto/api RichText): a tag starts after
// whitespace or at the start, is not all digits, and loses trailing punctuation.
const inlineTagPattern =
  // eslint-disable-next-line no-misleading-character-class -- the zero-width joiners are listed one by one on purpose (Bluesky's own tag rule)
  /(?:^|\s)[#＃]((?!\ufe0f)[^\s\u00AD\u2060\u200A\u200B\u200C\u200D\u20e2]*[^\d\s\p{P}\u00AD\u2060\u200A\u200B\u200C\u200D\u20e2]+[^\s\u00AD\u2060\u200A\u200B\u200C\u200D\u20e2]*)?/gu;
// @NOTE The look-behind anchors the run at its first character: a bare `\p{P}+$` is tried from each
// character of a punctuation run that does not end the tag, a time quadratic in the run's length.
const trailingPunctuation = /(?<!\p{P})\p{P}+$/u;

function collectTags(text: string, facets: unknown, extraTags: unknown): string[] {
  const tags = new Set<string>();
  const add = (tag: string): void => {
    const normalised = normaliseTag(tag.replace(/^[#＃]+/u, '').trim());
    if (normalised !== '' && [...normalised].length <= maxTagLength) tags.add(normalised);
  };

  if (facets !== undefined) {
    if (!Array.isArray(facets)) malformed('record.facets is not an array');
    let features = 0;
    for (const facet of facets) {
      if (!isObj(facet) || !Array.isArray(facet.features)) malformed('record.facets[].features is not an array');
      // An empty facet counts as one: a million of them would cost as much as a million features.
      features += Math.max(1, facet.features.length);
      if (features > maxPostFacetFeatures) malformed('record.facets hold more than 300 features');
      for (const feature of facet.features) {
        if (!isObj(feature)) malformed('record.facets[].features[] is not an object');
        if (feature.$type !== LexType.facetTag) continue;
        if (typeof feature.tag !== 'string') malformed('record.facets[].features[].tag is not a string');
        add(feature.tag);
      }
    }
  }

  // Most posts have no hash sign at all: no inline tag to look for.
  if (text.includes('#') || text.includes('＃')) {
    for (const match of text.matchAll(inlineTagPattern)) {
      const tag = match[1]?.trim().replace(trailingPunctuation, '');
      if (tag) add(tag);
    }
  }

  const extra = stringArray(extraTags, 'record.tags');
  if (extra.length > maxPostTags) malformed('record.tags has more than 8 entries');
  for (const tag of extra) add(tag);
  return [...tags];
}
