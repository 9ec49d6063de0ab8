import { Module } from '@nestjs/common';
import type { AppConfig } from '#lib/config';
import { APP_CONFIG, Metrics } from '#lib/platform';
import { createIdResolver } from './auth/id-resolver.factory.js';
import { ServiceAuthVerifier } from './auth/service-auth.verifier.js';
import { AdminController } from './admin.controller.js';
import { BackupsController } from './backups.controller.js';
import { ConsoleApiController } from './console/console-api.controller.js';
import { ConsoleController } from './console/console.controller.js';
import { FeedPreviewService } from './console/feed-preview.service.js';
import { FeedGeneratorMetrics } from './feed-generator.metrics.js';
import { DidDocumentController } from './did-document.controller.js';
import { ConversationsController } from './conversations.controller.js';
import { DigestsController, EditionsController } from './editions.controller.js';
import { ExplainController } from './explain.controller.js';
import { ExplanationService } from './explanation.service.js';
import { FundAdminController } from './funds/fund-admin.controller.js';
import { FundReportController } from './funds/fund-report.controller.js';
import { FundReportService } from './funds/fund-report.service.js';
import { CommunityMembersService } from './feeds/community-members.service.js';
import { DeliberationFeed } from './feeds/deliberation.feed.js';
import { DigestFeed } from './feeds/digest.feed.js';
import { FEED_ALGORITHMS, type FeedAlgorithm } from './feeds/feed-algorithm.js';
import { FeedSkeletonService } from './feeds/feed-skeleton.service.js';
import { FeedRegistry } from './feeds/feed.registry.js';
import { RecentFeed } from './feeds/recent.feed.js';
import { SnapshotFeed } from './feeds/snapshot.feed.js';
import { DescribeFeedGeneratorController } from './xrpc/describe-feed-generator.controller.js';
import { GetFeedSkeletonController } from './xrpc/get-feed-skeleton.controller.js';
import { SendInteractionsController } from './xrpc/send-interactions.controller.js';
import { ImpressionRecorder } from './feeds/impression.recorder.js';
import { BoostedImpressions } from './feeds/boosted-impressions.js';
import { ServablePosts } from './feeds/servable-posts.js';
import { ViewerAdjustment } from './feeds/viewer-adjustment.js';
import { ViewerFeedbackStore } from './feeds/viewer-feedback.store.js';
import { RemovedContent } from './feeds/removed-content.js';
import { ViewerRateLimiter } from './xrpc/viewer-rate-limiter.js';
import { LabelStream } from './labels/label.stream.js';
import { QueryLabelsController } from './xrpc/query-labels.controller.js';
import { SubscribeLabelsGateway } from './xrpc/subscribe-labels.gateway.js';
import { NotesAdminController, NotesController } from './notes/notes.controller.js';
import { NotesService } from './notes/notes.service.js';

/** Viewers whose sendInteractions rate is tracked at once (a bucket is a few dozen bytes). */
const RATE_LIMITED_VIEWERS = 100_000;

/** The XRPC surface Bluesky clients reach through the AppView. Needs `PlatformModule`. */
@Module({
  controllers: [
    GetFeedSkeletonController,
    DescribeFeedGeneratorController,
    SendInteractionsController,
    DidDocumentController,
    ExplainController,
    EditionsController,
    DigestsController,
    ConversationsController,
    AdminController,
    ConsoleController,
    ConsoleApiController,
    FundReportController,
    FundAdminController,
    QueryLabelsController,
    NotesController,
    NotesAdminController,
    BackupsController,
  ],
  providers: [
    FeedRegistry,
    CommunityMembersService,
    FeedSkeletonService,
    ImpressionRecorder,
    BoostedImpressions,
    ServablePosts,
    ViewerFeedbackStore,
    ViewerAdjustment,
    RemovedContent,
    {
      provide: ViewerRateLimiter,
      useFactory: (config: AppConfig) => new ViewerRateLimiter({ ...config.feedGenerator.sendInteractionsLimit, maxViewers: RATE_LIMITED_VIEWERS }),
      inject: [APP_CONFIG],
    },
    FeedPreviewService,
    ExplanationService,
    FundReportService,
    NotesService,
    LabelStream,
    SubscribeLabelsGateway,
    FeedGeneratorMetrics,
    RecentFeed,
    SnapshotFeed,
    DigestFeed,
    DeliberationFeed,
    {
      provide: FEED_ALGORITHMS,
      useFactory: (...algorithms: FeedAlgorithm[]) => algorithms,
      inject: [RecentFeed, SnapshotFeed, DigestFeed, DeliberationFeed],
    },
    {
      provide: ServiceAuthVerifier,
      useFactory: (config: AppConfig, metrics: Metrics) => {
        const bounds = config.feedGenerator.serviceAuth;
        return new ServiceAuthVerifier({
          serviceDid: config.feedGenerator.serviceDid,
          idResolver: createIdResolver({
            plcUrl: config.feedGenerator.plcUrl,
            didCacheTtlMs: 60 * 60_000,
            didCacheMaxTtlMs: 24 * 60 * 60_000,
            timeoutMs: bounds.timeoutMs,
            maxCachedDocuments: bounds.didCacheMaxEntries,
            maxCachedBytes: bounds.didCacheMaxBytes,
            maxDocumentBytes: bounds.didDocumentMaxBytes,
            maxConcurrentResolutions: bounds.resolutionConcurrency,
            maxQueuedResolutions: bounds.resolutionQueue,
            maxResolutionsPerIssuer: bounds.resolutionsPerIssuer,
            allowInsecureFetch: config.feedGenerator.identityAllowInsecure,
          }),
          maxExpAheadMs: bounds.maxExpAheadSeconds * 1000,
          failureCacheTtlMs: bounds.didFailureTtlMs,
          onFailure: (reason) => metrics.authFailures.inc({ reason }),
          // Every AppView request carries a fresh token: its secp256k1 check runs beside the event loop.
          signatureThreads: 1,
        });
      },
      inject: [APP_CONFIG, Metrics],
    },
  ],
  exports: [FeedRegistry, FeedSkeletonService, CommunityMembersService, ViewerFeedbackStore],
})
export class FeedGeneratorModule {}
