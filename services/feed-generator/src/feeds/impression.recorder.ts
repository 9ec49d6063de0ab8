import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { encodeMessage, Topics, type FeedbackEventV1, type MessageBus } from '#lib/contracts';
import { LOGGER, MESSAGE_BUS, type Logger } from '#lib/platform';

const FLUSH_INTERVAL_MS = 1_000;
const MAX_BATCH = 5_000;
/** Impressions held while the bus is slow; beyond this the oldest are dropped (and counted). */
const MAX_BUFFERED = 100_000;

/**
 * Records which posts were served to which viewer: the exposure the bridging ranking divides by.
 * Requests never wait for it: impressions are buffered (bounded) and published in batches on the
 * feedback topic.
 */
@Injectable()
export class ImpressionRecorder implements OnModuleInit, OnModuleDestroy {
  recorded = 0;
  dropped = 0;
  published = 0;
  private buffer: FeedbackEventV1[] = [];
  private timer?: NodeJS.Timeout;
  private flushing?: Promise<void>;
  private readonly log: Logger;

  constructor(
    @Inject(MESSAGE_BUS) private readonly bus: MessageBus,
    @Inject(LOGGER) logger: Logger,
  ) {
    this.log = logger.child({ component: 'impressions' });
  }

  onModuleInit(): void {
    this.timer = setInterval(() => void this.flush(), FLUSH_INTERVAL_MS);
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.timer);
    await this.flushing;
    await this.flush();
  }

  record(viewer: string, feed: string, posts: readonly string[], reqId: string): void {
    const timeUs = Date.now() * 1000;
    for (const item of posts) {
      this.buffer.push({ v: 1, type: 'feedback', viewer, feed, item, event: 'impression', feedContext: null, reqId, timeUs });
    }
    this.recorded += posts.length;
    if (this.buffer.length > MAX_BUFFERED) {
      const excess = this.buffer.length - MAX_BUFFERED;
      this.buffer.splice(0, excess);
      this.dropped += excess;
    }
  }

  /** Publishes what is buffered; one flush at a time, failures put the batch back. */
  async flush(): Promise<void> {
    if (this.flushing || this.buffer.length === 0) return this.flushing;
    this.flushing = (async () => {
      while (this.buffer.length > 0) {
        const batch = this.buffer.splice(0, MAX_BATCH);
        try {
          await this.bus.publish(
            Topics.feedback,
            batch.map((event) => ({ key: event.viewer, value: encodeMessage(event) })),
          );
          this.published += batch.length;
        } catch (error) {
          this.buffer.unshift(...batch);
          this.log.warn({ err: (error as Error).message, buffered: this.buffer.length }, 'impressions not published; will retry');
          return;
        }
      }
    })().finally(() => (this.flushing = undefined));
    return this.flushing;
  }
}
