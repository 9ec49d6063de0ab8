import type { ClickHouseClient } from '@clickhouse/client';
import { inactiveAccountsAmong } from './account-status.js';
import { DidSetStore, type DidList } from './did-set.store.js';
import { forEachRow } from './each-row.js';
import { inShares } from './query-shares.js';

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

interface RecentPostsQuery {
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

  /**
   * Newest live posts by the given authors whose accounts are active, newest first.
   * @NOTE Two reads, because `FINAL` cannot use the time-ordered projection (`posts_by_time`): the
   * projection, read backwards from the cursor, yields the newest candidate rows of any version;
   * then `FINAL` on their (did, rkey) keys keeps those that are still the live version. A deep page
   * of a million posts costs a few granules instead of a merge of every post by the authors. When
   * deletions or edits thin a batch out, the next batch continues from where it stopped.
   */
  async recentByAuthors(query: RecentPostsQuery): Promise<PostRef[]> {
    if (query.authors.length === 0 || query.limit <= 0) return [];
    const authors = await this.didSets.bind('authors', query.authors);
    const batch = query.limit + Math.ceil(query.limit / 4) + 8;
    const page: PostRef[] = [];
    let before = query.before ?? { timeUs: Number.MAX_SAFE_INTEGER, cid: '' };
    for (;;) {
      const candidates = await this.candidates(authors, { ...query, before }, batch);
      const live = await this.liveVersions(candidates);
      const seen = new Set<string>();
      for (const candidate of candidates) {
        const current = live.get(candidate.uri);
        if (seen.has(candidate.uri) || !current || current.cid !== candidate.cid || current.timeUs !== candidate.timeUs) continue;
        if (!query.includeReplies && current.isReply) continue;
        seen.add(candidate.uri);
        page.push(candidate);
        if (page.length === query.limit) return page;
      }
      // A short batch means the authors have no older posts.
      if (candidates.length < batch) return page;
      const last = candidates[candidates.length - 1]!;
      before = { timeUs: last.timeUs, cid: last.cid };
    }
  }

  /**
   * Whether any post of the authors was stored since `storedSinceUs` with a time in
   * [`sinceUs`, `beforeUs`): one that arrived late (a backfill, ingest catching up), which a read
   * by time since `beforeUs` does not see. Any version of the row will do, so no `FINAL`.
   */
  async storedLate(query: { authors: readonly string[]; includeReplies: boolean; storedSinceUs: number; sinceUs: number; beforeUs: number }): Promise<boolean> {
    if (query.authors.length === 0) return false;
    const authors = await this.didSets.bind('authors', query.authors);
    const result = await this.client.query({
      query: `SELECT 1 FROM ${this.database}.posts
        WHERE did IN (${authors.sql})
          AND stored_us >= {storedSinceUs:UInt64}
          AND time_us >= {sinceUs:UInt64} AND time_us < {beforeUs:UInt64}
          AND deleted = 0
          AND ({includeReplies:UInt8} = 1 OR reply_parent = '')
        LIMIT 1`,
      query_params: {
        authors: authors.value,
        storedSinceUs: Math.max(0, Math.floor(query.storedSinceUs)),
        sinceUs: Math.max(0, Math.floor(query.sinceUs)),
        beforeUs: Math.max(0, Math.floor(query.beforeUs)),
        includeReplies: query.includeReplies ? 1 : 0,
      },
      format: 'JSONCompactEachRow',
    });
    return (await result.json<[number]>()).length > 0;
  }

