import prom from 'prom-client';
import type { Counter, Gauge, Histogram, LabelValues, Registry } from 'prom-client';

/** Runs before each scrape: copies running totals and gauges from the stats objects that hold them. */
type MetricsCollector = () => void | Promise<void>;

/** An async collector (a Kafka or ClickHouse query) that takes longer than this is skipped for the scrape. */
const COLLECTOR_TIMEOUT_MS = 2_000;

/** Latency buckets in seconds, from a cached feed page (sub-ms) to the AppView's 10 s timeout. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Batch sizes from a trickle to the largest configurable batch. */
const BATCH_BUCKETS = [1, 10, 50, 100, 500, 1_000, 2_500, 5_000, 10_000, 20_000, 50_000, 100_000];
/** ClickHouse insert latency: chDB in-process is ~ms, a server over the network tens of ms, a struggling one seconds. */
const INSERT_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/**
 * Every metric the services export, with its name, help and labels in one place, on a registry of
 * its own (so several applications in one process, as in the tests, never share counters).
 * `GET /metrics` on the ops port serves `scrape()`.
 *
 * @NOTE Most counters mirror running totals the services already keep for `/status` (IngestStats,
 * ScoringStats, …): a collector copies them at scrape time with `setTotal`, instead of increments
 * scattered through the hot paths. Histograms cannot be rebuilt from totals, so those few are
 * observed where the work happens.
 */
export class Metrics {
  readonly registry: Registry = new prom.Registry();
  private readonly collectors = new Map<string, MetricsCollector>();
  private readonly reported = new Map<Counter<string>, Map<string, number>>();

  // Ingest: Jetstream → bus.
  readonly ingestReceived = this.counter('cg_ingest_events_received_total', 'Jetstream events received, by collection (or kind for identity/account events).', ['collection']);
  readonly ingestPublished = this.counter('cg_ingest_events_published_total', 'Pipeline events the bus acknowledged, by event type.', ['type']);
  readonly ingestSkipped = this.counter('cg_ingest_events_skipped_total', 'Jetstream events received and deliberately not mapped (collections or operations the pipeline ignores).');
  readonly ingestMalformed = this.counter('cg_ingest_malformed_total', 'Malformed Jetstream frames and events skipped, by reason.', ['reason']);
  readonly ingestBatches = this.counter('cg_ingest_batches_total', 'Batches of pipeline events published to the bus.');
  readonly ingestBatchSize = this.histogram('cg_ingest_batch_size', 'Events per batch published to the bus.', [], BATCH_BUCKETS);
  readonly ingestPublishDuration = this.histogram('cg_ingest_publish_duration_seconds', 'Time from publishing a batch to the bus acknowledging it (embedded mode: until it is written).', [], INSERT_BUCKETS);
  readonly jetstreamConnected = this.gauge('cg_jetstream_connected', '1 while the Jetstream websocket is open.');
  readonly jetstreamGaps = this.counter('cg_jetstream_gaps_total', 'Connections (at start or after a reconnect) whose cursor was older than Jetstream retains (events lost).');
  readonly jetstreamLag = this.gauge(
    'cg_jetstream_lag_seconds',
    'How far behind real time ingest is: now minus the time_us of the newest event received (position="received") or acknowledged by the bus and checkpointed (position="checkpoint").',
    ['position'],
  );

