import type { ClickHouseClient } from '@clickhouse/client';

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

/** A post queued for note writers: how many asked, since when, and how many notes it has. */
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

  /** Live notes, oldest first; on `posts` only when given. */
  async notes(posts?: readonly string[]): Promise<NoteRecord[]> {
    const result = await this.client.query({
      query: `SELECT did, rkey, cid, subject_uri, subject_cid, reason, text, time_us FROM ${this.database}.notes FINAL
        WHERE deleted = 0 ${posts ? 'AND subject_uri IN {posts:Array(String)}' : ''} ORDER BY time_us, did, rkey`,
      query_params: { posts: posts ?? [] },
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
   * Each rater's latest live rating of each note (the newest record wins: one rating per rater
   * and note, however many records the rater wrote); of `notes` only when given.
   */
  async ratings(notes?: readonly string[]): Promise<NoteRatingRecord[]> {
    const result = await this.client.query({
      query: `SELECT did, note_uri, argMax(note_cid, time_us), argMax(helpfulness, time_us), toString(max(time_us)) FROM ${this.database}.note_ratings FINAL
        WHERE deleted = 0 ${notes ? 'AND note_uri IN {notes:Array(String)}' : ''}
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
  async firstSeen(dids: readonly string[]): Promise<Map<string, number>> {
    if (dids.length === 0) return new Map();
    const result = await this.client.query({
      query: `SELECT did, toString(min(time_us)) FROM ${this.database}.first_seen WHERE did IN {dids:Array(String)} GROUP BY did`,
      query_params: { dids },
      format: 'JSONCompactEachRow',
    });
    return new Map((await result.json<[string, string]>()).map(([did, timeUs]) => [did, Number(timeUs)]));
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
      query: `SELECT note, post, status, intercept, factor, raters, raters_negative, raters_positive, updated_at
        FROM ${this.database}.note_status FINAL ${notes ? 'WHERE note IN {notes:Array(String)}' : ''} ORDER BY note`,
      query_params: { notes: notes ?? [] },
      format: 'JSONCompactEachRow',
    });
    const rows = await result.json<[string, string, string, number, number, number, number, number, string]>();
    return rows.map(([note, post, status, intercept, factor, raters, ratersNegative, ratersPositive, updatedAt]) => ({
      note,
      post,
      status,
      intercept: Number(intercept),
      factor: Number(factor),
      raters: Number(raters),
      ratersNegative: Number(ratersNegative),
      ratersPositive: Number(ratersPositive),
      updatedAtMs: Number(updatedAt),
    }));
  }

  async writeStatuses(rows: readonly NoteStatusRow[]): Promise<void> {
    if (rows.length === 0) return;
    await this.client.insert({
      table: `${this.database}.note_status`,
      values: rows.map((row) => ({
        note: row.note,
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

  /** The status changes of `notes` (all notes when not given), newest first, at most `limit`. */
  async changes(limit: number, notes?: readonly string[]): Promise<NoteStatusChangeRow[]> {
    const result = await this.client.query({
      query: `SELECT at, note, post, from_status, to_status, reason FROM ${this.database}.note_status_changes FINAL
        ${notes ? 'WHERE note IN {notes:Array(String)}' : ''} ORDER BY at DESC, note LIMIT {limit:UInt32}`,
      query_params: { notes: notes ?? [], limit },
      format: 'JSONCompactEachRow',
    });
    return (await result.json<[string, string, string, string, string, string]>()).map(([at, note, post, from, to, reason]) => ({
      atMs: Number(at),
      note,
      post,
      from,
      to,
      reason,
    }));
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

  /** Live requests for a note on `post`. */
  async requestCount(post: string): Promise<number> {
    const result = await this.client.query({
      query: `SELECT count() FROM ${this.database}.note_requests FINAL WHERE deleted = 0 AND subject_uri = {post:String}`,
      query_params: { post },
      format: 'JSONCompactEachRow',
    });
    const [row] = await result.json<[string]>();
    return Number(row?.[0] ?? 0);
  }

  /** Posts with live requests for a note, the most asked for first, with the notes each already has. */
  async requested(limit: number): Promise<NoteRequestRow[]> {
    const result = await this.client.query({
      query: `SELECT r.subject_uri, r.requests, r.first_us, countIf(n.did != '') AS notes
        FROM (
          SELECT subject_uri, count() AS requests, toString(min(time_us)) AS first_us
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
