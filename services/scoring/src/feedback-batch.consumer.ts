import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { FeedbackRepository } from '#lib/clickhouse';
import type { AppConfig } from '#lib/config';
import { decodeFeedbackEvent, Topics, type MessageBatch, type MessageBus, type Subscription } from '#lib/contracts';
import { APP_CONFIG, LOGGER, MESSAGE_BUS, Metrics, scoringConsumerGroups, type Logger } from '#lib/platform';
import { decodeBatch } from './dead-letter.js';
import { collectConsumerMetrics } from './scoring.metrics.js';

export class FeedbackStats {
  consumed = 0;
  written = 0;
  deadLettered = 0;
  failedBatches = 0;
}

/** Bus → ClickHouse for viewer feedback (sendInteractions) and served impressions. */
@Injectable()
export class FeedbackBatchConsumer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  readonly stats = new FeedbackStats();
  private readonly log: Logger;
  private readonly stopCollecting: () => void;
  private subscription?: Subscription;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(MESSAGE_BUS) private readonly bus: MessageBus,
    private readonly feedback: FeedbackRepository,
    @Inject(LOGGER) logger: Logger,
    private readonly metrics: Metrics,
  ) {
    this.log = logger.child({ component: 'scoring' });
    this.stopCollecting = collectConsumerMetrics(metrics, Topics.feedback, this.stats);
  }

  async onApplicationBootstrap(): Promise<void> {
    this.subscription = await this.bus.subscribe({
      groupId: scoringConsumerGroups(this.config).feedback,
      topics: [Topics.feedback],
      maxBatchSize: this.config.scoring.batchSize,
      handler: (batch) => this.handle(batch),
    });
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.subscription?.stop();
    this.stopCollecting();
  }

  async handle(batch: MessageBatch): Promise<void> {
    const started = performance.now();
    const ids = {
      topic: batch.topic,
      partition: batch.partition,
      fromOffset: batch.messages[0]?.offset,
      toOffset: batch.messages.at(-1)?.offset,
    };
    const { decoded, rejected } = decodeBatch(batch, decodeFeedbackEvent);
    try {
      await this.feedback.write(decoded);
      if (rejected.length > 0) await this.bus.publish(Topics.deadLetter, rejected);
    } catch (error) {
      this.stats.failedBatches += 1;
      this.log.warn({ ...ids, err: (error as Error).message }, 'feedback batch not written; it will be delivered again');
      throw error;
    }
    const ms = performance.now() - started;
    this.stats.consumed += batch.messages.length;
    this.stats.written += decoded.length;
    this.stats.deadLettered += rejected.length;
    this.metrics.scoringBatchSize.observe({ topic: batch.topic }, batch.messages.length);
    this.metrics.scoringBatchDuration.observe({ topic: batch.topic }, ms / 1000);
    this.log.debug({ ...ids, written: decoded.length, deadLettered: rejected.length, ms: Math.round(ms) }, 'feedback batch written');
  }
}
