import { setTimeout as sleep } from 'node:timers/promises';
import kafkajs from 'kafkajs';
import type { Admin, ITopicMetadata, Kafka as KafkaClient, Message, Producer } from 'kafkajs';
import {
  BusUnavailableError,
  type ConsumerLag,
  type MessageBus,
  type OutgoingMessage,
  type SubscribeOptions,
  type Subscription,
  type TopicSpec,
} from '#lib/contracts';
import {
  kafkaJsSecurity,
  resolveKafkaBusOptions,
  type KafkaBusOptions,
  type KafkaCompression,
  type KafkaLogLevel,
  type ResolvedKafkaBusOptions,
} from './kafka.config.js';
import { registerCompressionCodecs } from './compression.codecs.js';
import { isLogged, kafkaJsLogging } from './kafkajs.log.js';
import { keyHash, keyPartitioner } from './key.partitioner.js';
import { KafkaSubscription } from './kafka.subscription.js';
import { retryTransient } from './transient.js';

// kafkajs is CommonJS: take its values from the default export so both Node and Jest's ESM loader agree.
const { Kafka, CompressionTypes } = kafkajs;

interface PartitionLag {
  partition: number;
  /** Messages on the partition after the group's committed offset. */
  lag: number;
}


// kafkajs's own retries (connections, metadata, requests). `factor` and `multiplier` are given too:
// kafkajs swaps in other defaults when NODE_ENV=test, and tests should see production behaviour.
const CLIENT_RETRY = { initialRetryTime: 100, maxRetryTime: 2_000, retries: 5, factor: 0.2, multiplier: 2 };

const COMPRESSION_TYPES: Record<KafkaCompression, kafkajs.CompressionTypes> = {
  none: CompressionTypes.None,
  gzip: CompressionTypes.GZIP,
  zstd: CompressionTypes.ZSTD,
};


/**
 * The Kafka `MessageBus` (scaled mode). A few idempotent producers (lanes, chosen by key) shared by
 * all publishes, one consumer per subscription; offsets are committed explicitly, only after the handler resolved.
 */
export class KafkaBus implements MessageBus {
  private readonly options: ResolvedKafkaBusOptions;
  private readonly kafka: KafkaClient;
  /** One lazily connected idempotent producer per lane (`options.producers`). */
  private readonly producers: (Promise<Producer> | undefined)[];
  /** Per lane, when the send under way ends: the next waits for it (`sendOnLane`). */
  private readonly laneTurns: (Promise<void> | undefined)[] = [];
  private admin: Promise<Admin> | undefined;
  private readonly subscriptions = new Set<KafkaSubscription>();
  private readonly inflight = new Set<Promise<unknown>>();
  private closed = false;
  private refused = 0;

  constructor(options: KafkaBusOptions) {
    this.options = resolveKafkaBusOptions(options);
    registerCompressionCodecs();
    this.producers = new Array<Promise<Producer> | undefined>(this.options.producers).fill(undefined);
    const { log } = this.options;
    this.kafka = new Kafka({
      clientId: this.options.clientId,
      brokers: this.options.brokers,
      ...kafkaJsSecurity(this.options),
      connectionTimeout: this.options.connectionTimeoutMs,
      requestTimeout: this.options.requestTimeoutMs,
      enforceRequestTimeout: true,
      retry: CLIENT_RETRY,
      ...kafkaJsLogging(this.options.logLevel, log),
    });
  }

  /**
   * Creates the missing topics and waits for their leaders. A broker that cannot be reached (a
   * process started while its broker restarts) is waited for, up to `ensureTopicsTimeoutMs`.
   */
  async ensureTopics(topics: TopicSpec[]): Promise<void> {
    if (topics.length === 0) return;
    const what = `creating topics ${topics.map((t) => t.name).join(', ')}`;
    await this.retryTransient(what, Date.now() + this.options.ensureTopicsTimeoutMs, () => this.ensureTopicsOnce(topics));
  }

  private async ensureTopicsOnce(topics: TopicSpec[]): Promise<void> {
    const admin = await this.getAdmin();
    const existing = new Set(await admin.listTopics());
    const missing = topics.filter((topic) => !existing.has(topic.name));
    if (missing.length > 0) {
      // Returns false (does not throw) when another process created them first.
      await admin.createTopics({
        waitForLeaders: true,
        timeout: this.options.requestTimeoutMs,
        topics: missing.map((topic) => ({
          topic: topic.name,
          numPartitions: topic.partitions,
          // Absent: the brokers' default (kafkajs sends -1).
          replicationFactor: this.options.replicationFactor,
          // Room for a whole compressed ingest batch on one partition (the broker default is 1 MiB).
          configEntries: [{ name: 'max.message.bytes', value: String(TOPIC_MAX_MESSAGE_BYTES) }],
        })),
      });
    }
    const metadata = await this.waitForLeaders(
      admin,
      topics.map((topic) => topic.name),
    );
    for (const spec of topics) {
      const found = metadata.find((topic) => topic.name === spec.name);
      if (found && found.partitions.length < spec.partitions) {
        this.log('warn', `topic ${spec.name} has ${found.partitions.length} partitions, fewer than the ${spec.partitions} asked for`);
      }
    }
  }

