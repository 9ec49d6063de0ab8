import { setTimeout as sleep } from 'node:timers/promises';
import type { Consumer, EachBatchPayload, IHeaders, Kafka, KafkaMessage } from 'kafkajs';
import type { BatchContext, IncomingMessage, SubscribeOptions, Subscription } from '#lib/contracts';
import { consumerRetry, type KafkaLogLevel, type ResolvedKafkaBusOptions } from './kafka.config.js';

type Log = (level: KafkaLogLevel, message: string, extra?: Record<string, unknown>) => void;



/**
 * One consumer group member: a kafkajs consumer with explicit commits after each handler call.
 * If kafkajs gives up on its consumer (a crash it does not restart itself, e.g. no broker reachable
 * for longer than its retries), a new consumer replaces it after a pause, until `stop()`.
 */
export class KafkaSubscription implements Subscription {
  private consumer: Consumer | undefined;
  private stopping = false;
  private stopped: Promise<void> | undefined;
  private rebuildTimer: NodeJS.Timeout | undefined;
  private rebuilding: Promise<void> | undefined;
  private readonly maxBatchSize: number;

  constructor(
    private readonly kafka: Kafka,
    private readonly options: ResolvedKafkaBusOptions,
    private readonly subscription: SubscribeOptions,
    private readonly log: Log,
    private readonly onStopped: () => void,
  ) {
    this.maxBatchSize = Math.max(1, subscription.maxBatchSize ?? options.maxBatchSize);
  }

  /** Joins the group; rejects when the consumer cannot connect or subscribe. */
  async start(): Promise<void> {
    const consumer = this.kafka.consumer({
      groupId: this.subscription.groupId,
      sessionTimeout: this.options.sessionTimeoutMs,
      heartbeatInterval: this.options.heartbeatIntervalMs,
      maxWaitTimeInMs: this.options.maxWaitTimeMs,
      maxBytesPerPartition: this.options.maxBytesPerPartition,
      allowAutoTopicCreation: false,
      retry: consumerRetry(() => this.stopping),
    });
    this.consumer = consumer;
    consumer.on(consumer.events.CRASH, (event) => {
      if (event.payload.restart || this.stopping || this.consumer !== consumer) return;
      this.log('error', `consumer of group ${this.subscription.groupId} stopped; replacing it`, {
        error: event.payload.error.message,
      });
      this.scheduleRebuild();
    });
    try {
      await consumer.connect();
      await consumer.subscribe({ topics: this.subscription.topics, fromBeginning: this.subscription.from !== 'latest' });
      // Resolves once the member joined the group and received its partitions.
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: this.options.partitionsConsumedConcurrently,
        eachBatch: (payload) => this.consumeBatch(payload),
      });
    } catch (error) {
      await consumer.disconnect().catch(() => undefined);
      throw error;
    }
  }

  stop(): Promise<void> {
    this.stopped ??= (async () => {
      this.stopping = true;
      clearTimeout(this.rebuildTimer);
      await this.rebuilding;
      // kafkajs waits for the batch in flight (and the commit inside it), then leaves the group.
      await this.consumer?.disconnect();
      this.onStopped();
    })();
    return this.stopped;
  }

  private scheduleRebuild(): void {
    clearTimeout(this.rebuildTimer);
    this.rebuildTimer = setTimeout(() => {
      this.rebuilding = this.start()
        .catch((error: unknown) => {
          if (this.stopping) return;
          this.log('error', `could not restart the consumer of group ${this.subscription.groupId}; trying again`, {
            error: error instanceof Error ? error.message : String(error),
          });
          this.scheduleRebuild();
        })
        .finally(() => {
          this.rebuilding = undefined;
        });
    }, this.options.handlerRetryMaxMs);
  }

  private async consumeBatch(payload: EachBatchPayload): Promise<void> {
    const { batch, resolveOffset, heartbeat, commitOffsetsIfNecessary, isRunning, isStale } = payload;
    const { topic, partition } = batch;
    const { groupId, handler } = this.subscription;
    // A heartbeat failure means the group is rebalancing: it must reach kafkajs, which then re-joins,
    // instead of being taken for a handler failure. The batch is then abandoned (not committed).
    let heartbeatError: unknown;
    const isStopping = (): boolean => this.stopping || !isRunning() || isStale() || heartbeatError !== undefined;
    const context: BatchContext = {
      heartbeat: async () => {
        try {
          await heartbeat();
        } catch (error) {
          heartbeatError ??= error;
          throw error;
        }
      },
      isStopping,
    };
    // The heartbeats while the handler works: one that finds the group changing ends the batch; any
    // other failure (a slow or lost request) is left to the next.
    const beat = async (): Promise<void> => {
      try {
        await heartbeat();
      } catch (error) {
        if (isGroupChange(error)) heartbeatError ??= error;
        else this.log('warn', `heartbeat of group ${groupId} failed; the next one tries again`, { error: error instanceof Error ? error.message : String(error) });
      }
    };

    for (let start = 0; start < batch.messages.length; start += this.maxBatchSize) {
      if (isStopping()) return;
      const chunk = batch.messages.slice(start, start + this.maxBatchSize);
      const messages = chunk.map((message) => toIncoming(message, partition));
      for (let attempt = 1; ; attempt++) {
        try {
          await this.whileBeating(handler({ topic, partition, messages }, context), beat);
          if (heartbeatError !== undefined) throw heartbeatError;
          break;
        } catch (error) {
          if (heartbeatError !== undefined) throw heartbeatError;
          const delay = Math.min(
            this.options.handlerRetryMaxMs,
            this.options.handlerRetryInitialMs * 2 ** Math.min(attempt - 1, 20),
          );
          this.log('error', `handler of group ${groupId} failed; the batch will be handed over again`, {
            topic,
            partition,
            firstOffset: messages[0]?.offset,
            lastOffset: messages.at(-1)?.offset,
            attempt,
            retryInMs: delay,
            error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
          });
          // @NOTE: the batch is retried here rather than by throwing to kafkajs: kafkajs counts every
          // error thrown from eachBatch against the consumer's retry budget and, once it is spent,
          // crashes and restarts the consumer, which makes the whole group rebalance.
          await backoff(delay, heartbeat, isStopping);
          // Stopping: leave the batch uncommitted; whoever consumes the partition next receives it again.
          if (isStopping()) return;
        }
      }
      const lastOffset = chunk[chunk.length - 1]!.offset;
      resolveOffset(lastOffset);
      // Explicit offsets go straight to the group coordinator (the argument-less form commits only on
      // kafkajs's auto-commit schedule, which is off). The committed offset is the next one to read.
      await commitOffsetsIfNecessary({
        topics: [{ topic, partitions: [{ partition, offset: (BigInt(lastOffset) + 1n).toString() }] }],
      });
      await heartbeat();
    }
  }

  /**
   * Heartbeats every `heartbeatIntervalMs` until `work` settles, and resolves as it does.
   *
   * @NOTE kafkajs heartbeats only when asked (between batches, or by the handler), and a handler's
   * single step can outlast the session (a slow ClickHouse insert may take its whole 30 s request
   * timeout, the session's length): the coordinator would take the member for dead, hand its
   * partitions to another and refuse its commit, so the batch would be written twice and the group
   * rebalance for nothing.
   */
  private async whileBeating(work: Promise<void>, beat: () => Promise<void>): Promise<void> {
    const timer = setInterval(() => void beat(), this.options.heartbeatIntervalMs);
    try {
      await work;
    } finally {
      clearInterval(timer);
    }
  }
}

