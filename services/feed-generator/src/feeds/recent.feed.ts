import { Inject, Injectable } from '@nestjs/common';
import { PostRepository, type PostRef } from '#lib/clickhouse';
import type { AppConfig } from '#lib/config';
import type { FeedDefinition } from '#lib/curation';
import { InvalidCursorError } from '#lib/domain';
import { APP_CONFIG, LOGGER, type Logger } from '#lib/platform';
import { CommunityMembersService } from './community-members.service.js';
import type { FeedAlgorithm, SkeletonItem, SkeletonPage, SkeletonRequest } from './feed-algorithm.js';
import { PostColumns } from './post-columns.js';
import { RemovedContent } from './removed-content.js';

const ORDERING = 't';
/** A timeline older than this is brought up to date before a request is served; from half of it, in the background. */
const TIMELINE_TTL_MS = 2_000;
/** Newest posts read when a timeline is started, so that the first request waits for a small read only. */
const FIRST_READ = 1_000;
/**
 * Each update reads again the posts this much older than the start of the previous read: rows
 * still on their way then (ingest's batches, a Kafka consumer's lag) arrive with earlier times.
 */
const OVERLAP_US = 30_000_000;
/** A timeline is read whole again this often, in the background: it takes in posts that arrived later than `OVERLAP_US`. */
const REBUILD_MS = 10 * 60_000;
/** A timeline that missed posts stored late (with older times) is read whole again, at most this often. */
const LATE_REBUILD_MS = 5_000;
/** The window may hold this much more than its bound before its oldest posts are dropped (dropping copies the window). */
const SLACK = 1.1;

interface Timeline {
  /** The member list and feed settings it was read for: when either changes, the timeline starts again. */
  authors: readonly string[];
  settings: string;
  /** The feed's newest posts in ascending `(time, cid)` order: the newest is last. */
  posts: PostColumns;
  /** True when every post of the feed's window is held: past the oldest, the feed ends. Otherwise ClickHouse serves deeper pages. */
  complete: boolean;
  /** Wall clock (µs) when the read that last updated it began: the next update reads from `OVERLAP_US` before it. */
  readFromUs: number;
  checkedAt: number;
  /** When it was last read whole (0: only its newest posts so far). */
  builtAt: number;
  /** Posts were stored late (older than the overlap of an update): the next whole read takes them in. */
  stale: boolean;
}

/**
 * Newest posts by members of the feed's communities, within the feed's window, served from a
 * time-ordered window in memory.
 *
 * @NOTE Page cost independent of depth. Each feed's newest posts (up to `RECENT_WINDOW_POSTS`)
 * are held column-wise (`PostColumns`, ~130 bytes a post) and a cursor is found by binary search,
 * so post 500 000 costs what post 50 does. The window is read whole once (in the background: the
 * first request waits only for the newest `FIRST_READ`), then kept up to date incrementally every
 * `TIMELINE_TTL_MS` by reading only the posts since the previous read (less `OVERLAP_US`), and read
 * whole again every `REBUILD_MS` or when the members or the feed's settings change. Deleted posts
 * and inactive accounts leave pages at once through `RemovedContent`. A page deeper than a window
 * that does not hold the whole feed is read from ClickHouse, as before.
 */
@Injectable()
export class RecentFeed implements FeedAlgorithm {
  readonly rankings = ['recent'] as const;
  private readonly timelines = new Map<string, Timeline>();
  private readonly updating = new Map<string, Promise<Timeline>>();
  private readonly rebuilding = new Set<string>();
  private readonly windowPosts: number;
  private readonly log: Logger;

  constructor(
    private readonly members: CommunityMembersService,
    private readonly posts: PostRepository,
    private readonly removed: RemovedContent,
    @Inject(APP_CONFIG) config: AppConfig,
    @Inject(LOGGER) logger: Logger,
  ) {
    this.windowPosts = config.feedGenerator.memory.recentWindowPosts;
    this.log = logger.child({ component: 'recent-feed' });
  }