  /**
   * The newest `limit` live posts of the authors (accounts active) since `sinceUs`, given to
   * `onPost` newest first as they are read, each as the parts of its URI (`<prefix>/<rkey>`), its
   * CID and time: the bulk read that fills a feed's timeline in memory, which `recentByAuthors`
   * then keeps up to date. One `FINAL` read of the authors' posts, streamed (a window is up to a
   * million posts); each row carries the author's DID, and its URI prefix is made once an author.
   * Returns the number of posts.
   */
  async readTimeline(query: Omit<RecentPostsQuery, 'before'>, onPost: (prefix: string, rkey: string, cid: string, timeUs: number) => void): Promise<number> {
    if (query.authors.length === 0 || query.limit <= 0) return 0;
    const authors = await this.didSets.bind('authors', query.authors);
    const db = this.database;
    const prefixes = new Map<string, string>();
    return forEachRow<[string, string, string, string]>(
      this.client,
      {
        query: `SELECT did, rkey, cid, time_us
          FROM ${db}.posts FINAL
          WHERE did IN (${authors.sql})
            AND deleted = 0
            AND ({includeReplies:UInt8} = 1 OR reply_parent = '')
            AND time_us >= {sinceUs:UInt64}
            AND did NOT IN (${inactiveAccountsAmong(db, authors.sql)})
          ORDER BY time_us DESC, cid DESC
          LIMIT {limit:UInt32}`,
        query_params: { authors: authors.value, includeReplies: query.includeReplies ? 1 : 0, sinceUs: query.sinceUs ?? 0, limit: query.limit },
      },
      ([did, rkey, cid, timeUs]) => {
        let prefix = prefixes.get(did);
        if (prefix === undefined) prefixes.set(did, (prefix = `at://${did}/app.bsky.feed.post`));
        onPost(prefix, rkey, cid, Number(timeUs));
      },
    );
  }

  /** Rows of any version below `before`, newest first in (time, cid) order: the projection's order, read backwards. */
  private async candidates(authors: DidList, query: RecentPostsQuery & { before: { timeUs: number; cid: string } }, limit: number): Promise<PostRef[]> {
    const db = this.database;
    const result = await this.client.query({
      query: `SELECT concat('at://', did, '/app.bsky.feed.post/', rkey) AS uri, cid, time_us
        FROM ${db}.posts
        WHERE did IN (${authors.sql})
          AND deleted = 0
          AND ({includeReplies:UInt8} = 1 OR reply_parent = '')
          AND time_us >= {sinceUs:UInt64}
          AND time_us <= {beforeUs:UInt64}
          AND (time_us, cid) < ({beforeUs:UInt64}, {beforeCid:String})
          AND did NOT IN (${inactiveAccountsAmong(db, authors.sql)})
        ORDER BY time_us DESC, cid DESC
        LIMIT {limit:UInt32}`,
      query_params: {
        authors: authors.value,
        includeReplies: query.includeReplies ? 1 : 0,
        sinceUs: query.sinceUs ?? 0,
        beforeUs: query.before.timeUs,
        beforeCid: query.before.cid,
        limit,
      },
      format: 'JSONEachRow',
    });
    const rows = await result.json<{ uri: string; cid: string; time_us: string }>();
    return rows.map((row) => ({ uri: row.uri, cid: row.cid, timeUs: Number(row.time_us) }));
  }

  /** The live version of each of the given posts (deleted posts are absent), by URI. */
  private async liveVersions(posts: readonly PostRef[]): Promise<Map<string, { cid: string; timeUs: number; isReply: boolean }>> {
    const rows = await this.liveRows<{ uri: string; cid: string; time_us: string; reply_parent: string }>(
      posts.map((post) => post.uri),
      ['cid', 'time_us', 'reply_parent'],
    );
    return new Map(rows.map((row) => [row.uri, { cid: row.cid, timeUs: Number(row.time_us), isReply: row.reply_parent !== '' }]));
  }

