import { setImmediate as nextTurn } from 'node:timers/promises';
import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { encodeMessage, Topics, type FeedbackEventV1, type MessageBus, type OutgoingMessage } from '#lib/contracts';
import { LOGGER, MESSAGE_BUS, type Logger } from '#lib/platform';

const FLUSH_INTERVAL_MS = 1_000;
const MAX_BATCH = 5_000;
/** Impressions held while the bus is slow; beyond this the oldest are dropped (and counted). */
const MAX_BUFFERED = 100_000;

/** The header naming the replica that served an impression and knows it already (`ViewerFeedbackStore.origin`). */
export const IMPRESSION_ORIGIN_HEADER = 'origin';

/**
 * A served page's impressions, not yet encoded: the page's posts are the strings the feed holds
 * anyway, so a buffered page costs a few references rather than fifty encoded messages.
 */
class ServedPage {
  /** The JSON of an impression of this page before and after its post: the same for all of them, encoded once. */
  private around?: [string, string];

  constructor(
    readonly viewer: string,
    readonly feed: string,
    readonly posts: readonly string[],
    readonly reqId: string,
    readonly timeUs: number,
    readonly headers: Record<string, string> | undefined,
  ) {}

  /** The page without its first `n` posts (the oldest impressions dropped). */
  after(n: number): ServedPage {
    return new ServedPage(this.viewer, this.feed, this.posts.slice(n), this.reqId, this.timeUs, this.headers);
  }

  event(post: string): FeedbackEventV1 {
    return { v: 1, type: 'feedback', viewer: this.viewer, feed: this.feed, item: post, event: 'impression', feedContext: null, reqId: this.reqId, timeUs: this.timeUs };
  }

  /** Exactly `encodeMessage(this.event(post))` (same keys, same order), with the rest of the JSON encoded once per page. */
  encode(post: string): string {
    this.around ??= [
      `{"v":1,"type":"feedback","viewer":${JSON.stringify(this.viewer)},"feed":${JSON.stringify(this.feed)},"item":`,
      `,"event":"impression","feedContext":null,"reqId":${JSON.stringify(this.reqId)},"timeUs":${this.timeUs}}`,
    ];
    return this.around[0] + JSON.stringify(post) + this.around[1];
  }
}

/**
 * One impression of a served page, encoded when first read: a broker reads its value, while the
 * in-process bus hands the consumer in the same process (the scoring service's feedback writer,
 * embedded) the event itself, which it would otherwise decode again, fifty a page. A class
 * rather than an object literal with getters: one object a message, no closure.
 */
class ImpressionMessage implements OutgoingMessage {
  private encoded?: string;
  private event?: FeedbackEventV1;

  constructor(
    private readonly page: ServedPage,
    private readonly post: string,
  ) {}

  get key(): string {
    return this.page.viewer;
  }

  get headers(): Record<string, string> | undefined {
    return this.page.headers;
  }

  get value(): string {
    return (this.encoded ??= this.page.encode(this.post));
  }

  get decoded(): FeedbackEventV1 {
    return (this.event ??= this.page.event(this.post));
  }
}

/** What waits for the bus: pages to encode, or messages already encoded (boosted items, a batch the bus refused). */
type Pending = { page: ServedPage; messages?: undefined } | { page?: undefined; messages: OutgoingMessage[] };

/**
 * Records which posts were served to which viewer: the exposure the bridging ranking divides by.
 * Requests never wait for it: impressions are buffered (bounded) and published in batches on the
 * feedback topic; a page's impressions may carry an `origin` header, so that the replica which
 * served them (and knows them already) can pass over its own on the topic.
 *
 * @NOTE A page is buffered as it was served, and each of its impressions is encoded only when the
 * bus reads it (one message per post, exactly `encodeMessage(event)`): Kafka when it sends a batch
 * of at most `MAX_BATCH` (about a millisecond of encoding, so the event loop is never held for
 * long); the in-process bus not at all, as it hands the embedded feedback writer the event itself.
 * Encoding at serving time made every request leave fifty strings behind for the next garbage
 * collection to copy.
 */