  async publish(topic: string, messages: OutgoingMessage[]): Promise<void> {
    if (this.closed) throw new BusUnavailableError('the Kafka bus is closed');
    if (messages.length === 0) return;
    const timeoutMs = this.options.publishTimeoutMs;
    const deadline = Date.now() + timeoutMs;
    const what = `publish of ${messages.length} messages to ${topic}`;
    const payload = this.withinSendLimit(
      topic,
      messages.map((message) => ({ key: message.key, value: message.value, headers: message.headers })),
    );
    if (payload.length === 0) return;
    let timedOut = false;
    // @NOTE: kafkajs gives up on an unreachable broker after its connection retries (a few seconds);
    // this loop keeps trying until `publishTimeoutMs`, so a broker restart or leader move is ridden out.
    // A failed send retires its producer (`sendOnLane`), so a retry may write a copy, never lose one.
    const attempts = this.retryTransient(what, deadline, () => this.track(this.sendOnce(topic, payload)), () => timedOut);
    let timer: NodeJS.Timeout | undefined;
    const expiry = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        timedOut = true;
        reject(new BusUnavailableError(`${what} not acknowledged within ${timeoutMs} ms`));
      }, timeoutMs);
    });
    try {
      await Promise.race([attempts, expiry]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Messages refused so far for being larger than one produce request may carry (`MAX_SEND_BYTES`). */
  get refusedMessages(): number {
    return this.refused;
  }

  /**
   * `messages` without those larger than one produce request may carry, each of which is logged.
   *
   * @NOTE The broker refuses such a message on every attempt (`MESSAGE_TOO_LARGE`, not retriable),
   * and the dead-letter topic has the same limit. A publisher that retried it would retry forever,
   * its partition or its checkpoint stuck behind it; dropping it, counted and logged with its key
   * and size, lets the rest through, as a consumer lets the rest of a batch through past a poison message.
   */
  private withinSendLimit(topic: string, messages: Message[]): Message[] {
    const kept: Message[] = [];
    for (const message of messages) {
      const bytes = recordBytes(message);
      if (bytes <= MAX_SEND_BYTES) {
        kept.push(message);
        continue;
      }
      this.refused += 1;
      const key = typeof message.key === 'string' ? message.key.slice(0, 256) : undefined;
      this.log('error', 'message larger than the bus carries; refused, not published', { topic, key, bytes, maxBytes: MAX_SEND_BYTES });
    }
    return kept;
  }

  async subscribe(options: SubscribeOptions): Promise<Subscription> {
    if (this.closed) throw new BusUnavailableError('the Kafka bus is closed');
    const subscription: KafkaSubscription = new KafkaSubscription(
      this.kafka,
      this.options,
      options,
      (level, message, extra) => this.log(level, message, extra),
      () => this.subscriptions.delete(subscription),
    );
    // A broker that cannot be reached (a process started while it restarts) is waited for, as
    // `ensureTopics` waits: a consumer that gave up at once would leave its process with no reader.
    const what = `subscribing group ${options.groupId} to ${options.topics.join(', ')}`;
    await this.retryTransient(what, Date.now() + this.options.ensureTopicsTimeoutMs, () => subscription.start());
    if (this.closed) throw new BusUnavailableError(`${what}: the Kafka bus is closed`);
    this.subscriptions.add(subscription);
    return subscription;
  }

  async ping(): Promise<boolean> {
    if (this.closed) return false;
    const admin = this.kafka.admin({ retry: { retries: 0 } });
    const attempt = (async () => {
      await admin.connect();
      await admin.describeCluster();
    })();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.options.pingTimeoutMs);
    });
    try {
      return (await Promise.race([attempt.then(() => 'ok' as const), timeout])) === 'ok';
    } catch {
      return false;
    } finally {
      clearTimeout(timer);
      // Disconnect only once the attempt settled, so a late connect does not leave a socket open.
      void attempt
        .catch(() => undefined)
        .then(() => admin.disconnect())
        .catch(() => undefined);
    }
  }

  /** Consumer lag of `groupId` per partition of each of `topics` (`MessageBus.lag`). */
  async lag(groupId: string, topics: string[]): Promise<ConsumerLag[]> {
    const perTopic = await Promise.all(
      topics.map(async (topic) => (await this.getLag(groupId, topic)).map(({ partition, lag }) => ({ topic, partition, lag }))),
    );
    return perTopic.flat();
  }

  /** Consumer lag per partition of `topic` for `groupId` (a group that never committed lags by the whole partition). */
  async getLag(groupId: string, topic: string): Promise<PartitionLag[]> {
    const admin = await this.getAdmin();
    const [committed, ends] = await Promise.all([
      admin.fetchOffsets({ groupId, topics: [topic] }),
      admin.fetchTopicOffsets(topic),
    ]);
    const committedByPartition = new Map(
      (committed.find((entry) => entry.topic === topic)?.partitions ?? []).map((p) => [p.partition, p.offset]),
    );
    return ends
      .map((end) => {
        const offset = committedByPartition.get(end.partition);
        const from = offset === undefined || BigInt(offset) < 0n ? BigInt(end.low) : BigInt(offset);
        const lag = BigInt(end.high) - from;
        return { partition: end.partition, lag: Number(lag > 0n ? lag : 0n) };
      })
      .sort((a, b) => a.partition - b.partition);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled([...this.subscriptions].map((subscription) => subscription.stop()));
    // kafkajs buffers nothing: a publish is done once acknowledged, so waiting for those in flight is the flush.
    await Promise.allSettled([...this.inflight]);
    const producers = this.producers.splice(0, this.producers.length, ...this.producers.map(() => undefined));
    const admin = this.admin;
    this.admin = undefined;
    await Promise.allSettled([...producers.map((producer) => producer?.then((p) => p.disconnect())), admin?.then((a) => a.disconnect())]);
  }

  private getProducer(lane: number): Promise<Producer> {
    let connecting = this.producers[lane];
    if (!connecting) {
      const producer = this.kafka.producer({
        idempotent: true,
        // kafkajs keeps idempotent sends in order only with one request in flight per broker.
        maxInFlightRequests: 1,
        allowAutoTopicCreation: false,
        createPartitioner: keyPartitioner,
        retry: CLIENT_RETRY,
      });
      const attempt = producer.connect().then(() => producer);
      connecting = attempt;
      this.producers[lane] = attempt;
      // A failed connect must not be cached: the next publish tries again.
      attempt.catch(() => {
        if (this.producers[lane] === attempt) this.producers[lane] = undefined;
      });
    }
    return connecting;
  }

  private getAdmin(): Promise<Admin> {
    if (!this.admin) {
      const admin = this.kafka.admin();
      const connecting = admin.connect().then(() => admin);
      this.admin = connecting;
      connecting.catch(() => {
        if (this.admin === connecting) this.admin = undefined;
      });
    }
    return this.admin;
  }

  private async waitForLeaders(admin: Admin, topics: string[]): Promise<ITopicMetadata[]> {
    const deadline = Date.now() + this.options.requestTimeoutMs;
    for (;;) {
      const { topics: metadata } = await admin.fetchTopicMetadata({ topics });
      const ready =
        metadata.length === topics.length &&
        metadata.every((topic) => topic.partitions.length > 0 && topic.partitions.every((p) => p.leader >= 0));
      if (ready) return metadata;
      if (Date.now() > deadline) throw new Error(`topics ${topics.join(', ')} have no leader after ${this.options.requestTimeoutMs} ms`);
      await sleep(100);
    }
  }

  /**
   * Sends through every producer lane at once: a message's lane follows from its key, so one key
   * always goes through the same producer, one request after the other (per-key order holds),
   * while the lanes' requests overlap: one is encoded while another waits for the broker. Each lane
   * sends in requests of at most `MAX_SEND_BYTES` of payload, as a record batch over the topic's
   * `max.message.bytes` is refused.
   */
  private async sendOnce(topic: string, messages: Message[]): Promise<void> {
    const lanes = this.options.producers;
    const byLane: Message[][] = Array.from({ length: lanes }, () => []);
    if (lanes === 1) byLane[0] = messages;
    else for (const message of messages) byLane[laneOf(message, lanes)]!.push(message);
    // Every lane settles before a failure is reported, so a retry never overlaps the attempt before it.
    const sent = await Promise.allSettled(byLane.map((laneMessages, lane) => (laneMessages.length === 0 ? undefined : this.sendOnLane(lane, topic, laneMessages))));
    const failed = sent.find((result) => result.status === 'rejected');
    if (failed) throw failed.reason;
  }

  /**
   * Sends on one lane's producer, one send at a time; a producer whose send failed is retired, and
   * the lane's next send connects a new one.
   *
   * @NOTE kafkajs numbers an idempotent producer's batches per partition and advances the number only
   * on an acknowledgement. A send that timed out may still have been written (a broker stalled past
   * the request timeout); the next send then carries the same number, and the broker acknowledges it
   * as a copy of the first without writing it: a publish reported done and lost (measured on a
   * paused broker). A new producer has a new producer id, so nothing it sends is taken for a copy of
   * what the old one sent; a retried publish may then be written twice, which consumers take in.
   */
  private async sendOnLane(lane: number, topic: string, messages: Message[]): Promise<void> {
    const previous = this.laneTurns[lane] ?? Promise.resolve();
    let release!: () => void;
    this.laneTurns[lane] = new Promise<void>((resolve) => (release = resolve));
    await previous;
    try {
      const connecting = this.getProducer(lane);
      const producer = await connecting;
      try {
        for (const chunk of chunksOf(messages, MAX_SEND_BYTES)) {
          await producer.send({
            topic,
            acks: -1,
            timeout: this.options.requestTimeoutMs,
            compression: COMPRESSION_TYPES[this.options.compression],
            messages: chunk,
          });
        }
      } catch (error) {
        if (this.producers[lane] === connecting) this.producers[lane] = undefined;
        void producer.disconnect().catch(() => undefined);
        throw error;
      }
    } finally {
      release();
    }
  }

  /** `retryTransient` with the bus's log, abandoned once the bus is closed unless told otherwise. */
  private retryTransient(what: string, deadline: number, attempt: () => Promise<void>, abandoned = () => this.closed): Promise<void> {
    return retryTransient({ what, deadline, attempt, abandoned, log: (level, message, extra) => this.log(level, message, extra) });
  }

  /** Remembers a send until it settles, so `close()` can wait for it (it may outlive a timed-out publish). */
  private track<T>(promise: Promise<T>): Promise<T> {
    const settled = promise.then(
      () => undefined,
      () => undefined,
    );
    this.inflight.add(settled);
    void settled.finally(() => this.inflight.delete(settled));
    return promise;
  }

  private log(level: KafkaLogLevel, message: string, extra: Record<string, unknown> = {}): void {
    if (!isLogged(level, this.options.logLevel)) return;
    this.options.log(level, message, { namespace: 'KafkaBus', ...extra });
  }
}

