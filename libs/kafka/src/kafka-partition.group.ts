import kafkajs from 'kafkajs';
import type { Consumer, Kafka as KafkaClient } from 'kafkajs';
import { consumerRetry, DEFAULT_START_TIMEOUT_MS, kafkaJsSecurity, type KafkaBusOptions } from './kafka.config.js';
import { kafkaJsLogging } from './kafkajs.log.js';
import { partitionOfKey } from './key.partitioner.js';
import { retryTransient } from './transient.js';

// kafkajs is CommonJS: take its values from the default export so both Node and Jest's ESM loader agree.
const { Kafka } = kafkajs;

/** Pause before a consumer kafkajs gave up on is replaced. */
const REBUILD_AFTER_MS = 5_000;

export interface KafkaPartitionGroupOptions extends Pick<KafkaBusOptions, 'brokers' | 'ssl' | 'sasl'>, Required<Pick<KafkaBusOptions, 'log' | 'logLevel'>> {
  clientId: string;
  groupId: string;
  /** The topic whose partitions the members share, as named on the broker (prefix included); it must exist. */
  topic: string;
  /** A member silent for this long loses its partitions to the others. */
  sessionTimeoutMs: number;
}

/** A member's view of the group: the partitions it holds now, out of how many. */
export interface PartitionGroupState {
  partitions: readonly number[];
  partitionCount: number;
  /** False between the start of a rebalance and the member's next assignment: it then holds nothing. */
  joined: boolean;
}

/**
 * Membership of a Kafka consumer group used to share out partitions, not messages: each member
 * holds the partitions the group assigns it, and when a member leaves or goes silent for the
 * session timeout, the group's next generation gives its partitions to the others. Keys are placed
 * on partitions as the producers place message keys (murmur2), so `partitionOf` agrees with Kafka.
 *
 * @NOTE A member holds a partition only while its lease holds: assigned, no rebalance under way,
 * and heard by the coordinator (a heartbeat or join) within half the session timeout. The
 * coordinator moves a partition only after a rebalance began (which the member learns at its next
 * heartbeat) or after a whole session without a heartbeat, so the lease ends before that.
 */
export class KafkaPartitionGroup {
  private readonly kafka: KafkaClient;
  private consumer: Consumer | undefined;
  private assigned: readonly number[] = [];
  private partitionCount = 0;
  private joined = false;
  /** When the group was last heard from, on the monotonic clock: a wall clock stepped back would stretch the lease. */
  private lastContactMs = 0;
  private stopping = false;
  private rebuildTimer: NodeJS.Timeout | undefined;
  /** The join under way (a start, or the rebuild after a crash), which `stop()` waits for. */
  private joining: Promise<void> | undefined;
  /** Ends a join's wait for its first assignment (`stop()`). */
  private stopWaiting: () => void = () => undefined;
  private readonly listeners = new Set<(state: PartitionGroupState) => void>();

  constructor(private readonly options: KafkaPartitionGroupOptions) {
    this.kafka = new Kafka({
      clientId: options.clientId,
      brokers: options.brokers,
      ...kafkaJsSecurity(options),
      ...kafkaJsLogging(options.logLevel, options.log),
    });
  }

  get state(): PartitionGroupState {
    return { partitions: this.joined ? this.assigned : [], partitionCount: this.partitionCount, joined: this.joined };
  }

  /** The partition of `key`; 0 before the topic's partitions are known. */
  partitionOf(key: string): number {
    return this.partitionCount === 0 ? 0 : partitionOfKey(key, this.partitionCount);
  }

  /** True while this member holds `partition` and its lease holds (see the class note). */
  holds(partition: number): boolean {
    return this.joined && performance.now() - this.lastContactMs < this.options.sessionTimeoutMs / 2 && this.assigned.includes(partition);
  }

