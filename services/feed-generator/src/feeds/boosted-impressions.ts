import { Injectable } from '@nestjs/common';
import { boostOfContext } from '#lib/funding';
import { ImpressionRecorder } from './impression.recorder.js';

/**
 * Serving side of the Bridge Fund: records the boosted items of a page with the `feedContext` that
 * names their funds, so the ranker can charge those funds. It spends nothing itself: every replica
 * only reports what it served, and the ranker settles once from what ClickHouse holds.
 */
@Injectable()
export class BoostedImpressions {
  constructor(private readonly impressions: ImpressionRecorder) {}

  record(viewer: string | undefined, feed: string, items: readonly { post: string; feedContext?: string }[], reqId: string): void {
    if (!viewer) return;
    const boosted = items.filter((item): item is { post: string; feedContext: string } => boostOfContext(item.feedContext ?? null) !== undefined);
    if (boosted.length > 0) this.impressions.recordWithContext(viewer, feed, boosted, reqId);
  }
}
