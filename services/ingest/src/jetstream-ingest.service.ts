import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import type { AppConfig } from '#lib/config';
import { encodeMessage, Topics, type MessageBus, type OutgoingMessage, type PipelineEventV1 } from '#lib/contracts';
import { isJetstreamTimeUs, mapJetstreamEvent, wantedCollections } from '#lib/domain';
import { JetstreamSource } from '#lib/jetstream';
import { APP_CONFIG, CatchUpProgress, formatDuration, LOGGER, MESSAGE_BUS, Metrics, type Logger } from '#lib/platform';
import { CursorFileError, CursorStore } from './cursor.store.js';
import { collectIngestMetrics } from './ingest.metrics.js';
import { IngestStats } from './ingest.stats.js';

/** A gap this wide between the cursor asked for and the first event served means events were lost. */
const GAP_THRESHOLD_US = 60 * 1_000_000;
const MAX_RETRY_DELAY_MS = 10_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The bus message of an event, keyed by its repo DID. Its value is encoded when first read: a
 * broker reads it, while the in-process bus hands the consumer the event itself and reads the
 * value only for a dead letter (encoding every event cost the embedded ingest 1.9 µs of its CPU
 * per event for nothing). A class rather than an object literal with a getter: one object a
 * message, no closure.
 */
class EventMessage implements OutgoingMessage {
  private encoded?: string;

  constructor(readonly decoded: PipelineEventV1) {}

  get key(): string {
    return this.decoded.did;
  }

  get value(): string {
    return (this.encoded ??= encodeMessage(this.decoded));
  }
}

const eventMessage = (event: PipelineEventV1): OutgoingMessage => new EventMessage(event);

/**
 * Jetstream → bus. Events are mapped to `PipelineEventV1`, published in batches keyed by repo
 * DID, and the cursor is saved only after the bus acknowledged the batch. On start it resumes a
 * few seconds before the saved cursor: Jetstream is at-least-once anyway and the store is
 * idempotent, so overlap costs nothing while a hole would lose data.
 */
