import type { ClickHouseClient } from '@clickhouse/client';
import type { FeedbackEventV1 } from '#lib/contracts';
import { conversationOfVote, VOTE_CONTEXT, voteContext } from '#lib/bridging';
import { boostOfContext } from '#lib/funding';

/** What one viewer told the feeds and was served, newest first: what their personal order starts from. */
export interface ViewerHistory {
  /** `requestLess`, `requestMore` and `interactionSeen`, with the `feedContext` a request came with. */
  signals: { kind: 'requestLess' | 'requestMore' | 'interactionSeen'; post: string; timeUs: number; feedContext: string }[];
  /** Posts served to the viewer. */
  impressions: { post: string; timeUs: number }[];
}

/** The `sendInteractions` kinds a viewer's own feed answers to. */
const PERSONAL_KINDS = ['requestLess', 'requestMore', 'interactionSeen'];
/** Kinds whose `feedContext` is kept: it names the communities a `requestMore` asked more of, and whether a `requestLess` was a conversation's vote. */
const CONTEXT_KINDS = new Set(['requestLess', 'requestMore']);
/**
 * What an `interactionSeen` keeps of its `feedContext` (most of them are not votes, and it is the
 * most frequent kind): the vote's context, `-` when it came from another of our feeds, or nothing.
 */
const SEEN_CONTEXT = { vote: VOTE_CONTEXT, elsewhere: '-', unknown: '' } as const;
/** The kinds that are a conversation's votes with a vote's context: disagree and pass. */
const VOTE_KINDS = new Set(['requestLess', 'interactionSeen']);

/**
 * Writes viewer feedback: interactions from `sendInteractions` into `interactions` (one row per
 * viewer, post and event kind, the latest kept), a conversation's votes besides into
 * `conversation_votes` (one row per conversation, viewer, statement and kind), and served impressions into `impressions` (and,
 * for boosted items, into `fund_charges`, which the ranker settles the funds from).
 */
export class FeedbackRepository {
  constructor(
    private readonly client: ClickHouseClient,
    private readonly database: string,
  ) {}

  async write(events: readonly FeedbackEventV1[]): Promise<void> {
    const impressions: object[] = [];
    const interactions: object[] = [];
    const fundCharges: object[] = [];
    const votes: object[] = [];
    for (const event of events) {
      if (event.event === 'impression') {
        impressions.push({ viewer: event.viewer, post: event.item, feed: event.feed ?? '', time_us: event.timeUs });
        // A boosted item's context names the funds that raised it: each is charged its share.
        const boost = boostOfContext(event.feedContext);
        if (boost) fundCharges.push({ epoch: boost.epoch, post: event.item, viewer: event.viewer, funds: boost.funds, feed: event.feed ?? '', time_us: event.timeUs });
      } else {
        // A conversation's disagree or pass, kept apart: a later signal from another feed replaces the row below.
        const conversation = VOTE_KINDS.has(event.event) ? conversationOfVote(event.feedContext) : undefined;
        if (conversation !== undefined) {
          votes.push({ conversation, actor: event.viewer, statement: event.item, kind: event.event, time_us: event.timeUs, version: event.timeUs });
        }
        interactions.push({
          actor: event.viewer,
          kind: event.event,
          rkey: event.item,
          subject_uri: event.item,
          subject_did: event.item.slice(5).split('/')[0] ?? '',
          time_us: event.timeUs,
          deleted: 0,
          version: event.timeUs,
          feed_context: CONTEXT_KINDS.has(event.event) ? (event.feedContext ?? '') : event.event === 'interactionSeen' ? SEEN_CONTEXT[voteContext(event.feedContext)] : '',
        });
      }
    }
    if (interactions.length > 0) {
      await this.client.insert({ table: `${this.database}.interactions`, values: interactions, format: 'JSONEachRow' });
    }
    if (votes.length > 0) {
      await this.client.insert({ table: `${this.database}.conversation_votes`, values: votes, format: 'JSONEachRow' });
    }
    if (impressions.length > 0) {
      await this.client.insert({ table: `${this.database}.impressions`, values: impressions, format: 'JSONEachRow' });
    }
    if (fundCharges.length > 0) {
      await this.client.insert({ table: `${this.database}.fund_charges`, values: fundCharges, format: 'JSONEachRow' });
    }
  }

  /**
   * A viewer's feedback and impressions since `sinceUs`, at most `limit` of each kind, newest first;
   * each post with the earliest time still stored. Per kind: a client reports every post it shows
   * as seen, and a viewer's `requestLess` must outlive a thousand posts seen after it.
   */
  async viewerHistory(viewer: string, sinceUs: number, limit: number): Promise<ViewerHistory> {
    return (await this.viewerHistories([viewer], sinceUs, limit)).get(viewer)!;
  }

  /**
   * The histories of several viewers in two reads (as `viewerHistory` gives each), every viewer
   * present. Reads those viewers' own rows only: `interactions` is sorted by actor, `impressions`
   * read through its projection sorted by viewer.
   */
  async viewerHistories(viewers: readonly string[], sinceUs: number, limit: number): Promise<Map<string, ViewerHistory>> {
    const histories = new Map<string, ViewerHistory>(viewers.map((viewer) => [viewer, { signals: [], impressions: [] }]));
    if (viewers.length === 0) return histories;
    const db = this.database;
    const [signals, impressions] = await Promise.all([
      this.client.query({
        query: `SELECT actor, kind, subject_uri, min(time_us) AS t, argMin(feed_context, time_us) FROM ${db}.interactions
          WHERE actor IN {viewers:Array(String)} AND kind IN {kinds:Array(String)} AND deleted = 0 AND time_us >= {sinceUs:UInt64}
          GROUP BY actor, kind, subject_uri ORDER BY actor, t DESC, subject_uri LIMIT {limit:UInt32} BY actor, kind`,
        query_params: { viewers, kinds: PERSONAL_KINDS, sinceUs, limit },
        format: 'JSONCompactEachRow',
      }),
      this.client.query({
        query: `SELECT viewer, post, min(time_us) AS t FROM ${db}.impressions
          WHERE viewer IN {viewers:Array(String)} AND time_us >= {sinceUs:UInt64}
          GROUP BY viewer, post ORDER BY viewer, t DESC, post LIMIT {limit:UInt32} BY viewer`,
        query_params: { viewers, sinceUs, limit },
        format: 'JSONCompactEachRow',
      }),
    ]);
    for (const [viewer, kind, post, timeUs, feedContext] of await signals.json<[string, ViewerHistory['signals'][number]['kind'], string, string, string]>()) {
      histories.get(viewer)?.signals.push({ kind, post, timeUs: Number(timeUs), feedContext });
    }
    for (const [viewer, post, timeUs] of await impressions.json<[string, string, string]>()) {
      histories.get(viewer)?.impressions.push({ post, timeUs: Number(timeUs) });
    }
    return histories;
  }

  /** True when ClickHouse answers a query now. */
  async ping(): Promise<boolean> {
    const result = await this.client.ping();
    return result.success;
  }
}
