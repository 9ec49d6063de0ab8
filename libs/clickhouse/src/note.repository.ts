import type { ClickHouseClient } from '@clickhouse/client';
import { inactiveAccountsAmong } from './account-status.js';
import { inShares } from './query-shares.js';

/** A live note proposal: an `org.opencommunitynotes.label` record with `val: readers-added-context`. */
export interface NoteRecord {
  /** The note's own AT-URI (the label record's), which ratings name. */
  uri: string;
  /** The version of the note (its record's CID): a note written again at the same record key has another. */
  cid: string;
  author: string;
  post: string;
  /** The post version the note names, or '' when it names none. */
  postCid: string;
  reason: string;
  text: string;
  timeUs: number;
}

/** A rater's latest live rating of a note. */
export interface NoteRatingRecord {
  rater: string;
  note: string;
  /** The version of the note rated, or '' for a rating stored before ratings kept it. */
  noteCid: string;
  helpfulness: string;
  timeUs: number;
}

/** A note's status and scores as the last notes run left them. */
export interface NoteStatusRow {
  note: string;
  /** The version of the note (its record's CID) the status is of; '' for statuses stored before versions were kept. */
  noteCid: string;
  post: string;
  status: string;
  intercept: number;
  factor: number;
  raters: number;
  ratersNegative: number;
  ratersPositive: number;
  updatedAtMs: number;
}

/** One change of a note's status, with the rule that made it. */
export interface NoteStatusChangeRow {
  atMs: number;
  note: string;
  post: string;
  from: string;
  to: string;
  reason: string;
}

/** A post's notes as its page lists them, each with its status (none before its first scoring), and how many were left out. */
export interface NotesOnPost {
  notes: { note: NoteRecord; status?: NoteStatusRow }[];
  omitted: number;
}

/** A post queued for note writers: how many accounts asked, since when, and how many notes it has. */
export interface NoteRequestRow {
  post: string;
  requests: number;
  firstRequestedMs: number;
  notes: number;
}

/** Who asks for a note from the console (the `did` of the request rows it writes). */
export const CONSOLE_REQUESTER = 'console';

const NOTE_COLLECTION = 'org.opencommunitynotes.label';

/**
 * Context notes: the records (notes, ratings, requests) as ingest writes them, and what the
 * ranker — the only writer of statuses — decides about each note.
 */
export class NoteRepository {
  constructor(
    private readonly client: ClickHouseClient,
    private readonly database: string,
  ) {}

  /**
   * Live notes, oldest first; on `posts` only when given (a share of them a query). A note whose
   * writer's account is deactivated, taken down or deleted is not among them (nor on its post's
   * page): it is held, to count again if the account comes back.
   */
  async notes(posts?: readonly string[]): Promise<NoteRecord[]> {
    if (!posts) return this.notesWhere('', {});
    const byPost = `AND (did, rkey) IN (SELECT did, rkey FROM ${this.database}.notes_by_post WHERE post IN {posts:Array(String)}) AND subject_uri IN {posts:Array(String)}`;
    const found = await inShares([...new Set(posts)], (share) => this.notesWhere(byPost, { posts: share }));
    // The shares' rows in the query's order (time, author, record key): the author's record URIs share their prefix.
    const order = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
    return found.sort((a, b) => a.timeUs - b.timeUs || order(a.author, b.author) || order(a.uri, b.uri));
  }

  /**
   * Notes withdrawn (deleted by their writer) that were written since `sinceUs`, each with when it
   * was written: they still count toward their writer's daily limit.
   */
  async withdrawnSince(sinceUs: number): Promise<{ uri: string; author: string; timeUs: number }[]> {
    const result = await this.client.query({
      query: `SELECT did, rkey, time_us FROM ${this.database}.notes FINAL WHERE deleted = 1 AND time_us >= {sinceUs:UInt64} ORDER BY time_us, did, rkey`,
      query_params: { sinceUs },
      format: 'JSONCompactEachRow',
    });
    return (await result.json<[string, string, string]>()).map(([author, rkey, timeUs]) => ({ uri: `at://${author}/${NOTE_COLLECTION}/${rkey}`, author, timeUs: Number(timeUs) }));
  }

