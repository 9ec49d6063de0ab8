import { BusUnavailableError } from '#lib/contracts';
import { randomUUID } from 'node:crypto';
import { ClientKafka, ServerKafka, type KafkaOptions, type ReadPacket } from '@nestjs/microservices';
import type { Consumer } from 'kafkajs';
import { DEFAULT_START_TIMEOUT_MS, kafkaJsSecurity, type KafkaBusOptions } from './kafka.config.js';
import { kafkaJsLogging } from './kafkajs.log.js';
import { keyPartitioner } from './key.partitioner.js';
import { retryTransient } from './transient.js';

/** Where the control plane's Kafka transport connects: the project's own Kafka settings. */
export interface KafkaControlOptions extends Pick<KafkaBusOptions, 'brokers' | 'ssl' | 'sasl'>, Required<Pick<KafkaBusOptions, 'log' | 'logLevel'>> {
  clientId: string;
  /** `KAFKA_TOPIC_PREFIX`: put in front of every topic name on the broker, never seen by handlers. */
  topicPrefix: string;
  sessionTimeoutMs: number;
}

function transportOptions(options: KafkaControlOptions): NonNullable<KafkaOptions['options']> {
  return {
    client: { clientId: options.clientId, brokers: options.brokers, ...kafkaJsSecurity(options), ...kafkaJsLogging(options.logLevel, options.log) },
    // @NOTE A group of its own per process: every replica must see every control event, and
    // starts from the newest (what it missed before, it reads from the store at start-up).
    consumer: { groupId: `${options.clientId}-control-${randomUUID()}`, sessionTimeout: options.sessionTimeoutMs },
    subscribe: { fromBeginning: false },
    producer: { createPartitioner: keyPartitioner },
    postfixId: '',
  };
}

/**
 * The control plane of the scaled mode: `@nestjs/microservices`' Kafka server, its
 * `@EventPattern(topic)` handlers subscribed under the deployment's topic prefix.
 */
export class KafkaControlServer extends ServerKafka {
  private closing = false;

  constructor(private readonly control: KafkaControlOptions) {
    super(transportOptions(control));
  }

  /**
   * Connects, subscribes and joins, waiting for a broker that is away (restarting, say) instead of
   * failing the process's start: each failed attempt leaves nothing connected behind it.
   */
  override async start(callback: () => void): Promise<void> {
    await retryTransient({
      what: 'starting the control plane',
      deadline: Date.now() + DEFAULT_START_TIMEOUT_MS,
      attempt: async () => {
        try {
          await super.start(callback);
        } catch (error) {
          await Promise.allSettled([this.consumer?.disconnect(), this.producer?.disconnect()]);
          throw error;
        }
      },
      abandoned: () => this.closing,
      log: this.control.log,
    });
    // Closed before it started: `listen` would otherwise wait for a callback that never comes.
    if (this.closing) throw new BusUnavailableError('the control plane was closed before it started');
  }

  override async close(): Promise<void> {
    this.closing = true;
    await super.close();
  }

  override async bindEvents(consumer: Consumer): Promise<void> {
    const { topicPrefix } = this.control;
    const topics = [...this.messageHandlers.keys()];
    if (topics.length === 0) return;
    await consumer.subscribe({ topics: topics.map((topic) => topicPrefix + topic), fromBeginning: false });
    // @NOTE The group starts at the newest offset once it has joined: waiting for the join here
    // makes the process listen only once it receives every later announcement.
    let joinedNow: () => void = () => undefined;
    const joined = new Promise<void>((resolve) => (joinedNow = resolve));
    const removeListener = consumer.on(consumer.events.GROUP_JOIN, () => joinedNow());
    await consumer.run({
      eachMessage: (payload) => this.handleMessage({ ...payload, topic: payload.topic.slice(topicPrefix.length) }),
    });
    let timer: NodeJS.Timeout | undefined;
    const gaveUp = new Promise<void>((resolve) => (timer = setTimeout(resolve, this.control.sessionTimeoutMs)));
    await Promise.race([joined, gaveUp]);
    clearTimeout(timer);
    removeListener();
  }
}

/** Emits control events to Kafka under the deployment's topic prefix; a producer only. */
export class KafkaControlClient extends ClientKafka {
  constructor(private readonly control: KafkaControlOptions) {
    super({ ...transportOptions(control), producerOnlyMode: true });
  }

  protected override dispatchEvent(packet: ReadPacket): Promise<unknown> {
    return super.dispatchEvent({ ...packet, pattern: this.control.topicPrefix + this.normalizePattern(packet.pattern) });
  }
}