  // Scoring: bus → ClickHouse, and score snapshots.
  readonly scoringConsumed = this.counter('cg_scoring_messages_consumed_total', 'Bus messages consumed and acknowledged, by topic.', ['topic']);
  readonly scoringWritten = this.counter('cg_scoring_events_written_total', 'Decoded messages written to ClickHouse, by topic.', ['topic']);
  readonly scoringDeadLettered = this.counter('cg_scoring_dead_lettered_total', 'Messages that failed their schema and went to the dead-letter topic, by source topic.', ['topic']);
  readonly scoringFailedBatches = this.counter('cg_scoring_failed_batches_total', 'Batches not written (delivered again by the bus), by topic.', ['topic']);
  readonly scoringBatchSize = this.histogram('cg_scoring_batch_size', 'Messages per consumed batch, by topic.', ['topic'], BATCH_BUCKETS);
  readonly scoringBatchDuration = this.histogram('cg_scoring_batch_duration_seconds', 'Time to decode and write one consumed batch, by topic.', ['topic'], INSERT_BUCKETS);
  readonly busMessagesRefused = this.counter('cg_bus_messages_refused_total', 'Messages the bus refused as larger than it can carry (each logged with its topic and key).');
  readonly busConsumerLag = this.gauge('cg_bus_consumer_lag', 'Messages not yet committed by a consumer group, per topic and partition.', ['group', 'topic', 'partition']);
  readonly snapshotRuns = this.counter('cg_scoring_snapshot_runs_total', 'Completed score snapshot runs (every ranked feed once).');
  readonly snapshotFailures = this.counter('cg_scoring_snapshot_failures_total', 'Score snapshot runs that failed.');
  readonly fundStepFailures = this.counter('cg_fund_step_failures_total', 'Ranker runs whose Bridge Fund step failed: their feeds were ranked without boosts, and nothing was settled.');
  readonly notesFailures = this.counter('cg_notes_step_failures_total', 'Ranker runs whose context-notes step failed: the feeds were ranked with the last notes, or none.');
  readonly snapshotFeedFailures = this.counter('cg_scoring_snapshot_feed_failures_total', "Feeds' snapshots that failed within a run that went on with the other feeds, by feed short name.", ['feed']);
  readonly snapshotRunDuration = this.gauge('cg_scoring_run_duration_seconds', 'Duration of the last score snapshot run over every ranked feed.');
  readonly snapshotFeedDuration = this.gauge('cg_scoring_feed_duration_seconds', 'Duration of the last snapshot of each feed.', ['feed']);
  readonly snapshotAge = this.gauge('cg_snapshot_age_seconds', 'Age of the newest complete score snapshot of each ranked feed, from the store.', ['feed']);
  readonly snapshotPosts = this.gauge('cg_snapshot_posts', 'Posts in the newest complete score snapshot of each ranked feed.', ['feed']);
  readonly snapshotStale = this.gauge('cg_snapshot_stale', '1 when the newest score snapshot of a ranked feed is older than 3 scoring intervals + 60 s (it is still served).', ['feed']);
  readonly communityTooLarge = this.gauge(
    'cg_community_too_large',
    "1 for each community whose member sources named more accounts than COMMUNITY_MAX_MEMBERS at the ranker's last run: it counted as empty.",
    ['community'],
  );
  readonly curationInvalid = this.gauge('cg_curation_invalid', '1 while the curator file on disk is rejected and the last good definitions stay in force.');

  // ClickHouse.
  readonly clickhouseInsertDuration = this.histogram('cg_clickhouse_insert_duration_seconds', 'ClickHouse insert latency, by table.', ['table'], INSERT_BUCKETS);
  readonly clickhouseInsertedRows = this.counter('cg_clickhouse_inserted_rows_total', 'Rows inserted into ClickHouse, by table.', ['table']);
  readonly clickhouseInsertFailures = this.counter('cg_clickhouse_insert_failures_total', 'ClickHouse inserts that failed, by table.', ['table']);

