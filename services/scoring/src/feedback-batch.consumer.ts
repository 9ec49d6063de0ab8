import { Inject, Injectable } from '@nestjs/common';
import { FeedbackRepository } from '#lib/clickhouse';
import type { AppConfig } from '#lib/config';
import { decodeFeedbackEvent, Topics, type FeedbackEventV1, type MessageBus } from '#lib/contracts';
import { APP_CONFIG, LOGGER, MESSAGE_BUS, Metrics, scoringConsumerGroups, type Logger } from '#lib/platform';
import { TopicWriterConsumer } from './topic-writer.consumer.js';

/** Viewer feedback (sendInteractions) and served impressions → `interactions` and `impressions`. */
@Injectable()
export class FeedbackBatchConsumer extends TopicWriterConsumer<FeedbackEventV1> {
  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    @Inject(MESSAGE_BUS) bus: MessageBus,
    feedback: FeedbackRepository,
    @Inject(LOGGER) logger: Logger,
    metrics: Metrics,
  ) {
    super(
      {
        topic: Topics.feedback,
        groupId: (current) => scoringConsumerGroups(current).feedback,
        decode: decodeFeedbackEvent,
        write: (messages) => feedback.write(messages),
        ping: () => feedback.ping(),
      },
      config,
      bus,
      logger.child({ component: 'scoring' }),
      metrics,
    );
  }
}
