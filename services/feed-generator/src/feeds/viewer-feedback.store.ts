import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { LRUCache } from 'lru-cache';
import { supportInContext, voteContext } from '#lib/bridging';
import { FeedbackRepository } from '#lib/clickhouse';
import type { AppConfig } from '#lib/config';
import { decodeFeedbackEvent, Topics, type FeedbackEventV1, type MessageBus, type Subscription } from '#lib/contracts';
import { parseAtUri } from '#lib/domain';
import type { ViewerHistory } from '#lib/clickhouse';
import { APP_CONFIG, BusStartup, LOGGER, MESSAGE_BUS, type Logger } from '#lib/platform';
import { IMPRESSION_ORIGIN_HEADER } from './impression.recorder.js';
import { emptyFeedback, type ViewerFeedback } from './personal-order.js';

/** Posts remembered as seen per viewer; beyond it the oldest go first. */
const MAX_SEEN = 1_000;
/** Entries of each other kind per viewer (posts asked less of, authors, communities). */
const MAX_SIGNALS = 300;
/** How far back a viewer's history is read: the retention of feedback and impressions in ClickHouse. */
const HISTORY_MS = 14 * 24 * 3_600_000;
/**
 * Bytes an entry takes (the five maps and the entry), and each remembered key beyond its own
 * characters: measured with `npm run bench:feed` (resident set per cached viewer), not guessed.
 */
const ENTRY_BYTES = 1_600;
const KEY_BYTES = 120;
/** Viewers whose histories are read together in one pair of queries. */
const HISTORY_BATCH = 256;

interface HistoryRequest {
  resolve(history: ViewerHistory): void;
  reject(error: unknown): void;
}

interface CachedFeedback {
  feedback: ViewerFeedback;
  /** False while it holds only what the bus brought: the viewer's history is still to be read. */
  loaded: boolean;
  bytes: number;
}

/**
 * What each viewer told the feeds (`requestLess`, `requestMore`, `interactionSeen`) and was
 * served, as their personal order reads it.
 *
 * @NOTE Bounded and shared. Entries live in an LRU cache bounded by viewers and by bytes (each
 * viewer's own maps are capped too), and expire after `VIEWER_FEEDBACK_TTL_SECONDS`; a missing
 * entry is read from ClickHouse (the viewer's own rows: two index reads). Reads are coalesced:
 * viewers asked for while a read is under way are read together by the next one (up to
 * `HISTORY_BATCH` at once), so a crowd of new viewers costs a few queries, not one each. Every replica follows
 * the feedback topic from its end in a consumer group of its own, so feedback sent to one replica
 * reaches the others within the bus's latency; the replica that received it applies it at once.
 * Impressions only update viewers already cached (they are most of the topic, and ClickHouse has
 * them a second later); other feedback also starts an entry for an uncached viewer, merged with
 * their history when it is read, so a signal still on its way to ClickHouse is not missed.
 * The replica that serves a page gives its impressions to `served` at once, with the time they are
 * published with, and passes over them on the topic (their origin header is this store's `origin`):
 * decoding fifty impressions it already knows would cost more than serving the page.
 */
