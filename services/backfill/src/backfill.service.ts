import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { BackfillCheckpointRepository, CommunityRepository, EventRepository } from '#lib/clickhouse';
import type { AppConfig } from '#lib/config';
import { CurationStore, type Curation } from '#lib/curation';
import { VerifiedHandleResolver } from '#lib/identity';
import { NetworkReader } from '#lib/network';
import { APP_CONFIG, BackfillProgress, LOGGER, Metrics, type Logger, type ProgressReport } from '#lib/platform';
import { BackfillRunner, BackfillStoppedError, type BackfillSummary } from './backfill.runner.js';

/** How often the curator file is checked for changed communities. */
const WATCH_INTERVAL_MS = 1_000;

/**
 * Backfills the communities at start and whenever the curator file changes (the admin API and the
 * console write it too), in the background: live ingest never waits for it. Runs go one at a
 * time; a change during a run starts one more run after it. Accounts already backfilled are
 * skipped by their checkpoints, so a run after a change costs the new sources and new members.
 */
@Injectable()
export class BackfillService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly runner: BackfillRunner;
  private readonly curation: CurationStore;
  private readonly log: Logger;
  private lastRun: Promise<unknown> = Promise.resolve();
  private queued = false;
  private stopCollecting?: () => void;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(LOGGER) logger: Logger,
    private readonly metrics: Metrics,
    readonly progress: BackfillProgress,
    reader: NetworkReader,
    events: EventRepository,
    checkpoints: BackfillCheckpointRepository,
    communities: CommunityRepository,
    handles: VerifiedHandleResolver,
  ) {
    this.log = logger.child({ component: 'backfill' });
    this.curation = new CurationStore(config.feedGenerator.feedsFile);
    this.runner = new BackfillRunner({
      reader,
      events,
      checkpoints,
      communities,
      handles,
      progress: this.progress,
      log: this.log,
      concurrency: config.backfill.concurrency,
      followersCap: config.backfill.followersCap,
    });
  }

  onApplicationBootstrap(): void {
    const { metrics, progress } = this;
    this.stopCollecting = metrics.collect('backfill', () => {
      const { state } = progress;
      metrics.backfillRunning.set(state.running ? 1 : 0);
      for (const [name, value] of Object.entries(state.accounts)) metrics.backfillAccounts.set({ state: name }, value);
      metrics.backfillRecords.set(state.records);
      metrics.backfillEtaSeconds.set(state.etaSeconds ?? -1);
    });
    if (!this.config.backfill.enabled) return;
    void this.curation
      .load()
      .then(() => {
        this.schedule();
        this.curation.watch(
          WATCH_INTERVAL_MS,
          () => this.schedule(),
          () => undefined, // The feed generator reports a rejected file; the last good one stays in force here too.
        );
      })
      .catch((error: unknown) => this.log.error({ err: (error as Error).message }, 'backfill disabled: the curator file could not be read'));
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.curation.stop();
    this.runner.stop();
    await this.lastRun.catch(() => undefined);
    this.stopCollecting?.();
  }

  /** Backfills `communityIds` (default every community a feed uses) after any run in progress. */
  run(options: { communityIds?: string[]; report?: ProgressReport; curation?: Curation } = {}): Promise<BackfillSummary> {
    const run = this.lastRun
      .catch(() => undefined)
      .then(async () => this.runner.run(options.curation ?? (await this.curation.refresh()).snapshot.curation, options));
    this.lastRun = run;
    return run;
  }

  /** A run of every community, queued once behind the one in progress. */
  private schedule(): void {
    if (this.queued) return;
    this.queued = true;
    const run = this.lastRun.catch(() => undefined).then(() => {
      this.queued = false;
      const current = this.curation.snapshot;
      return current ? this.runner.run(current.curation) : undefined;
    });
    this.lastRun = run;
    run.catch((error: unknown) => {
      if (error instanceof BackfillStoppedError) return;
      this.log.error({ err: (error as Error).message }, 'backfill failed; it runs again on the next change or restart');
    });
  }
}
