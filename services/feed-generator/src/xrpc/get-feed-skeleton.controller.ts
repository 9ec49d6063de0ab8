import { Controller, Get, Headers, Query } from '@nestjs/common';
import { Nsid } from '#lib/domain';
import { FeedSkeletonService, type SkeletonResponse } from '../feeds/feed-skeleton.service.js';
import { integerParam, stringParam } from './xrpc-params.js';

/** `app.bsky.feed.getFeedSkeleton`: the page of post URIs the AppView hydrates. */
@Controller()
export class GetFeedSkeletonController {
  constructor(private readonly skeletons: FeedSkeletonService) {}

  @Get(`xrpc/${Nsid.getFeedSkeleton}`)
  async getFeedSkeleton(
    @Query() query: Record<string, unknown>,
    @Headers('authorization') _authorization?: string,
  ): Promise<SkeletonResponse> {
    const feed = stringParam(query, 'feed', { required: true, maxLength: 8192 });
    const limit = integerParam(query, 'limit', { min: 1, max: 100, fallback: 50 });
    const cursor = stringParam(query, 'cursor', { maxLength: 512 });
    return this.skeletons.skeleton({ feed, limit, cursor });
  }
}
