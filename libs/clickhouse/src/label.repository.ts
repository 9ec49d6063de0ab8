import type { ClickHouseClient } from '@clickhouse/client';
import type { Label, PostLabels, SequencedLabel } from '#lib/labels';
import { inShares } from './query-shares.js';

interface LabelRow {
  seq: string;
  src: string;
  uri: string;
  cid: string;
  val: string;
  neg: number;
  cts: string;
  exp: string;
  sig: string;
}

/** Which labels `queryLabels` asks for: exact URIs and prefixes (a trailing `*`), or every one. */
export interface LabelQuery {
  exact: readonly string[];
  prefixes: readonly string[];
  /** `uriPatterns` held `*` alone. */
  all: boolean;
  sources: readonly string[];
  afterSeq: number;
  limit: number;
}

/** A label from a labeler we follow, verified, as the rankings use it. */
export interface ExternalLabel {
  src: string;
  uri: string;
  val: string;
}

/** What is stored of a labeler we follow. */
export interface FollowedLabelerStats {
  src: string;
  cursor: number | null;
  /** Labels stored (latest statement per subject and value), and those in force. */
  stored: number;
  inForce: number;
  /** Creation time of its newest stored label (ISO 8601), if any. */
  newestLabelAt: string | null;
}

export interface LabelTotals {
  lastSeq: number;
  /** Labels in force per value (negated ones not counted). */
  inForce: Record<string, number>;
  historyFloor: number;
}

// UInt64 comes back as a string in JSON (ClickHouse quotes 64-bit integers by default).
const COLUMNS = 'seq, src, uri, cid, val, neg, cts, exp, sig';

function fromRow(row: LabelRow): SequencedLabel {
  return {
    seq: Number(row.seq),
    ver: 1,
    src: row.src,
    uri: row.uri,
    ...(row.cid !== '' && { cid: row.cid }),
    val: row.val,
    ...(Number(row.neg) === 1 && { neg: true }),
    cts: row.cts,
    ...(row.exp !== '' && { exp: row.exp }),
    sig: new Uint8Array(Buffer.from(row.sig, 'base64')),
  };
}

function toRow(label: Label & { sig: Uint8Array }) {
  return {
    src: label.src,
    uri: label.uri,
    cid: label.cid ?? '',
    val: label.val,
    neg: label.neg === true ? 1 : 0,
    cts: label.cts,
    exp: label.exp ?? '',
    sig: Buffer.from(label.sig).toString('base64'),
  };
}

/**
 * Labels: ours (sequenced, what queryLabels and subscribeLabels serve) and those of the labelers
 * we follow (verified, what the rankings read), and the cursor we hold on each of those.
 */
export class LabelRepository {
  /** When the last statement of a followed labeler was stored (µs): see `writeExternal`. */
  private receivedUs = 0;

  constructor(
    private readonly client: ClickHouseClient,
    private readonly database: string,
  ) {}

  /**
   * The largest sequence number given out. It never goes back, so none is given out twice: `prune`
   * keeps the newest statement on every (labeler, subject, value), and so the newest label of all;
   * and a store restored from a backup keeps above what was given out before (`keepSequenceAbove`).
   */
  async lastSeq(): Promise<number> {
    const result = await this.client.query({
      query: `SELECT toString(greatest((SELECT max(seq) FROM ${this.database}.labels), (SELECT max(floor) FROM ${this.database}.label_history))) AS seq`,
      format: 'JSONEachRow',
    });
    const [row] = await result.json<{ seq: string }>();
    return Number(row?.seq ?? 0);
  }

  /**
   * Numbers the next labels above `seq`: a store restored from a backup gave out numbers after it
   * that subscribers hold as their cursors. Those behind it are told their cursor is outdated and
   * get every statement kept (the history floor).
   */
  async keepSequenceAbove(seq: number): Promise<void> {
    if (seq > (await this.lastSeq())) await this.client.insert({ table: `${this.database}.label_history`, values: [{ floor: seq }], format: 'JSONEachRow' });
  }

  /**
   * Stores labels that already carry their sequence numbers (one past `lastSeq()`, in order), and
   * brings the current statements (`labels_current`) up to them.
   */
  async append(labels: readonly SequencedLabel[]): Promise<void> {
    if (labels.length > 0) {
      await this.client.insert({
        table: `${this.database}.labels`,
        values: labels.map((label) => ({ seq: label.seq, ...toRow(label) })),
        format: 'JSONEachRow',
      });
    }
    await this.followHistory();
  }

