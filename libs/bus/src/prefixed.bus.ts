import type { ConsumerLag, MessageBus, OutgoingMessage, SubscribeOptions, Subscription, TopicSpec } from '#lib/contracts';

/**
 * Puts every topic of a bus under a prefix (`KAFKA_TOPIC_PREFIX`), so that several deployments
 * (or test runs) share one Kafka cluster without reading each other's messages. Handlers see the
 * contract's topic names, without the prefix.
 */
export class PrefixedBus implements MessageBus {
  /** Present when the wrapped bus reports lag; topics in and out without the prefix. */
  readonly lag?: (groupId: string, topics: string[]) => Promise<ConsumerLag[]>;

  constructor(
    private readonly bus: MessageBus,
    private readonly prefix: string,
  ) {
    const lag = bus.lag?.bind(bus);
    if (lag) {
      this.lag = async (groupId, topics) =>
        (await lag(groupId, topics.map((topic) => prefix + topic))).map((entry) => ({ ...entry, topic: entry.topic.slice(prefix.length) }));
    }
  }

  ensureTopics(topics: TopicSpec[]): Promise<void> {
    return this.bus.ensureTopics(topics.map((topic) => ({ ...topic, name: this.prefix + topic.name })));
  }

  publish(topic: string, messages: OutgoingMessage[]): Promise<void> {
    return this.bus.publish(this.prefix + topic, messages);
  }

  get refusedMessages(): number | undefined {
    return this.bus.refusedMessages;
  }

  subscribe(options: SubscribeOptions): Promise<Subscription> {
    return this.bus.subscribe({
      ...options,
      topics: options.topics.map((topic) => this.prefix + topic),
      handler: (batch, context) => options.handler({ ...batch, topic: batch.topic.slice(this.prefix.length) }, context),
    });
  }

  ping(): Promise<boolean> {
    return this.bus.ping();
  }

  close(): Promise<void> {
    return this.bus.close();
  }
}
