import { setImmediate as nextTurn } from 'node:timers/promises';
import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { encodeMessage, Topics, type MessageBus, type OutgoingMessage } from '#lib/contracts';
import { LOGGER, MESSAGE_BUS, type Logger } from '#lib/platform';

const FLUSH_INTERVAL_MS = 1_000;
const MAX_BATCH = 5_000;
/** Impressions held while the bus is slow; beyond this the oldest are dropped (and counted). */
const MAX_BUFFERED = 100_000;

/** The header naming the replica that served an impression and knows it already (`ViewerFeedbackStore.origin`). */
export const IMPRESSION_ORIGIN_HEADER = 'origin';

/**
 * Records which posts were served to which viewer: the exposure the bridging ranking divides by.
 * Requests never wait for it: impressions are buffered (bounded) and published in batches on the
 * feedback topic; a page's impressions may carry an `origin` header, so that the replica which
 * served them (and knows them already) can pass over its own on the topic.
 */
@Injectable()
export class ImpressionRecorder implements OnModuleInit, OnModuleDestroy {
  recorded = 0;
  dropped = 0;
  published = 0;
  /** Encoded impressions waiting for the bus, keyed by viewer. */
  private buffer: OutgoingMessage[] = [];
  private timer?: NodeJS.Timeout;
  private flushing?: Promise<void>;
  /** After a failed publish, only the timer retries until then. */
  private retryAfter = 0;
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

  /**
   * `timeUs`: when the page was served (default now), the time the viewer's own feedback store gives these impressions too;
   * `origin`: who knows them already, in the messages' origin header.
   */
  record(viewer: string, feed: string, posts: readonly string[], reqId: string, { timeUs = Date.now() * 1000, origin }: { timeUs?: number; origin?: string } = {}): void {
    // @NOTE A page's impressions differ only in `item`: the rest of the JSON is encoded once per
    // request, and each message is exactly `encodeMessage(event)` (same keys, same order). Encoding
    // here rather than in `flush` spreads the work over the requests instead of blocking the event
    // loop for a whole second's worth of impressions at once.
    const head = `{"v":1,"type":"feedback","viewer":${JSON.stringify(viewer)},"feed":${JSON.stringify(feed)},"item":`;
    const tail = `,"event":"impression","feedContext":null,"reqId":${JSON.stringify(reqId)},"timeUs":${timeUs}}`;
    // One headers object shared by the page's messages (nothing changes a message once queued).
    const headers = origin === undefined ? undefined : { [IMPRESSION_ORIGIN_HEADER]: origin };
    const messages: OutgoingMessage[] = new Array<OutgoingMessage>(posts.length);
    for (let i = 0; i < posts.length; i += 1) {
      const value = head + JSON.stringify(posts[i]) + tail;
      messages[i] = headers === undefined ? { key: viewer, value } : { key: viewer, value, headers };
    }
    this.enqueue(messages);
  }

  /** Impressions whose item's `feedContext` must travel with them: boosted items, whose funds are charged from it. */
  recordWithContext(viewer: string, feed: string, items: readonly { post: string; feedContext: string }[], reqId: string): void {
    const timeUs = Date.now() * 1000;
    this.enqueue(
      items.map(({ post, feedContext }) => ({
        key: viewer,
        value: encodeMessage({ v: 1, type: 'feedback', viewer, feed, item: post, event: 'impression', feedContext, reqId, timeUs }),
      })),
    );
  }

  private enqueue(messages: OutgoingMessage[]): void {
    for (const message of messages) this.buffer.push(message);
    this.recorded += messages.length;
    // At thousands of pages a second a timer tick's worth would overflow the buffer: a full batch
    // is published at once (unless the bus just failed: then the timer retries).
    if (this.buffer.length >= MAX_BATCH && !this.flushing && Date.now() >= this.retryAfter) void this.flush();
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
          await this.bus.publish(Topics.feedback, batch);
          this.published += batch.length;
          // A bus that acknowledges without I/O (in-process) would otherwise publish a long backlog in one go.
          if (this.buffer.length > 0) await nextTurn();
        } catch (error) {
          this.buffer.unshift(...batch);
          this.retryAfter = Date.now() + FLUSH_INTERVAL_MS;
          this.log.warn({ err: (error as Error).message, buffered: this.buffer.length }, 'impressions not published; will retry');
          return;
        }
      }
    })().finally(() => (this.flushing = undefined));
    return this.flushing;
  }
}
