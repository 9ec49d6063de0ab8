import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { LabelRepository } from '#lib/clickhouse';
import type { AppConfig } from '#lib/config';
import type { SequencedLabel } from '#lib/labels';
import { APP_CONFIG, LOGGER, type Logger } from '#lib/platform';

/** Newest labels kept in memory for subscribers that are live; one further behind reads the store. */
const RECENT_KEPT = 10_000;
/** Labels one store read returns to a subscriber catching up. */
const PAGE = 500;

/**
 * Our labels as a stream, for `subscribeLabels`: one poller per process looks for labels past the
 * newest it has (the ranker may be another process), keeps the newest in memory and wakes the
 * subscribers waiting for them. Each subscriber pulls at its own pace from its own position:
 * from memory when it is near the head, from the store when it is behind.
 *
 * @NOTE Back-pressure is per subscriber and costs no memory: a subscriber only asks for the next
 * labels once its socket has taken the previous frame, so a slow one falls behind (and reads the
 * store) instead of making anyone buffer for it.
 */
@Injectable()
export class LabelStream implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private recent: SequencedLabel[] = [];
  private head = 0;
  /** Settled, and replaced, whenever new labels arrive or the stream stops. */
  private arrival = Promise.withResolvers<void>();
  /** The look for new labels under way, and the one that follows it for those who asked meanwhile. */
  private looking?: Promise<void>;
  private nextLook?: Promise<void>;
  private timer?: NodeJS.Timeout;
  private stopped = false;
  private readonly log: Logger;
  /** Unix ms at which each sequence number became servable here, for the snapshot → served latency. */
  readonly seenAtMs = new Map<number, number>();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly labels: LabelRepository,
    @Inject(LOGGER) logger: Logger,
  ) {
    this.log = logger.child({ component: 'label-stream' });
  }

  async onApplicationBootstrap(): Promise<void> {
    this.head = await this.labels.lastSeq();
    this.schedule();
  }

  beforeApplicationShutdown(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.wake();
  }

  /** The largest sequence number served here. */
  get lastSeq(): number {
    return this.head;
  }

  /**
   * Looks for new labels now (the poller also does, every `LABELS_POLL_MS`); once it resolves,
   * every label stored before the call is served here.
   *
   * @NOTE One look at a time: two would both read past the same head and serve its labels twice.
   * A caller that comes during a look shares the next one, which starts once that look ends: the
   * look under way may have read the store before the caller's label was in it.
   */
  poll(): Promise<void> {
    if (this.looking === undefined) return this.look();
    this.nextLook ??= this.looking
      .catch(() => undefined)
      .then(() => {
        this.nextLook = undefined;
        return this.looking ?? this.look();
      });
    return this.nextLook;
  }

  private look(): Promise<void> {
    const looking = this.readNew().finally(() => {
      this.looking = undefined;
    });
    this.looking = looking;
    return looking;
  }

  private async readNew(): Promise<void> {
    for (;;) {
      const fresh = (await this.labels.after(this.head, PAGE)).filter((label) => label.seq > this.head);
      if (fresh.length === 0) return;
      const now = Date.now();
      for (const label of fresh) this.seenAtMs.set(label.seq, now);
      while (this.seenAtMs.size > RECENT_KEPT) this.seenAtMs.delete(this.seenAtMs.keys().next().value!);
      this.recent = [...this.recent, ...fresh].slice(-RECENT_KEPT);
      this.head = fresh[fresh.length - 1]!.seq;
      this.wake();
    }
  }

  /**
   * The labels after `cursor`, batch by batch, for as long as `signal` is not aborted: first what
   * is stored, then each new label as it arrives. Below `historyFloor` the memory may hold labels
   * pruned since: there only the store answers.
   */
  async *after(cursor: number, signal: AbortSignal, historyFloor = 0): AsyncGenerator<SequencedLabel[]> {
    let position = cursor;
    while (!signal.aborted && !this.stopped) {
      const oldest = this.recent[0]?.seq;
      const batch =
        oldest !== undefined && position >= oldest - 1 && position >= historyFloor
          ? this.recent.slice(this.indexAfter(position), this.indexAfter(position) + PAGE)
          : position < this.head
            ? await this.labels.after(position, PAGE)
            : [];
      if (batch.length > 0) {
        position = batch[batch.length - 1]!.seq;
        yield batch;
        continue;
      }
      await this.nextArrival(signal);
    }
  }

  /** Until new labels arrive, the stream stops or `signal` aborts; what it attaches to `signal` goes with it. */
  private async nextArrival(signal: AbortSignal): Promise<void> {
    if (signal.aborted) return;
    const aborted = Promise.withResolvers<void>();
    const onAbort = () => aborted.resolve();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      await Promise.race([this.arrival.promise, aborted.promise]);
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  /** Index in `recent` of the first label after `seq` (binary search: `recent` is in sequence order). */
  private indexAfter(seq: number): number {
    let low = 0;
    let high = this.recent.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (this.recent[mid]!.seq <= seq) low = mid + 1;
      else high = mid;
    }
    return low;
  }

  private wake(): void {
    const settled = this.arrival;
    this.arrival = Promise.withResolvers<void>();
    settled.resolve();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.poll()
        .catch((err: unknown) => this.log.warn({ err: (err as Error).message }, 'looking for new labels failed; retrying'))
        .finally(() => this.schedule());
    }, this.config.labeler.pollMs);
  }
}
