import { Injectable, Optional } from '@nestjs/common';
import { EventBatchConsumer } from '../../scoring/src/event-batch.consumer.js';
import { FeedbackBatchConsumer } from '../../scoring/src/feedback-batch.consumer.js';
import { ScoreSnapshotJob } from '../../scoring/src/score-snapshot.job.js';
import { JetstreamIngestService } from '../../ingest/src/jetstream-ingest.service.js';
import { EventRepository } from '#lib/clickhouse';
import { BackfillService } from '../../backfill/src/backfill.service.js';

/** What this process has done (the services of its role) and what the store holds: `/status` on the ops port. */
@Injectable()
export class ProcessStatusService {
  constructor(
    private readonly events: EventRepository,
    @Optional() private readonly ingest?: JetstreamIngestService,
    @Optional() private readonly scoring?: EventBatchConsumer,
    @Optional() private readonly feedback?: FeedbackBatchConsumer,
    @Optional() private readonly backfill?: BackfillService,
    @Optional() private readonly snapshots?: ScoreSnapshotJob,
  ) {}

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
      // The feeds this process ranks (its share of the rankers' partitions), where it is a ranker.
      ranker: this.snapshots?.computesSnapshots ? this.snapshots.share() : undefined,
      backfill: this.backfill && { ...this.backfill.progress.state },
      store: await this.events.counts(),
    };
  }
}
