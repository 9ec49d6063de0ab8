import type { Readable } from 'node:stream';
import type { ClickHouseClient } from '@clickhouse/client';
import { runInTurns } from '#lib/steps';
import { hiddenAccountsAmong, inactiveAccountsAmong } from './account-status.js';
import { encoded, jsonRowsInSteps } from './clickhouse.client.js';
import { forEachRow } from './each-row.js';
import { DidSetStore, type DidList } from './did-set.store.js';
import { POSTS_BY_TIME } from './posts-by-time.js';

interface CandidateRow {
  uri: string;
  cid: string;
  author: string;
  timeUs: number;
}

interface SignalRow {
  actor: string;
  uri: string;
  kind: string;
  timeUs: number;
}

export interface ScoredRow {
  uri: string;
  cid: string;
  score: number;
  feedContext: string;
  components: Record<string, unknown>;
}

export interface SnapshotItem {
  rank: number;
  uri: string;
  cid: string;
  feedContext: string;
  /** Side of the community's opinion axis the post leans to (its factor's sign): what a balanced feed keeps per position. */
  side: 'positive' | 'negative';
}

/** A ranked item as `[rank, uri prefix, rkey, cid, feedContext, 1 when its side is positive]`. */
export type SnapshotPart = [rank: number, prefix: string, rkey: string, cid: string, feedContext: string, positive: number | boolean];

/** One ranked item with everything that placed it: what the console's feed preview shows. */
export interface RankedItem {
  rank: number;
  uri: string;
  cid: string;
  score: number;
  feedContext: string;
  components: Record<string, unknown>;
}

export interface SnapshotSummary {
  feed: string;
  snapshot: number;
  posts: number;
  /** Unix ms when the snapshot's completion record was written. */
  completedAtMs: number;
}

export interface SnapshotInfo {
  snapshot: number;
  posts: number;
  completedAt: string;
}

/** Signal kinds the ranking reads from `interactions`. */
const RANKING_KINDS = ['like', 'repost', 'reply', 'quote', 'requestLess', 'requestMore', 'interactionSeen', 'clickthroughItem', 'clickthroughEmbed'];

/** Signal kinds by which members approve a post: what brings a post from outside into the candidates. */
const APPROVAL_KINDS = `'like', 'repost', 'quote', 'reply', 'requestMore'`;

/**
 * Inputs of the ranking (candidate posts and their signals) and its outputs: score snapshots.
 * A snapshot's rows are written first and its `feed_snapshots` record last, so readers that look
 * the snapshot up there never see a half-written one.
 */
export class ScoreRepository {
  private readonly didSets: DidSetStore;

  constructor(
    private readonly client: ClickHouseClient,
    private readonly database: string,
  ) {
    this.didSets = DidSetStore.of(client, database);
  }

  /**
   * Posts in the window by the members, or that members approved (a post from outside that the
   * communities engage with can bridge them too); never by an inactive account, nor by one that
   * asked to be hidden from algorithmic recommendations (contentVisibilityDeclaration).
   *
   * @NOTE Both ways in are conditions on the table's key, (did, rkey): the members' own posts by
   * `did`, the posts they approved by the (did, rkey) of the approval's subject (the interactions
   * are read by their own key, the actor). ClickHouse reads the granules either names, not the
   * whole history of posts, as it did when the approved posts were matched by their URI, which the
   * key cannot look up. Parts older than the window are skipped besides (`POSTS_BY_TIME`).
   * The accounts' status is looked up for the members and the authors of what they approved only
   * (any version of an approval: a superset of the candidates' authors will do).
   */
  private candidateQuery(authors: DidList): string {
    const db = this.database;
    const candidateAuthors = `${authors.sql} UNION ALL SELECT subject_did FROM ${db}.interactions
      WHERE actor IN (${authors.sql}) AND kind IN (${APPROVAL_KINDS}) AND time_us >= {sinceUs:UInt64}`;
    return `SELECT concat('at://', did, '/app.bsky.feed.post/', rkey) AS uri, cid, did AS author, time_us
      FROM ${db}.posts FINAL
      WHERE deleted = 0 AND time_us >= {sinceUs:UInt64}
        AND (did IN (${authors.sql}) OR (did, rkey) IN (
          SELECT subject_did, substring(subject_uri, length(concat('at://', subject_did, '/app.bsky.feed.post/')) + 1)
          FROM ${db}.interactions FINAL
          WHERE deleted = 0 AND time_us >= {sinceUs:UInt64} AND actor IN (${authors.sql})
            AND kind IN (${APPROVAL_KINDS})
            AND startsWith(subject_uri, concat('at://', subject_did, '/app.bsky.feed.post/'))))
        AND ({includeReplies:UInt8} = 1 OR reply_parent = '')
        AND did NOT IN (${inactiveAccountsAmong(db, candidateAuthors)})
        AND did NOT IN (${hiddenAccountsAmong(db, candidateAuthors)})`;
  }

