import { Injectable } from '@nestjs/common';
import { PostRepository, type PostRef } from '#lib/clickhouse';
import type { FeedDefinition } from '#lib/curation';
import { InvalidCursorError, type FeedCursor } from '#lib/domain';
import { comesAfterInRecent } from '#lib/rankings';
import { CommunityMembersService } from './community-members.service.js';
import type { FeedAlgorithm, SkeletonPage, SkeletonRequest } from './feed-algorithm.js';
import { RemovedContent } from './removed-content.js';

const ORDERING = 't';
/** How long a feed's newest posts are served from memory before they are read again. */
const TIMELINE_TTL_MS = 2_000;
/** Newest posts kept in memory per feed; deeper pages are read from ClickHouse. */
const TIMELINE_SIZE = 1_000;

interface Timeline {
  fetchedAt: number;
  posts: PostRef[];
  /** True when the window holds no more posts than these (every page can be served from memory). */
  complete: boolean;
  pending?: Promise<Timeline>;
}

/**
 * Newest posts by members of the feed's communities, within the feed's window.
 *
 * @NOTE The newest posts of each feed are read once per `TIMELINE_TTL_MS` and shared by every
 * request, so the cost of a request does not grow with the size of the community; a post is
 * at most that much late.
 */
@Injectable()
export class RecentFeed implements FeedAlgorithm {
  readonly rankings = ['recent'] as const;
  private readonly timelines = new Map<string, Timeline>();

  constructor(
    private readonly members: CommunityMembersService,
    private readonly posts: PostRepository,
    private readonly removed: RemovedContent,
  ) {}

  async skeleton({ feed, limit, cursor }: SkeletonRequest): Promise<SkeletonPage> {
    if (cursor && cursor.ordering !== ORDERING) throw new InvalidCursorError('cursor belongs to another ordering of this feed');
    const timeline = await this.timeline(feed);
    const start = cursor ? timeline.posts.findIndex((post) => comesAfterInRecent(post, { timeUs: cursor.sortKey, cid: cursor.cid })) : 0;
    const cached = start < 0 ? [] : timeline.posts.slice(start, start + limit);
    const posts =
      cached.length === limit || timeline.complete ? cached : await this.read(feed, limit, cursor);
    return { ordering: ORDERING, items: this.removed.filter(posts.map((post) => ({ post: post.uri, cid: post.cid, sortKey: post.timeUs }))) };
  }

  /**
   * @NOTE Requests arriving while a read is under way share it. The read is shared through the
   * entry it is pending on, and taken off that entry when it settles either way: a failed read
   * (ClickHouse away for a moment) fails the requests that waited for it, and the next request
   * reads again instead of being handed the same rejection until a restart.
   */
  private async timeline(feed: FeedDefinition): Promise<Timeline> {
    const current = this.timelines.get(feed.shortname);
    if (current && current.fetchedAt > 0 && Date.now() - current.fetchedAt < TIMELINE_TTL_MS) return current;
    if (current?.pending) return current.pending;
    const entry = current ?? { fetchedAt: 0, posts: [], complete: false };
    const pending = this.read(feed, TIMELINE_SIZE).then((posts) => {
      const timeline = { fetchedAt: Date.now(), posts, complete: posts.length < TIMELINE_SIZE };
      this.timelines.set(feed.shortname, timeline);
      return timeline;
    });
    entry.pending = pending;
    if (!current) this.timelines.set(feed.shortname, entry);
    return pending.finally(() => {
      if (entry.pending === pending) entry.pending = undefined;
    });
  }

  private async read(feed: FeedDefinition, limit: number, cursor?: FeedCursor): Promise<PostRef[]> {
    const authors = await this.members.memberListOfAll(feed.communities);
    return this.posts.recentByAuthors({
      authors,
      limit,
      includeReplies: feed.includeReplies,
      sinceUs: Date.now() * 1000 - feed.windowHours * 3600 * 1_000_000,
      before: cursor ? { timeUs: cursor.sortKey, cid: cursor.cid } : undefined,
    });
  }
}
