import { Topics } from '#lib/contracts';
import type { Metrics } from './metrics.js';

/** What this process measured at one moment; totals are running counts (rates come from differences). */
export interface PipelineSample {
  /** Unix ms. */
  at: number;
  received: number | null;
  published: number | null;
  written: number | null;
  deadLettered: number | null;
  feedRequests: number | null;
  feedServerErrors: number | null;
  /** Seconds the newest received Jetstream event is behind now. */
  jetstreamLagSeconds: number | null;
  /** Seconds the checkpointed cursor is behind now. */
  checkpointLagSeconds: number | null;
  /** Messages the scoring consumer groups have not committed yet, summed over partitions. */
  busLag: number | null;
  /** Age of the newest score snapshot over the ranked feeds. */
  snapshotAgeSeconds: number | null;
}

interface PipelineHistoryOptions {
  intervalMs: number;
  /** Samples kept (interval × capacity = the window, an hour by default). */
  capacity: number;
}

export const DEFAULT_HISTORY: PipelineHistoryOptions = { intervalMs: 15_000, capacity: 240 };

/**
 * A ring of samples of this process's metrics over the last hour, for the console's charts. Read
 * from the metrics registry, so it shows exactly what Prometheus would, in a process without one.
 */
export class PipelineHistory {
  private readonly samples: PipelineSample[] = [];
  private timer?: NodeJS.Timeout;
  private sampling?: Promise<void>;

  constructor(
    private readonly metrics: Metrics,
    readonly options: PipelineHistoryOptions = DEFAULT_HISTORY,
  ) {}

  start(): void {
    if (this.timer) return;
    this.sampling = this.record();
    this.timer = setInterval(() => {
      this.sampling ??= this.record();
    }, this.options.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.sampling;
  }

  /** Samples oldest first. */
  history(): PipelineSample[] {
    return [...this.samples];
  }

  /** A sample of now (collectors run first), not kept in the ring. */
  async current(): Promise<PipelineSample> {
    await this.metrics.refresh();
    return this.read();
  }

  private async record(): Promise<void> {
    try {
      const sample = await this.current();
      this.samples.push(sample);
      if (this.samples.length > this.options.capacity) this.samples.splice(0, this.samples.length - this.options.capacity);
    } catch {
      // A missed sample leaves a gap in the chart; the next interval tries again.
    } finally {
      this.sampling = undefined;
    }
  }

  private async read(): Promise<PipelineSample> {
    const m = this.metrics;
    const orNull = (value: number | undefined) => (value === undefined || !Number.isFinite(value) ? null : value);
    const [received, published, written, deadLettered, feedRequests, feedServerErrors, jetstream, checkpoint, busLag, snapshotAge] =
      await Promise.all([
        m.sum(m.ingestReceived),
        m.sum(m.ingestPublished),
        m.sum(m.scoringWritten, { topic: Topics.events }),
        m.sum(m.scoringDeadLettered),
        m.sum(m.feedRequests),
        feedErrors(m),
        m.sum(m.jetstreamLag, { position: 'received' }),
        m.sum(m.jetstreamLag, { position: 'checkpoint' }),
        m.sum(m.busConsumerLag),
        m.extreme(m.snapshotAge, 'min'),
      ]);
    return {
      at: Date.now(),
      received: orNull(received),
      published: orNull(published),
      written: orNull(written),
      deadLettered: orNull(deadLettered),
      feedRequests: orNull(feedRequests),
      feedServerErrors: orNull(feedServerErrors),
      jetstreamLagSeconds: orNull(jetstream),
      checkpointLagSeconds: orNull(checkpoint),
      busLag: orNull(busLag),
      snapshotAgeSeconds: orNull(snapshotAge),
    };
  }
}

async function feedErrors(metrics: Metrics): Promise<number | undefined> {
  const { values } = await metrics.feedRequests.get();
  if (values.length === 0) return undefined;
  return values.filter((value) => Number(value.labels.status) >= 500).reduce((total, value) => total + value.value, 0);
}