  /** Calls `listener` at each assignment and at the start of each rebalance; returns its removal. */
  onChange(listener: (state: PartitionGroupState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Joins the group; resolves once the first assignment arrived (or a session timeout passed), or at once after `stop()`. */
  async start(): Promise<void> {
    this.stopping = false;
    // A broker away at start-up (restarting, say) is waited for: a member that gave up would leave
    // its process ranking nothing.
    await retryTransient({
      what: `joining ranker group ${this.options.groupId}`,
      deadline: Date.now() + DEFAULT_START_TIMEOUT_MS,
      attempt: () => this.track(this.join()),
      abandoned: () => this.stopping,
      log: this.options.log,
    });
  }

  /**
   * Leaves the group at once (the others take the partitions over without waiting for a session
   * timeout). A join under way is waited for, and joins nothing once it sees the stop.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.rebuildTimer);
    this.joined = false;
    this.stopWaiting();
    await this.joining?.catch(() => undefined);
    await this.consumer?.disconnect();
    this.consumer = undefined;
  }

  /**
   * A new consumer joins the group. It checks `stopping` after each step, so a stop that came
   * meanwhile leaves nothing behind: no consumer is made after it, and one made before it is
   * disconnected by `stop()`, which waits for this join.
   */
  private async join(): Promise<void> {
    await this.readPartitionCount();
    if (this.stopping) return;
    const heartbeatInterval = Math.max(500, Math.floor(this.options.sessionTimeoutMs / 10));
    const consumer = this.kafka.consumer({
      groupId: this.options.groupId,
      sessionTimeout: this.options.sessionTimeoutMs,
      rebalanceTimeout: this.options.sessionTimeoutMs,
      heartbeatInterval,
      // The topic carries no messages: each empty fetch is a chance to heartbeat.
      maxWaitTimeInMs: heartbeatInterval,
      allowAutoTopicCreation: false,
      retry: consumerRetry(() => this.stopping),
    });
    this.consumer = consumer;
    let firstJoin: () => void = () => undefined;
    const joinedOnce = new Promise<void>((resolve) => (firstJoin = resolve));
    const { GROUP_JOIN, HEARTBEAT, REBALANCING, CRASH } = consumer.events;
    consumer.on(GROUP_JOIN, ({ payload }) => {
      this.assigned = [...(payload.memberAssignment[this.options.topic] ?? [])].sort((a, b) => a - b);
      this.joined = true;
      this.lastContactMs = performance.now();
      this.changed();
      firstJoin();
    });
    consumer.on(HEARTBEAT, () => {
      this.lastContactMs = performance.now();
    });
    consumer.on(REBALANCING, () => {
      this.joined = false;
      this.changed();
    });
    consumer.on(CRASH, ({ payload }) => {
      this.joined = false;
      this.changed();
      if (payload.restart || this.stopping || this.consumer !== consumer) return;
      this.options.log('error', `ranker group member stopped; rejoining in ${REBUILD_AFTER_MS} ms`, { error: payload.error.message });
      this.scheduleRebuild();
    });
    try {
      await consumer.connect();
      if (this.stopping) return;
      await consumer.subscribe({ topics: [this.options.topic], fromBeginning: false });
      if (this.stopping) return;
      await consumer.run({ autoCommit: false, eachMessage: () => Promise.resolve() });
    } catch (error) {
      await consumer.disconnect().catch(() => undefined);
      throw error;
    }
    if (this.stopping) return;
    let timer: NodeJS.Timeout | undefined;
    const stopped = new Promise<void>((resolve) => (this.stopWaiting = resolve));
    await Promise.race([joinedOnce, stopped, new Promise<void>((resolve) => (timer = setTimeout(resolve, this.options.sessionTimeoutMs)))]);
    clearTimeout(timer);
    this.stopWaiting = () => undefined;
  }

  /** Remembers `join` as the one under way until it settles. */
  private track(join: Promise<void>): Promise<void> {
    this.joining = join;
    void join.catch(() => undefined).finally(() => {
      if (this.joining === join) this.joining = undefined;
    });
    return join;
  }

  private async readPartitionCount(): Promise<void> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const { topics } = await admin.fetchTopicMetadata({ topics: [this.options.topic] });
      this.partitionCount = topics[0]?.partitions.length ?? 0;
    } finally {
      await admin.disconnect();
    }
    if (this.partitionCount === 0) throw new Error(`topic ${this.options.topic} has no partitions`);
  }

  private changed(): void {
    const state = this.state;
    for (const listener of this.listeners) listener(state);
  }

  private scheduleRebuild(): void {
    clearTimeout(this.rebuildTimer);
    this.rebuildTimer = setTimeout(() => {
      this.track(this.join()).catch((error: unknown) => {
        if (this.stopping) return;
        this.options.log('error', 'ranker group member could not rejoin; trying again', { error: error instanceof Error ? error.message : String(error) });
        this.scheduleRebuild();
      });
    }, REBUILD_AFTER_MS);
  }
}