@Injectable()
export class ViewerFeedbackStore implements OnModuleInit, OnModuleDestroy {
  private readonly cache: LRUCache<string, CachedFeedback>;
  private readonly loading = new Map<string, Promise<ViewerFeedback>>();
  /** Viewers whose histories wait for the next read, and whether a read is under way. */
  private readonly waiting = new Map<string, HistoryRequest[]>();
  private reading = false;
  private subscription?: Subscription;
  private readonly log: Logger;
  /** This replica's id, in the origin header of the impressions it publishes after giving them to `served`. */
  readonly origin = randomUUID();
  /** Histories read from ClickHouse, and bus messages that could not be decoded. */
  loads = 0;
  undecodable = 0;
  /** Reads of histories from ClickHouse (each for one or more viewers). */
  historyReads = 0;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(MESSAGE_BUS) private readonly bus: MessageBus,
    @Inject(FeedbackRepository) private readonly repository: FeedbackRepository,
    @Inject(LOGGER) logger: Logger,
    private readonly busStartup: BusStartup,
  ) {
    const bounds = config.feedGenerator.viewerFeedback;
    this.cache = new LRUCache<string, CachedFeedback>({
      max: bounds.cacheViewers,
      maxSize: bounds.cacheBytes,
      sizeCalculation: (entry) => entry.bytes,
      ttl: bounds.ttlSeconds * 1000,
    });
    this.log = logger.child({ component: 'viewer-feedback' });
  }

  async onModuleInit(): Promise<void> {
    await this.busStartup.step('subscribing to viewer feedback', () => this.subscribe());
  }

  private async subscribe(): Promise<void> {
    const base = this.config.bus.kind === 'kafka' ? this.config.bus.consumerGroup : 'feed-generator';
    this.subscription = await this.bus.subscribe({
      // One group per replica and start: every replica sees every message, from now on.
      groupId: `${base}-viewer-feedback-${hostname()}-${randomUUID().slice(0, 8)}`,
      topics: [Topics.feedback],
      from: 'latest',
      handler: async (batch) => {
        const events: FeedbackEventV1[] = [];
        const ownOrigin = this.origin;
        for (const message of batch.messages) {
          // This replica's own impressions: `served` has them already.
          if (message.headers[IMPRESSION_ORIGIN_HEADER] === ownOrigin) continue;
          // Most of the topic is impressions of viewers this replica does not hold: skipped undecoded.
          if (message.key !== null && !this.cache.has(message.key) && message.value.includes('"event":"impression"')) continue;
          try {
            events.push(decodeFeedbackEvent(message.value));
          } catch {
            this.undecodable += 1;
          }
        }
        this.apply(events);
      },
    });
  }

  async onModuleDestroy(): Promise<void> {
    await this.subscription?.stop();
  }

  /** Viewers held now (for the memory bound's measurement). */
  get size(): number {
    return this.cache.size;
  }

  /** Forget every viewer held (a benchmark measures the reads of histories as new viewers come). */
  invalidate(): void {
    this.cache.clear();
  }

  /** The viewer's feedback: cached, or read from ClickHouse (concurrent requests share one read). */
  async feedbackOf(viewer: string): Promise<ViewerFeedback> {
    const entry = this.cache.get(viewer);
    if (entry?.loaded) return entry.feedback;
    let pending = this.loading.get(viewer);
    if (!pending) {
      pending = this.load(viewer).finally(() => this.loading.delete(viewer));
      this.loading.set(viewer, pending);
    }
    return pending;
  }

  /** Feedback just received (by this replica's sendInteractions, or from the bus). Idempotent. */
  apply(events: readonly FeedbackEventV1[]): void {
    for (const event of events) {
      const passive = event.event === 'impression';
      if (!passive && !personalKinds.has(event.event)) continue;
      let entry = this.cache.get(event.viewer, { updateAgeOnGet: false });
      if (!entry) {
        if (passive) continue;
        entry = { feedback: emptyFeedback(), loaded: false, bytes: ENTRY_BYTES };
      }
      entry.bytes += record(entry.feedback, event.event, event.item, event.timeUs / 1000, event.feedContext);
      // Set again so that the cache counts the entry's new size; its expiry stays.
      this.cache.set(event.viewer, entry, { noUpdateTTL: true });
    }
  }

  /**
   * Posts this replica just served to `viewer` (the impressions it publishes, with their time):
   * remembered as seen when the viewer is cached, as impressions from the bus are.
   */
  served(viewer: string, posts: readonly string[], timeUs: number): void {
    const entry = this.cache.get(viewer, { updateAgeOnGet: false });
    if (!entry) return;
    const timeMs = timeUs / 1000;
    let added = 0;
    for (const post of posts) added += remember(entry.feedback.seen, post, timeMs, MAX_SEEN);
    if (added > 0) {
      entry.bytes += added;
      // Set again so that the cache counts the entry's new size; its expiry stays.
      this.cache.set(viewer, entry, { noUpdateTTL: true });
    }
  }

  private async load(viewer: string): Promise<ViewerFeedback> {
    const history = await this.history(viewer);
    this.loads += 1;
    const feedback = emptyFeedback();
    let bytes = ENTRY_BYTES;
    // Oldest first, so that each map keeps the newest within its cap.
    for (const signal of history.signals.toReversed()) bytes += record(feedback, signal.kind, signal.post, signal.timeUs / 1000, signal.feedContext);
    for (const impression of history.impressions.toReversed()) bytes += record(feedback, 'impression', impression.post, impression.timeUs / 1000, null);
    // What the bus brought while the history was read (or before) joins it.
    const partial = this.cache.get(viewer, { updateAgeOnGet: false });
    if (partial && !partial.loaded) {
      for (const [name, map] of Object.entries(partial.feedback) as [keyof ViewerFeedback, Map<string, number>][]) {
        for (const [key, time] of map) bytes += remember(feedback[name], key, time, name === 'seen' ? MAX_SEEN : MAX_SIGNALS);
      }
    }
    this.cache.set(viewer, { feedback, loaded: true, bytes });
    return feedback;
  }

  /** A viewer's history, read with those of the other viewers waiting for one. */
  private history(viewer: string): Promise<ViewerHistory> {
    return new Promise<ViewerHistory>((resolve, reject) => {
      const requests = this.waiting.get(viewer);
      if (requests) requests.push({ resolve, reject });
      else this.waiting.set(viewer, [{ resolve, reject }]);
      if (!this.reading) this.readWaiting();
    });
  }

  /** Reads the histories of the viewers waiting (up to `HISTORY_BATCH`), then of those that came meanwhile. */
  private readWaiting(): void {
    const batch = [...this.waiting.keys()].slice(0, HISTORY_BATCH);
    if (batch.length === 0) {
      this.reading = false;
      return;
    }
    this.reading = true;
    const requests = batch.map((viewer) => {
      const waiting = this.waiting.get(viewer)!;
      this.waiting.delete(viewer);
      return waiting;
    });
    this.historyReads += 1;
    void this.repository
      .viewerHistories(batch, (Date.now() - HISTORY_MS) * 1000, MAX_SEEN)
      .then(
        (histories) => batch.forEach((viewer, i) => requests[i]!.forEach((request) => request.resolve(histories.get(viewer)!))),
        (error: unknown) => requests.forEach((waiting) => waiting.forEach((request) => request.reject(error))),
      )
      .finally(() => this.readWaiting());
  }
}

