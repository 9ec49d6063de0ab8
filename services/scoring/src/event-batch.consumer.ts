import { Inject, Injectable } from '@nestjs/common';
import { EventRepository } from '#lib/clickhouse';
import type { AppConfig } from '#lib/config';
import { decodePipelineEvent, Topics, type MessageBus, type PipelineEventV1 } from '#lib/contracts';
import { APP_CONFIG, LOGGER, MESSAGE_BUS, Metrics, scoringConsumerGroups, type Logger } from '#lib/platform';
import { TopicWriterConsumer } from './topic-writer.consumer.js';

/** Pipeline events (Jetstream, from ingest) → the event tables. */
@Injectable()
export class EventBatchConsumer extends TopicWriterConsumer<PipelineEventV1> {
  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    @Inject(MESSAGE_BUS) bus: MessageBus,
    events: EventRepository,
    @Inject(LOGGER) logger: Logger,
    metrics: Metrics,
  ) {
    super(
      {
        topic: Topics.events,
        groupId: (current) => scoringConsumerGroups(current).events,
        decode: decodePipelineEvent,
        write: (messages) => events.write(messages),
        ping: () => events.ping(),
      },
      config,
      bus,
      logger.child({ component: 'scoring' }),
      metrics,
    );
  }
}
