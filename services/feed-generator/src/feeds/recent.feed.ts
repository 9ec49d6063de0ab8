import { Injectable } from '@nestjs/common';
import { PostRepository } from '#lib/clickhouse';
import { InvalidCursorError } from '#lib/domain';
import { CommunityMembersService } from './community-members.service.js';
import type { FeedAlgorithm, SkeletonPage, SkeletonRequest } from './feed-algorithm.js';

const ORDERING = 't';

/** Newest posts by members of the feed's communities, within the feed's window. */
@Injectable()
export class RecentFeed implements FeedAlgorithm {
  readonly rankings = ['recent'] as const;

  constructor(
    private readonly members: CommunityMembersService,
    private readonly posts: PostRepository,
  ) {}

  async skeleton({ feed, limit, cursor }: SkeletonRequest): Promise<SkeletonPage> {
    if (cursor && cursor.ordering !== ORDERING) throw new InvalidCursorError('cursor belongs to another ordering of this feed');
    const authors = await this.members.membersOfAll(feed.communities);
    const posts = await this.posts.recentByAuthors({
      authors: [...authors],
      limit,
      includeReplies: feed.includeReplies,
      sinceUs: Date.now() * 1000 - feed.windowHours * 3600 * 1_000_000,
      before: cursor ? { timeUs: cursor.sortKey, cid: cursor.cid } : undefined,
    });
    return { ordering: ORDERING, items: posts.map((post) => ({ post: post.uri, cid: post.cid, sortKey: post.timeUs })) };
  }
}
