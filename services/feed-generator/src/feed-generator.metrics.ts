import { Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance } from 'fastify';
import { Nsid } from '#lib/domain';
import { Metrics } from '#lib/platform';
import { AUTH_FAILURE_REASONS } from './auth/auth.errors.js';
import { FeedRegistry } from './feeds/feed.registry.js';
import { ImpressionRecorder } from './feeds/impression.recorder.js';

const FEED_SKELETON_ROUTE = `/xrpc/${Nsid.getFeedSkeleton}`;

/**
 * The feed generator's metrics: getFeedSkeleton requests by feed and status with their latency
 * (a Fastify hook, so requests refused by auth or validation count too), auth failures by reason
 * (every reason present from the start, so a dashboard shows zeros rather than no data), and
 * impressions.
 */
@Injectable()
export class FeedGeneratorMetrics implements OnModuleInit, OnModuleDestroy {
  private stopCollecting?: () => void;

  constructor(
    private readonly metrics: Metrics,
    private readonly registry: FeedRegistry,
    private readonly impressions: ImpressionRecorder,
    private readonly adapterHost: HttpAdapterHost,
  ) {}

  onModuleInit(): void {
    const { metrics, impressions } = this;
    // Zeros from the start, so dashboards and the console show "none yet" rather than "no data".
    for (const reason of AUTH_FAILURE_REASONS) metrics.authFailures.inc({ reason }, 0);
    const known = new Set<string>();
    this.stopCollecting = metrics.collect('feed generator', () => {
      for (const { shortname } of this.registry.feeds()) {
        if (known.has(shortname)) continue;
        known.add(shortname);
        metrics.feedRequests.inc({ feed: shortname, status: '200' }, 0);
      }
      metrics.setTotal(metrics.impressionsRecorded, {}, impressions.recorded);
      metrics.setTotal(metrics.impressionsDropped, {}, impressions.dropped);
      metrics.setTotal(metrics.impressionsPublished, {}, impressions.published);
    });
    // @NOTE Hooks added before Fastify is ready apply to every route, including Nest's (registered earlier).
    const fastify = this.adapterHost.httpAdapter?.getInstance<FastifyInstance>();
    fastify?.addHook('onResponse', (request, reply, done) => {
      if (request.routeOptions.url === FEED_SKELETON_ROUTE) {
        const feed = this.feedLabel((request.query as Record<string, unknown> | undefined)?.feed);
        metrics.feedRequests.inc({ feed, status: String(reply.statusCode) });
        metrics.feedRequestDuration.observe({ feed }, reply.elapsedTime / 1000);
      }
      done();
    });
  }

  onModuleDestroy(): void {
    this.stopCollecting?.();
  }

  /** The feed's short name when it is one of ours; anything else is `unknown`, so callers cannot mint labels. */
  private feedLabel(feed: unknown): string {
    return (typeof feed === 'string' && this.registry.byUri(feed)?.shortname) || 'unknown';
  }
}