  async candidates(query: { authors: readonly string[]; sinceUs: number; includeReplies: boolean }): Promise<CandidateRow[]> {
    const authors = await this.didSets.bind('authors', query.authors);
    const rows: CandidateRow[] = [];
    const read = {
      // Ordered, so that a ranking fitted from a seed sees the same input in the same order every time.
      query: `${this.candidateQuery(authors)} ORDER BY time_us, uri`,
      query_params: { authors: authors.value, sinceUs: query.sinceUs, includeReplies: query.includeReplies ? 1 : 0 },
      clickhouse_settings: POSTS_BY_TIME,
    };
    await forEachRow<[string, string, string, string]>(this.client, read, ([uri, cid, author, timeUs]) => rows.push({ uri, cid, author, timeUs: Number(timeUs) }));
    return rows;
  }

  /**
   * Every signal on the candidate posts, from the given actors: approvals, feedback and impressions;
   * oldest first. None from an account deactivated, taken down or deleted: a network of accounts
   * taken down stops weighing on the rankings at the next run, and an account reactivated counts again.
   *
   * @NOTE The candidates are named once, after the union of the two sources: ClickHouse runs a
   * `WITH` query again wherever it is named, and the filter it pushes into both sources shares one set.
   */
  async signals(query: {
    authors: readonly string[];
    sinceUs: number;
    includeReplies: boolean;
    actors: readonly string[];
  }): Promise<SignalRow[]> {
    const db = this.database;
    const [authors, actors] = await Promise.all([this.didSets.bind('authors', query.authors), this.didSets.bind('actors', query.actors)]);
    const rows: SignalRow[] = [];
    const read = {
      query: `SELECT actor, uri, kind, time_us FROM (
          SELECT actor, subject_uri AS uri, kind, time_us FROM ${db}.interactions FINAL
          WHERE deleted = 0 AND kind IN {kinds:Array(String)} AND actor IN (${actors.sql})
          UNION ALL
          SELECT viewer AS actor, post AS uri, 'impression' AS kind, time_us FROM ${db}.impressions FINAL
          WHERE viewer IN (${actors.sql}))
        WHERE uri IN (SELECT uri FROM (${this.candidateQuery(authors)}))
          AND actor NOT IN (${inactiveAccountsAmong(db, actors.sql)})
        ORDER BY time_us, actor, uri, kind`,
      query_params: {
        authors: authors.value,
        sinceUs: query.sinceUs,
        includeReplies: query.includeReplies ? 1 : 0,
        actors: actors.value,
        kinds: RANKING_KINDS,
      },
      clickhouse_settings: POSTS_BY_TIME,
    };
    await forEachRow<[string, string, string, string]>(this.client, read, ([actor, uri, kind, timeUs]) => rows.push({ actor, uri, kind, timeUs: Number(timeUs) }));
    return rows;
  }

  /**
   * Writes a snapshot, its completion record last. `owner` is the ownership epoch it was computed
   * under and the ranker that computed it (absent: epoch 0, as written before rankers scaled out).
   */
  async writeSnapshot(feed: string, snapshot: number, rows: readonly ScoredRow[], owner?: { epoch: number; ranker: string }): Promise<void> {
    const db = this.database;
    if (rows.length > 0) {
      await this.client.insert({ table: `${db}.feed_scores`, ...(await rankedRows(rows, { feed, snapshot })) });
    }
    await this.client.insert({
      table: `${db}.feed_snapshots`,
      values: [{ feed, snapshot, posts: rows.length, epoch: owner?.epoch ?? 0, ranker: owner?.ranker ?? '' }],
      format: 'JSONEachRow',
    });
  }

