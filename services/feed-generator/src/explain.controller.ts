import { Controller, Get, Inject, Param, Query, Req } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { ScoreRepository } from '#lib/clickhouse';
import type { AppConfig } from '#lib/config';
import { APP_CONFIG } from '#lib/platform';
import { AdminAuthError, hasAdminToken } from './admin.guard.js';
import { FeedRegistry } from './feeds/feed.registry.js';
import { UnknownFeedRequestedError } from './feeds/feed-skeleton.service.js';
import { InvalidRequestError } from './xrpc/xrpc.errors.js';

export interface Explanation {
  feed: string;
  post: string;
  snapshot: number | null;
  /** Position in the feed, or null when the post is not in it (with the reason). */
  rank: number | null;
  score: number | null;
  components: unknown;
  reason?: string;
}

/**
 * Why a post is where it is: the score components and evidence counts behind its rank in the
 * feed's latest snapshot, or in the snapshot given as `snapshot` (the number in a feed cursor,
 * `s<snapshot>::…`), so that an explanation matches the page a reader was served even after a
 * newer snapshot appeared. Public for public feeds; members-only feeds need the admin token.
 */
@Controller('api/feeds')
export class ExplainController {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly registry: FeedRegistry,
    @Inject(ScoreRepository) private readonly scores: ScoreRepository,
  ) {}

  @Get(':shortname/explain')
  async explain(
    @Param('shortname') shortname: string,
    @Query('post') post: unknown,
    @Query('snapshot') snapshotParam: unknown,
    @Req() request: FastifyRequest,
  ): Promise<Explanation> {
    const feed = this.registry.current.feeds.get(shortname);
    if (!feed) throw new UnknownFeedRequestedError(shortname);
    if (feed.membersOnly && !hasAdminToken(request, this.config.feedGenerator.adminToken)) {
      throw new AdminAuthError('explanations of a members-only feed need the admin token');
    }
    if (typeof post !== 'string' || !post.startsWith('at://')) throw new InvalidRequestError('post must be an at-uri');
    const pinned = parseSnapshot(snapshotParam);
    const uri = this.registry.uriOf(feed);
    if (feed.ranking === 'recent') {
      return { feed: uri, post, snapshot: null, rank: null, score: null, components: { ranking: 'recent' }, reason: 'recent feeds are ordered by time, newest first' };
    }
    const snapshot = pinned ?? (await this.scores.latestSnapshot(uri))?.snapshot;
    const found = snapshot !== undefined ? await this.scores.explain(uri, snapshot, post) : undefined;
    if (!found) {
      const notKept = pinned !== undefined && !(await this.scores.snapshotExists(uri, pinned));
      return {
        feed: uri,
        post,
        snapshot: snapshot ?? null,
        rank: null,
        score: null,
        components: null,
        reason: notKept
          ? `snapshot ${pinned} is no longer kept; ask without a snapshot for the latest`
          : 'not ranked: outside the window, not by a member, or without evidence from enough communities or sides',
      };
    }
    return { feed: uri, post, snapshot: snapshot!, ...found };
  }
}

/** `snapshot` as a number, or as the ordering part of a feed cursor (`s<number>`). */
function parseSnapshot(value: unknown): number | undefined {
  if (value === undefined || value === '') return undefined;
  const match = typeof value === 'string' ? /^s?(\d{1,16})$/.exec(value) : null;
  if (!match) throw new InvalidRequestError('snapshot must be a snapshot number or a cursor ordering like s1763780000000');
  return Number(match[1]);
}
