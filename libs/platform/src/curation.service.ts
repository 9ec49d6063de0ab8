import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap, type OnModuleInit } from '@nestjs/common';
import { lastValueFrom } from 'rxjs';
import { CurationVersionRepository, type CurationSource } from '#lib/clickhouse';
import type { AppConfig } from '#lib/config';
import { Topics, type CurationChangedV1 } from '#lib/contracts';
import { CurationStore, type Curation, type CurationSnapshot, type InvalidCurationError } from '#lib/curation';
import type { ControlPlane } from './control-plane.js';
import type { Logger } from './logger.js';
import { Metrics } from './metrics.js';
import { APP_CONFIG, CONTROL_PLANE, LOGGER } from './tokens.js';

/** How often the curator file is looked at (one read; a text seen before costs nothing more). */
const FILE_CHECK_MS = 1_000;

/**
 * The curation in force in this process, the same in every role and replica (the snapshot runs,
 * the feeds served, readiness). It starts from the
 * newest version in ClickHouse (after importing the curator file if its text is new), writes
 * edits as new versions and announces each new version on the control plane; every process
 * applies an announced version within a second, and looks at the store every
 * `CURATION_POLL_SECONDS` in case an announcement was lost.
 *
 * @NOTE Two edits made at the same moment on two replicas are both written, and the later one
 * (by version) is in force: each edit starts from the newest version its replica could read.
 * Edits are rare and made by a few curators; a lost edit shows in the version history.
 */
@Injectable()
export class CurationService implements OnModuleInit, OnApplicationBootstrap, BeforeApplicationShutdown {
  readonly store: CurationStore;
  private readonly log: Logger;
  private curation: Curation = { communities: new Map(), feeds: new Map(), funds: new Map() };
  /** Changes each time the definitions change; caches keyed on curation compare it. */
  generation = 0;
  /**
   * The stored version whose definitions are in force here. The store may hold a newer one than
   * this process applied (an edit reads the newest version before it validates, and may then fail):
   * every path that looks at the store applies what is newer than this.
   */
  private appliedVersion = 0;
  /** Why the curator file is not imported now (absent when it is fine). */
  fileRejected: InvalidCurationError | undefined;
  /** Why the newest stored version is not in force here (a version written by a newer build). */
  private storedRejected: InvalidCurationError | undefined;
  private timers: NodeJS.Timeout[] = [];
  private checking?: Promise<void>;
  private readonly listeners = new Set<(curation: Curation) => void>();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    versions: CurationVersionRepository,
    @Inject(CONTROL_PLANE) private readonly controlPlane: ControlPlane,
    @Inject(LOGGER) logger: Logger,
    private readonly metrics: Metrics,
  ) {
    this.log = logger.child({ component: 'curation' });
    this.store = new CurationStore(config.feedGenerator.feedsFile, versions);
  }

  async onModuleInit(): Promise<void> {
    const { snapshot, rejected } = await this.store.load();
    if (rejected) this.rejectFile(rejected);
    this.apply(snapshot);
  }

  onApplicationBootstrap(): void {
    const every = (ms: number, task: () => Promise<void>, what: string) => {
      const timer = setInterval(() => void task().catch((error: unknown) => this.log.warn({ err: (error as Error).message }, what)), ms);
      timer.unref();
      this.timers.push(timer);
    };
    every(FILE_CHECK_MS, () => this.checkFile(), 'curator file check failed; trying again');
    every(this.config.curation.pollSeconds * 1000, () => this.refresh(), 'curation poll failed; trying again');
  }

  beforeApplicationShutdown(): void {
    for (const timer of this.timers) clearInterval(timer);
  }

  get current(): Curation {
    return this.curation;
  }

  /** Calls `listener` with each curation applied from now on; returns the way to stop. */
  onChange(listener: (curation: Curation) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get snapshot(): CurationSnapshot | undefined {
    return this.store.snapshot;
  }

  /** What operators and the console see: why the file (or the newest version) is not in force. */
  get lastProblem(): string | undefined {
    return (this.fileRejected ?? this.storedRejected)?.message;
  }

  /**
   * Looks at the curator file now; its new valid text becomes a new version, applied here and
   * announced. One look at a time.
   */
  checkFile(): Promise<void> {
    this.checking ??= (async () => {
      const { changed, imported, rejected } = await this.store.importFile();
      if (rejected) {
        if (changed || !this.fileRejected) this.rejectFile(rejected);
        return;
      }
      if (changed && this.fileRejected) {
        this.fileRejected = undefined;
        this.metrics.curationInvalid.set(0);
      }
      if (imported) {
        this.apply(imported);
        await this.announce(imported);
      } else if (changed) {
        // Another replica imported this text first: take its version without waiting for the announcement.
        await this.refresh();
      }
    })().finally(() => (this.checking = undefined));
    return this.checking;
  }

  /** Takes the newest stored version if it is newer (a poll, or an announcement). */
  async refresh(): Promise<void> {
    const { snapshot, rejected } = await this.store.refresh();
    this.apply(snapshot);
    if (rejected && rejected.message !== this.storedRejected?.message) {
      this.log.error({ problems: rejected.problems }, 'stored curation version rejected; the previous definitions stay in force');
    }
    this.storedRejected = rejected;
  }

  /** An announced version: taken unless this process has it (or a newer one) already. */
  async announced(event: CurationChangedV1): Promise<void> {
    if (this.appliedVersion >= event.version) return;
    await this.refresh();
  }

  /** Sets or (with `undefined`) removes one community or feed; throws `InvalidCurationError` with every problem. */
  async edit(pathInDocument: [section: 'communities' | 'feeds' | 'funds', id: string], value: unknown, source: CurationSource): Promise<CurationSnapshot> {
    let snapshot: CurationSnapshot;
    try {
      snapshot = await this.store.set(pathInDocument, value, source);
    } catch (error) {
      // The edit read the newest version before it failed: apply it here now, as a poll would.
      const newest = this.store.snapshot;
      if (newest) this.apply(newest);
      throw error;
    }
    this.apply(snapshot);
    await this.announce(snapshot);
    return snapshot;
  }

  /** Puts `snapshot` in force unless this process has it (or a newer one) already. */
  private apply(snapshot: CurationSnapshot): void {
    if (snapshot.version <= this.appliedVersion) return;
    this.appliedVersion = snapshot.version;
    this.curation = snapshot.curation;
    this.generation += 1;
    this.storedRejected = undefined;
    this.log.info(
      {
        version: snapshot.version,
        source: snapshot.source,
        feeds: [...snapshot.curation.feeds.keys()],
        communities: [...snapshot.curation.communities.keys()],
      },
      'curation loaded',
    );
    for (const listener of this.listeners) listener(snapshot.curation);
  }

  private rejectFile(error: InvalidCurationError): void {
    this.fileRejected = error;
    this.metrics.curationInvalid.set(1);
    this.log.error({ file: this.store.file, problems: error.problems }, 'curator file rejected; the previous definitions stay in force');
  }

  /** Tells every process; a failure only delays them until their next poll. */
  private async announce(snapshot: CurationSnapshot): Promise<void> {
    const event: CurationChangedV1 = { v: 1, version: snapshot.version, hash: snapshot.hash, source: snapshot.source };
    try {
      await lastValueFrom(this.controlPlane.client.emit(Topics.curation, event), { defaultValue: undefined });
    } catch (error) {
      this.log.warn({ version: snapshot.version, err: (error as Error).message }, 'curation change not announced; other processes take it at their next poll');
    }
  }
}
