import type { ClickHouseClient } from '@clickhouse/client';
import { DidSetStore } from './did-set.store.js';

export interface PostRef {
  uri: string;
  cid: string;
  /** When the network saw the post (Jetstream `time_us`). */
  timeUs: number;
}

/** What a curator sees of a post in the console. */
export interface PostSummary {
  uri: string;
  text: string;
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
  private readonly didSets: DidSetStore;

  constructor(
    private readonly client: ClickHouseClient,
    private readonly database: string,
  ) {
    this.didSets = DidSetStore.of(client, database);
  }

  /** Newest live posts by the given authors whose accounts are active, newest first. */
  async recentByAuthors(query: RecentPostsQuery): Promise<PostRef[]> {
    if (query.authors.length === 0) return [];
    const db = this.database;
    const authors = await this.didSets.bind('authors', query.authors);
    const result = await this.client.query({
      query: `SELECT concat('at://', did, '/app.bsky.feed.post/', rkey) AS uri, cid, time_us
        FROM ${db}.posts FINAL
        WHERE did IN (${authors.sql})
          AND deleted = 0
          AND ({includeReplies:UInt8} = 1 OR reply_parent = '')
          AND time_us >= {sinceUs:UInt64}
          AND (time_us, cid) < ({beforeUs:UInt64}, {beforeCid:String})
          AND did NOT IN (SELECT did FROM ${db}.accounts FINAL WHERE active = 0)
        ORDER BY time_us DESC, cid DESC
        LIMIT {limit:UInt32}`,
      query_params: {
        authors: authors.value,
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

  /** Text and time of the given posts (at most a page of them), by URI; deleted or unknown posts are absent. */
  async summaries(uris: readonly string[]): Promise<Map<string, PostSummary>> {
    const keys = uris.flatMap((uri) => {
      const match = /^at:\/\/([^/]+)\/app\.bsky\.feed\.post\/([^/]+)$/.exec(uri);
      return match ? [{ uri, did: match[1]!, rkey: match[2]! }] : [];
    });
    if (keys.length === 0) return new Map();
    // Filtering on the sort key (did, rkey) reads only the granules of these authors.
    const result = await this.client.query({
      query: `SELECT concat('at://', did, '/app.bsky.feed.post/', rkey) AS uri, text, time_us
        FROM ${this.database}.posts FINAL
        WHERE did IN {dids:Array(String)} AND rkey IN {rkeys:Array(String)} AND deleted = 0`,
      query_params: { dids: [...new Set(keys.map((key) => key.did))], rkeys: [...new Set(keys.map((key) => key.rkey))] },
      format: 'JSONEachRow',
    });
    const wanted = new Set(keys.map((key) => key.uri));
    const rows = await result.json<{ uri: string; text: string; time_us: string }>();
    return new Map(rows.filter((row) => wanted.has(row.uri)).map((row) => [row.uri, { uri: row.uri, text: row.text, timeUs: Number(row.time_us) }]));
  }
}