  private async notesWhere(filter: string, params: Record<string, unknown>): Promise<NoteRecord[]> {
    const result = await this.client.query({
      query: `SELECT did, rkey, cid, subject_uri, subject_cid, reason, text, time_us FROM ${this.database}.notes FINAL
        WHERE deleted = 0 AND did NOT IN (${inactiveAccountsAmong(this.database, `SELECT did FROM ${this.database}.notes`)}) ${filter}
        ORDER BY time_us, did, rkey`,
      query_params: params,
      format: 'JSONCompactEachRow',
    });
    const rows = await result.json<[string, string, string, string, string, string, string, string]>();
    return rows.map(([author, rkey, cid, post, postCid, reason, text, timeUs]) => ({
      uri: `at://${author}/${NOTE_COLLECTION}/${rkey}`,
      cid,
      author,
      post,
      postCid,
      reason,
      text,
      timeUs: Number(timeUs),
    }));
  }

  /**
   * The live notes on `post` as its page lists them: every helpful one, then the best `others` of
   * the rest (needs more ratings before not helpful, higher intercept first, unscored last); and
   * how many notes were left out. Statuses are read by post, not by a list of the notes' URIs.
   */
  async onPost(post: string, others: number): Promise<NotesOnPost> {
    const db = this.database;
    const order = `multiIf(shown = 'helpful', 0, shown = 'needs-more-ratings', 1, shown = 'not-helpful', 2, 3), scored DESC, intercept DESC, n.time_us, n.did, n.rkey`;
    const result = await this.client.query({
      query: `SELECT did, rkey, cid, post_cid, reason, text, time_us, scored, shown, intercept, factor, raters, raters_negative, raters_positive, updated_at, total
        FROM (
          SELECT n.did AS did, n.rkey AS rkey, n.cid AS cid, n.subject_cid AS post_cid, n.reason AS reason, n.text AS text, toString(n.time_us) AS time_us,
            s.note != '' AND (s.note_cid = '' OR s.note_cid = n.cid) AS scored, if(scored, s.status, 'needs-more-ratings') AS shown,
            if(scored, s.intercept, 0) AS intercept, s.factor AS factor, s.raters AS raters,
            s.raters_negative AS raters_negative, s.raters_positive AS raters_positive, toString(s.updated_at) AS updated_at,
            count() OVER () AS total,
            row_number() OVER (PARTITION BY shown = 'helpful' ORDER BY ${order}) AS place,
            row_number() OVER (ORDER BY ${order}) AS listed
          FROM (SELECT did, rkey, cid, subject_cid, reason, text, time_us FROM ${db}.notes FINAL
            WHERE (did, rkey) IN (SELECT did, rkey FROM ${db}.notes_by_post WHERE post = {post:String}) AND deleted = 0 AND subject_uri = {post:String}
              AND did NOT IN (${inactiveAccountsAmong(db, `SELECT did FROM ${db}.notes_by_post WHERE post = {post:String}`)})) AS n
          LEFT JOIN (SELECT note, note_cid, status, intercept, factor, raters, raters_negative, raters_positive, updated_at FROM ${db}.note_status FINAL WHERE post = {post:String}) AS s
            ON s.note = concat('at://', n.did, '/${NOTE_COLLECTION}/', n.rkey)
        )
        WHERE shown = 'helpful' OR place <= {others:UInt32}
        ORDER BY listed`,
      query_params: { post, others },
      format: 'JSONCompactEachRow',
      clickhouse_settings: { join_use_nulls: 0 },
    });
    type Row = [string, string, string, string, string, string, string, number, string, number, number, number, number, number, string, string];
    const rows = await result.json<Row>();
    const notes = rows.map(([author, rkey, cid, postCid, reason, text, timeUs, scored, status, intercept, factor, raters, ratersNegative, ratersPositive, updatedAt]) => {
      const uri = `at://${author}/${NOTE_COLLECTION}/${rkey}`;
      const note: NoteRecord = { uri, cid, author, post, postCid, reason, text, timeUs: Number(timeUs) };
      if (!scored) return { note };
      return { note, status: statusRow([uri, post, status, intercept, factor, raters, ratersNegative, ratersPositive, updatedAt, cid]) };
    });
    const total = rows[0]?.[15];
    return { notes, omitted: total === undefined ? 0 : Number(total) - rows.length };
  }

