import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { CommunityRepository, LabelRepository, ScoreRepository } from '#lib/clickhouse';
import type { AppConfig } from '#lib/config';
import { CurationStore, type Curation, type FeedDefinition, type MemberSources } from '#lib/curation';
import { VerifiedHandleResolver } from '#lib/identity';
import { atUri, Nsid } from '#lib/domain';
import { BOT } from '#lib/labels';
import { APP_CONFIG, LOGGER, Metrics, type Logger } from '#lib/platform';
import { rankings, type RankedPost, type RankerState, type RankFn, type RankingLabels } from '#lib/rankings';
import { LabelEmitter, type LabelledSnapshot } from './label.emitter.js';
import { collectSnapshotMetrics } from './scoring.metrics.js';

/** Snapshots kept per feed, and the least age before one is dropped (clients may still be paging it). */
const SNAPSHOTS_KEPT = 3;
const SNAPSHOT_MIN_AGE_MS = 30 * 60_000;
const HASHTAG_WINDOW_US = 7 * 24 * 3600 * 1_000_000;

export interface SnapshotRun {
  feed: string;
  snapshot: number;
  posts: number;
  candidates: number;
  signals: number;
  ms: number;
}

export class SnapshotStats {
  runs = 0;
  failures = 0;
  lastRunMs = 0;
  /** Unix ms of the newest completed snapshot of any feed. */
  lastSnapshotAt = 0;
  readonly lastByFeed = new Map<string, SnapshotRun>();
}

/**
 * Recomputes the score snapshot of every ranked feed on an interval. Each run reads the current
 * curation, resolves each community's members, loads the window's candidates and signals, ranks,
 * and writes a new snapshot; the feed generator switches to it once its completion record exists.
 * The factor model of each feed is warm-started from the previous run.
 *
 * @NOTE A curator file with a mistake never stops the runs: they keep the last good definitions
 * (as the feed generator does), report the rejected file once per version (an error log with
 * every problem's file, line and field) and hold `cg_curation_invalid` at 1 until it is fixed.
 */
