import { randomUUID } from 'node:crypto';
import { BaseRpcContext, ClientProxy, Server, type CustomTransportStrategy, type ReadPacket, type WritePacket } from '@nestjs/microservices';
import type { MessageBatch, MessageBus, Subscription } from '#lib/contracts';

/** What an `@EventPattern` handler can ask about the message it handles: the topic it came on. */
export class InProcessControlContext extends BaseRpcContext<[topic: string, offset: string]> {
  getTopic(): string {
    return this.args[0];
  }

  getOffset(): string {
    return this.args[1];
  }
}

/**
 * The control plane of the embedded mode, as a `@nestjs/microservices` transport strategy: each
 * `@EventPattern(topic)` handler receives the events published on that topic of the in-process
 * bus. One consumer group per server, so every server in the process sees every event.
 *
 * @NOTE Control events are few (a curation change, an assignment) and each is applied by its
 * handler before the bus counts it consumed; the high-rate event path keeps the batch consumers.
 */
export class InProcessControlServer extends Server implements CustomTransportStrategy {
  private subscription?: Subscription;

  constructor(
    private readonly bus: MessageBus,
    private readonly groupId = `control-${randomUUID()}`,
  ) {
    super();
  }

  async listen(callback: (error?: unknown) => void): Promise<void> {
    try {
      const topics = [...this.messageHandlers.keys()];
      if (topics.length > 0) {
        this.subscription = await this.bus.subscribe({ groupId: this.groupId, topics, handler: (batch) => this.handleBatch(batch) });
      }
      callback();
    } catch (error) {
      callback(error);
    }
  }

  async close(): Promise<void> {
    await this.subscription?.stop();
    this.subscription = undefined;
  }

  on(): never {
    throw new Error('the in-process control transport has no events of its own');
  }

  unwrap<T>(): T {
    return this.bus as T;
  }

  private async handleBatch(batch: MessageBatch): Promise<void> {
    for (const message of batch.messages) {
      let data: unknown;
      try {
        data = JSON.parse(message.value);
      } catch {
        this.logger.error(`control event on ${batch.topic} at ${message.offset} is not JSON; skipped`);
        continue;
      }
      await this.handleEvent(batch.topic, { pattern: batch.topic, data }, new InProcessControlContext([batch.topic, message.offset]));
    }
  }
}

/** Emits control events on the in-process bus (`client.emit(topic, data)`); events only, no requests. */
export class InProcessControlClient extends ClientProxy {
  constructor(private readonly bus: MessageBus) {
    super();
  }

  async connect(): Promise<void> {}

  async close(): Promise<void> {}

  unwrap<T>(): T {
    return this.bus as T;
  }

  protected publish(_packet: ReadPacket, callback: (packet: WritePacket) => void): () => void {
    callback({ err: new Error('the control plane carries events only: use emit()'), isDisposed: true });
    return () => undefined;
  }

  protected async dispatchEvent<T = undefined>(packet: ReadPacket): Promise<T> {
    const topic = this.normalizePattern(packet.pattern);
    await this.bus.publish(topic, [{ key: topic, value: JSON.stringify(packet.data) }]);
    return undefined as T;
  }
}
