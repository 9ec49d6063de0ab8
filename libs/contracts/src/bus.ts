/**
 * The message bus between pipeline stages. Two implementations share this contract:
 * the in-process bus (embedded mode) and Kafka (scaled mode, `#lib/kafka`).
 *
 * Delivery is at-least-once. Messages with the same key keep their order. A publish
 * resolves only once the bus has acknowledged every message (Kafka: `acks: -1`), so a
 * caller may checkpoint its own progress after `publish` resolves and not before.
 */

export interface OutgoingMessage {
  /** Partitioning key; the repo DID for pipeline events, so per-DID order is kept. */
  key: string;
  /** Encoded payload (JSON text of a versioned contract message). */
  value: string;
  headers?: Record<string, string>;
  /**
   * The message `value` encodes, as the producer built it. Only a bus inside the process passes it
   * on (a broker carries `value` alone), so that a consumer there need not parse what was just
   * encoded.
   */
  decoded?: unknown;
}

export interface IncomingMessage {
  key: string | null;
  value: string;
  headers: Record<string, string>;
  partition: number;
  /** Offset within the partition, as a decimal string (Kafka offsets exceed 2^53 in theory). */
  offset: string;
  /** `OutgoingMessage.decoded`, when the bus is in the producer's process and it was given. */
  decoded?: unknown;
}

export interface MessageBatch {
  topic: string;
  partition: number;
  messages: IncomingMessage[];
}

export interface BatchContext {
  /** Keep group membership alive during long work (Kafka heartbeats only between batches otherwise). */
  heartbeat(): Promise<void>;
  /** True once the consumer is stopping: finish or abandon the batch quickly (it will be re-delivered). */
  isStopping(): boolean;
}

/**
 * Handles one batch. The offsets of the batch are committed only after the returned promise
 * resolves; a rejection leaves them uncommitted and the batch is delivered again after a backoff.
 */
export type BatchHandler = (batch: MessageBatch, context: BatchContext) => Promise<void>;

export interface TopicSpec {
  name: string;
  partitions: number;
}

export interface SubscribeOptions {
  groupId: string;
  topics: string[];
  handler: BatchHandler;
  /** Upper bound on messages handed to one handler call. */
  maxBatchSize?: number;
  /**
   * Where a group with no committed offsets starts: the oldest retained message (default), or
   * only messages published from now on (a replica's own group that follows live changes).
   */
  from?: 'earliest' | 'latest';
}

/** Messages of one partition that a consumer group has not committed yet. */
export interface ConsumerLag {
  topic: string;
  partition: number;
  lag: number;
}

export interface Subscription {
  /** Stops fetching, waits for the batch in flight to finish (and commit), then leaves the group. */
  stop(): Promise<void>;
}

export interface MessageBus {
  /** Creates the topics that do not exist yet (Kafka fails to subscribe to a missing topic). */
  ensureTopics(topics: TopicSpec[]): Promise<void>;
  /**
   * Resolves once every message is acknowledged; rejects with a `BusUnavailableError` otherwise. A
   * message larger than the bus can ever carry (Kafka: one produce request) is refused, logged as an
   * error and counted, and the others are published: retrying it could only stall the publisher.
   */
  publish(topic: string, messages: OutgoingMessage[]): Promise<void>;
  /** Messages `publish` refused as larger than the bus can carry, since start (metrics); absent where none can be. */
  readonly refusedMessages?: number;
  subscribe(options: SubscribeOptions): Promise<Subscription>;
  /** Checks the bus can be reached now (readiness). */
  ping(): Promise<boolean>;
  /**
   * Consumer lag of `groupId` per partition of `topics` (metrics, console). Optional: a bus that
   * cannot tell leaves it out, and lag is then simply not reported.
   */
  lag?(groupId: string, topics: string[]): Promise<ConsumerLag[]>;
  /** Flushes and closes producers and consumers. */
  close(): Promise<void>;
}

export class BusUnavailableError extends Error {
  override name = 'BusUnavailableError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}
