import { Controller, Get, Headers, Query, Req } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { Nsid } from '#lib/domain';
import { ServiceAuthVerifier } from '../auth/service-auth.verifier.js';
import { FeedSkeletonService, type SkeletonResponse } from '../feeds/feed-skeleton.service.js';
import { integerParam, stringParam } from './xrpc-params.js';

/** `app.bsky.feed.getFeedSkeleton`: the page of post URIs the AppView hydrates. */
@Controller()
export class GetFeedSkeletonController {
  constructor(
    private readonly skeletons: FeedSkeletonService,
    private readonly auth: ServiceAuthVerifier,
  ) {}

  @Get(`xrpc/${Nsid.getFeedSkeleton}`)
  async getFeedSkeleton(
    @Query() query: Record<string, unknown>,
    @Req() request: FastifyRequest,
    @Headers('authorization') authorization?: string,
  ): Promise<SkeletonResponse> {
    const feed = stringParam(query, 'feed', { required: true, maxLength: 8192 });
    const limit = integerParam(query, 'limit', { min: 1, max: 100, fallback: 50 });
    const cursor = stringParam(query, 'cursor', { maxLength: 512 });
    const auth = await this.auth.verify(authorization, Nsid.getFeedSkeleton);
    return this.skeletons.skeleton({ feed, limit, cursor, viewer: auth.kind === 'viewer' ? auth.did : undefined, reqId: request.id });
  }
}
