import type {
  BatchHandler,
  ConsumerLag,
  IncomingMessage,
  MessageBus,
  OutgoingMessage,
  SubscribeOptions,
  Subscription,
  TopicSpec,
} from '#lib/contracts';

/** Messages kept of a topic that acknowledges without a consumer (the dead-letter topic). */
const UNCONSUMED_RETENTION = 10_000;
/** Default bound on the messages of one topic that wait for their consumers. */
const DEFAULT_MAX_QUEUED = 100_000;
const MAX_RETRY_DELAY_MS = 5_000;

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
  });

interface Waiter {
  /** Resolves once every group has committed past this offset. */
  offset: number;
  resolve: () => void;
}

interface Group {
  id: string;
  /** Next offset this group has not yet committed. */
  committed: number;
  /**
   * Subscribed from the latest message: it follows the topic without holding it. Messages wait for
   * the other groups (or, with none yet, for the first to come), never for a follower alone.
   */
  follower: boolean;
  handler: BatchHandler;
  maxBatchSize: number;
  stopping: boolean;
  /** Aborted on stop, to cut a retry backoff short. */
  stopped: AbortController;
  wake: () => void;
  loop: Promise<void>;
}

/** A publish waiting for room in its topic; its messages enter the log in publish order. */
interface PendingPublish {
  /** What has not entered the log yet. */
  messages: OutgoingMessage[];
  /** Called with the offset after its last message once all of them are in the log. */
  appended: (end: number) => void;
}

/** The headers of a message published without any; frozen, as every such message shares them. */
const NO_HEADERS: Record<string, string> = Object.freeze({});

/**
 * A message published with its decoded form, as the log holds it: its value and offset are read
 * through to the published message when a consumer asks for them.
 *
 * @NOTE One object per message and nothing else: the ingest of the embedded mode puts tens of
 * thousands of messages a second through here, and an object literal with a getter per message
 * (its closure, the offset's string, an empty headers object) was a tenth of its garbage.
 */
class LoggedMessage implements IncomingMessage {
  readonly partition = 0;

  constructor(
    private readonly published: OutgoingMessage,
    private readonly at: number,
  ) {}

  get key(): string {
    return this.published.key;
  }

  get value(): string {
    return this.published.value;
  }

  get headers(): Record<string, string> {
    return this.published.headers ?? NO_HEADERS;
  }

  get offset(): string {
    return String(this.at);
  }

  get decoded(): unknown {
    return this.published.decoded;
  }
}

class TopicLog {
  constructor(
    readonly name: string,
    /** Acknowledges at once and keeps a bounded tail when no group consumes it. */
    readonly retained: boolean,
    /** Most messages held for consumers that have not committed them. */
    readonly maxQueued: number,
  ) {}

  /** Offset of `messages[0]`. */
  base = 0;
  messages: IncomingMessage[] = [];
  readonly groups = new Map<string, Group>();
  waiters: Waiter[] = [];
  dropped = 0;
  private pending: PendingPublish[] = [];

  /** Publishes waiting for room. */
  get blocked(): number {
    return this.pending.length;
  }

  get end(): number {
    return this.base + this.messages.length;
  }

  /**
   * Appends `messages` as room allows, after every publish that waits before it; resolves with the
   * offset after the last of them once all are in the log. A publish larger than the bound enters
   * in parts, as the consumers make room.
   */
  enqueue(messages: OutgoingMessage[]): Promise<number> {
    return new Promise((appended) => {
      this.pending.push({ messages: [...messages], appended });
      this.admit();
    });
  }

  /** Room for more messages: unbounded on a retained topic nobody consumes (its retention drops the oldest). */
  private get room(): number {
    return this.retained && !this.consumed ? Number.POSITIVE_INFINITY : this.maxQueued - this.messages.length;
  }

  /** True while a group other than followers consumes the topic. */
  private get consumed(): boolean {
    for (const group of this.groups.values()) if (!group.follower) return true;
    return false;
  }