  /**
   * The snapshot served: the newest of the newest ownership epoch.
   *
   * @NOTE Ordered by epoch first: a ranker that lost the feed (paused past its session, then woke
   * up) may still complete a snapshot it had started, with a later time than the new owner's; it
   * is never served over the new owner's, whatever the two clocks say.
   */
  async latestSnapshot(feed: string): Promise<SnapshotInfo | undefined> {
    const result = await this.client.query({
      query: `SELECT snapshot, posts, toString(completed_at) AS completed_at FROM ${this.database}.feed_snapshots FINAL
        WHERE feed = {feed:String} ORDER BY epoch DESC, snapshot DESC LIMIT 1`,
      query_params: { feed },
      format: 'JSONEachRow',
    });
    const [row] = await result.json<{ snapshot: string; posts: number; completed_at: string }>();
    return row && { snapshot: Number(row.snapshot), posts: Number(row.posts), completedAt: row.completed_at };
  }

  /** The newest complete snapshot of each of `feeds` that has one (for freshness and readiness). */
  async latestSnapshots(feeds: readonly string[]): Promise<SnapshotSummary[]> {
    if (feeds.length === 0) return [];
    const result = await this.client.query({
      // Aliases differ from the column names: an alias named like a column would shadow it inside argMax.
      query: `SELECT feed, argMax(snapshot, (epoch, snapshot)) AS latest, argMax(posts, (epoch, snapshot)) AS latest_posts,
          toUnixTimestamp64Milli(argMax(completed_at, (epoch, snapshot))) AS completed_at_ms
        FROM ${this.database}.feed_snapshots FINAL
        WHERE feed IN {feeds:Array(String)}
        GROUP BY feed`,
      query_params: { feeds },
      format: 'JSONEachRow',
    });
    const rows = await result.json<{ feed: string; latest: string; latest_posts: number; completed_at_ms: string }>();
    return rows.map((row) => ({
      feed: row.feed,
      snapshot: Number(row.latest),
      posts: Number(row.latest_posts),
      completedAtMs: Number(row.completed_at_ms),
    }));
  }

  async snapshotExists(feed: string, snapshot: number): Promise<boolean> {
    const result = await this.client.query({
      query: `SELECT count() AS n FROM ${this.database}.feed_snapshots FINAL WHERE feed = {feed:String} AND snapshot = {snapshot:UInt64}`,
      query_params: { feed, snapshot },
      format: 'JSONEachRow',
    });
    const [row] = await result.json<{ n: string }>();
    return Number(row?.n ?? 0) > 0;
  }

  /** Items of a snapshot after `afterRank`, in rank order. */
  async page(feed: string, snapshot: number, afterRank: number, limit: number): Promise<SnapshotItem[]> {
    const result = await this.client.query({
      query: `SELECT rank, uri, cid, feed_context, JSONExtractFloat(components, 'factor') >= 0 FROM ${this.database}.feed_scores
        WHERE feed = {feed:String} AND snapshot = {snapshot:UInt64} AND rank > {afterRank:UInt32}
        ORDER BY rank LIMIT {limit:UInt32}`,
      query_params: { feed, snapshot, afterRank, limit },
      format: 'JSONCompactEachRow',
    });
    const rows = await result.json<[number, string, string, string, number]>();
    return rows.map(([rank, uri, cid, feedContext, positive]) => ({
      rank: Number(rank),
      uri,
      cid,
      feedContext,
      side: Number(positive) === 1 ? ('positive' as const) : ('negative' as const),
    }));
  }

  /**
   * Ranks `fromRank` and after of a snapshot, at most `limit`, each URI split at its last `/`
   * (`prefix`, `rkey`): the bulk read that holds a snapshot in memory, where the prefix (author and
   * collection) is kept once per author.
   */
  async ranksAsParts(feed: string, snapshot: number, afterRank: number, limit: number): Promise<SnapshotPart[]> {
    const result = await this.client.query({
      query: `SELECT rank, extract(uri, '^(.*)/[^/]*$') AS prefix, extract(uri, '[^/]*$') AS rkey, cid, feed_context,
          JSONExtractFloat(components, 'factor') >= 0 FROM ${this.database}.feed_scores
        WHERE feed = {feed:String} AND snapshot = {snapshot:UInt64} AND rank > {afterRank:UInt32}
        ORDER BY rank LIMIT {limit:UInt32}`,
      query_params: { feed, snapshot, afterRank, limit },
      format: 'JSONCompactEachRow',
    });
    return result.json<SnapshotPart>();
  }