  async skeleton({ feed, limit, cursor }: SkeletonRequest): Promise<SkeletonPage> {
    if (cursor && cursor.ordering !== ORDERING) throw new InvalidCursorError('cursor belongs to another ordering of this feed');
    const timeline = await this.timeline(feed);
    return { ordering: ORDERING, ...(await this.removed.keptPage(limit, (after: SkeletonItem | undefined, n) => this.olderThan(feed, timeline, after ?? cursor, n))) };
  }

  /** The `limit` newest posts of the feed older than `before` (the newest when undefined). */
  private async olderThan(feed: FeedDefinition, timeline: Timeline, before: Pick<SkeletonItem, 'sortKey' | 'cid'> | undefined, limit: number): Promise<SkeletonItem[]> {
    const { posts } = timeline;
    const floor = posts.firstNotBelow(windowStartUs(feed));
    const end = before ? posts.firstNotBelow(before.sortKey, before.cid) : posts.length;
    const items: SkeletonItem[] = [];
    for (let index = end - 1; index >= floor && items.length < limit; index -= 1) {
      const post = posts.at(index);
      items.push({ post: post.uri, cid: post.cid, sortKey: post.key });
    }
    // Past the oldest post held, of a window that does not hold the whole feed: ClickHouse has the rest.
    if (items.length < limit && floor === 0 && !timeline.complete) {
      const last = items.at(-1) ?? before;
      const deeper = await this.read(feed, timeline.authors, limit - items.length, { before: last && { timeUs: last.sortKey, cid: last.cid } });
      items.push(...deeper.map((post) => ({ post: post.uri, cid: post.cid, sortKey: post.timeUs })));
    }
    return items;
  }

  /** Posts held in memory, all feeds together (for the memory bound's measurement). */
  get heldPosts(): { posts: number; bytes: number } {
    let posts = 0;
    let bytes = 0;
    for (const timeline of this.timelines.values()) {
      posts += timeline.posts.length;
      bytes += timeline.posts.bytes;
    }
    return { posts, bytes };
  }

  /**
   * @NOTE Requests arriving while an update is under way share it, and a failed update (ClickHouse
   * away for a moment) fails the requests that waited for it; the next request tries again. A
   * timeline in use is updated in the background from half its TTL, so requests seldom wait.
   */
  private timeline(feed: FeedDefinition): Promise<Timeline> | Timeline {
    const current = this.timelines.get(feed.shortname);
    const age = current ? Date.now() - current.checkedAt : Infinity;
    if (current && age < TIMELINE_TTL_MS) {
      if (age >= TIMELINE_TTL_MS / 2) void this.updateShared(feed).catch(() => undefined);
      return current;
    }
    return this.updateShared(feed);
  }

  private updateShared(feed: FeedDefinition): Promise<Timeline> {
    let pending = this.updating.get(feed.shortname);
    if (!pending) {
      pending = this.update(feed).finally(() => this.updating.delete(feed.shortname));
      this.updating.set(feed.shortname, pending);
    }
    return pending;
  }