@Injectable()
export class JetstreamIngestService implements OnApplicationBootstrap, OnModuleDestroy {
  readonly stats = new IngestStats();
  private readonly log: Logger;
  private readonly cursorStore: CursorStore;
  private readonly catchUp: CatchUpProgress;
  private readonly stopCollecting: () => void;
  private source?: JetstreamSource;
  private pending: PipelineEventV1[] = [];
  private stopping = false;
  private wake?: () => void;
  private loop?: Promise<void>;
  /** Cursor saves failed in a row; the next one waits longer. */
  private failedSaves = 0;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(MESSAGE_BUS) private readonly bus: MessageBus,
    @Inject(LOGGER) logger: Logger,
    private readonly metrics: Metrics,
  ) {
    this.log = logger.child({ component: 'ingest' });
    this.cursorStore = new CursorStore(config.ingest.cursorFile);
    this.stopCollecting = collectIngestMetrics(metrics, this.stats);
    this.catchUp = new CatchUpProgress(({ behindSeconds, speed, etaSeconds, caughtUp }) => {
      if (caughtUp) this.log.info({ behindSeconds: Math.round(behindSeconds) }, 'ingest caught up with real time');
      else {
        this.log.info(
          { behindSeconds: Math.round(behindSeconds), speed: speed && Math.round(speed * 10) / 10, etaSeconds: etaSeconds && Math.round(etaSeconds) },
          `ingest catching up: ${formatDuration(behindSeconds)} behind, ETA ${etaSeconds === undefined ? 'unknown (not gaining)' : formatDuration(etaSeconds)}`,
        );
      }
    });
  }

  async onApplicationBootstrap(): Promise<void> {
    const saved = await this.loadCursor();
    this.stats.checkpointUs = saved;
    const cursorUs = saved === undefined ? undefined : Math.max(0, saved - this.config.ingest.rewindSeconds * 1_000_000);
    this.source = new JetstreamSource({
      url: this.config.ingest.jetstreamUrl,
      wantedCollections,
      cursorUs,
      onEvent: (raw) => this.receive(raw),
      onMalformedFrame: (reason, afterUs) => {
        this.stats.countMalformed('not-json');
        this.log.warn({ afterTimeUs: afterUs, reason }, 'skipped a malformed Jetstream frame');
      },
      onConnection: (state, detail) => this.connectionChanged(state, detail),
      onFirstEvent: (firstEventUs, requestedCursorUs) => this.checkGap(firstEventUs, requestedCursorUs),
    });
    this.log.info(
      { url: this.config.ingest.jetstreamUrl, cursorUs: cursorUs ?? 'live' },
      saved === undefined ? 'ingest starting from the live stream' : 'ingest resuming from the saved cursor',
    );
    this.loop = this.run();
    this.source.start();
  }

  /** The saved cursor; a file that holds none is refused, loudly, rather than read as "start from now". */
  private async loadCursor(): Promise<number | undefined> {
    try {
      return await this.cursorStore.load(Date.now() * 1000);
    } catch (error) {
      if (error instanceof CursorFileError) this.log.error({ file: this.config.ingest.cursorFile, err: error.message }, 'ingest cannot start: the saved cursor is unreadable');
      throw error;
    }
  }

  async onModuleDestroy(): Promise<void> {
    this.stopping = true;
    this.source?.stop();
    this.wake?.();
    await this.loop;
    this.stopCollecting();
  }

  private connectionChanged(state: string, detail?: string): void {
    const connected = state === 'open';
    if (connected !== this.stats.connected || detail) {
      const entry = { url: this.config.ingest.jetstreamUrl, state, detail };
      if (connected) this.log.info(entry, 'Jetstream connected');
      else if (!this.stopping) this.log.warn(entry, 'Jetstream not connected; retrying');
    }
    this.stats.connected = connected;
  }

  /** Any JSON value: `null`, numbers and arrays arrive too, and are counted as malformed. */
  private receive(raw: unknown): void {
    const fields = (typeof raw === 'object' && raw !== null ? raw : {}) as { did?: unknown; time_us?: unknown; kind?: unknown; commit?: { collection?: unknown } | null };
    const { kind, commit } = fields;
    const collection = kind === 'commit' ? commit?.collection : kind;
    // @NOTE Only known collections and kinds become metric labels: a hostile stream must not mint label values.
    this.stats.countReceived(typeof collection === 'string' && (collection === 'identity' || collection === 'account' || wantedCollections.includes(collection)) ? collection : 'other');
    const timeUs = fields.time_us;
    const nowUs = Date.now() * 1000;
    if (isJetstreamTimeUs(timeUs, nowUs)) {
      if (timeUs > (this.stats.receivedUs ?? 0)) this.stats.receivedUs = timeUs;
    }
    const mapped = mapJetstreamEvent(raw, nowUs);
    if (mapped.kind === 'event') {
      this.enqueue(mapped.event);
    } else if (mapped.kind === 'skip') {
      this.stats.skipped += 1;
    } else {
      this.stats.countMalformed(mapped.reason);
      // @NOTE The did only when it is a short string: a hostile frame's megabyte did must not reach the log.
      const did = typeof fields.did === 'string' && fields.did.length <= 256 ? fields.did : undefined;
      const entry = { did, timeUs: isJetstreamTimeUs(timeUs) ? timeUs : undefined, reason: mapped.reason };
      if (mapped.withdrawal) {
        this.enqueue(mapped.withdrawal);
        this.log.warn({ ...entry, type: mapped.withdrawal.type, rkey: mapped.withdrawal.rkey }, 'refused a malformed edit of a record; its earlier version is withdrawn');
      } else {
        this.log.warn(entry, 'skipped a malformed Jetstream event');
      }
    }
  }

  private enqueue(event: PipelineEventV1): void {
    this.pending.push(event);
    if (this.pending.length >= this.config.ingest.batchSize) this.wake?.();
    if (this.pending.length >= this.config.ingest.batchSize * 4) this.source?.pause();
  }

  /**
   * Checked on every connection, not only the first: a reconnect after a long outage, or after the
   * bus held the socket paused longer than Jetstream retains, resumes from a cursor the server no
   * longer holds just as a late start does.
   */
  private checkGap(firstEventUs: number, requestedCursorUs: number | undefined): void {
    if (requestedCursorUs !== undefined && firstEventUs - requestedCursorUs > GAP_THRESHOLD_US) {
      this.stats.gaps += 1;
      this.log.error(
        { requestedCursorUs, firstEventUs, missingSeconds: Math.round((firstEventUs - requestedCursorUs) / 1e6) },
        'gap in the event stream: the cursor asked for is older than Jetstream retains; events in between are lost',
      );
    }
  }

  /** Cuts a batch when it is full or old enough, publishes it, then checkpoints. */
  private async run(): Promise<void> {
    while (!this.stopping) {
      // A batch that filled up during the last publish goes at once; a wake-up it sent then is spent.
      if (this.pending.length < this.config.ingest.batchSize) {
        await new Promise<void>((resolve) => {
          this.wake = resolve;
          setTimeout(resolve, this.config.ingest.batchMaxWaitMs);
        });
      }
      await this.flush();
    }
    await this.flush();
  }

  private async flush(): Promise<void> {
    const batch = this.pending;
    const cursorUs = this.source?.cursorUs;
    if (batch.length === 0 && (cursorUs === undefined || cursorUs === this.stats.checkpointUs)) return;
    this.pending = [];
    if (batch.length > 0 && !(await this.publish(batch))) {
      // Stopping before the bus acknowledged: keep the old cursor; the events are read again next time.
      return;
    }
    // While saves fail, a source paused for a full buffer stays paused: the checkpoint lags by a few batches at most.
    if (cursorUs !== undefined && !(await this.saveCursor(cursorUs))) return;
    if (this.source?.isPaused && !this.stopping && this.pending.length < this.config.ingest.batchSize) this.source.resume();
  }

  /**
   * Saves the checkpoint. A failure (a full disk, a read-only volume) is logged and the checkpoint
   * stays where it was; the next flush tries again, after a pause that grows with each failure.
   */
  private async saveCursor(cursorUs: number): Promise<boolean> {
    try {
      await this.cursorStore.save(cursorUs);
    } catch (error) {
      this.failedSaves += 1;
      const delay = Math.min(MAX_RETRY_DELAY_MS, 250 * 2 ** this.failedSaves);
      this.log.error(
        { file: this.config.ingest.cursorFile, cursorUs, checkpointUs: this.stats.checkpointUs, attempt: this.failedSaves, retryInMs: delay, err: (error as Error).message },
        'could not save the Jetstream cursor; the checkpoint stays where it was, retrying',
      );
      if (!this.stopping) await sleep(delay);
      return false;
    }
    this.failedSaves = 0;
    this.stats.checkpointUs = cursorUs;
    this.catchUp.observe(cursorUs);
    return true;
  }

  private async publish(batch: PipelineEventV1[]): Promise<boolean> {
    const messages = batch.map(eventMessage);
    for (let attempt = 1; ; attempt += 1) {
      const started = performance.now();
      try {
        await this.bus.publish(Topics.events, messages);
        const ms = performance.now() - started;
        this.stats.batches += 1;
        this.stats.published += batch.length;
        for (const event of batch) this.stats.countPublished(event.type);
        this.metrics.ingestBatchSize.observe(batch.length);
        this.metrics.ingestPublishDuration.observe(ms / 1000);
        this.log.debug(
          { topic: Topics.events, events: batch.length, fromTimeUs: batch[0]!.timeUs, toTimeUs: batch.at(-1)!.timeUs, attempt, ms: Math.round(ms) },
          'batch published',
        );
        return true;
      } catch (error) {
        if (this.stopping && attempt > 1) return false;
        const delay = Math.min(MAX_RETRY_DELAY_MS, 250 * 2 ** attempt);
        this.log.warn(
          { topic: Topics.events, events: batch.length, fromTimeUs: batch[0]!.timeUs, toTimeUs: batch.at(-1)!.timeUs, attempt, retryInMs: delay, err: (error as Error).message },
          'bus did not acknowledge the batch; retrying',
        );
        await sleep(delay);
      }
    }
  }
}