  /**
   * The top `limit` items of a snapshot with their scores and components, in one read. Bounded by
   * the sort key `(feed, snapshot, rank)`: it reads the first granule(s) of the snapshot whatever
   * its size.
   */
  async top(feed: string, snapshot: number, limit: number): Promise<RankedItem[]> {
    const result = await this.client.query({
      query: `SELECT rank, uri, cid, score, feed_context, components FROM ${this.database}.feed_scores
        WHERE feed = {feed:String} AND snapshot = {snapshot:UInt64} AND rank <= {limit:UInt32}
        ORDER BY rank LIMIT {limit:UInt32}`,
      query_params: { feed, snapshot, limit },
      format: 'JSONCompactEachRow',
    });
    return (await result.json<RankedItemRow>()).map(rankedItem);
  }

  /**
   * Why a post is where it is in a snapshot: its rank, score and components. Two reads of about one
   * granule each, whatever the snapshot's size: the rank through the `feed_scores_by_uri`
   * projection (sorted by post), then the row by the sort key `(feed, snapshot, rank)`.
   */
  async explain(feed: string, snapshot: number, uri: string): Promise<{ rank: number; score: number; components: unknown } | undefined> {
    const found = await this.client.query({
      // Only columns of the projection, so that ClickHouse reads it instead of the table.
      query: `SELECT rank FROM ${this.database}.feed_scores
        WHERE feed = {feed:String} AND snapshot = {snapshot:UInt64} AND uri = {uri:String} LIMIT 1`,
      query_params: { feed, snapshot, uri },
      format: 'JSONCompactEachRow',
    });
    const [rank] = (await found.json<[number]>()).map(([value]) => Number(value));
    if (rank === undefined) return undefined;
    const result = await this.client.query({
      query: `SELECT score, components FROM ${this.database}.feed_scores
        WHERE feed = {feed:String} AND snapshot = {snapshot:UInt64} AND rank = {rank:UInt32} LIMIT 1`,
      query_params: { feed, snapshot, rank },
      format: 'JSONEachRow',
    });
    const [row] = await result.json<{ score: number; components: string }>();
    return row && { rank, score: Number(row.score), components: JSON.parse(row.components) };
  }

  /**
   * Drops snapshots after the `keep` first in serving order (see `latestSnapshot`) and older than
   * `minAgeMs` (readers may still page them): their records, so no reader starts on them. Their
   * ranks leave the disk with their partition (`dropUnreferenced`).
   */
  async prune(feed: string, keep: number, minAgeMs: number, nowMs: number): Promise<number> {
    // Old by its id (the unix ms its run began), or by when its record was written on the store's
    // clock: after a ranker's clock ran ahead and was set back, ids stay ahead of the time for as
    // long as it ran ahead (each run's is the last one's plus 1), and by id alone nothing would age.
    const result = await this.client.query({
      query: `SELECT snapshot, completed_at < now64(3) - toIntervalMillisecond({minAgeMs:UInt64}) FROM ${this.database}.feed_snapshots FINAL
        WHERE feed = {feed:String} ORDER BY epoch DESC, snapshot DESC`,
      query_params: { feed, minAgeMs: Math.max(0, Math.floor(minAgeMs)) },
      format: 'JSONCompactEachRow',
    });
    const snapshots = (await result.json<[string, number]>()).map(([snapshot, written]) => ({ snapshot: Number(snapshot), written: Number(written) === 1 }));
    const old = snapshots
      .slice(keep)
      .filter(({ snapshot, written }) => snapshot < nowMs - minAgeMs || written)
      .map(({ snapshot }) => snapshot);
    for (const snapshot of old) {
      await this.client.command({
        query: `DELETE FROM ${this.database}.feed_snapshots WHERE feed = {feed:String} AND snapshot = {snapshot:UInt64}`,
        query_params: { feed, snapshot },
      });
    }
    return old.length;
  }

