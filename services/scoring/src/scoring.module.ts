import { Module } from '@nestjs/common';
import { EventBatchConsumer } from './event-batch.consumer.js';

/** Bus → ClickHouse, and the score snapshots the feeds read. Needs `PlatformModule`. */
@Module({
  providers: [EventBatchConsumer],
  exports: [EventBatchConsumer],
})
export class ScoringModule {}