@Injectable()
export class ScoreSnapshotJob implements OnApplicationBootstrap, BeforeApplicationShutdown {
  readonly stats = new SnapshotStats();
  private readonly log: Logger;
  private readonly state = new Map<string, RankerState>();
  private timer?: NodeJS.Timeout;
  /**
   * The newest run, scheduled or manual. Runs go one at a time: each waits for the one before, so
   * snapshots never interleave, and shutdown waits for this one alone.
   */
  private lastRun: Promise<unknown> = Promise.resolve();
  private stopped = false;
  private readonly stopCollecting: () => void;
  private readonly curation: CurationStore;
  /** The rejected file's problems last reported, so that one mistake is logged once. */
  private reportedProblem?: string;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly scores: ScoreRepository,
    private readonly communities: CommunityRepository,
    private readonly handles: VerifiedHandleResolver,
    @Inject(LOGGER) logger: Logger,
    private readonly metrics: Metrics,
    private readonly labels: LabelRepository,
    private readonly labelEmitter: LabelEmitter,
  ) {
    this.log = logger.child({ component: 'scoring' });
    this.curation = new CurationStore(config.feedGenerator.feedsFile);
    this.stopCollecting = collectSnapshotMetrics(metrics, this.stats);
  }

  onApplicationBootstrap(): void {
    if (this.config.scoring.snapshots) this.schedule(1_000);
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.lastRun.catch(() => undefined);
    this.stopCollecting();
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.runOnce()
        .catch((error: unknown) => {
          this.stats.failures += 1;
          this.log.error({ err: (error as Error).message }, 'score snapshot run failed; retrying next interval');
        })
        .finally(() => this.schedule(this.config.scoring.intervalSeconds * 1000));
    }, delayMs);
  }

  /** One pass over every ranked feed, after any run in progress; returns what it wrote. */
  runOnce(nowMs = Date.now()): Promise<SnapshotRun[]> {
    const run = this.lastRun.catch(() => undefined).then(() => this.runAllFeeds(nowMs));
    this.lastRun = run;
    return run;
  }

  private async runAllFeeds(nowMs: number): Promise<SnapshotRun[]> {
    const started = performance.now();
    const curation = await this.currentCuration();
    const runs: SnapshotRun[] = [];
    const snapshots: LabelledSnapshot[] = [];
    for (const feed of curation.feeds.values()) {
      if (this.stopped) break;
      const ranking = rankings[feed.ranking];
      if (ranking.servedFrom !== 'snapshot') continue;
      const { run, posts } = await this.snapshotFeed(curation, feed, ranking.rank, nowMs);
      runs.push(run);
      snapshots.push({ communities: feed.communities, posts });
    }
    // Only a complete pass says which posts left every feed: a stopped one emits nothing.
    if (!this.stopped) await this.labelEmitter.emit(snapshots, nowMs);
    this.stats.runs += 1;
    this.stats.lastRunMs = performance.now() - started;
    return runs;
  }

  /** The curator file's definitions, or the last good ones while the file has a mistake. */
  private async currentCuration(): Promise<Curation> {
    const { snapshot, rejected } = await this.curation.refresh();
    this.metrics.curationInvalid.set(rejected ? 1 : 0);
    if (!rejected) this.reportedProblem = undefined;
    else if (rejected.message !== this.reportedProblem) {
      this.reportedProblem = rejected.message;
      this.log.error(
        { file: this.curation.file, problems: rejected.problems, version: snapshot.version },
        'curator file rejected; snapshots continue with the last good definitions',
      );
    }
    return snapshot.curation;
  }

  /** A community's members now; its handles count once verified (see VerifiedHandleResolver). */
  private async membersOf(sources: MemberSources, nowMs: number): Promise<string[]> {
    const verified = await this.handles.resolve(sources.handles);
    return this.communities.members({ ...sources, dids: [...sources.dids, ...verified] }, nowMs * 1000 - HASHTAG_WINDOW_US);
  }

  /** Labels in force from the labelers we follow with a value the feed's rules or the bot discount name. */
  private async followedLabels(feed: FeedDefinition, nowMs: number): Promise<RankingLabels | undefined> {
    const followed = new Set(this.config.labeler.subscribe);
    if (followed.size === 0) return undefined;
    const values = [...new Set([...(feed.labels?.exclude ?? []), ...(feed.labels?.downrank?.labels ?? []), BOT])];
    const posts = new Map<string, Set<string>>();
    const accounts = new Map<string, Set<string>>();
    for (const label of await this.labels.externalInForce(values, new Date(nowMs).toISOString())) {
      if (!followed.has(label.src)) continue;
      const into = label.uri.startsWith('did:') ? accounts : posts;
      const set = into.get(label.uri) ?? new Set<string>();
      set.add(label.val);
      into.set(label.uri, set);
    }
    return { posts, accounts };
  }

  private async snapshotFeed(curation: Curation, feed: FeedDefinition, rank: RankFn, nowMs: number): Promise<{ run: SnapshotRun; posts: RankedPost[] }> {
    const started = performance.now();
    const feedUri = atUri(this.config.feedGenerator.publisherDid, Nsid.generator, feed.shortname);
    const members = new Map<string, ReadonlySet<string>>();
    for (const id of feed.communities) {
      const community = curation.communities.get(id);
      const list = community ? await this.membersOf(community.members, nowMs) : [];
      members.set(id, new Set(list));
    }
    const everyone = [...new Set([...members.values()].flatMap((set) => [...set]))];
    const window = { authors: everyone, sinceUs: (nowMs - feed.windowHours * 3_600_000) * 1000, includeReplies: feed.includeReplies };
    const [candidates, signals, labels] = await Promise.all([
      this.scores.candidates(window),
      this.scores.signals({ ...window, actors: everyone }),
      this.followedLabels(feed, nowMs),
    ]);
    const ranking = rank({ feed, members, candidates, signals, nowMs, previous: this.state.get(feedUri), ...(labels && { labels }) });
    if (ranking.state) this.state.set(feedUri, ranking.state);
    const snapshot = Math.max(nowMs, (this.stats.lastByFeed.get(feedUri)?.snapshot ?? 0) + 1);
    await this.scores.writeSnapshot(feedUri, snapshot, ranking.posts);
    await this.scores.prune(feedUri, SNAPSHOTS_KEPT, SNAPSHOT_MIN_AGE_MS, nowMs);
    const run: SnapshotRun = {
      feed: feedUri,
      snapshot,
      posts: ranking.posts.length,
      candidates: candidates.length,
      signals: signals.length,
      ms: Math.round(performance.now() - started),
    };
    this.stats.lastByFeed.set(feedUri, run);
    this.stats.lastSnapshotAt = Date.now();
    this.log.info(run, 'score snapshot written');
    return { run, posts: ranking.posts };
  }
}
