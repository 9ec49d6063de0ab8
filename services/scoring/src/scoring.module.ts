import { Module } from '@nestjs/common';
import { BridgeFundStep } from './bridge-fund.step.js';
import { EventBatchConsumer } from './event-batch.consumer.js';
import { FeedbackBatchConsumer } from './feedback-batch.consumer.js';
import { LabelEmitter } from './label.emitter.js';
import { LabelerSubscriber } from './labeler.subscriber.js';
import { NotesStep } from './notes.step.js';
import { ScoreSnapshotJob } from './score-snapshot.job.js';

/** Bus → ClickHouse, and the score snapshots the feeds read. Needs `PlatformModule`. */
@Module({
  providers: [
    EventBatchConsumer,
    FeedbackBatchConsumer,
    ScoreSnapshotJob,
    BridgeFundStep,
    LabelEmitter,
    LabelerSubscriber,
    NotesStep,
  ],
  exports: [NotesStep, LabelerSubscriber, EventBatchConsumer, FeedbackBatchConsumer, ScoreSnapshotJob],
})
export class ScoringModule {}