  /**
   * Brings `labels_current` up to `labels`: each statement after its position replaces the one on
   * the same (labeler, subject, value). The writer calls it with every append, so an append a
   * stopped writer (or a writer of the version before) left unfollowed is followed at the next.
   *
   * @NOTE The new current statements are added, then the ones they supersede deleted, then the
   * position moved: stopped anywhere in between, the next call does all three again from the same
   * position (a copy added twice is one row under FINAL). Two rankers may follow at once (the one
   * that held the shared work until a moment ago, and the one that holds it now), from different
   * positions to different ends: so a statement is added only while it is the newest on its key of
   * all those after the position, and a row is deleted only beside a newer one on its key in the
   * table, never by what one follower read. The current statement is never lost; a superseded one
   * the other follower added meanwhile is deleted at the next follow of its key, or by `prune`.
   * The subqueries read the statements after the position alone, and the filter on `uri` lets the
   * bloom filter pass over the granules without them.
   */
  async followHistory(): Promise<void> {
    const db = this.database;
    const positions = await this.client.query({
      query: `SELECT toString((SELECT max(seq) FROM ${db}.labels_current_position)) AS position, toString((SELECT max(seq) FROM ${db}.labels)) AS last`,
      format: 'JSONEachRow',
    });
    const [row] = await positions.json<{ position: string; last: string }>();
    const from = Number(row?.position ?? 0);
    const to = Number(row?.last ?? 0);
    if (to <= from) return;
    const params = { from, to };
    const after = `${db}.labels WHERE seq > {from:UInt64}`;
    const followed = `${after} AND seq <= {to:UInt64}`;
    await this.client.command({
      query: `INSERT INTO ${db}.labels_current SELECT ${COLUMNS} FROM ${followed} AND seq IN (SELECT max(seq) FROM ${after} GROUP BY src, uri, val)`,
      query_params: params,
    });
    const keys = `uri IN (SELECT uri FROM ${followed}) AND (src, uri, val) IN (SELECT src, uri, val FROM ${followed})`;
    await this.client.command({
      query: `DELETE FROM ${db}.labels_current WHERE ${keys} AND seq NOT IN (SELECT max(seq) FROM ${db}.labels_current WHERE ${keys} GROUP BY src, uri, val)`,
      query_params: params,
    });
    await this.client.insert({ table: `${db}.labels_current_position`, values: [{ seq: to }], format: 'JSONEachRow' });
  }

  /** The post labels of `src` in force now: the current statement per (post, value) where it is not a negation. */
  async inForce(src: string): Promise<Map<string, PostLabels>> {
    const result = await this.client.query({
      query: `SELECT uri, val, cid FROM ${this.database}.labels_current FINAL WHERE src = {src:String} AND neg = 0 ORDER BY seq`,
      query_params: { src },
      format: 'JSONCompactEachRow',
    });
    const posts = new Map<string, { cid: string; values: Set<string> }>();
    for (const [uri, val, cid] of await result.json<[string, string, string]>()) {
      const post = posts.get(uri) ?? { cid, values: new Set<string>() };
      post.values.add(val);
      posts.set(uri, post);
    }
    return posts;
  }

  /** Labels after `afterSeq`, in sequence order: what a subscribeLabels client has not seen. */
  async after(afterSeq: number, limit: number): Promise<SequencedLabel[]> {
    const result = await this.client.query({
      query: `SELECT ${COLUMNS} FROM ${this.database}.labels FINAL WHERE seq > {afterSeq:UInt64} ORDER BY seq LIMIT {limit:UInt32}`,
      query_params: { afterSeq, limit },
      format: 'JSONEachRow',
    });
    return (await result.json<LabelRow>()).map(fromRow);
  }