/**
 * Payload bytes per produce request, and so the largest message published. Topics we create accept
 * record batches up to `TOPIC_MAX_MESSAGE_BYTES`; even uncompressed, a request of this size fits in one.
 */
const MAX_SEND_BYTES = 8 * 1024 * 1024;
const TOPIC_MAX_MESSAGE_BYTES = 10 * 1024 * 1024;
/** A record's framing in a batch (lengths, offset and time deltas, attributes), with room to spare. */
const RECORD_OVERHEAD_BYTES = 64;

/** The producer lane of a message: its key's hash (bits the partition choice does not use), or spread when it has none. */
function laneOf(message: Message, lanes: number): number {
  const key = message.key;
  if (key === null || key === undefined) return Math.floor(Math.random() * lanes);
  return (keyHash(key) >>> 16) % lanes;
}

/**
 * The bytes a message takes in a record batch: its key, value and headers as UTF-8, and framing.
 *
 * @NOTE Bytes, not string lengths: a string's length counts UTF-16 code units, and one unit of
 * Chinese text takes 3 bytes, so requests measured by length ran up to 3 times over the bound.
 */
function recordBytes(message: Message): number {
  let bytes = RECORD_OVERHEAD_BYTES + byteLength(message.key) + byteLength(message.value);
  if (message.headers) {
    for (const [name, value] of Object.entries(message.headers)) {
      bytes += Buffer.byteLength(name);
      for (const item of Array.isArray(value) ? value : [value]) bytes += byteLength(item);
    }
  }
  return bytes;
}

const byteLength = (value: Buffer | string | null | undefined): number => (typeof value === 'string' ? Buffer.byteLength(value) : (value?.length ?? 0));

/** `messages` in runs of at most `maxBytes` each (`recordBytes`), in order. */
function* chunksOf(messages: Message[], maxBytes: number): Generator<Message[]> {
  let chunk: Message[] = [];
  let bytes = 0;
  for (const message of messages) {
    const size = recordBytes(message);
    if (chunk.length > 0 && bytes + size > maxBytes) {
      yield chunk;
      chunk = [];
      bytes = 0;
    }
    chunk.push(message);
    bytes += size;
  }
  if (chunk.length > 0) yield chunk;
}