  private async update(feed: FeedDefinition): Promise<Timeline> {
    const authors = await this.members.memberListOfAll(feed.communities);
    const settings = `${feed.includeReplies} ${feed.windowHours}`;
    const current = this.timelines.get(feed.shortname);
    const startedUs = Date.now() * 1000;
    // Membership is resolved again every few seconds, into a new list even when nobody joined or left.
    if (current && current.authors !== authors && sameMembers(current.authors, authors)) current.authors = authors;
    if (!current || current.authors !== authors || current.settings !== settings) {
      const newest = await this.read(feed, authors, FIRST_READ, {});
      const complete = newest.length < FIRST_READ;
      const timeline: Timeline = { authors, settings, posts: columnsOf(newest), complete, readFromUs: startedUs, checkedAt: Date.now(), builtAt: complete ? Date.now() : 0, stale: false };
      this.timelines.set(feed.shortname, timeline);
      if (!complete) this.rebuild(feed, timeline);
      return timeline;
    }
    const cutoffUs = Math.max(windowStartUs(feed), current.readFromUs - OVERLAP_US);
    const [fresh, late] = await Promise.all([
      this.read(feed, authors, this.windowPosts, { sinceUs: cutoffUs }),
      // Posts stored since then with older times (a backfill, ingest catching up after an outage).
      this.posts.storedLate({ authors, includeReplies: feed.includeReplies, storedSinceUs: current.readFromUs - OVERLAP_US, sinceUs: windowStartUs(feed), beforeUs: cutoffUs }),
    ]);
    // A whole read that finished meanwhile replaced the timeline: the next update brings that one up to date.
    const latest = this.timelines.get(feed.shortname);
    if (latest !== current) return latest ?? current;
    const { posts } = current;
    if (fresh.length >= this.windowPosts) {
      // More new posts than the window holds: they are the window.
      posts.truncate(0);
      current.complete = false;
    } else {
      posts.truncate(posts.firstNotBelow(cutoffUs));
    }
    for (let index = fresh.length - 1; index >= 0; index -= 1) {
      const post = fresh[index]!;
      posts.push({ uri: post.uri, cid: post.cid, key: post.timeUs });
    }
    if (posts.length > this.windowPosts * SLACK) {
      posts.dropFirst(posts.length - this.windowPosts);
      current.complete = false;
    }
    current.readFromUs = startedUs;
    current.checkedAt = Date.now();
    if (late) current.stale = true;
    const sinceBuilt = Date.now() - current.builtAt;
    if (sinceBuilt > REBUILD_MS || (current.stale && sinceBuilt > LATE_REBUILD_MS)) this.rebuild(feed, current);
    return current;
  }

  /** Reads the feed's window whole, in the background, and puts it in place of `base` unless the feed started again meanwhile. */
  private rebuild(feed: FeedDefinition, base: Timeline): void {
    if (this.rebuilding.has(feed.shortname)) return;
    this.rebuilding.add(feed.shortname);
    const startedUs = Date.now() * 1000;
    const read = async () => {
      const posts = new PostColumns();
      const count = await this.posts.readTimeline(
        { authors: base.authors, limit: this.windowPosts, includeReplies: feed.includeReplies, sinceUs: windowStartUs(feed) },
        (prefix, rkey, cid, timeUs) => posts.pushParts(prefix, rkey, cid, timeUs),
      );
      // Read newest first: ClickHouse keeps the newest by sorting them, and sorting again costs more than this.
      posts.reverse();
      if (this.timelines.get(feed.shortname) !== base) return;
      // Posts the updates brought in since the read began are read again by the next update.
      this.timelines.set(feed.shortname, {
        ...base,
        posts,
        complete: count < this.windowPosts,
        readFromUs: Math.min(base.readFromUs, startedUs),
        builtAt: Date.now(),
        stale: false,
      });
    };
    read()
      .catch((error: unknown) => this.log.warn({ feed: feed.shortname, err: (error as Error).message }, 'recent feed window could not be read; serving what is held'))
      .finally(() => this.rebuilding.delete(feed.shortname));
  }

  private read(
    feed: FeedDefinition,
    authors: readonly string[],
    limit: number,
    range: { before?: { timeUs: number; cid: string }; sinceUs?: number },
  ): Promise<PostRef[]> {
    return this.posts.recentByAuthors({
      authors,
      limit,
      includeReplies: feed.includeReplies,
      sinceUs: Math.max(windowStartUs(feed), range.sinceUs ?? 0),
      before: range.before,
    });
  }
}

/** The oldest time (unix µs) a post of the feed may have. */
function windowStartUs(feed: FeedDefinition): number {
  return Date.now() * 1000 - feed.windowHours * 3600 * 1_000_000;
}

function sameMembers(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const members = new Set(a);
  return b.every((member) => members.has(member));
}

/** Posts given newest first, held oldest first. */
function columnsOf(newest: readonly PostRef[]): PostColumns {
  const posts = new PostColumns(Math.max(1_024, newest.length));
  for (let index = newest.length - 1; index >= 0; index -= 1) {
    const post = newest[index]!;
    posts.push({ uri: post.uri, cid: post.cid, key: post.timeUs });
  }
  return posts;
}

