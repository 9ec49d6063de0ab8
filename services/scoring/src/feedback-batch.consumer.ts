import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { FeedbackRepository } from '#lib/clickhouse';
import type { AppConfig } from '#lib/config';
import { decodeFeedbackEvent, Topics, type MessageBatch, type MessageBus, type Subscription } from '#lib/contracts';
import { APP_CONFIG, LOGGER, MESSAGE_BUS, type Logger } from '#lib/platform';
import { decodeBatch } from './dead-letter.js';

export class FeedbackStats {
  consumed = 0;
  written = 0;
  deadLettered = 0;
}

/** Bus → ClickHouse for viewer feedback (sendInteractions) and served impressions. */
@Injectable()
export class FeedbackBatchConsumer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  readonly stats = new FeedbackStats();
  private readonly log: Logger;
  private subscription?: Subscription;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(MESSAGE_BUS) private readonly bus: MessageBus,
    private readonly feedback: FeedbackRepository,
    @Inject(LOGGER) logger: Logger,
  ) {
    this.log = logger.child({ component: 'scoring' });
  }

  async onApplicationBootstrap(): Promise<void> {
    this.subscription = await this.bus.subscribe({
      groupId: `${this.config.bus.kind === 'kafka' ? this.config.bus.consumerGroup : 'scoring'}-feedback`,
      topics: [Topics.feedback],
      maxBatchSize: this.config.scoring.batchSize,
      handler: (batch) => this.handle(batch),
    });
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.subscription?.stop();
  }

  async handle(batch: MessageBatch): Promise<void> {
    const { decoded, rejected } = decodeBatch(batch, decodeFeedbackEvent);
    try {
      await this.feedback.write(decoded);
      if (rejected.length > 0) await this.bus.publish(Topics.deadLetter, rejected);
    } catch (error) {
      this.log.warn({ topic: batch.topic, err: (error as Error).message }, 'feedback batch not written; it will be delivered again');
      throw error;
    }
    this.stats.consumed += batch.messages.length;
    this.stats.written += decoded.length;
    this.stats.deadLettered += rejected.length;
  }
}