@Injectable()
export class ImpressionRecorder implements OnModuleInit, OnModuleDestroy {
  recorded = 0;
  dropped = 0;
  published = 0;
  /** Impressions waiting for the bus, oldest first, and how many they are. */
  private pending: Pending[] = [];
  private buffered = 0;
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
    if (posts.length === 0) return;
    const headers = origin === undefined ? undefined : { [IMPRESSION_ORIGIN_HEADER]: origin };
    this.enqueue({ page: new ServedPage(viewer, feed, posts, reqId, timeUs, headers) }, posts.length);
  }

  /** Impressions whose item's `feedContext` must travel with them: boosted items, whose funds are charged from it. */
  recordWithContext(viewer: string, feed: string, items: readonly { post: string; feedContext: string }[], reqId: string): void {
    const timeUs = Date.now() * 1000;
    const messages = items.map(({ post, feedContext }) => ({
      key: viewer,
      value: encodeMessage({ v: 1, type: 'feedback', viewer, feed, item: post, event: 'impression', feedContext, reqId, timeUs }),
    }));
    if (messages.length > 0) this.enqueue({ messages }, messages.length);
  }

  private enqueue(entry: Pending, count: number): void {
    this.pending.push(entry);
    this.buffered += count;
    this.recorded += count;
    // At thousands of pages a second a timer tick's worth would overflow the buffer: a full batch
    // is published at once (unless the bus just failed: then the timer retries).
    if (this.buffered >= MAX_BATCH && !this.flushing && Date.now() >= this.retryAfter) void this.flush();
    if (this.buffered > MAX_BUFFERED) this.dropOldest(this.buffered - MAX_BUFFERED);
  }

  /** Drops the `excess` oldest impressions (counted). */
  private dropOldest(excess: number): void {
    let left = excess;
    while (left > 0 && this.pending.length > 0) {
      const oldest = this.pending[0]!;
      const size = oldest.page ? oldest.page.posts.length : oldest.messages.length;
      if (size <= left) {
        this.pending.shift();
        left -= size;
      } else if (oldest.page) {
        this.pending[0] = { page: oldest.page.after(left) };
        left = 0;
      } else {
        this.pending[0] = { messages: oldest.messages.slice(left) };
        left = 0;
      }
    }
    this.buffered -= excess - left;
    this.dropped += excess - left;
  }

  /** The oldest pending impressions as messages (each encoded when the bus reads it): whole entries until at least `MAX_BATCH` (or all). */
  private takeBatch(): OutgoingMessage[] {
    const batch: OutgoingMessage[] = [];
    while (batch.length < MAX_BATCH && this.pending.length > 0) {
      const entry = this.pending.shift()!;
      if (entry.messages) {
        for (const message of entry.messages) batch.push(message);
        continue;
      }
      for (const post of entry.page.posts) batch.push(new ImpressionMessage(entry.page, post));
    }
    this.buffered -= batch.length;
    return batch;
  }

  /** Publishes what is buffered; one flush at a time, failures put the batch back. */
  async flush(): Promise<void> {
    if (this.flushing || this.buffered === 0) return this.flushing;
    this.flushing = (async () => {
      while (this.buffered > 0) {
        const batch = this.takeBatch();
        try {
          await this.bus.publish(Topics.feedback, batch);
          this.published += batch.length;
          // A bus that acknowledges without I/O (in-process) would otherwise publish a long backlog in one go.
          if (this.buffered > 0) await nextTurn();
        } catch (error) {
          this.pending.unshift({ messages: batch });
          this.buffered += batch.length;
          this.retryAfter = Date.now() + FLUSH_INTERVAL_MS;
          this.log.warn({ err: (error as Error).message, buffered: this.buffered }, 'impressions not published; will retry');
          return;
        }
      }
    })().finally(() => (this.flushing = undefined));
    return this.flushing;
  }
}