  /**
   * Each rater's latest live rating of each note (the newest record wins: one rating per rater
   * and note, however many records the rater wrote); of `notes` only when given. None by an account
   * deactivated, taken down or deleted (counted again if it comes back).
   */
  async ratings(notes?: readonly string[]): Promise<NoteRatingRecord[]> {
    const result = await this.client.query({
      query: `SELECT did, note_uri, argMax(note_cid, time_us), argMax(helpfulness, time_us), toString(max(time_us)) FROM ${this.database}.note_ratings FINAL
        WHERE deleted = 0 ${notes ? 'AND note_uri IN {notes:Array(String)}' : ''}
          AND did NOT IN (${inactiveAccountsAmong(this.database, `SELECT did FROM ${this.database}.note_ratings`)})
        GROUP BY did, note_uri ORDER BY note_uri, did`,
      query_params: { notes: notes ?? [] },
      format: 'JSONCompactEachRow',
    });
    return (await result.json<[string, string, string, string, string]>()).map(([rater, note, noteCid, helpfulness, timeUs]) => ({
      rater,
      note,
      noteCid,
      helpfulness,
      timeUs: Number(timeUs),
    }));
  }

  /** When the store first saw each account (unix µs): the age a young-account discount reads. */
  firstSeen(dids: readonly string[]): Promise<Map<string, number>> {
    return this.earliestOf('first_seen', 'time_us', dids);
  }

  /** When each account was created (unix µs), as its PLC directory stamped it; accounts not read have none. */
  createdAt(dids: readonly string[]): Promise<Map<string, number>> {
    return this.earliestOf('account_created', 'created_us', dids);
  }

  /** The earliest time per account of a table keyed by account: a run's raters, a share at a time. */
  private async earliestOf(table: string, column: string, dids: readonly string[]): Promise<Map<string, number>> {
    const rows = await inShares([...new Set(dids)], async (share) => {
      const result = await this.client.query({
        query: `SELECT did, toString(min(${column})) FROM ${this.database}.${table} WHERE did IN {dids:Array(String)} GROUP BY did`,
        query_params: { dids: share },
        format: 'JSONCompactEachRow',
      });
      return result.json<[string, string]>();
    });
    return new Map(rows.map(([did, us]) => [did, Number(us)]));
  }

  /** Stores when accounts were created (unix µs), as their PLC directory stamped it. */
  async recordCreatedAt(accounts: readonly { did: string; createdUs: number }[]): Promise<void> {
    if (accounts.length === 0) return;
    await this.client.insert({
      table: `${this.database}.account_created`,
      values: accounts.map(({ did, createdUs }) => [did, createdUs]),
      format: 'JSONCompactEachRow',
    });
  }

  /** The time of the oldest event in the store (unix µs), or undefined when it holds none. */
  async storeStartUs(): Promise<number | undefined> {
    const result = await this.client.query({ query: `SELECT toString(min(time_us)), count() FROM ${this.database}.first_seen`, format: 'JSONCompactEachRow' });
    const [row] = await result.json<[string, string]>();
    return row && Number(row[1]) > 0 ? Number(row[0]) : undefined;
  }

  /** The latest status of every note scored (of `notes` only, when given). */
  async statuses(notes?: readonly string[]): Promise<NoteStatusRow[]> {
    const result = await this.client.query({
      query: `SELECT note, post, status, intercept, factor, raters, raters_negative, raters_positive, updated_at, note_cid
        FROM ${this.database}.note_status FINAL ${notes ? 'WHERE note IN {notes:Array(String)}' : ''} ORDER BY note`,
      query_params: { notes: notes ?? [] },
      format: 'JSONCompactEachRow',
    });
    return (await result.json<StatusColumns>()).map(statusRow);
  }

  async writeStatuses(rows: readonly NoteStatusRow[]): Promise<void> {
    if (rows.length === 0) return;
    await this.client.insert({
      table: `${this.database}.note_status`,
      values: rows.map((row) => ({
        note: row.note,
        note_cid: row.noteCid,
        post: row.post,
        status: row.status,
        intercept: row.intercept,
        factor: row.factor,
        raters: row.raters,
        raters_negative: row.ratersNegative,
        raters_positive: row.ratersPositive,
        updated_at: row.updatedAtMs,
      })),
      format: 'JSONEachRow',
    });
  }

  async logChanges(changes: readonly NoteStatusChangeRow[]): Promise<void> {
    if (changes.length === 0) return;
    await this.client.insert({
      table: `${this.database}.note_status_changes`,
      values: changes.map((change) => ({
        at: change.atMs,
        note: change.note,
        post: change.post,
        from_status: change.from,
        to_status: change.to,
        reason: change.reason,
      })),
      format: 'JSONEachRow',
    });
  }