  // Feed generator.
  readonly feedRequests = this.counter('cg_feed_requests_total', 'getFeedSkeleton requests, by feed short name and HTTP status.', ['feed', 'status']);
  readonly feedRequestDuration = this.histogram('cg_feed_request_duration_seconds', 'getFeedSkeleton latency, by feed short name.', ['feed'], LATENCY_BUCKETS);
  readonly authFailures = this.counter('cg_feed_auth_failures_total', 'Service-auth tokens refused, by reason.', ['reason']);
  readonly interactionsDropped = this.counter(
    'cg_interactions_dropped_total',
    'sendInteractions items accepted in a request but not stored: not a post, or not a post we served or could serve.',
    ['reason'],
  );
  readonly interactionsRateLimited = this.counter('cg_interactions_rate_limited_total', 'sendInteractions requests refused with 429 because the viewer exceeded its rate.');
  readonly impressionsRecorded = this.counter('cg_feed_impressions_recorded_total', 'Served posts recorded as impressions.');
  readonly impressionsDropped = this.counter('cg_feed_impressions_dropped_total', 'Impressions dropped because the bus was too slow to take them.');
  readonly impressionsPublished = this.counter('cg_feed_impressions_published_total', 'Impressions the bus acknowledged.');

  // Backfill: communities and their members' recent history read from the network.
  readonly backfillRunning = this.gauge('cg_backfill_running', '1 while a backfill runs.');
  readonly backfillAccounts = this.gauge('cg_backfill_accounts', 'Accounts of the current or last backfill, by state (total, done, skipped as already backfilled, failed).', ['state']);
  readonly backfillSourcesFailed = this.gauge('cg_backfill_sources_failed', 'Community sources (lists, starter packs, seeds\' followers, followers\' follows) the current or last backfill could not read.');
  readonly backfillRecords = this.gauge('cg_backfill_records', 'Records written by the current or last backfill.');
  readonly backfillEtaSeconds = this.gauge('cg_backfill_eta_seconds', 'Seconds the current backfill is expected to take still (-1 when unknown).');
  // Labels: ours, and those of the labelers we follow.
  readonly labelsEmitted = this.counter('cg_labels_emitted_total', 'Labels we signed and stored, by kind (label or negation).', ['kind']);
  readonly labelsReceived = this.counter('cg_labels_received_total', 'Verified labels stored from a labeler we follow, by labeler DID.', ['src']);
  readonly labelsRejected = this.counter('cg_labels_rejected_total', 'Labels from a labeler we follow that were dropped, by labeler DID and reason (bad-signature, malformed, wrong-source).', ['src', 'reason']);
  readonly labelerLag = this.gauge('cg_labeler_lag_seconds', 'Now minus the creation time of the newest label received from each labeler we follow.', ['src']);
  readonly labelSubscribers = this.gauge('cg_label_subscribers', 'Open subscribeLabels connections.');
  readonly publishedRecordsStale = this.gauge(
    'cg_published_records_stale',
    'Records of ours on the network that could not be brought in step with the curation in force, at 1 until a write succeeds: the labeler service record (records="labeler", LABELER_APP_PASSWORD) or the feeds\' generator records (records="feeds", FEEDS_KEEP_PUBLISHED).',
    ['records'],
  );
  readonly labelSubscribersRefused = this.counter('cg_label_subscribers_refused_total', 'subscribeLabels connections refused (503) because LABELS_MAX_SUBSCRIBERS were open.');

  // Every role.
  readonly role = this.gauge(
    'cg_role',
    'Each part this process runs (ingest, scoring, ranker, feed-generator), at 1: every process exports every metric, so alert rules join on this to tell whose a value is.',
    ['role'],
  );
  readonly httpRequests = this.counter('cg_http_requests_total', 'HTTP requests, by method, route pattern and status.', ['method', 'route', 'status']);
  readonly httpRequestDuration = this.histogram('cg_http_request_duration_seconds', 'HTTP request latency, by route pattern.', ['route'], LATENCY_BUCKETS);
  readonly ready = this.gauge('cg_ready', '1 when a readiness check passes (bus, clickhouse, snapshot).', ['check']);
  readonly collectorErrors = this.counter('cg_metrics_collector_errors_total', 'Metric collectors that failed or timed out, by collector.', ['collector']);

