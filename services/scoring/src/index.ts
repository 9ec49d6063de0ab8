// Scoring's public surface for tools beside the product (eval/, bench/, tests).
export { ScoreSnapshotJob, type SnapshotRun } from './score-snapshot.job.js';
export { EventBatchConsumer } from './event-batch.consumer.js';
