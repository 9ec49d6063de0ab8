import type { ClickHouseClient } from '@clickhouse/client';
import type { FeedbackEventV1 } from '#lib/contracts';
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
/** Kinds whose `feedContext` is kept: it names the communities a `requestMore` asked more of. */
const CONTEXT_KINDS = new Set(['requestLess', 'requestMore']);

/**
 * Writes viewer feedback: interactions from `sendInteractions` into `interactions` (one row per
 * viewer, post and event kind, the latest kept) and served impressions into `impressions` (and,
 * for boosted items, into `fund_impressions`, which the ranker settles the funds from).
 */
export class FeedbackRepository {
  constructor(
    private readonly client: ClickHouseClient,
    private readonly database: string,
  ) {}

  async write(events: readonly FeedbackEventV1[]): Promise<void> {
    const impressions: object[] = [];
    const interactions: object[] = [];
    const fundImpressions: object[] = [];
    for (const event of events) {
      if (event.event === 'impression') {
        impressions.push({ viewer: event.viewer, post: event.item, feed: event.feed ?? '', time_us: event.timeUs });
        // A boosted item's context names the funds that raised it: each is charged its share.
        const boost = boostOfContext(event.feedContext);
        for (const community of boost?.funds ?? []) {
          fundImpressions.push({ community, epoch: boost!.epoch, post: event.item, viewer: event.viewer, feed: event.feed ?? '', weight: 1 / boost!.funds.length, time_us: event.timeUs });
        }
      } else {
        interactions.push({
          actor: event.viewer,
          kind: event.event,
          rkey: event.item,
          subject_uri: event.item,
          subject_did: event.item.slice(5).split('/')[0] ?? '',
          time_us: event.timeUs,
          deleted: 0,
          version: event.timeUs,
          feed_context: CONTEXT_KINDS.has(event.event) ? (event.feedContext ?? '') : '',
        });
      }
    }
    if (interactions.length > 0) {
      await this.client.insert({ table: `${this.database}.interactions`, values: interactions, format: 'JSONEachRow' });
    }
    if (impressions.length > 0) {
      await this.client.insert({ table: `${this.database}.impressions`, values: impressions, format: 'JSONEachRow' });
    }
    if (fundImpressions.length > 0) {
      await this.client.insert({ table: `${this.database}.fund_impressions`, values: fundImpressions, format: 'JSONEachRow' });
    }
  }

  /**
   * A viewer's feedback and impressions since `sinceUs`, at most `limit` of each, newest first; each
   * post with the earliest time still stored. Reads the viewer's own rows only: `interactions` is
   * sorted by actor, `impressions` read through its projection sorted by viewer.
   */
  async viewerHistory(viewer: string, sinceUs: number, limit: number): Promise<ViewerHistory> {
    const db = this.database;
    const [signals, impressions] = await Promise.all([
      this.client.query({
        query: `SELECT kind, subject_uri, min(time_us) AS t, argMin(feed_context, time_us) FROM ${db}.interactions
          WHERE actor = {viewer:String} AND kind IN {kinds:Array(String)} AND deleted = 0 AND time_us >= {sinceUs:UInt64}
          GROUP BY kind, subject_uri ORDER BY t DESC LIMIT {limit:UInt32}`,
        query_params: { viewer, kinds: PERSONAL_KINDS, sinceUs, limit },
        format: 'JSONCompactEachRow',
      }),
      this.client.query({
        query: `SELECT post, min(time_us) AS t FROM ${db}.impressions
          WHERE viewer = {viewer:String} AND time_us >= {sinceUs:UInt64}
          GROUP BY post ORDER BY t DESC LIMIT {limit:UInt32}`,
        query_params: { viewer, sinceUs, limit },
        format: 'JSONCompactEachRow',
      }),
    ]);
    const signalRows = await signals.json<[ViewerHistory['signals'][number]['kind'], string, string, string]>();
    const impressionRows = await impressions.json<[string, string]>();
    return {
      signals: signalRows.map(([kind, post, timeUs, feedContext]) => ({ kind, post, timeUs: Number(timeUs), feedContext })),
      impressions: impressionRows.map(([post, timeUs]) => ({ post, timeUs: Number(timeUs) })),
    };
  }

  /** True when ClickHouse answers a query now. */
  async ping(): Promise<boolean> {
    const result = await this.client.ping();
    return result.success;
  }
}
