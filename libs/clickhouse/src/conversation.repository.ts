import type { ClickHouseClient } from '@clickhouse/client';

/** Where a conversation's statements come from: the replies to and quotes of a root post, or a hashtag. */
export type StatementSource = { root: string } | { hashtag: string };

/** Kinds that are votes in a conversation: like = agree, requestLess = disagree, interactionSeen = pass. */
const VOTE_KINDS = ['like', 'requestLess', 'interactionSeen'];

/**
 * The reads and writes of deliberation: a conversation's statements, everyone's votes on them, and
 * its latest live report (JSON, one row per feed).
 */
export class ConversationRepository {
  constructor(
    private readonly client: ClickHouseClient,
    private readonly database: string,
  ) {}

  /** Live statements since `sinceUs`, oldest first, never by an inactive account. */
  async statements(source: StatementSource, sinceUs: number): Promise<{ uri: string; cid: string; author: string; timeUs: number }[]> {
    const db = this.database;
    const match =
      'root' in source
        ? `(reply_root = {root:String} OR quote = {root:String}) AND concat('at://', did, '/app.bsky.feed.post/', rkey) != {root:String}`
        : 'has(tags, {hashtag:String})';
    const result = await this.client.query({
      query: `SELECT concat('at://', did, '/app.bsky.feed.post/', rkey) AS uri, cid, did AS author, time_us
        FROM ${db}.posts FINAL
        WHERE deleted = 0 AND time_us >= {sinceUs:UInt64} AND ${match}
          AND did NOT IN (SELECT did FROM ${db}.accounts FINAL WHERE active = 0)
        ORDER BY time_us, uri`,
      query_params: { ...source, sinceUs },
      format: 'JSONCompactEachRow',
    });
    const rows = await result.json<[string, string, string, string]>();
    return rows.map(([uri, cid, author, timeUs]) => ({ uri, cid, author, timeUs: Number(timeUs) }));
  }

  /** Every vote on the statements, from anyone, oldest first. */
  async votes(statements: readonly string[]): Promise<{ actor: string; uri: string; kind: string; timeUs: number }[]> {
    if (statements.length === 0) return [];
    const result = await this.client.query({
      query: `SELECT actor, subject_uri, kind, time_us FROM ${this.database}.interactions FINAL
        WHERE deleted = 0 AND kind IN {kinds:Array(String)} AND subject_uri IN {statements:Array(String)}
        ORDER BY time_us, actor, subject_uri, kind`,
      query_params: { kinds: VOTE_KINDS, statements },
      format: 'JSONCompactEachRow',
    });
    const rows = await result.json<[string, string, string, string]>();
    return rows.map(([actor, uri, kind, timeUs]) => ({ actor, uri, kind, timeUs: Number(timeUs) }));
  }

  /** The statements `viewer` voted on already, among `statements`. */
  async votedBy(viewer: string, statements: readonly string[]): Promise<Set<string>> {
    if (statements.length === 0) return new Set();
    const result = await this.client.query({
      query: `SELECT DISTINCT subject_uri FROM ${this.database}.interactions FINAL
        WHERE actor = {viewer:String} AND deleted = 0 AND kind IN {kinds:Array(String)} AND subject_uri IN {statements:Array(String)}`,
      query_params: { viewer, kinds: VOTE_KINDS, statements },
      format: 'JSONCompactEachRow',
    });
    return new Set((await result.json<[string]>()).map(([uri]) => uri));
  }

  async writeReport(feed: string, computedAt: number, report: unknown): Promise<void> {
    await this.client.insert({
      table: `${this.database}.conversation_reports`,
      values: [{ feed, computed_at: computedAt, report: JSON.stringify(report) }],
      format: 'JSONEachRow',
    });
  }

  /** The latest report of a feed, as stored (JSON), or undefined before the first. */
  async latestReport(feed: string): Promise<unknown> {
    const result = await this.client.query({
      query: `SELECT report FROM ${this.database}.conversation_reports FINAL WHERE feed = {feed:String} LIMIT 1`,
      query_params: { feed },
      format: 'JSONCompactEachRow',
    });
    const [row] = await result.json<[string]>();
    return row ? (JSON.parse(row[0]) as unknown) : undefined;
  }
}
