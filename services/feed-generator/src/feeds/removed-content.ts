import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { LRUCache } from 'lru-cache';
import { RemovalRepository, type Removal } from '#lib/clickhouse';
import type { AppConfig } from '#lib/config';
import { APP_CONFIG, LOGGER, type Logger } from '#lib/platform';
import { authorOf } from './feed-algorithm.js';

/** Read again on each poll: rows of an insert that was still running at the last poll arrive with an earlier time. */
const OVERLAP_US = 2_000_000;
/** Removals read per query; the next query, at once, continues after the last. */
const PAGE = 10_000;
/** Removals kept in memory, posts and accounts each (~150 bytes an entry). */
const MAX_REMEMBERED = 200_000;
/** Posts one page may look at past removed ones before it stops (its cursor then resumes after them). */
const MAX_SCANNED = 10_000;
/** Read at start: as long as the `removals` table keeps them. */
const START_WINDOW_US = 3 * 24 * 3600 * 1_000_000;

/**
 * Posts deleted and accounts made inactive (deactivated, taken down, deleted), held in memory so
 * the serving path can leave them out of every page at once, not at the next snapshot.
 *
 * @NOTE Every replica reads the same `removals` table (materialized from the posts and accounts
 * tables as events are written), so each sees every removal within `REMOVALS_POLL_MS` of its write,
 * whichever process wrote it. The sets are bounded (LRU): what falls out is old, and snapshots
 * and timelines built after a removal leave it out themselves. An account that becomes active
 * again is taken out of the set by its next status row.
 */
@Injectable()
export class RemovedContent implements OnModuleInit, OnModuleDestroy {
  private readonly posts = new LRUCache<string, true>({ max: MAX_REMEMBERED });
  private readonly inactive = new LRUCache<string, true>({ max: MAX_REMEMBERED });
  /** The version of each account's status applied last: one read later but older changes nothing. */
  private readonly statusVersions = new LRUCache<string, number>({ max: MAX_REMEMBERED });
  private positionUs = 0;
  private timer?: NodeJS.Timeout;
  private polling?: Promise<void>;
  private failing = false;
  private readonly log: Logger;

  constructor(
    @Inject(RemovalRepository) private readonly removals: RemovalRepository,
    @Inject(LOGGER) logger: Logger,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    this.log = logger.child({ component: 'removals' });
  }

  async onModuleInit(): Promise<void> {
    this.positionUs = Date.now() * 1000 - START_WINDOW_US;
    await this.poll();
    this.timer = setInterval(() => void this.poll(), this.config.feedGenerator.removalsPollMs);
    this.timer.unref();
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.timer);
    await this.polling;
  }

  /** Whether nothing is removed: pages are served as read. */
  get none(): boolean {
    return this.posts.size === 0 && this.inactive.size === 0;
  }

  /** Whether a post was deleted or its account is inactive. */
  removes(post: string): boolean {
    return this.posts.has(post) || this.inactive.has(authorOf(post));
  }

  /** The items of a page minus removed posts and posts of inactive accounts. */
  filter<T extends { post: string }>(items: T[]): T[] {
    if (this.none) return items;
    return items.filter((item) => !this.removes(item.post));
  }

  /**
   * A page of `limit` posts that are not removed: `read(after, n)` gives the next `n` items of an
   * ordering after `after` (its start when undefined), fewer only where the ordering ends, and is
   * read again past what was left out. A run of removed posts (an account taken down mid-burst)
   * does not end the feed early; past `MAX_SCANNED` posts looked at in one request, the page stops
   * and `next` says where the following one starts.
   */
  async keptPage<T extends { post: string }>(limit: number, read: (after: T | undefined, n: number) => Promise<T[]> | T[]): Promise<{ items: T[]; next?: T }> {
    if (this.none) return { items: await read(undefined, limit) };
    const items: T[] = [];
    let last: T | undefined;
    let scanned = 0;
    for (;;) {
      const want = limit - items.length;
      const page = await read(last, want);
      for (const item of page) if (!this.removes(item.post)) items.push(item);
      scanned += page.length;
      last = page.at(-1) ?? last;
      if (page.length < want || items.length >= limit) return { items };
      if (scanned >= MAX_SCANNED) return { items, ...(last && { next: last }) };
    }
  }

  /** Reads what arrived since the last read; one read at a time, never throws. */
  poll(): Promise<void> {
    this.polling ??= this.readNew()
      .then(() => {
        if (this.failing) this.log.info('removals readable again');
        this.failing = false;
      })
      .catch((error: unknown) => {
        if (!this.failing) this.log.warn({ err: (error as Error).message }, 'removals could not be read; pages keep the last known removals');
        this.failing = true;
      })
      .finally(() => (this.polling = undefined));
    return this.polling;
  }

  private async readNew(): Promise<void> {
    const sinceUs = Math.max(0, this.positionUs - OVERLAP_US);
    let after: Removal | undefined;
    let read = 0;
    for (;;) {
      const rows = await this.removals.since(sinceUs, PAGE, after);
      for (const row of rows) this.apply(row);
      read += rows.length;
      after = rows.at(-1) ?? after;
      if (after) this.positionUs = Math.max(this.positionUs, after.arrivedUs);
      if (rows.length < PAGE) break;
    }
    // After a burst (a deleted account's erasure), the next read starts past it instead of reading
    // it all again for the overlap, every poll until a later removal arrives.
    if (read >= PAGE && after) this.positionUs = Math.max(this.positionUs, after.arrivedUs + OVERLAP_US + 1);
  }

  private apply(removal: Removal): void {
    if (removal.kind === 'post') {
      // A post of an account already removed is left out with it. An account deleted erases every
      // post it has (one removal each, after the account's): remembered one by one, a large one
      // would push the other removed posts out of the set.
      if (!this.inactive.has(authorOf(removal.subject))) this.posts.set(removal.subject, true);
      return;
    }
    // Statuses written together share their arrival, and may arrive out of order: the newest counts.
    const applied = this.statusVersions.get(removal.subject);
    if (applied !== undefined && removal.version < applied) return;
    this.statusVersions.set(removal.subject, removal.version);
    if (removal.active) this.inactive.delete(removal.subject);
    else this.inactive.set(removal.subject, true);
  }
}
