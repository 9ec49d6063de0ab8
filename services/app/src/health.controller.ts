import { Controller, Get, Inject, Optional, ServiceUnavailableException } from '@nestjs/common';
import { EventBatchConsumer } from '../../scoring/src/event-batch.consumer.js';
import { JetstreamIngestService } from '../../ingest/src/jetstream-ingest.service.js';
import { EventRepository } from '#lib/clickhouse';
import type { MessageBus } from '#lib/contracts';
import { MESSAGE_BUS } from '#lib/platform';

/**
 * Health for orchestrators and operators, in every role: `/health` (liveness: the process
 * answers), `/ready` (readiness: the bus and ClickHouse answer now) and `/status` (what this
 * process has done, and what the store holds).
 */
@Controller()
export class HealthController {
  constructor(
    @Inject(MESSAGE_BUS) private readonly bus: MessageBus,
    private readonly events: EventRepository,
    @Optional() private readonly ingest?: JetstreamIngestService,
    @Optional() private readonly scoring?: EventBatchConsumer,
  ) {}

  @Get('health')
  health(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('ready')
  async ready(): Promise<{ status: 'ready'; checks: Record<string, boolean> }> {
    const [bus, clickhouse] = await Promise.all([
      this.bus.ping().catch(() => false),
      this.events.ping().catch(() => false),
    ]);
    const checks = { bus, clickhouse };
    if (!bus || !clickhouse) throw new ServiceUnavailableException({ status: 'not ready', checks });
    return { status: 'ready', checks };
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
      store: await this.events.counts(),
    };
  }
}
