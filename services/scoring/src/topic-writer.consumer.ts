import { setTimeout as sleep } from 'node:timers/promises';
import type { BeforeApplicationShutdown, OnApplicationBootstrap } from '@nestjs/common';
import { isRowError } from '#lib/clickhouse';
import type { AppConfig } from '#lib/config';
import { Topics, type BatchContext, type IncomingMessage, type MessageBatch, type MessageBus, type OutgoingMessage, type Subscription } from '#lib/contracts';
import type { Logger, Metrics } from '#lib/platform';
import { deadLetter, decodeBatch } from './dead-letter.js';
import { collectConsumerMetrics } from './scoring.metrics.js';

export class ConsumerStats {
  consumed = 0;
  written = 0;
  deadLettered = 0;
  batches = 0;
  /** Writes to the store that succeeded: fewer than batches where batches went together. */
  writes = 0;
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
  /** True when the store answers now: a refusal of the rows is believed only from a store that answers. */
  ping: () => Promise<boolean>;
}

/** The consumer is stopping: the batch is abandoned and delivered again to whoever consumes next. */
export class ConsumerStoppingError extends Error {
  override name = 'ConsumerStoppingError';
}

const RETRY_INITIAL_MS = 100;
const RETRY_MAX_MS = 2_000;

/**
 * Writes of batches handed over while another write is under way go out together, in the next
 * write. A bus that hands over several partitions at once (Kafka, `partitionsConsumedConcurrently`)
 * then makes fewer and larger inserts, which cost ClickHouse far less per row; one batch at a time
 * (the in-process bus) is written at once, as before. Every batch of a write learns its outcome.
 */
export class CoalescedWriter<T> {
  private queued: { messages: T[]; settle: (error?: Error) => void }[] = [];
  private writing = false;
  /** Errors of writes that carried more than one batch: the rows refused may be another batch's. */
  private readonly shared = new WeakSet<Error>();

  constructor(
    private readonly writeAll: (messages: T[]) => Promise<void>,
    private readonly maxMessages: number,
  ) {}

  /** Whether `error` failed a write that carried other batches besides the one told of it. */
  wasShared(error: Error): boolean {
    return this.shared.has(error);
  }

  write(messages: T[]): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queued.push({ messages, settle: (error) => (error ? reject(error) : resolve()) });
      if (!this.writing) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.writing = true;
    while (this.queued.length > 0) {
      const taken = [this.queued.shift()!];
      let count = taken[0]!.messages.length;
      while (this.queued.length > 0 && count + this.queued[0]!.messages.length <= this.maxMessages) {
        const next = this.queued.shift()!;
        taken.push(next);
        count += next.messages.length;
      }
      try {
        await this.writeAll(taken.length === 1 ? taken[0]!.messages : taken.flatMap((batch) => batch.messages));
        for (const batch of taken) batch.settle();
      } catch (error) {
        const failure = error instanceof Error ? error : new Error(String(error));
        if (taken.length > 1) this.shared.add(failure);
        for (const batch of taken) batch.settle(failure);
      }
    }
    this.writing = false;
  }
}

/**
 * Bus → ClickHouse for one topic. Each batch is decoded, written (one insert per table), and only
 * then acknowledged: the bus commits offsets after this handler resolves. A message that cannot
 * be decoded goes to the dead-letter topic with the reason in its headers. Heartbeats between
 * the steps keep a long batch from costing the consumer its place in the group.
 *
 * @NOTE A refused insert is retried `SCORING_WRITE_ATTEMPTS` times with backoff (a server may
 * be briefly overloaded), unless the error blames the rows (a value ClickHouse cannot parse or
 * store, `isRowError`): the same rows fail again however long one waits, so they are not sent
 * again (but for a write they shared with other batches, sent again alone at once). The error
 * then decides. Only a row error, from a ClickHouse that answers a ping, makes the batch the
 * problem: it is split in halves, recursively, until the messages ClickHouse refuses are alone;
 * each of those is dead-lettered with ClickHouse's error as soon as it is refused alone, and the
 * partition moves on. Each good message is written once (a half that succeeds is not written
 * again), and the tables are idempotent anyway. Any other error, at any
 * step (an unreachable server, a full disk, too many parts, a read-only table, a memory limit, a
 * timeout), is the store's: nothing is dead-lettered, the handler rejects, and the bus delivers
 * the batch again after a backoff, for as long as it takes, committing nothing meanwhile.
 *
 * @NOTE A batch's first write may share one insert with other partitions' batches (see
 * `CoalescedWriter`); its retries and the isolation of refused messages write it alone, so a
 * message ClickHouse refuses in one partition never sends another partition's messages to the
 * dead-letter topic.
 */
export abstract class TopicWriterConsumer<T extends { timeUs: number }> implements OnApplicationBootstrap, BeforeApplicationShutdown {
  readonly stats = new ConsumerStats();
  private readonly stopCollecting: () => void;
  private readonly coalesced: CoalescedWriter<T>;
  private subscription?: Subscription;

