import { Controller, Get, Optional, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { EventBatchConsumer } from '../../scoring/src/event-batch.consumer.js';
import { FeedbackBatchConsumer } from '../../scoring/src/feedback-batch.consumer.js';
import { JetstreamIngestService } from '../../ingest/src/jetstream-ingest.service.js';
import { EventRepository } from '#lib/clickhouse';
import { ReadinessService, type ReadinessReport } from '#lib/platform';

/**
 * Health for orchestrators and operators, in every role: `/health` (liveness: the process
 * answers), `/ready` (readiness: the bus and ClickHouse answer now, and the score snapshots this
 * role serves or computes are fresh) and `/status` (what this process has done, and what the
 * store holds). Metrics are at `/metrics`.
 */
@Controller()
export class HealthController {
  constructor(
    private readonly readiness: ReadinessService,
    private readonly events: EventRepository,
    @Optional() private readonly ingest?: JetstreamIngestService,
    @Optional() private readonly scoring?: EventBatchConsumer,
    @Optional() private readonly feedback?: FeedbackBatchConsumer,
  ) {}

  @Get('health')
  health(): { status: 'ok' } {
    return { status: 'ok' };
  }

  /** 200 when ready, 503 when not; the body says which check failed either way. */
  @Get('ready')
  async ready(@Res({ passthrough: true }) reply: FastifyReply): Promise<{ status: 'ready' | 'not ready' } & Omit<ReadinessReport, 'ready'>> {
    const { ready, checks, snapshot } = await this.readiness.check();
    void reply.status(ready ? 200 : 503);
    return { status: ready ? 'ready' : 'not ready', checks, snapshot };
  }

  @Get('status')
  async status(): Promise<Record<string, unknown>> {
    const ingest = this.ingest?.stats;
    return {
      ingest: ingest && {
        connected: ingest.connected,
        received: ingest.received,
        published: ingest.published,
        skipped: ingest.skipped,
        malformed: ingest.malformed,
        gaps: ingest.gaps,
        batches: ingest.batches,
        receivedUs: ingest.receivedUs ?? null,
        checkpointUs: ingest.checkpointUs ?? null,
      },
      scoring: this.scoring && { ...this.scoring.stats },
      feedback: this.feedback && { ...this.feedback.stats },
      store: await this.events.counts(),
    };
  }
}