  /** Lets waiting publishes in, oldest first, while there is room. */
  private admit(): void {
    let appended = false;
    while (this.pending.length > 0 && this.room > 0) {
      const head = this.pending[0]!;
      this.append(head.messages.splice(0, this.room));
      appended = true;
      if (head.messages.length === 0) {
        this.pending.shift();
        head.appended(this.end);
      }
    }
    if (appended) for (const group of this.groups.values()) group.wake();
  }

  private append(messages: OutgoingMessage[]): number {
    for (const message of messages) {
      const offset = this.end;
      // A message given decoded keeps its value unread: a consumer in this process takes the decoded
      // one, and the value is encoded only if something asks (a dead letter, a consumer that decodes).
      this.messages.push(message.decoded === undefined ? { key: message.key, value: message.value, headers: message.headers ?? NO_HEADERS, partition: 0, offset: String(offset) } : new LoggedMessage(message, offset));
    }
    return this.end;
  }

  /** Drops what every group has committed (or, retained without a group, what exceeds the retention). */
  trim(): void {
    const unconsumed = !this.consumed;
    if (unconsumed && !this.retained) return this.admit();
    const floor = unconsumed
      ? Math.max(this.base, this.end - UNCONSUMED_RETENTION)
      : Math.min(...[...this.groups.values()].map((group) => group.committed));
    if (floor > this.base) {
      if (unconsumed) this.dropped += floor - this.base;
      this.messages.splice(0, floor - this.base);
      this.base = floor;
    }
    const settled = this.waiters.filter((waiter) => waiter.offset <= floor || unconsumed);
    this.waiters = this.waiters.filter((waiter) => !settled.includes(waiter));
    for (const waiter of settled) waiter.resolve();
    this.admit();
  }
}

/**
 * The bus of the embedded mode: ingest, scoring and the feed generator in one process.
 *
 * @NOTE Nothing here survives the process, so "acknowledged" means *consumed*: `publish`
 * resolves only after every consumer group has committed the messages, i.e. after scoring has
 * written them to ClickHouse. Ingest checkpoints its Jetstream cursor after that, so a crash at
 * any point loses nothing; the price is that ingest waits for scoring, which is also the
 * backpressure. Messages published before their consumer subscribes wait for it. Topics named
 * as retained (the dead-letter topic, which only operators read) acknowledge at once while no
 * group consumes them and keep their last messages for inspection. One partition per topic
 * keeps every key in order.
 *
 * @NOTE The messages of a topic that wait for their consumers are bounded (`maxQueued`,
 * `IN_PROCESS_BUS_MAX_QUEUED`): a publish that finds the topic full waits, in publish order, until
 * the consumers have committed enough to make room; nothing is dropped and memory stays bounded
 * however many publishers there are (ingest, every sendInteractions request, the impression
 * recorder). A publish larger than the bound enters in parts.
 */
export class InProcessBus implements MessageBus {
  private readonly topics = new Map<string, TopicLog>();
  private readonly retainedTopics: ReadonlySet<string>;
  private readonly maxQueued: number;
  private closed = false;

  constructor(options: { retainedTopics?: string[]; maxQueued?: number } = {}) {
    this.retainedTopics = new Set(options.retainedTopics ?? []);
    this.maxQueued = options.maxQueued ?? DEFAULT_MAX_QUEUED;
    if (!(this.maxQueued >= 1)) throw new RangeError(`maxQueued must be at least 1, got ${this.maxQueued}`);
  }

  async ensureTopics(topics: TopicSpec[]): Promise<void> {
    for (const topic of topics) this.topic(topic.name);
  }

  async publish(topic: string, messages: OutgoingMessage[]): Promise<void> {
    if (this.closed) throw new Error('the in-process bus is closed');
    if (messages.length === 0) return;
    const log = this.topic(topic);
    const end = await log.enqueue(messages);
    const acknowledged = new Promise<void>((resolve) => log.waiters.push({ offset: end, resolve }));
    log.trim();
    await acknowledged;
  }

