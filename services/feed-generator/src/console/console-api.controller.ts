import { Controller, Get, Inject, Param, Query, UseGuards } from '@nestjs/common';
import { z } from 'zod';
import type { AppConfig } from '#lib/config';
import { APP_CONFIG, PipelineHistory, ReadinessService, type PipelineSample, type ReadinessReport } from '#lib/platform';
import { AdminGuard } from '../admin.guard.js';
import { FeedRegistry } from '../feeds/feed.registry.js';
import { UnknownFeedRequestedError } from '../feeds/feed-skeleton.service.js';
import { integerParam, parseParams } from '../xrpc/request-input.js';
import { FeedPreviewService, type FeedPreview } from './feed-preview.service.js';

const PreviewParams = z.object({ limit: integerParam({ min: 1, max: 100, fallback: 30 }) });

export interface ConsoleOverview {
  role: AppConfig['role'];
  now: number;
  readiness: ReadinessReport;
  /** Samples of this process's metrics over the last hour, oldest first, then the current one. */
  history: PipelineSample[];
  current: PipelineSample;
  sampleIntervalMs: number;
  curationProblem: string | null;
}

/**
 * The console's data, behind the admin token: pipeline health and history, and feed previews.
 * Curation itself is read and edited through the admin API (`/api/admin/curation`, …).
 */
@Controller('api/admin')
@UseGuards(AdminGuard)
export class ConsoleApiController {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly registry: FeedRegistry,
    private readonly readiness: ReadinessService,
    private readonly history: PipelineHistory,
    private readonly previews: FeedPreviewService,
  ) {}

  @Get('console/overview')
  async overview(): Promise<ConsoleOverview> {
    const [readiness, current] = await Promise.all([this.readiness.check(), this.history.current()]);
    return {
      role: this.config.role,
      now: Date.now(),
      readiness,
      history: this.history.history(),
      current,
      sampleIntervalMs: this.history.options.intervalMs,
      curationProblem: this.registry.lastProblem ?? null,
    };
  }

  @Get('feeds/:shortname/preview')
  async preview(@Param('shortname') shortname: string, @Query() query: unknown): Promise<FeedPreview> {
    const feed = this.registry.current.feeds.get(shortname);
    if (!feed) throw new UnknownFeedRequestedError(shortname);
    const { limit } = parseParams(PreviewParams, query);
    return this.previews.preview(feed, limit);
  }
}
