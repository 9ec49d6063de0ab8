import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import type { AppConfig } from '#lib/config';
import { EventRepository } from '#lib/clickhouse';
import { decodePipelineEvent, Topics, type MessageBatch, type MessageBus, type Subscription } from '#lib/contracts';
import { APP_CONFIG, LOGGER, MESSAGE_BUS, Metrics, scoringConsumerGroups, type Logger } from '#lib/platform';
import { decodeBatch } from './dead-letter.js';
import { collectConsumerMetrics } from './scoring.metrics.js';

export class ScoringStats {
  consumed = 0;
  written = 0;
  deadLettered = 0;
  batches = 0;
  failedBatches = 0;
  lastInsertMs = 0;
  /** `time_us` of the newest event written. */
  newestEventUs = 0;
}

/**
 * Bus → ClickHouse. Each batch is decoded, written in one insert per table, and only then
 * acknowledged (the bus commits offsets after this handler resolves). A message that cannot be
 * decoded goes to the dead-letter topic with the reason in its headers; a failed insert rejects
 * the batch, which the bus delivers again (the tables are idempotent).
 */
@Injectable()
export class EventBatchConsumer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  readonly stats = new ScoringStats();
  private readonly log: Logger;
  private readonly stopCollecting: () => void;
  private subscription?: Subscription;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(MESSAGE_BUS) private readonly bus: MessageBus,
    private readonly events: EventRepository,
    @Inject(LOGGER) logger: Logger,
    private readonly metrics: Metrics,
  ) {
    this.log = logger.child({ component: 'scoring' });
    this.stopCollecting = collectConsumerMetrics(metrics, Topics.events, this.stats);
  }

  async onApplicationBootstrap(): Promise<void> {
    this.subscription = await this.bus.subscribe({
      groupId: scoringConsumerGroups(this.config).events,
      topics: [Topics.events],
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
    const { decoded, rejected } = decodeBatch(batch, decodePipelineEvent);
    try {
      await this.events.write(decoded);
      if (rejected.length > 0) await this.bus.publish(Topics.deadLetter, rejected);
    } catch (error) {
      this.stats.failedBatches += 1;
      this.log.warn(
        {
          topic: batch.topic,
          partition: batch.partition,
          fromOffset: batch.messages[0]?.offset,
          toOffset: batch.messages.at(-1)?.offset,
          messages: batch.messages.length,
          err: (error as Error).message,
        },
        'batch not written; it will be delivered again',
      );
      throw error;
    }
    const insertMs = performance.now() - started;
    this.stats.batches += 1;
    this.stats.consumed += batch.messages.length;
    this.stats.written += decoded.length;
    this.stats.deadLettered += rejected.length;
    this.stats.lastInsertMs = insertMs;
    this.metrics.scoringBatchSize.observe({ topic: batch.topic }, batch.messages.length);
    this.metrics.scoringBatchDuration.observe({ topic: batch.topic }, insertMs / 1000);
    for (const event of decoded) if (event.timeUs > this.stats.newestEventUs) this.stats.newestEventUs = event.timeUs;
    this.log.debug(
      {
        topic: batch.topic,
        partition: batch.partition,
        fromOffset: batch.messages[0]?.offset,
        toOffset: batch.messages.at(-1)?.offset,
        written: decoded.length,
        deadLettered: rejected.length,
        ms: Math.round(insertMs),
      },
      'batch written',
    );
  }
}