  /**
   * The current statement per (labeler, subject, value) matching the query, by sequence (the cursor).
   *
   * @NOTE `labels_current` holds the current statements alone, in sequence order: a page reads the
   * rows after its cursor up to its limit, whatever the depth, and exact subjects are found through
   * the bloom filter on `uri`.
   */
  async query(query: LabelQuery): Promise<SequencedLabel[]> {
    const params: Record<string, unknown> = { afterSeq: query.afterSeq, limit: query.limit, exact: query.exact, sources: query.sources };
    const matches: string[] = [];
    if (!query.all) {
      if (query.exact.length > 0) matches.push('uri IN {exact:Array(String)}');
      query.prefixes.forEach((prefix, i) => {
        params[`prefix${i}`] = prefix;
        matches.push(`startsWith(uri, {prefix${i}:String})`);
      });
    }
    const uriFilter = query.all ? '1' : `(${matches.join(' OR ') || '0'})`;
    const sourceFilter = query.sources.length > 0 ? 'src IN {sources:Array(String)}' : '1';
    const result = await this.client.query({
      query: `SELECT ${COLUMNS} FROM ${this.database}.labels_current FINAL
        WHERE seq > {afterSeq:UInt64} AND ${uriFilter} AND ${sourceFilter}
        ORDER BY seq LIMIT {limit:UInt32}`,
      query_params: params,
      format: 'JSONEachRow',
    });
    return (await result.json<LabelRow>()).map(fromRow);
  }

  /** The first sequence number whose history is complete: a cursor before it missed pruned labels. */
  async historyFloor(): Promise<number> {
    const result = await this.client.query({ query: `SELECT toString(max(floor)) AS floor FROM ${this.database}.label_history`, format: 'JSONEachRow' });
    const [row] = await result.json<{ floor: string }>();
    return Number(row?.floor ?? 0);
  }

  /**
   * Drops the labels created before `beforeIso` that a later statement on the same (labeler,
   * subject, value) superseded: a negated label goes, its negation stays, as does every label in
   * force, each with its sequence number. Records the largest dropped sequence as the history floor.
   * (`labels_current` holds none of them.)
   */
  async prune(beforeIso: string): Promise<number> {
    const db = this.database;
    // A migration's copy that lands after the writer deleted a statement it superseded brings that
    // statement back beside its successor: the older goes here.
    await this.client.command({ query: `DELETE FROM ${db}.labels_current WHERE seq NOT IN (SELECT max(seq) FROM ${db}.labels_current GROUP BY src, uri, val)` });
    const doomed = `seq NOT IN (SELECT max(seq) FROM ${db}.labels GROUP BY src, uri, val)
      AND parseDateTime64BestEffort(cts, 3) < parseDateTime64BestEffort({before:String}, 3)`;
    const found = await this.client.query({
      query: `SELECT toString(max(seq)) AS top, count() AS n FROM ${db}.labels WHERE ${doomed}`,
      query_params: { before: beforeIso },
      format: 'JSONEachRow',
    });
    const [row] = await found.json<{ top: string; n: string }>();
    const count = Number(row?.n ?? 0);
    if (count === 0) return 0;
    await this.client.insert({ table: `${db}.label_history`, values: [{ floor: Number(row?.top) }], format: 'JSONEachRow' });
    await this.client.command({ query: `DELETE FROM ${db}.labels WHERE seq <= {top:UInt64} AND ${doomed}`, query_params: { top: Number(row?.top), before: beforeIso } });
    return count;
  }

  async totals(): Promise<LabelTotals> {
    const result = await this.client.query({
      query: `SELECT val, count() AS n FROM ${this.database}.labels_current FINAL WHERE neg = 0 GROUP BY val ORDER BY val`,
      format: 'JSONCompactEachRow',
    });
    const inForce = Object.fromEntries((await result.json<[string, string]>()).map(([val, n]) => [val, Number(n)]));
    const [lastSeq, historyFloor] = await Promise.all([this.lastSeq(), this.historyFloor()]);
    return { lastSeq, inForce, historyFloor };
  }