  async subscribe(options: SubscribeOptions): Promise<Subscription> {
    const logs = options.topics.map((name) => this.topic(name));
    const groups: Group[] = [];
    for (const log of logs) {
      if (log.groups.has(options.groupId)) {
        throw new Error(`group ${options.groupId} already consumes this topic in this process`);
      }
      groups.push(this.startGroup(log, options));
    }
    return {
      stop: async () => {
        for (const group of groups) {
          group.stopping = true;
          group.stopped.abort();
          group.wake();
        }
        await Promise.all(groups.map((group) => group.loop));
        for (const log of logs) {
          log.groups.delete(options.groupId);
          log.trim();
        }
      },
    };
  }

  async ping(): Promise<boolean> {
    return !this.closed;
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  /**
   * Messages not yet committed by `groupId`, per topic (one partition each). A topic the group does
   * not consume yet lags by everything waiting for a consumer; a retained topic nobody consumes
   * acknowledges at once and is left out.
   */
  async lag(groupId: string, topics: string[]): Promise<ConsumerLag[]> {
    const lags: ConsumerLag[] = [];
    for (const name of topics) {
      const log = this.topics.get(name);
      if (!log) continue;
      const group = log.groups.get(groupId);
      if (!group && log.retained && log.groups.size === 0) continue;
      lags.push({ topic: name, partition: 0, lag: log.end - (group?.committed ?? log.base) });
    }
    return lags;
  }

  /** Messages of a topic waiting for its consumers, and publishes waiting for room. */
  queued(topic: string): { messages: number; blockedPublishes: number } {
    const log = this.topic(topic);
    return { messages: log.messages.length, blockedPublishes: log.blocked };
  }

  /** Messages held for a retained topic, and how many were dropped past the retention. */
  retained(topic: string): { messages: IncomingMessage[]; dropped: number } {
    const log = this.topic(topic);
    return { messages: [...log.messages], dropped: log.dropped };
  }

  private topic(name: string): TopicLog {
    let log = this.topics.get(name);
    if (!log) {
      log = new TopicLog(name, this.retainedTopics.has(name), this.maxQueued);
      this.topics.set(name, log);
    }
    return log;
  }

  private startGroup(log: TopicLog, options: SubscribeOptions): Group {
    let signal: (() => void) | undefined;
    const group: Group = {
      id: options.groupId,
      committed: options.from === 'latest' ? log.end : log.base,
      follower: options.from === 'latest',
      handler: options.handler,
      maxBatchSize: options.maxBatchSize ?? 10_000,
      stopping: false,
      stopped: new AbortController(),
      wake: () => signal?.(),
      loop: Promise.resolve(),
    };
    const idle = () => new Promise<void>((resolve) => (signal = resolve));
    const context = { heartbeat: async () => undefined, isStopping: () => group.stopping };

    group.loop = (async () => {
      let failures = 0;
      while (!group.stopping) {
        if (group.committed >= log.end) {
          await idle();
          continue;
        }
        // A follower of a retained topic nobody else consumes may find its next messages dropped by the retention.
        group.committed = Math.max(group.committed, log.base);
        const from = group.committed - log.base;
        const messages = log.messages.slice(from, from + group.maxBatchSize);
        try {
          await group.handler({ topic: log.name, partition: 0, messages }, context);
          failures = 0;
          group.committed += messages.length;
          log.trim();
        } catch {
          // The handler logs its own failure; the batch is delivered again after a backoff.
          failures += 1;
          const delay = Math.min(MAX_RETRY_DELAY_MS, 100 * 2 ** failures);
          await sleep(delay, group.stopped.signal);
        }
      }
    })();
    log.groups.set(options.groupId, group);
    return group;
  }
}
