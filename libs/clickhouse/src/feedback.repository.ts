import type { ClickHouseClient } from '@clickhouse/client';
import type { FeedbackEventV1 } from '#lib/contracts';
import { boostOfContext } from '#lib/funding';

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

  /** True when ClickHouse answers a query now. */
  async ping(): Promise<boolean> {
    const result = await this.client.ping();
    return result.success;
  }
}
