import type { ClickHouseClient } from '@clickhouse/client';

export interface PostRef {
  uri: string;
  cid: string;
  /** When the network saw the post (Jetstream `time_us`). */
  timeUs: number;
}

export interface RecentPostsQuery {
  authors: readonly string[];
  /** Exclusive upper bound in (time, cid) order: the last item of the previous page. */
  before?: { timeUs: number; cid: string };
  limit: number;
  includeReplies: boolean;
  /** Only posts newer than this (unix µs). */
  sinceUs?: number;
}

export class PostRepository {
  constructor(
    private readonly client: ClickHouseClient,
    private readonly database: string,
  ) {}

  /** Newest live posts by the given authors whose accounts are active, newest first. */
  async recentByAuthors(query: RecentPostsQuery): Promise<PostRef[]> {
    if (query.authors.length === 0) return [];
    const db = this.database;
    const result = await this.client.query({
      query: `SELECT concat('at://', did, '/app.bsky.feed.post/', rkey) AS uri, cid, time_us
        FROM ${db}.posts FINAL
        WHERE did IN {authors:Array(String)}
          AND deleted = 0
          AND ({includeReplies:UInt8} = 1 OR reply_parent = '')
          AND time_us >= {sinceUs:UInt64}
          AND (time_us, cid) < ({beforeUs:UInt64}, {beforeCid:String})
          AND did NOT IN (SELECT did FROM ${db}.accounts FINAL WHERE active = 0)
        ORDER BY time_us DESC, cid DESC
        LIMIT {limit:UInt32}`,
      query_params: {
        authors: query.authors,
        includeReplies: query.includeReplies ? 1 : 0,
        sinceUs: query.sinceUs ?? 0,
        beforeUs: query.before?.timeUs ?? Number.MAX_SAFE_INTEGER,
        beforeCid: query.before?.cid ?? '',
        limit: query.limit,
      },
      format: 'JSONEachRow',
    });
    const rows = await result.json<{ uri: string; cid: string; time_us: string }>();
    return rows.map((row) => ({ uri: row.uri, cid: row.cid, timeUs: Number(row.time_us) }));
  }
}