/**
 * The heartbeat answers that say the group moved on without this member's batch: kafkajs re-joins
 * on each (its runner's own rule), and the batch's commit would be refused.
 */
const GROUP_CHANGES = new Set(['REBALANCE_IN_PROGRESS', 'NOT_COORDINATOR_FOR_GROUP', 'ILLEGAL_GENERATION', 'UNKNOWN_MEMBER_ID']);
const isGroupChange = (error: unknown): boolean => GROUP_CHANGES.has(String((error as { type?: unknown } | undefined)?.type));

async function backoff(ms: number, heartbeat: () => Promise<void>, isStopping: () => boolean): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until && !isStopping()) {
    await sleep(Math.min(100, until - Date.now()));
    // Throttled by kafkajs to one request per heartbeat interval; throws when the group rebalances.
    await heartbeat();
  }
}

function toIncoming(message: KafkaMessage, partition: number): IncomingMessage {
  return {
    key: message.key ? message.key.toString('utf8') : null,
    value: message.value ? message.value.toString('utf8') : '',
    headers: decodeHeaders(message.headers),
    partition,
    offset: message.offset,
  };
}

function decodeHeaders(headers: IHeaders | undefined): Record<string, string> {
  const decoded: Record<string, string> = {};
  for (const [name, raw] of Object.entries(headers ?? {})) {
    // A repeated header keeps its last value, as Kafka's `Headers.lastHeader` does.
    const value = Array.isArray(raw) ? raw.at(-1) : raw;
    if (value !== undefined) decoded[name] = value.toString();
  }
  return decoded;
}
