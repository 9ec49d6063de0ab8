import type { BeforeApplicationShutdown, OnApplicationBootstrap } from '@nestjs/common';
import type { AppConfig } from '#lib/config';
import { Topics, type BatchContext, type MessageBatch, type MessageBus, type Subscription } from '#lib/contracts';
import type { Logger, Metrics } from '#lib/platform';
import { decodeBatch } from './dead-letter.js';
import { collectConsumerMetrics } from './scoring.metrics.js';

export class ConsumerStats {
  consumed = 0;
  written = 0;
  deadLettered = 0;
  batches = 0;
  failedBatches = 0;
  lastInsertMs = 0;
  /** `time_us` of the newest message written (when the messages carry one). */
  newestEventUs = 0;
}

export interface TopicWriterOptions<T extends { timeUs: number }> {
  topic: string;
  groupId: (config: AppConfig) => string;
  decode: (value: string) => T;
  write: (messages: T[]) => Promise<void>;
}

/**
 * Bus → ClickHouse for one topic. Each batch is decoded, written (one insert per table), and only
 * then acknowledged: the bus commits offsets after this handler resolves. A message that cannot
 * be decoded goes to the dead-letter topic with the reason in its headers; a failed insert
 * rejects the batch, which the bus delivers again (the tables are idempotent). Heartbeats between
 * the steps keep a long batch from costing the consumer its place in the group.
 */
export abstract class TopicWriterConsumer<T extends { timeUs: number }> implements OnApplicationBootstrap, BeforeApplicationShutdown {
  readonly stats = new ConsumerStats();
  private readonly stopCollecting: () => void;
  private subscription?: Subscription;

  protected constructor(
    private readonly options: TopicWriterOptions<T>,
    private readonly config: AppConfig,
    private readonly bus: MessageBus,
    private readonly log: Logger,
    private readonly metrics: Metrics,
  ) {
    this.stopCollecting = collectConsumerMetrics(metrics, options.topic, this.stats);
  }

  async onApplicationBootstrap(): Promise<void> {
    this.subscription = await this.bus.subscribe({
      groupId: this.options.groupId(this.config),
      topics: [this.options.topic],
      maxBatchSize: this.config.scoring.batchSize,
      handler: (batch, context) => this.handle(batch, context),
    });
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.subscription?.stop();
    this.stopCollecting();
  }

  async handle(batch: MessageBatch, context?: BatchContext): Promise<void> {
    const started = performance.now();
    const ids = {
      topic: batch.topic,
      partition: batch.partition,
      fromOffset: batch.messages[0]?.offset,
      toOffset: batch.messages.at(-1)?.offset,
    };
    const { decoded, rejected } = decodeBatch(batch, this.options.decode);
    try {
      await context?.heartbeat();
      await this.options.write(decoded);
      await context?.heartbeat();
      if (rejected.length > 0) await this.bus.publish(Topics.deadLetter, rejected);
    } catch (error) {
      this.stats.failedBatches += 1;
      this.log.warn({ ...ids, messages: batch.messages.length, err: (error as Error).message }, 'batch not written; it will be delivered again');
      throw error;
    }
    const ms = performance.now() - started;
    this.stats.batches += 1;
    this.stats.consumed += batch.messages.length;
    this.stats.written += decoded.length;
    this.stats.deadLettered += rejected.length;
    this.stats.lastInsertMs = ms;
    for (const message of decoded) if (message.timeUs > this.stats.newestEventUs) this.stats.newestEventUs = message.timeUs;
    this.metrics.scoringBatchSize.observe({ topic: batch.topic }, batch.messages.length);
    this.metrics.scoringBatchDuration.observe({ topic: batch.topic }, ms / 1000);
    this.log.debug({ ...ids, written: decoded.length, deadLettered: rejected.length, ms: Math.round(ms) }, 'batch written');
  }
}