  /** Per labeler we follow: its cursor, what is stored, and how recent its newest label is. */
  async followedStats(dids: readonly string[]): Promise<FollowedLabelerStats[]> {
    if (dids.length === 0) return [];
    const db = this.database;
    const [labels, cursors] = await Promise.all([
      this.client.query({
        query: `SELECT src, count() AS stored, countIf(neg = 0) AS in_force, max(parseDateTime64BestEffortOrZero(cts, 3)) AS newest
          FROM ${db}.external_labels FINAL WHERE src IN {dids:Array(String)} GROUP BY src`,
        query_params: { dids },
        format: 'JSONEachRow',
      }),
      this.client.query({
        query: `SELECT src, toString(seq) AS cursor FROM ${db}.labeler_cursors FINAL WHERE src IN {dids:Array(String)}`,
        query_params: { dids },
        format: 'JSONEachRow',
      }),
    ]);
    const bySrc = new Map((await labels.json<{ src: string; stored: string; in_force: string; newest: string }>()).map((row) => [row.src, row]));
    const cursorOf = new Map((await cursors.json<{ src: string; cursor: string }>()).map((row) => [row.src, Number(row.cursor)]));
    return dids.map((src) => {
      const row = bySrc.get(src);
      return {
        src,
        cursor: cursorOf.get(src) ?? null,
        stored: Number(row?.stored ?? 0),
        inForce: Number(row?.in_force ?? 0),
        newestLabelAt: row ? new Date(`${row.newest.replace(' ', 'T')}Z`).toISOString() : null,
      };
    });
  }

  /** Stores verified labels of labelers we follow, in the order received; a later statement on the same (labeler, subject, value) replaces the earlier. */
  async writeExternal(labels: readonly (Label & { sig: Uint8Array })[]): Promise<void> {
    if (labels.length === 0) return;
    await this.client.insert({
      table: `${this.database}.external_labels`,
      // @NOTE The statement received last wins, as the labeler's stream orders them: a negation
      // overrides the label before it whatever its `cts` says (the instances of one labeler may
      // disagree on the time). Versions are the time received in µs, one apart within a frame, and
      // lie above those of labels stored by their `cts` in ms before.
      values: labels.map((label) => ({ ...toRow(label), version: (this.receivedUs = Math.max(Date.now() * 1000, this.receivedUs + 1)) })),
      format: 'JSONEachRow',
    });
  }

  /**
   * Labels in force (not negated, not expired at `nowIso`) from `sources` with one of `values`, on
   * one of `subjects` (post URIs and DIDs): what one ranking run acts on.
   *
   * @NOTE Labelers, subjects and values are the table's key (src, uri, val): a run reads the labels
   * of its own posts and accounts, not every label in force network-wide. The subjects go as query
   * parameters, `VALUES_PER_QUERY` at a time (`inShares`: a server caps a query's URL): a run's
   * subjects change with every run, so storing them as a set (`DidSetStore`) would write a new one
   * each time. They are sorted first, so that each query's subjects are one stretch of the table's
   * order: random ones would touch nearly every granule in every query.
   */
  async externalInForce(query: { sources: readonly string[]; values: readonly string[]; subjects: readonly string[]; nowIso: string }): Promise<ExternalLabel[]> {
    const { sources, values, nowIso } = query;
    if (sources.length === 0 || values.length === 0) return [];
    // Code-unit order is byte order for the ASCII of AT-URIs and DIDs, the order of the table's key.
    const subjects = [...new Set(query.subjects)].sort();
    return inShares(subjects, async (share) => {
      const result = await this.client.query({
        query: `SELECT src, uri, val FROM ${this.database}.external_labels FINAL
          WHERE src IN {sources:Array(String)} AND uri IN {subjects:Array(String)} AND val IN {values:Array(String)} AND neg = 0
            AND (exp = '' OR parseDateTime64BestEffortOrZero(exp, 3) > parseDateTime64BestEffort({now:String}, 3))`,
        query_params: { sources, subjects: share, values, now: nowIso },
        format: 'JSONEachRow',
      });
      return result.json<ExternalLabel>();
    });
  }

  /** The sequence number of `src`'s stream up to which its labels are stored. */
  async cursorOf(src: string): Promise<number | undefined> {
    const result = await this.client.query({
      query: `SELECT toString(seq) AS seq FROM ${this.database}.labeler_cursors FINAL WHERE src = {src:String}`,
      query_params: { src },
      format: 'JSONEachRow',
    });
    const [row] = await result.json<{ seq: string }>();
    return row ? Number(row.seq) : undefined;
  }

  async saveCursor(src: string, seq: number): Promise<void> {
    await this.client.insert({ table: `${this.database}.labeler_cursors`, values: [{ src, seq }], format: 'JSONEachRow' });
  }
}
