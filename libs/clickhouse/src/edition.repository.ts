import type { ClickHouseClient } from '@clickhouse/client';
import { rankedItem, rankedRows, type RankedItem, type RankedItemRow, type ScoredRow } from './score.repository.js';

/** One post of a digest edition, in the order it is served. */
export type EditionItem = RankedItem;

export interface EditionSummary {
  /** The cadence point the edition was frozen at (unix ms); also its id. */
  edition: number;
  posts: number;
  /** Unix ms when the ranker froze it. */
  frozenAtMs: number;
  /** The ownership epoch it was frozen under: a newer owner's edition replaces a fenced ranker's. */
  epoch: number;
}

/**
 * Digest editions: the posts frozen at each cadence point, kept for looking back. Rows first, the
 * `digest_edition_records` record last: an edition without its record does not exist for readers.
 * Each row carries the ownership epoch it was written under, and of an edition written under two,
 * the newer epoch's rows are read (`FINAL`: the epoch is the tables' version), whichever came last.
 */
export class EditionRepository {
  constructor(
    private readonly client: ClickHouseClient,
    private readonly database: string,
  ) {}

  async write(feed: string, edition: number, rows: readonly ScoredRow[], epoch: number): Promise<void> {
    const db = this.database;
    if (rows.length > 0) {
      await this.client.insert({ table: `${db}.digest_edition_posts`, ...(await rankedRows(rows, { feed, edition, epoch })) });
    }
    await this.client.insert({ table: `${db}.digest_edition_records`, values: [{ feed, edition, posts: rows.length, epoch }], format: 'JSONEachRow' });
  }

  /** The feed's editions, newest first (at most `limit`). */
  async list(feed: string, limit: number): Promise<EditionSummary[]> {
    const result = await this.client.query({
      query: `SELECT edition, posts, toUnixTimestamp64Milli(frozen_at) AS frozen_at_ms, epoch FROM ${this.database}.digest_edition_records FINAL
        WHERE feed = {feed:String} ORDER BY edition DESC LIMIT {limit:UInt32}`,
      query_params: { feed, limit },
      format: 'JSONEachRow',
    });
    return (await result.json<SummaryRow>()).map(summary);
  }

  /** One complete edition of the feed, if it exists. */
  async find(feed: string, edition: number): Promise<EditionSummary | undefined> {
    const result = await this.client.query({
      query: `SELECT edition, posts, toUnixTimestamp64Milli(frozen_at) AS frozen_at_ms, epoch FROM ${this.database}.digest_edition_records FINAL
        WHERE feed = {feed:String} AND edition = {edition:UInt64} LIMIT 1`,
      query_params: { feed, edition },
      format: 'JSONEachRow',
    });
    const [row] = await result.json<SummaryRow>();
    return row && summary(row);
  }

  /** The posts of one complete edition, in order. */
  async items(feed: string, edition: EditionSummary): Promise<EditionItem[]> {
    const result = await this.client.query({
      query: `SELECT rank, uri, cid, score, feed_context, components FROM ${this.database}.digest_edition_posts FINAL
        WHERE feed = {feed:String} AND edition = {edition:UInt64} AND rank <= {posts:UInt32}
        ORDER BY rank`,
      query_params: { feed, edition: edition.edition, posts: edition.posts },
      format: 'JSONCompactEachRow',
    });
    return (await result.json<RankedItemRow>()).map(rankedItem);
  }

  /** What the ranker needs of the stored editions: the latest one's cadence point and every post they served. */
  async history(feed: string): Promise<{ latestAt?: number; posts: Set<string> }> {
    const db = this.database;
    const result = await this.client.query({
      query: `SELECT e.uri FROM ${db}.digest_edition_posts AS e FINAL
        INNER JOIN (SELECT edition, posts FROM ${db}.digest_edition_records FINAL WHERE feed = {feed:String}) AS i
          ON e.edition = i.edition
        WHERE e.feed = {feed:String} AND e.rank <= i.posts`,
      query_params: { feed },
      format: 'JSONCompactEachRow',
    });
    const posts = new Set((await result.json<[string]>()).map(([uri]) => uri));
    const [latest] = await this.list(feed, 1);
    return { ...(latest && { latestAt: latest.edition }), posts };
  }
}

interface SummaryRow {
  edition: string;
  posts: number;
  frozen_at_ms: string;
  epoch: number;
}

const summary = (row: SummaryRow): EditionSummary => ({ edition: Number(row.edition), posts: Number(row.posts), frozenAtMs: Number(row.frozen_at_ms), epoch: Number(row.epoch) });