  /**
   * Drops the partitions of `feed_scores` (one per snapshot id: the feeds a run writes share it)
   * that no snapshot record refers to any more, older than `beforeMs`; returns how many.
   *
   * @NOTE A DELETE would only mark the rows: they leave the disk when their part is merged, and the
   * part of a partition nobody writes to again is never merged, so every snapshot ever written
   * would stay, a part each, until the parts' count stopped inserts. A partition is dropped whole
   * once no feed's record names its id. A snapshot id claimed in the last ten minutes may still be
   * being written (a long run's id is its start), before its record: its partition waits.
   */
  /**
   * Drops the records of snapshots older than `beforeMs` of every feed but `ranked` (a feed gone
   * from the curation, renamed, or made `recent`): nobody ranks them any more, so `prune` never
   * would, and each record would keep its whole run's partition, every other feed's ranks in it
   * included, on disk for good. Their ranks leave with `dropUnreferenced`. Returns the records dropped.
   */
  async pruneUnranked(ranked: readonly string[], beforeMs: number): Promise<number> {
    const where = `feed NOT IN {ranked:Array(String)} AND snapshot < {beforeMs:UInt64}`;
    const query_params = { ranked, beforeMs: Math.max(0, Math.floor(beforeMs)) };
    const result = await this.client.query({ query: `SELECT count() FROM ${this.database}.feed_snapshots WHERE ${where}`, query_params, format: 'JSONCompactEachRow' });
    const [[count] = ['0']] = await result.json<[string]>();
    if (Number(count) > 0) await this.client.command({ query: `DELETE FROM ${this.database}.feed_snapshots WHERE ${where}`, query_params });
    return Number(count);
  }

  /** Drops from disk the partitions (runs) no snapshot record names any more, older than `minAgeMs`; returns how many. */
  async dropUnreferenced(nowMs: number, minAgeMs: number): Promise<number> {
    const db = this.database;
    const result = await this.client.query({
      // Old by its id, or (ids that ran ahead of the time, as in `prune`) by when its parts were written on the store's clock.
      query: `SELECT partition_id FROM system.parts
        WHERE database = {db:String} AND table = 'feed_scores' AND active AND match(partition_id, '^[0-9]+$')
        GROUP BY partition_id
        HAVING (toUInt64(partition_id) < {beforeMs:UInt64} OR max(modification_time) < now() - toIntervalSecond({minAgeS:UInt64}))
          AND toUInt64(partition_id) NOT IN (SELECT snapshot FROM ${db}.feed_snapshots)
          AND toUInt64(partition_id) NOT IN (SELECT key FROM ${db}.ranker_claims WHERE kind = 'snapshot' AND claimed_at > now64(3) - INTERVAL 10 MINUTE)`,
      query_params: { db, beforeMs: Math.max(0, Math.floor(nowMs - minAgeMs)), minAgeS: Math.max(0, Math.ceil(minAgeMs / 1000)) },
      format: 'JSONCompactEachRow',
    });
    const partitions = (await result.json<[string]>()).map(([id]) => id);
    // Digits only (matched above): the id is written into the statement, which takes no parameter there.
    for (const id of partitions) await this.client.command({ query: `ALTER TABLE ${db}.feed_scores DROP PARTITION ID '${id}'` });
    return partitions.length;
  }
}

/**
 * Scored rows as stored, ranked from 1 in their order, each with the columns of `key` (feed and
 * snapshot or edition): the insert of `feed_scores` or `digest_edition_posts` but its table, the
 * rows encoded in turns of the event loop (docs/scaling.md, *A snapshot run and the event loop*).
 */
export async function rankedRows(rows: readonly ScoredRow[], key: Record<string, string | number>): Promise<{ values: Readable; format: 'JSONEachRow' }> {
  const encoding = jsonRowsInSteps(rows, (row, index) => ({
    ...key,
    rank: index + 1,
    uri: row.uri,
    cid: row.cid,
    score: row.score,
    feed_context: row.feedContext,
    components: JSON.stringify(row.components),
  }));
  return { values: encoded(await runInTurns(encoding)), format: 'JSONEachRow' };
}

/** `SELECT rank, uri, cid, score, feed_context, components` in JSONCompactEachRow. */
export type RankedItemRow = [number, string, string, number, string, string];

export function rankedItem([rank, uri, cid, score, feedContext, components]: RankedItemRow): RankedItem {
  return { rank: Number(rank), uri, cid, score: Number(score), feedContext, components: parseComponents(components) };
}

function parseComponents(text: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : { value };
  } catch {
    return { unparsed: text };
  }
}