  constructor(options: { processMetrics?: boolean } = {}) {
    if (options.processMetrics ?? true) prom.collectDefaultMetrics({ register: this.registry });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** Adds (or replaces) a named collector; returns a function that removes it. */
  collect(name: string, collector: MetricsCollector): () => void {
    this.collectors.set(name, collector);
    return () => {
      if (this.collectors.get(name) === collector) this.collectors.delete(name);
    };
  }

  /** Runs the collectors (each bounded in time), so the metrics hold current values. */
  async refresh(): Promise<void> {
    await Promise.all(
      [...this.collectors].map(async ([name, collector]) => {
        let timer: NodeJS.Timeout | undefined;
        try {
          await Promise.race([
            Promise.resolve().then(collector),
            new Promise((_, reject) => {
              timer = setTimeout(() => reject(new Error('timed out')), COLLECTOR_TIMEOUT_MS);
            }),
          ]);
        } catch {
          this.collectorErrors.inc({ collector: name });
        } finally {
          clearTimeout(timer);
        }
      }),
    );
  }

  /** The Prometheus text exposition of every metric, collectors run first. */
  async scrape(): Promise<string> {
    await this.refresh();
    return this.registry.metrics();
  }

  /**
   * Advances a counter to a running total kept elsewhere. Totals only grow; a smaller one (the
   * source was replaced) is ignored rather than making the counter go backwards.
   */
  setTotal<T extends string>(counter: Counter<T>, labels: LabelValues<T>, total: number): void {
    let seen = this.reported.get(counter);
    if (!seen) this.reported.set(counter, (seen = new Map()));
    const key = labelKey(labels);
    const delta = total - (seen.get(key) ?? 0);
    if (delta <= 0) {
      if (!seen.has(key)) counter.inc(labels, 0);
      seen.set(key, Math.max(total, seen.get(key) ?? 0));
      return;
    }
    counter.inc(labels, delta);
    seen.set(key, total);
  }

  /** Sum of a metric's values, optionally only those whose labels match `where` (console history). */
  async sum(metric: Counter<string> | Gauge<string>, where: Record<string, string> = {}): Promise<number | undefined> {
    const { values } = await metric.get();
    const matching = values.filter((value) => Object.entries(where).every(([label, wanted]) => String(value.labels[label]) === wanted));
    return matching.length === 0 ? undefined : matching.reduce((total, value) => total + value.value, 0);
  }

  /** Largest (or smallest) value of a gauge over its label sets. */
  async extreme(metric: Gauge<string>, pick: 'max' | 'min', where: Record<string, string> = {}): Promise<number | undefined> {
    const { values } = await metric.get();
    const matching = values
      .filter((value) => Object.entries(where).every(([label, wanted]) => String(value.labels[label]) === wanted))
      .map((value) => value.value);
    if (matching.length === 0) return undefined;
    return pick === 'max' ? Math.max(...matching) : Math.min(...matching);
  }

  private counter<T extends string>(name: string, help: string, labelNames: readonly T[] = []): Counter<T> {
    return new prom.Counter<T>({ name, help, labelNames, registers: [this.registry] });
  }

  private gauge<T extends string>(name: string, help: string, labelNames: readonly T[] = []): Gauge<T> {
    return new prom.Gauge<T>({ name, help, labelNames, registers: [this.registry] });
  }

  private histogram<T extends string>(name: string, help: string, labelNames: readonly T[], buckets: number[]): Histogram<T> {
    return new prom.Histogram<T>({ name, help, labelNames, buckets, registers: [this.registry] });
  }
}

function labelKey(labels: object): string {
  return JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Seconds from a Jetstream `time_us` to now, or undefined when there is none yet. */
export function secondsBehind(timeUs: number | undefined, nowMs = Date.now()): number | undefined {
  return timeUs === undefined || timeUs <= 0 ? undefined : Math.max(0, nowMs / 1000 - timeUs / 1e6);
}
