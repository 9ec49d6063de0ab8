import { Module } from '@nestjs/common';
import type { AppConfig } from '#lib/config';
import type { MessageBus } from '#lib/contracts';
import { APP_CONFIG, LOGGER, MESSAGE_BUS, type Logger } from '#lib/platform';
import { BridgeFundStep } from './bridge-fund.step.js';
import { EventBatchConsumer } from './event-batch.consumer.js';
import { FeedOwnership } from './feed-ownership.js';
import { FeedbackBatchConsumer } from './feedback-batch.consumer.js';
import { LabelEmitter } from './label.emitter.js';
import { FeedRecordsKeeper } from './feed-records.keeper.js';
import { LabelerRecordKeeper } from './labeler-record.keeper.js';
import { LabelerSubscriber } from './labeler.subscriber.js';
import { createRankerAssignment, RANKER_ASSIGNMENT } from './ranker-assignment.js';
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
    LabelerRecordKeeper,
    FeedRecordsKeeper,
    LabelerSubscriber,
    FeedOwnership,
    {
      provide: RANKER_ASSIGNMENT,
      useFactory: (config: AppConfig, bus: MessageBus, logger: Logger) => createRankerAssignment(config, bus, logger),
      inject: [APP_CONFIG, MESSAGE_BUS, LOGGER],
    },
    NotesStep,
  ],
  exports: [NotesStep, LabelerSubscriber, EventBatchConsumer, FeedbackBatchConsumer, ScoreSnapshotJob],
})
export class ScoringModule {}
