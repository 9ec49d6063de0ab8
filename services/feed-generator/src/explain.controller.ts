import { Controller, Get, Headers, Inject, Param, Query, Req } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { AppConfig } from '#lib/config';
import { Nsid } from '#lib/domain';
import { APP_CONFIG } from '#lib/platform';
import { AdminAuthError, hasAdminToken } from './admin.guard.js';
import { ServiceAuthVerifier } from './auth/service-auth.verifier.js';
import { ExplanationService, type Explanation } from './explanation.service.js';
import { FeedRegistry } from './feeds/feed.registry.js';
import { ViewerAdjustment, type PersonalExplanation } from './feeds/viewer-adjustment.js';
import { parseParams } from './xrpc/request-input.js';
import { InvalidRequestError } from './xrpc/xrpc.errors.js';

/** A signed-in viewer asked for another viewer's explanation: who they are is known, and it is not that viewer. */
export class OtherViewerError extends Error {
  override name = 'OtherViewerError';
}

const SNAPSHOT_PROBLEM = 'must be a snapshot number or a cursor ordering like s1763780000000 (e1763780000000 for a digest edition)';

const ExplainParams = z.object({
  // A post's at-uri is well under this; the bound keeps cache keys small.
  post: z.string({ required_error: 'must be an at-uri', invalid_type_error: 'must be an at-uri' }).startsWith('at://', 'must be an at-uri').max(1_000, 'must be an at-uri'),
  /** A snapshot number, or the ordering part of a feed cursor (`s<number>`; a digest's `e<edition>`). */
  snapshot: z
    .preprocess((value) => (value === '' ? undefined : value), z.string({ invalid_type_error: SNAPSHOT_PROBLEM }).regex(/^[se]?\d{1,16}$/, SNAPSHOT_PROBLEM).optional())
    .transform((value) => (value === undefined ? undefined : { ordering: /^[se]/.exec(value)?.[0], number: Number(value.replace(/^[se]/, '')) }))
    // A snapshot is a time in ms: beyond 2^53 it is no snapshot, and no driver may be asked for it.
    .refine((value) => value === undefined || Number.isSafeInteger(value.number), SNAPSHOT_PROBLEM),
  /** Whose personal adjustments to explain too (the admin, or that viewer with their own service-auth token). */
  viewer: z.string({ invalid_type_error: 'must be a DID' }).regex(/^did:[a-z]+:[A-Za-z0-9._:%-]{1,2000}$/, 'must be a DID').optional(),
});

/**
 * Why a post is where it is: the score components and evidence counts behind its rank in the
 * feed's latest snapshot, or in the snapshot given as `snapshot` (the number in a feed cursor,
 * `s<snapshot>::…`), so that an explanation matches the page a reader was served even after a
 * newer snapshot appeared. A digest feed's answer is about the edition it serves: the latest, or the
 * one its cursor names (`e<edition>::…`). Public for public feeds; members-only feeds need the admin token.
 * Answers are cached per snapshot (`ExplanationService`).
 *
 * With `viewer=<did>` the answer adds what that viewer's own feedback does to the post
 * (`personal`: "you asked for less of this author"). Only the admin, or the viewer themself with
 * the service-auth token their client reads the feed with (`lxm` getFeedSkeleton), may ask.
 */
@Controller('api/feeds')
export class ExplainController {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly registry: FeedRegistry,
    private readonly explanations: ExplanationService,
    private readonly auth: ServiceAuthVerifier,
    private readonly viewerAdjustment: ViewerAdjustment,
  ) {}

  @Get(':shortname/explain')
  async explain(
    @Param('shortname') shortname: string,
    @Query() query: unknown,
    @Req() request: FastifyRequest,
    @Headers('authorization') authorization?: string,
  ): Promise<Explanation & { personal?: PersonalExplanation }> {
    const feed = this.registry.named(shortname);
    if (feed.membersOnly && !hasAdminToken(request, this.config.feedGenerator.adminToken)) {
      throw new AdminAuthError('explanations of a members-only feed need the admin token');
    }
    const { post, snapshot, viewer } = parseParams(ExplainParams, query);
    const isAdmin = hasAdminToken(request, this.config.feedGenerator.adminToken);
    if (viewer !== undefined && !isAdmin && (await this.auth.verifyViewer(authorization, Nsid.getFeedSkeleton)).did !== viewer) {
      throw new OtherViewerError("a viewer's explanation needs the admin token or that viewer's own service-auth token");
    }
    // A digest's cursor names an edition (`e…`), any other ranked feed's a snapshot (`s…`).
    const ordering = feed.ranking === 'digest' ? 'e' : 's';
    if (snapshot?.ordering !== undefined && snapshot.ordering !== ordering) {
      throw new InvalidRequestError(`Error: snapshot ${snapshot.ordering}… names another ordering than this feed's (${ordering}…)`);
    }
    const explanation = await this.explanations.explain(feed, post, snapshot?.number);
    if (viewer === undefined) return explanation;
    return { ...explanation, personal: await this.viewerAdjustment.explain(viewer, post, supportedBy(explanation.components)) };
  }
}

/** The communities an explanation's components name as support. */
function supportedBy(components: unknown): string[] {
  const value = (components as { supportedBy?: unknown } | null)?.supportedBy;
  return Array.isArray(value) ? value.filter((name): name is string => typeof name === 'string') : [];
}
