import type { Metrics } from '#lib/platform';
import type { NotesStats } from './notes.step.js';
import type { SnapshotStats } from './score-snapshot.job.js';
import type { ConsumerStats } from './topic-writer.consumer.js';

/** Copies a consumer's totals into the metrics at scrape time, labelled by topic; returns the function that stops it. */
export function collectConsumerMetrics(metrics: Metrics, topic: string, stats: ConsumerStats): () => void {
  return metrics.collect(`scoring ${topic}`, () => {
    metrics.setTotal(metrics.scoringConsumed, { topic }, stats.consumed);
    metrics.setTotal(metrics.scoringWritten, { topic }, stats.written);
    metrics.setTotal(metrics.scoringDeadLettered, { topic }, stats.deadLettered);
    metrics.setTotal(metrics.scoringFailedBatches, { topic }, stats.failedBatches);
  });
}

/** Snapshot runs, failures and durations, by feed short name (the last segment of the feed URI), and the notes step's failures. */
export function collectSnapshotMetrics(metrics: Metrics, stats: SnapshotStats, notes: NotesStats): () => void {
  return metrics.collect('score snapshots', () => {
    metrics.setTotal(metrics.snapshotRuns, {}, stats.runs);
    metrics.setTotal(metrics.snapshotFailures, {}, stats.failures);
    metrics.setTotal(metrics.notesFailures, {}, notes.failures);
    metrics.setTotal(metrics.fundStepFailures, {}, stats.fundFailures);
    if (stats.runs > 0) metrics.snapshotRunDuration.set(stats.lastRunMs / 1000);
    for (const [feed, run] of stats.lastByFeed) metrics.snapshotFeedDuration.set({ feed: feed.slice(feed.lastIndexOf('/') + 1) }, run.ms / 1000);
    metrics.communityTooLarge.reset();
    for (const community of stats.communitiesTooLarge) metrics.communityTooLarge.set({ community }, 1);
    for (const [feed, failures] of stats.feedFailures) metrics.setTotal(metrics.snapshotFeedFailures, { feed: feed.slice(feed.lastIndexOf('/') + 1) }, failures);
  });
}
