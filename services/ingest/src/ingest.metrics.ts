import { wantedCollections } from '#lib/domain';
import { secondsBehind, type Metrics } from '#lib/platform';
import type { IngestStats } from './ingest.stats.js';

/** Label values a received event may carry; anything else is counted as `other` (labels stay few). */
const knownCollections = new Set<string>([...wantedCollections, 'identity', 'account']);

/** Copies the ingest totals into the metrics at scrape time; returns the function that stops it. */
export function collectIngestMetrics(metrics: Metrics, stats: IngestStats): () => void {
  return metrics.collect('ingest', () => {
    // Every known collection from the start, so dashboards show zeros rather than no data.
    const received = new Map<string, number>([...knownCollections].map((collection) => [collection, 0]));
    for (const [collection, count] of stats.receivedByCollection) {
      const label = knownCollections.has(collection) ? collection : 'other';
      received.set(label, (received.get(label) ?? 0) + count);
    }
    for (const [collection, count] of received) metrics.setTotal(metrics.ingestReceived, { collection }, count);
    for (const [type, count] of stats.publishedByType) metrics.setTotal(metrics.ingestPublished, { type }, count);
    for (const [reason, count] of stats.malformedByReason) metrics.setTotal(metrics.ingestMalformed, { reason }, count);
    metrics.setTotal(metrics.ingestSkipped, {}, stats.skipped);
    metrics.setTotal(metrics.ingestBatches, {}, stats.batches);
    metrics.setTotal(metrics.jetstreamGaps, {}, stats.gaps);
    metrics.jetstreamConnected.set(stats.connected ? 1 : 0);
    const now = Date.now();
    const receivedLag = secondsBehind(stats.receivedUs, now);
    const checkpointLag = secondsBehind(stats.checkpointUs, now);
    if (receivedLag !== undefined) metrics.jetstreamLag.set({ position: 'received' }, receivedLag);
    if (checkpointLag !== undefined) metrics.jetstreamLag.set({ position: 'checkpoint' }, checkpointLag);
  });
}
