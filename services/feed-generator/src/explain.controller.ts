import { Controller, Get, Inject, Param, Query, Req } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import type { AppConfig } from '#lib/config';
import { APP_CONFIG } from '#lib/platform';
import { AdminAuthError, hasAdminToken } from './admin.guard.js';
import { ExplanationService, type Explanation } from './explanation.service.js';
import { FeedRegistry } from './feeds/feed.registry.js';
import { UnknownFeedRequestedError } from './feeds/feed-skeleton.service.js';
import { InvalidRequestError } from './xrpc/xrpc.errors.js';

/**
 * Why a post is where it is: the score components and evidence counts behind its rank in the
 * feed's latest snapshot, or in the snapshot given as `snapshot` (the number in a feed cursor,
 * `s<snapshot>::…`), so that an explanation matches the page a reader was served even after a
 * newer snapshot appeared. Public for public feeds; members-only feeds need the admin token.
 * Answers are cached per snapshot (`ExplanationService`).
 */
@Controller('api/feeds')
export class ExplainController {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly registry: FeedRegistry,
    private readonly explanations: ExplanationService,
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
    // A post's at-uri is well under this; the bound keeps cache keys small.
    if (typeof post !== 'string' || !post.startsWith('at://') || post.length > 1_000) throw new InvalidRequestError('post must be an at-uri');
    return this.explanations.explain(feed, post, parseSnapshot(snapshotParam));
  }
}

/** `snapshot` as a number, or as the ordering part of a feed cursor (`s<number>`). */
function parseSnapshot(value: unknown): number | undefined {
  if (value === undefined || value === '') return undefined;
  const match = typeof value === 'string' ? /^s?(\d{1,16})$/.exec(value) : null;
  const snapshot = match ? Number(match[1]) : NaN;
  // A snapshot is a time in ms: beyond 2^53 it is no snapshot, and no driver may be asked for it.
  if (!Number.isSafeInteger(snapshot)) throw new InvalidRequestError('snapshot must be a snapshot number or a cursor ordering like s1763780000000');
  return snapshot;
}