  /**
   * What the store knows of each of `uris`, in one read: the CID of a live post, or null for one
   * that is gone (deleted, or by an account deactivated, taken down or deleted). A post the store
   * never held is absent, unless its author's account is inactive.
   */
  async states(uris: readonly string[]): Promise<Map<string, string | null>> {
    const keys = postKeys(uris);
    const rows = await inShares(keys, async (share) => {
      const dids = [...new Set(share.map((key) => key.did))];
      const result = await this.client.query({
        query: `SELECT concat('at://', did, '/app.bsky.feed.post/', rkey) AS uri, argMax(cid, version) AS cid, argMax(deleted, version) = 1 AS gone
            FROM ${this.database}.posts
            WHERE did IN {dids:Array(String)} AND rkey IN {rkeys:Array(String)}
            GROUP BY did, rkey
          UNION ALL
          SELECT did AS uri, '' AS cid, true AS gone FROM (${inactiveAccountsAmong(this.database, 'SELECT arrayJoin({dids:Array(String)})')})`,
        query_params: { dids, rkeys: [...new Set(share.map((key) => key.rkey))] },
        format: 'JSONEachRow',
      });
      return result.json<{ uri: string; cid: string; gone: boolean | number }>();
    });
    const found = new Map(rows.map((row) => [row.uri, row.gone ? null : row.cid]));
    const states = new Map<string, string | null>();
    for (const key of keys) {
      const state = found.has(key.did) ? null : found.get(key.uri);
      if (state !== undefined) states.set(key.uri, state);
    }
    return states;
  }

  /**
   * Text and time of the given posts (at most a page of them), by URI, as the public pages show
   * them; posts deleted, unknown, or by an account deactivated, taken down or deleted are absent.
   */
  async summaries(uris: readonly string[]): Promise<Map<string, PostSummary>> {
    const rows = await this.liveRows<{ uri: string; text: string; time_us: string }>(uris, ['text', 'time_us']);
    return new Map(rows.map((row) => [row.uri, { uri: row.uri, text: row.text, timeUs: Number(row.time_us) }]));
  }

  /** Which of the given posts (at most a request's worth) are live in the store and seen since `sinceUs`. */
  async liveSince(uris: readonly string[], sinceUs: number): Promise<Set<string>> {
    const rows = await this.liveRows<{ uri: string; time_us: string }>(uris, ['time_us']);
    return new Set(rows.filter((row) => Number(row.time_us) >= sinceUs).map((row) => row.uri));
  }

  /**
   * The given columns of the live version of each post named by URI (a share of them a query):
   * not deleted, and its author's account active. An account deactivated, taken down or deleted
   * takes its posts with it, from the pages that show their text (a digest's past editions, a
   * conversation's report) as from the feeds; they come back if it is reactivated.
   * @NOTE The newest version by `argMax(…, version)` is what `FINAL` keeps in a
   * ReplacingMergeTree(version), at a third of the cost for a handful of keys.
   */
  private async liveRows<Row extends { uri: string }>(uris: readonly string[], columns: readonly (keyof Row & string)[]): Promise<Row[]> {
    const keys = postKeys(uris);
    // Filtering on the sort key (did, rkey) reads only the granules of these authors.
    const rows = await inShares(keys, async (share) => {
      const result = await this.client.query({
        query: `SELECT concat('at://', did, '/app.bsky.feed.post/', rkey) AS uri, ${columns.map((column) => `argMax(${column}, version) AS ${column}`).join(', ')}
          FROM ${this.database}.posts
          WHERE did IN {dids:Array(String)} AND rkey IN {rkeys:Array(String)}
            AND did NOT IN (${inactiveAccountsAmong(this.database, 'SELECT arrayJoin({dids:Array(String)})')})
          GROUP BY did, rkey
          HAVING argMax(deleted, version) = 0`,
        query_params: { dids: [...new Set(share.map((key) => key.did))], rkeys: [...new Set(share.map((key) => key.rkey))] },
        format: 'JSONEachRow',
      });
      return result.json<Row>();
    });
    const wanted = new Set(keys.map((key) => key.uri));
    return rows.filter((row) => wanted.has(row.uri));
  }
}

/** The author and record key of each post URI (others left out). */
function postKeys(uris: readonly string[]): { uri: string; did: string; rkey: string }[] {
  return uris.flatMap((uri) => {
    const match = /^at:\/\/([^/]+)\/app\.bsky\.feed\.post\/([^/]+)$/.exec(uri);
    return match ? [{ uri, did: match[1]!, rkey: match[2]! }] : [];
  });
}
