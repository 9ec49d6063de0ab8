import type { ClickHouseClient } from '@clickhouse/client';
import { inactiveAccounts } from './account-status.js';

/** Where a conversation's statements come from: the direct replies to and quotes of a root post, or a hashtag. */
export type StatementSource = { root: string } | { hashtag: string };

/**
 * A conversation's votes: like = agree, requestLess = disagree, interactionSeen = pass. A like is a
 * public record and agrees wherever it is made; a `requestLess` or `interactionSeen` is a vote when
 * the client handed back the context the conversation's statements are served with (kept in
 * `conversation_votes`, with the context every conversation shared before, `''`), or none (a
 * client that hands none back), and not when it came from another of our feeds. `{where}` narrows
 * both sources alike.
 */
const votesOf = (db: string, where: string) => `
  SELECT actor, subject_uri AS statement, kind, time_us FROM ${db}.interactions FINAL
  WHERE deleted = 0 AND (kind = 'like' OR (kind IN ('requestLess', 'interactionSeen') AND feed_context = '')) AND ${where.replaceAll('{statement}', 'subject_uri')}
  UNION ALL
  SELECT actor, statement, kind, time_us FROM ${db}.conversation_votes FINAL
  WHERE conversation IN ('', {conversation:String}) AND ${where.replaceAll('{statement}', 'statement')}`;
/**
 * Statements a conversation counts at most: its first ones. A hashtag anyone may post with, or a
 * root post that draws a flood of replies, costs no more than this, and a flood of later posts
 * displaces none of the statements people are voting on. (Polis conversations hold hundreds.)
 */
export const MAX_STATEMENTS = 5_000;

/**
 * The reads and writes of deliberation: a conversation's statements, everyone's votes on them, and
 * its latest live report (JSON, one row per feed).
 */
export class ConversationRepository {
  constructor(
    private readonly client: ClickHouseClient,
    private readonly database: string,
  ) {}

  /** Live statements since `sinceUs`, oldest first (the first `MAX_STATEMENTS`), never by an inactive account. */
  async statements(source: StatementSource, sinceUs: number): Promise<{ uri: string; cid: string; author: string; timeUs: number }[]> {
    const result = await this.client.query({
      query: this.statementsQuery(source),
      query_params: { ...source, sinceUs, maxStatements: MAX_STATEMENTS },
      format: 'JSONCompactEachRow',
    });
    const rows = await result.json<[string, string, string, string]>();
    return rows.map(([uri, cid, author, timeUs]) => ({ uri, cid, author, timeUs: Number(timeUs) }));
  }

  /**
   * Every vote, from anyone whose account is active, on the statements `statements` reads (the same
   * query inside this one: thousands of URIs would not fit a URL's parameters), oldest first.
   */
  async votes(conversation: string, source: StatementSource, sinceUs: number): Promise<{ actor: string; uri: string; kind: string; timeUs: number }[]> {
    const db = this.database;
    const result = await this.client.query({
      query: `SELECT actor, statement, kind, time_us FROM (${votesOf(db, `{statement} IN (SELECT uri FROM (${this.statementsQuery(source)}))`)})
        WHERE actor NOT IN (${inactiveAccounts(db)})
        ORDER BY time_us, actor, statement, kind`,
      query_params: { ...source, sinceUs, maxStatements: MAX_STATEMENTS, conversation },
      format: 'JSONCompactEachRow',
    });
    const rows = await result.json<[string, string, string, string]>();
    return rows.map(([actor, uri, kind, timeUs]) => ({ actor, uri, kind, timeUs: Number(timeUs) }));
  }

  private statementsQuery(source: StatementSource): string {
    const db = this.database;
    const match =
      'root' in source
        ? // The root's own replies: a reply's root is the top of its whole thread, which the root need not be.
          `(reply_parent = {root:String} OR quote = {root:String}) AND concat('at://', did, '/app.bsky.feed.post/', rkey) != {root:String}`
        : 'has(tags, {hashtag:String})';
    return `SELECT concat('at://', did, '/app.bsky.feed.post/', rkey) AS uri, cid, did AS author, time_us
        FROM ${db}.posts FINAL
        WHERE deleted = 0 AND time_us >= {sinceUs:UInt64} AND ${match}
          AND did NOT IN (${inactiveAccounts(db)})
        ORDER BY time_us, uri LIMIT {maxStatements:UInt32}`;
  }

  /** The statements `viewer` voted on already in `conversation`, among `statements`. */
  async votedBy(conversation: string, viewer: string, statements: readonly string[]): Promise<Set<string>> {
    if (statements.length === 0) return new Set();
    const result = await this.client.query({
      query: `SELECT DISTINCT statement FROM (${votesOf(this.database, `actor = {viewer:String} AND {statement} IN {statements:Array(String)}`)})`,
      query_params: { viewer, statements, conversation },
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