  protected constructor(
    private readonly options: TopicWriterOptions<T>,
    private readonly config: AppConfig,
    private readonly bus: MessageBus,
    private readonly log: Logger,
    private readonly metrics: Metrics,
  ) {
    this.stopCollecting = collectConsumerMetrics(metrics, options.topic, this.stats);
    this.coalesced = new CoalescedWriter((messages) => this.store(messages), config.scoring.batchSize);
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
    const { decoded, sources, rejected } = decodeBatch(batch, this.options.decode);
    const refused: OutgoingMessage[] = [];
    try {
      await context?.heartbeat();
      const error = await this.attempt(decoded, this.config.scoring.writeAttempts, context, true);
      if (error) {
        await this.requireRowError(error);
        this.log.warn({ ...ids, messages: decoded.length, err: firstLine(error) }, 'batch refused by ClickHouse; isolating the messages it refuses');
        await this.isolate(batch, decoded, sources, error, refused, context);
      }
      await context?.heartbeat();
      const dead = [...rejected, ...refused];
      if (dead.length > 0) await this.bus.publish(Topics.deadLetter, dead);
    } catch (error) {
      this.stats.failedBatches += 1;
      this.log.warn({ ...ids, messages: batch.messages.length, err: (error as Error).message }, 'batch not written; it will be delivered again');
      throw error;
    }
    const ms = performance.now() - started;
    this.stats.batches += 1;
    this.stats.consumed += batch.messages.length;
    this.stats.written += decoded.length - refused.length;
    this.stats.deadLettered += rejected.length + refused.length;
    this.stats.lastInsertMs = ms;
    for (const message of decoded) if (message.timeUs > this.stats.newestEventUs) this.stats.newestEventUs = message.timeUs;
    this.metrics.scoringBatchSize.observe({ topic: batch.topic }, batch.messages.length);
    this.metrics.scoringBatchDuration.observe({ topic: batch.topic }, ms / 1000);
    this.log.debug({ ...ids, written: decoded.length - refused.length, deadLettered: rejected.length + refused.length, ms: Math.round(ms) }, 'batch written');
  }

  /**
   * Writes `messages`, up to `attempts` times with backoff; the last error, or nothing once written.
   * With `coalesce`, the first write may carry other batches handed over meanwhile. A row error
   * (`isRowError`) it returns came from a write of `messages` alone, and ended the attempts.
   */
  private async attempt(messages: T[], attempts: number, context?: BatchContext, coalesce = false): Promise<Error | undefined> {
    if (messages.length === 0) return undefined;
    let last: Error | undefined;
    for (let attempt = 0; attempt < attempts; attempt += 1) {
      if (context?.isStopping()) throw new ConsumerStoppingError('the consumer is stopping; the batch will be delivered again');
      if (attempt > 0) {
        await sleep(Math.min(RETRY_MAX_MS, RETRY_INITIAL_MS * 2 ** (attempt - 1)));
        await context?.heartbeat();
      }
      const coalesced = coalesce && attempt === 0;
      try {
        await (coalesced ? this.coalesced.write(messages) : this.store(messages));
        return undefined;
      } catch (error) {
        last = error instanceof Error ? error : new Error(String(error));
        if (!isRowError(last)) continue;
        // Refused for the rows: these alone would be refused again. Written with other batches,
        // the rows refused may be theirs: these go again alone, at once.
        return coalesced && this.coalesced.wasShared(last) ? this.attempt(messages, Math.max(1, attempts - 1), context) : last;
      }
    }
    return last;
  }

  private async store(messages: T[]): Promise<void> {
    await this.options.write(messages);
    this.stats.writes += 1;
  }

  /** Rethrows `error` unless it blames the rows and the store answers: the store's trouble is no reason to blame the messages. */
  private async requireRowError(error: Error): Promise<void> {
    if (!isRowError(error)) throw error;
    const answers = await this.options.ping().catch(() => false);
    if (!answers) throw error;
  }

  /**
   * `messages` were refused together for their rows (`error`, checked by `requireRowError`): writes
   * the halves that ClickHouse takes and collects the messages it refuses alone.
   */
  private async isolate(batch: MessageBatch, messages: T[], sources: IncomingMessage[], error: Error, refused: OutgoingMessage[], context?: BatchContext): Promise<void> {
    if (messages.length === 1) {
      this.log.warn({ topic: batch.topic, partition: batch.partition, offset: sources[0]!.offset, err: firstLine(error) }, 'message refused by ClickHouse; dead-lettered');
      refused.push(deadLetter(batch, sources[0]!, `refused by ClickHouse: ${firstLine(error)}`));
      return;
    }
    const middle = Math.ceil(messages.length / 2);
    for (const [from, to] of [[0, middle], [middle, messages.length]] as const) {
      const half = messages.slice(from, to);
      await context?.heartbeat();
      const halfError = await this.attempt(half, 1, context);
      if (!halfError) continue;
      await this.requireRowError(halfError);
      await this.isolate(batch, half, sources.slice(from, to), halfError, refused, context);
    }
  }
}

/** ClickHouse's messages go on to quote the rows they could not parse; the first line says why. */
const firstLine = (error: Error): string => error.message.split('\n')[0]!.trim();
