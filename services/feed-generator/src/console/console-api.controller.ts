import { Controller, Get, Inject, Param, Query, UseGuards } from '@nestjs/common';
import { LabelRepository, type FollowedLabelerStats, type LabelTotals } from '#lib/clickhouse';
import { z } from 'zod';
import type { AppConfig } from '#lib/config';
import { APP_CONFIG, BackfillProgress, Metrics, PipelineHistory, ReadinessService, type BackfillState, type PipelineSample, type ReadinessReport } from '#lib/platform';
import { AdminGuard } from '../admin.guard.js';
import { FeedRegistry } from '../feeds/feed.registry.js';
import { integerParam, parseParams } from '../xrpc/request-input.js';
import { FeedPreviewService, type FeedPreview } from './feed-preview.service.js';

/** The console's labels panel: what we emit, and the labelers we follow. */
export interface ConsoleLabels {
  labeler: { did: string; endpoint: string } | null;
  totals: LabelTotals;
  followed: (FollowedLabelerStats & { rejected: number })[];
}

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
  /** The backfill of this process (it runs where ingest runs: in embedded mode, here). */
  backfill: BackfillState;
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
    private readonly backfill: BackfillProgress,
    private readonly labels: LabelRepository,
    private readonly metrics: Metrics,
  ) {}

  /**
   * Our labels (values in force, last sequence) and the labelers we follow (cursor, stored labels,
   * newest label). Rejected signatures are counted where the labelers are followed: in this
   * process's metrics when it is that process, zero elsewhere.
   */
  @Get('console/labels')
  async labelsPanel(): Promise<ConsoleLabels> {
    const { did, endpoint, subscribe } = this.config.labeler;
    const [totals, followed] = await Promise.all([this.labels.totals(), this.labels.followedStats(subscribe)]);
    return {
      labeler: did === undefined ? null : { did, endpoint },
      totals,
      followed: await Promise.all(followed.map(async (entry) => ({ ...entry, rejected: (await this.metrics.sum(this.metrics.labelsRejected, { src: entry.src })) ?? 0 }))),
    };
  }

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
      backfill: this.backfill.state,
    };
  }

  @Get('feeds/:shortname/preview')
  async preview(@Param('shortname') shortname: string, @Query() query: unknown): Promise<FeedPreview> {
    const feed = this.registry.named(shortname);
    const { limit } = parseParams(PreviewParams, query);
    return this.previews.preview(feed, limit);
  }
}