const personalKinds = new Set<string>(['requestLess', 'requestMore', 'interactionSeen']);

/** Adds one signal to a viewer's feedback; returns the bytes it added. */
function record(feedback: ViewerFeedback, kind: string, post: string, timeMs: number, feedContext: string | null): number {
  if (kind === 'impression' || kind === 'interactionSeen') return remember(feedback.seen, post, timeMs, MAX_SEEN);
  const author = parseAtUri(post)?.did;
  // A "show less" on a statement served for voting disagrees with it: no preference for other feeds.
  if (kind === 'requestLess' && voteContext(feedContext) === 'vote') return 0;
  if (kind === 'requestLess') {
    return remember(feedback.lessPosts, post, timeMs, MAX_SIGNALS) + (author ? remember(feedback.lessAuthors, author, timeMs, MAX_SIGNALS) : 0);
  }
  if (kind !== 'requestMore') return 0;
  let bytes = author ? remember(feedback.moreAuthors, author, timeMs, MAX_SIGNALS) : 0;
  for (const community of supportInContext(feedContext)) bytes += remember(feedback.moreCommunities, community, timeMs, MAX_SIGNALS);
  return bytes;
}

/**
 * Keeps the earliest time of `key`: a signal's time never moves once known, so a session pinned to
 * a time sees the same feedback on every page and every replica. Beyond `cap`, the entry added
 * first goes.
 */
function remember(map: Map<string, number>, key: string, timeMs: number, cap: number): number {
  const known = map.get(key);
  if (known !== undefined) {
    if (timeMs < known) map.set(key, timeMs);
    return 0;
  }
  map.set(key, timeMs);
  if (map.size > cap) {
    const oldest = map.keys().next().value!;
    map.delete(oldest);
    return 0;
  }
  return key.length + KEY_BYTES;
}
