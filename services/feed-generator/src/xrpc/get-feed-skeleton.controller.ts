import { Controller, Get, Headers, Query, Req } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { Nsid } from '#lib/domain';
import { IdentityUnavailableError } from '../auth/auth.errors.js';
import { ServiceAuthVerifier, type ServiceAuthResult } from '../auth/service-auth.verifier.js';
import { FeedSkeletonService, type SkeletonResponse } from '../feeds/feed-skeleton.service.js';
import { FeedRegistry } from '../feeds/feed.registry.js';
import { feedSkeletonParams } from './feed-skeleton.params.js';

/** `app.bsky.feed.getFeedSkeleton`: the page of post URIs the AppView hydrates. */
@Controller()
export class GetFeedSkeletonController {
  constructor(
    private readonly skeletons: FeedSkeletonService,
    private readonly auth: ServiceAuthVerifier,
    private readonly registry: FeedRegistry,
  ) {}

  @Get(`xrpc/${Nsid.getFeedSkeleton}`)
  async getFeedSkeleton(
    @Query() query: unknown,
    @Req() request: FastifyRequest,
    @Headers('authorization') authorization?: string,
  ): Promise<SkeletonResponse> {
    const { feed, limit, cursor } = feedSkeletonParams(query);
    const auth = await this.viewerOf(authorization, feed);
    return this.skeletons.skeleton({ feed, limit, cursor, viewer: auth.kind === 'viewer' ? auth.did : undefined, reqId: request.id });
  }

  /**
   * The verified viewer, or anonymous.
   *
   * @NOTE When the viewer's identity cannot be checked (PLC directory or did:web host unreachable,
   * or resolution refused under load), a feed anyone may read is served as to an anonymous
   * request instead of failing: the viewer only loses what a viewer adds (and no impression is
   * recorded under an unverified DID). A members-only feed keeps the error: it never opens on a
   * DID nobody checked.
   */
  private async viewerOf(authorization: string | undefined, feed: string): Promise<ServiceAuthResult> {
    try {
      return await this.auth.verify(authorization, Nsid.getFeedSkeleton);
    } catch (err) {
      if (err instanceof IdentityUnavailableError && this.registry.byUri(feed)?.membersOnly !== true) return { kind: 'anonymous' };
      throw err;
    }
  }
}