  /** The status changes of the notes on `post`, newest first, at most `limit`. */
  async changesOnPost(post: string, limit: number): Promise<NoteStatusChangeRow[]> {
    const result = await this.client.query({
      query: `SELECT at, note, post, from_status, to_status, reason FROM ${this.database}.note_status_changes FINAL
        WHERE post = {post:String} ORDER BY at DESC, note LIMIT {limit:UInt32}`,
      query_params: { post, limit },
      format: 'JSONCompactEachRow',
    });
    return (await result.json<[string, string, string, string, string, string]>()).map(changeOf);
  }

  /** The status changes of `notes` (all notes when not given), newest first, at most `limit`. */
  async changes(limit: number, notes?: readonly string[]): Promise<NoteStatusChangeRow[]> {
    const result = await this.client.query({
      query: `SELECT at, note, post, from_status, to_status, reason FROM ${this.database}.note_status_changes FINAL
        ${notes ? 'WHERE note IN {notes:Array(String)}' : ''} ORDER BY at DESC, note LIMIT {limit:UInt32}`,
      query_params: { notes: notes ?? [], limit },
      format: 'JSONCompactEachRow',
    });
    return (await result.json<[string, string, string, string, string, string]>()).map(changeOf);
  }

  /** A note request from the console, stored as a request record is (did `console`). */
  async request(post: string, nowMs: number): Promise<void> {
    const timeUs = nowMs * 1000;
    await this.client.insert({
      table: `${this.database}.note_requests`,
      values: [{ did: CONSOLE_REQUESTER, rkey: `${timeUs}`, subject_uri: post, time_us: timeUs, deleted: 0, version: timeUs }],
      format: 'JSONEachRow',
    });
  }

  /**
   * The accounts with a live request for a note on `post`: an account that wrote several request
   * records counts once (the console counts as one requester).
   */
  async requestCount(post: string): Promise<number> {
    const result = await this.client.query({
      query: `SELECT uniqExact(did) FROM ${this.database}.note_requests FINAL
        WHERE (did, rkey) IN (SELECT did, rkey FROM ${this.database}.note_requests_by_post WHERE post = {post:String}) AND deleted = 0 AND subject_uri = {post:String}`,
      query_params: { post },
      format: 'JSONCompactEachRow',
    });
    const [row] = await result.json<[string]>();
    return Number(row?.[0] ?? 0);
  }

  /** Posts with live requests for a note, the most asked for (by accounts, as `requestCount` counts) first, with the notes each already has. */
  async requested(limit: number): Promise<NoteRequestRow[]> {
    const result = await this.client.query({
      query: `SELECT r.subject_uri, r.requests, r.first_us, countIf(n.did != '') AS notes
        FROM (
          SELECT subject_uri, uniqExact(did) AS requests, toString(min(time_us)) AS first_us
          FROM ${this.database}.note_requests FINAL WHERE deleted = 0 GROUP BY subject_uri
        ) AS r
        LEFT JOIN (SELECT did, subject_uri FROM ${this.database}.notes FINAL WHERE deleted = 0) AS n ON n.subject_uri = r.subject_uri
        GROUP BY r.subject_uri, r.requests, r.first_us
        ORDER BY r.requests DESC, r.first_us, r.subject_uri LIMIT {limit:UInt32}`,
      query_params: { limit },
      format: 'JSONCompactEachRow',
      clickhouse_settings: { join_use_nulls: 0 },
    });
    return (await result.json<[string, string, string, string]>()).map(([post, requests, firstUs, notes]) => ({
      post,
      requests: Number(requests),
      firstRequestedMs: Math.floor(Number(firstUs) / 1000),
      notes: Number(notes),
    }));
  }
}

function changeOf([at, note, post, from, to, reason]: [string, string, string, string, string, string]): NoteStatusChangeRow {
  return { atMs: Number(at), note, post, from, to, reason };
}

/** A note's status as read: note, post, status, intercept, factor, raters, raters on each side, updated at (ms). */
type StatusColumns = [string, string, string, number | string, number | string, number | string, number | string, number | string, number | string, string];

function statusRow([note, post, status, intercept, factor, raters, ratersNegative, ratersPositive, updatedAt, noteCid]: StatusColumns): NoteStatusRow {
  return {
    note,
    noteCid,
    post,
    status,
    intercept: Number(intercept),
    factor: Number(factor),
    raters: Number(raters),
    ratersNegative: Number(ratersNegative),
    ratersPositive: Number(ratersPositive),
    updatedAtMs: Number(updatedAt),
  };
}
