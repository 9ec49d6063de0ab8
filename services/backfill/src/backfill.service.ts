import { backoffMs } from '@atproto/common';
import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { BackfillCheckpointRepository, CommunityRepository, NoteRepository } from '#lib/clickhouse';
import type { AppConfig } from '#lib/config';
import type { Curation } from '#lib/curation';
import { VerifiedHandleResolver } from '#lib/identity';
import { NetworkReader } from '#lib/network';
import { APP_CONFIG, BackfillProgress, CurationService, LOGGER, Metrics, type Logger, type ProgressReport } from '#lib/platform';
import { BackfillEventRepository } from './backfill-event.repository.js';
import { ACCOUNTS_PER_REQUEST, BackfillRunner, BackfillStoppedError, type BackfillSummary } from './backfill.runner.js';

/** Wait before the run after a failed one (ClickHouse away, say); it doubles with each failure in a row (with jitter). */
const RERUN_FIRST_MS = 30_000;
const RERUN_MAX_MS = 30 * 60_000;

/**
 * Backfills the communities at start and whenever the curation changes (the curator file, the admin
 * API or the console, on any replica: the curation service hears every version), in the background: live ingest never waits for it. Runs go one at a
 * time; a change during a run starts one more run after it. Accounts already backfilled are
 * skipped by their checkpoints, so a run after a change costs the new sources and new members.
 * A run that fails is run again after a wait that doubles with each failure in a row.
 */
@Injectable()
export class BackfillService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly runner: BackfillRunner;
  private readonly log: Logger;
  private lastRun: Promise<unknown> = Promise.resolve();
  private queued = false;
  /** Background runs that failed in a row, and the timer of the next try. */
  private failures = 0;
  private rerun?: NodeJS.Timeout;
  private stopping = false;
  private stopCollecting?: () => void;
  private stopListening?: () => void;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(LOGGER) logger: Logger,
    private readonly metrics: Metrics,
    readonly progress: BackfillProgress,
    reader: NetworkReader,
    events: BackfillEventRepository,
    checkpoints: BackfillCheckpointRepository,
    accounts: NoteRepository,
    communities: CommunityRepository,
    handles: VerifiedHandleResolver,
    private readonly curation: CurationService,
  ) {
    this.log = logger.child({ component: 'backfill' });
    this.runner = new BackfillRunner({
      reader,
      events,
      checkpoints,
      accounts,
      communities,
      handles,
      progress: this.progress,
      log: this.log,
      concurrency: config.backfill.concurrency * ACCOUNTS_PER_REQUEST,
      followersCap: config.backfill.followersCap,
    });
  }

  onApplicationBootstrap(): void {
    const { metrics, progress } = this;
    this.stopCollecting = metrics.collect('backfill', () => {
      const { state } = progress;
      metrics.backfillRunning.set(state.running ? 1 : 0);
      for (const [name, value] of Object.entries(state.accounts)) metrics.backfillAccounts.set({ state: name }, value);
      metrics.backfillSourcesFailed.set(state.sourcesFailed);
      metrics.backfillRecords.set(state.records);
      metrics.backfillEtaSeconds.set(state.etaSeconds ?? -1);
    });
    if (!this.config.backfill.enabled) return;
    this.schedule();
    this.stopListening = this.curation.onChange(() => this.schedule());
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopListening?.();
    this.stopping = true;
    clearTimeout(this.rerun);
    this.runner.stop();
    await this.lastRun.catch(() => undefined);
    this.stopCollecting?.();
  }

  /** Backfills `communityIds` (default every community a feed uses) after any run in progress. */
  run(options: { communityIds?: string[]; report?: ProgressReport; curation?: Curation } = {}): Promise<BackfillSummary> {
    const run = this.lastRun
      .catch(() => undefined)
      .then(() => this.runner.run(options.curation ?? this.curation.current, options));
    this.lastRun = run;
    return run;
  }

  /** A run of every community, queued once behind the one in progress. */
  private schedule(): void {
    if (this.queued || this.stopping) return;
    this.queued = true;
    const run = this.lastRun.catch(() => undefined).then(() => {
      this.queued = false;
      clearTimeout(this.rerun);
      return this.runner.run(this.curation.current);
    });
    this.lastRun = run;
    const again = () => {
      const waitMs = Math.round(backoffMs(this.failures++, RERUN_FIRST_MS, RERUN_MAX_MS));
      this.rerun = setTimeout(() => this.schedule(), waitMs);
      this.rerun.unref();
      return { failures: this.failures, retryInSeconds: Math.round(waitMs / 1000) };
    };
    run.then(
      (summary) => {
        // A community source that could not be read (its PDS or the AppView away) leaves members
        // out: the run is tried again, as a failed one is.
        if (summary.sourcesFailed === 0 || this.stopping) this.failures = 0;
        else this.log.warn({ sourcesFailed: summary.sourcesFailed, ...again() }, 'backfill could not read every community source; it runs again after a wait');
      },
      (error: unknown) => {
        if (error instanceof BackfillStoppedError) return;
        if (this.stopping) {
          this.log.error({ err: (error as Error).message }, 'backfill failed while the service stopped');
          return;
        }
        this.log.error({ err: (error as Error).message, ...again() }, 'backfill failed; it runs again after a wait');
      },
    );
  }
}
