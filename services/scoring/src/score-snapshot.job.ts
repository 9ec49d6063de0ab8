import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { CommunityRepository, CommunityTooLargeError, ConversationRepository, EditionRepository, LabelRepository, ScoreRepository } from '#lib/clickhouse';
import type { AppConfig } from '#lib/config';
import { type Curation, type FeedDefinition, type MemberSources } from '#lib/curation';
import { VerifiedHandleResolver } from '#lib/identity';
import { atUri, Nsid, READERS_ADDED_CONTEXT } from '#lib/domain';
import { BOT } from '#lib/labels';
import { APP_CONFIG, CurationService, LOGGER, Metrics, type Logger } from '#lib/platform';
import { runInTurns } from '#lib/steps';
import { conversationSinceUs, rankings, type RankedPost, type RankerState, type RankFn, type RankingLabels } from '#lib/rankings';
import { BridgeFundStep, NO_FUNDS, type FundRun } from './bridge-fund.step.js';
import { FeedOwnership } from './feed-ownership.js';
import { LabelEmitter, type LabelledSnapshot } from './label.emitter.js';
import { LabelerRecordKeeper } from './labeler-record.keeper.js';
import { FeedRecordsKeeper } from './feed-records.keeper.js';
import type { RankerShare } from './ranker-assignment.js';
import { NotesStep, type NotesRun } from './notes.step.js';
import { collectSnapshotMetrics } from './scoring.metrics.js';

/** Snapshots kept per feed, and the least age before one is dropped (clients may still be paging it). */
const SNAPSHOTS_KEPT = 3;
const SNAPSHOT_MIN_AGE_MS = 30 * 60_000;
/** How long the factor model of a feed this ranker no longer holds is kept, should the feed come back. */
const STATE_KEPT_MS = 60 * 60_000;
const HASHTAG_WINDOW_US = 7 * 24 * 3600 * 1_000_000;

export interface SnapshotRun {
  feed: string;
  snapshot: number;
  posts: number;
  candidates: number;
  signals: number;
  /** Posts a Bridge Fund raised in this snapshot, and the ms placing them and recording their allocations took. */
  boosted: number;
  boostMs: number;
  ms: number;
  /** Where the run's time went, ms: members and window read, ranking, the fund's boosts, the snapshot written (and pruned). */
  stepsMs: SnapshotSteps;
  /** The ownership epoch the snapshot was written under (see `FeedOwnership`). */
  epoch: number;
  /** The digest edition this run froze (its cadence point), if it froze one. */
  edition?: number;
}

export interface SnapshotSteps {
  read: number;
  rank: number;
  boost: number;
  write: number;
}

export class SnapshotStats {
  runs = 0;
  failures = 0;
  lastRunMs = 0;
  /** How long the last run's Bridge Fund step took (settlement, pledge checks, matching), ms. */
  lastFundStepMs = 0;
  /** Runs whose Bridge Fund step failed: their feeds were ranked without boosts, and nothing was settled. */
  fundFailures = 0;
  /** Unix ms of the newest completed snapshot of any feed. */
  lastSnapshotAt = 0;
  readonly lastByFeed = new Map<string, SnapshotRun>();
  /** Runs in which a feed's snapshot failed, by feed URI (the run went on with the other feeds). */
  readonly feedFailures = new Map<string, number>();
  /** Feeds the last run computed: those this ranker holds (all of them in embedded mode). */
  feeds: string[] = [];
  /** Communities whose sources named more accounts than `COMMUNITY_MAX_MEMBERS` in the last run: they counted as empty. */
  communitiesTooLarge = new Set<string>();
}

/**
 * Recomputes the score snapshot of every ranked feed this ranker holds on an interval. Each run
 * reads the current curation, resolves each community's members, loads the window's candidates
 * and signals, ranks, and writes a new snapshot; the feed generator switches to it once its
 * completion record exists. The factor model of each feed is warm-started from the previous run.
 * In scaled mode rankers split the feeds (`RankerAssignment`, `FeedOwnership`): a run computes the
 * feeds held, and a change of the assignment starts a run at once, so feeds taken over from a
 * ranker that died are computed without waiting for the interval.
 *
 * @NOTE A curator file with a mistake never stops the runs: they keep the last good definitions
 * (as the feed generator does), report the rejected file once per version (an error log with
 * every problem's file, line and field) and hold `cg_curation_invalid` at 1 until it is fixed.
 * Each run takes the curation in force (`CurationService`), after one look at the curator file.
 */
@Injectable()
export class ScoreSnapshotJob implements OnApplicationBootstrap, BeforeApplicationShutdown {
  readonly stats = new SnapshotStats();
  private readonly log: Logger;
  private readonly state = new Map<string, RankerState>();
  /** When each feed was last held here (unix ms): its state goes once it has not been for `STATE_KEPT_MS`. */
  private readonly heldAt = new Map<string, number>();
  private timer?: NodeJS.Timeout;
  /**
   * The newest run, scheduled or manual. Runs go one at a time: each waits for the one before, so
   * snapshots never interleave, and shutdown waits for this one alone.
   */
  private lastRun: Promise<unknown> = Promise.resolve();
  private stopped = false;
  /** A run is under way (scheduled), and whether the assignment changed meanwhile (run again at once). */
  private running = false;
  private kicked = false;
  private readonly stopCollecting: () => void;
  /** The rejected file's problems last reported, so that one mistake is logged once. */
  private reportedProblem?: string;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly scores: ScoreRepository,
    private readonly editions: EditionRepository,
    private readonly conversations: ConversationRepository,
    private readonly communities: CommunityRepository,
    private readonly handles: VerifiedHandleResolver,
    private readonly curation: CurationService,
    @Inject(LOGGER) logger: Logger,
    private readonly metrics: Metrics,
    private readonly fund: BridgeFundStep,
    private readonly labels: LabelRepository,
    private readonly labelEmitter: LabelEmitter,
    private readonly labelerRecord: LabelerRecordKeeper,
    private readonly feedRecords: FeedRecordsKeeper,
    private readonly ownership: FeedOwnership,
    private readonly notes: NotesStep,
  ) {
    this.log = logger.child({ component: 'scoring' });
    this.stopCollecting = collectSnapshotMetrics(metrics, this.stats, this.notes.stats);
  }

  async onApplicationBootstrap(): Promise<void> {
    if (!this.config.scoring.snapshots) return;
    const { assignment } = this.ownership;
    assignment.onChange(() => {
      const share = assignment.share();
      this.log.info(share, 'ranker assignment changed');
      // A rebalance under way holds nothing: the run waits for the assignment that ends it.
      if (share.partitions.length > 0) this.kick();
    });
    await assignment.start();
    // The first assignment may have started a run already.
    if (!this.running) this.schedule(1_000);
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.lastRun.catch(() => undefined);
    await Promise.all([this.labelerRecord.settled(), this.feedRecords.settled()]);
    // After the last run: the other rankers take the feeds over at once.
    if (this.config.scoring.snapshots) await this.ownership.assignment.stop();
    this.stopCollecting();
  }

  get computesSnapshots(): boolean {
    return this.config.scoring.snapshots;
  }

  /** This ranker's share of the feeds (`/status`). */
  share(): RankerShare & { feeds: string[] } {
    return { ...this.ownership.assignment.share(), feeds: this.stats.feeds };
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.running = true;
      this.kicked = false;
      void this.runOnce()
        .catch((error: unknown) => {
          this.stats.failures += 1;
          this.log.error({ err: (error as Error).message }, 'score snapshot run failed; retrying next interval');
        })
        .finally(() => {
          this.running = false;
          this.schedule(this.kicked ? 0 : this.config.scoring.intervalSeconds * 1000);
        });
    }, delayMs);
  }

  /** A run as soon as possible: now, or right after the one under way. */
  private kick(): void {
    if (this.running) this.kicked = true;
    else this.schedule(0);
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
    const shared = this.ownership.assignment.ownsShared();
    // A community's members are resolved once per run, whether a fund or a feed (or several) asks.
    const resolved = new Map<MemberSources, Promise<string[]>>();
    const tooLarge = new Set<string>();
    const membersOf = (sources: MemberSources) => {
      let members = resolved.get(sources);
      if (!members) {
        members = this.resolveMembers(sources, nowMs).catch((error: unknown) => this.tooLargeAsEmpty(curation, sources, error, tooLarge));
        resolved.set(sources, members);
      }
      return members;
    };
    const fundStarted = performance.now();
    const funds = await this.fundsOfRun(curation, nowMs, membersOf, shared);
    this.stats.lastFundStepMs = performance.now() - fundStarted;
    const notes = await this.notesOfRun(curation, shared, nowMs);
    const runs: SnapshotRun[] = [];
    const snapshots = new Map<string, LabelledSnapshot>();
    const held: string[] = [];
    const pending = [...curation.feeds.values()].filter((feed) => rankings[feed.ranking].servedFrom !== 'posts');
    while (pending.length > 0 && !this.stopped) {
      // Feeds taken over since they were last written here go first, as the assignment is now:
      // a dead ranker's feeds wait for no feed this ranker computed a moment ago.
      const next = pending.findIndex((candidate) => {
        const uri = this.feedUri(candidate);
        return !this.stats.lastByFeed.has(uri) && this.ownership.owns(uri);
      });
      const [feed] = pending.splice(Math.max(0, next), 1) as [FeedDefinition];
      const ranking = rankings[feed.ranking];
      const feedUri = this.feedUri(feed);
      if (ranking.servedFrom === 'posts' || !this.ownership.owns(feedUri)) continue;
      held.push(feedUri);
      let written: Awaited<ReturnType<typeof this.snapshotFeed>>;
      try {
        written = await this.snapshotFeed(curation, feed, ranking.rank, funds, membersOf, notes, nowMs, ranking.servedFrom === 'edition');
      } catch (error) {
        // One feed that cannot be computed now stops no other: it is tried again next run.
        this.stats.feedFailures.set(feedUri, (this.stats.feedFailures.get(feedUri) ?? 0) + 1);
        this.log.error({ feed: feedUri, err: (error as Error).message }, 'snapshot of a feed failed; the other feeds go on');
        continue;
      }
      if (!written) continue;
      runs.push(written.run);
      snapshots.set(feedUri, { communities: feed.communities, posts: written.posts });
    }
    // The snapshots of feeds no ranker ranks any more are pruned by the holder of the shared work.
    if (shared && !this.stopped) {
      const ranked = [...curation.feeds.values()].filter((feed) => rankings[feed.ranking].servedFrom !== 'posts').map((feed) => this.feedUri(feed));
      await this.scores.pruneUnranked(ranked, nowMs - SNAPSHOT_MIN_AGE_MS).catch((error: unknown) => {
        this.log.warn({ err: (error as Error).message }, 'snapshots of feeds gone from the curation could not be pruned; next run tries again');
      });
    }
    // The ranks of snapshots pruned by every ranker leave the disk here, a partition at a time.
    await this.scores.dropUnreferenced(nowMs, SNAPSHOT_MIN_AGE_MS).catch((error: unknown) => {
      this.log.warn({ err: (error as Error).message }, 'pruned snapshots could not be dropped from disk; next run tries again');
    });
    this.stats.feeds = held;
    this.stats.communitiesTooLarge = tooLarge;
    for (const feed of this.stats.lastByFeed.keys()) if (!held.includes(feed)) this.stats.lastByFeed.delete(feed);
    // The factor models of feeds this ranker has not held for a while (moved to another ranker, or gone
    // from the curation). Not at once: a lease that lapses for a moment would cost the next run its warm start.
    for (const feed of held) this.heldAt.set(feed, nowMs);
    for (const [feed, at] of this.heldAt) {
      if (nowMs - at <= STATE_KEPT_MS) continue;
      this.heldAt.delete(feed);
      this.state.delete(feed);
    }
    // The holder of the shared work keeps our records on the network in step with the curation (beside the runs):
    // the labeler's, declaring the values its labels may take, and the feeds' generator records.
    if (!this.stopped && shared && this.labelEmitter.enabled) this.labelerRecord.keepUpWith(curation);
    if (!this.stopped && shared) this.feedRecords.keepUpWith(curation);
    // Only a complete pass says which posts left every feed: a stopped one emits nothing.
    if (!this.stopped && shared && notes && this.labelEmitter.enabled) {
      await this.labelEmitter.emit(await this.everyFeed(curation, snapshots), nowMs, notes.helpful, (firstSeq) => this.ownership.claimShared('labels', firstSeq));
    }
    this.stats.runs += 1;
    this.stats.lastRunMs = performance.now() - started;
    return runs;
  }

  private feedUri(feed: FeedDefinition): string {
    return atUri(this.config.feedGenerator.publisherDid, Nsid.generator, feed.shortname);
  }

  /**
   * The newest snapshot of every public ranked feed, for the labels: those this run wrote, and the
   * others (held by other rankers, or not written this time) as served from the store.
   *
   * @NOTE Labels are public (queryLabels and subscribeLabels answer anyone), and a members-only
   * feed keeps its communities' context inside it: it adds no label, or the labels would say which
   * posts it holds and what its communities think of them. A post it shares with a public feed is
   * labelled from the public feed alone; labels that only a members-only feed gave are negated.
   */
  private async everyFeed(curation: Curation, written: ReadonlyMap<string, LabelledSnapshot>): Promise<LabelledSnapshot[]> {
    const snapshots: LabelledSnapshot[] = [];
    for (const feed of curation.feeds.values()) {
      if (rankings[feed.ranking].servedFrom === 'posts' || feed.membersOnly) continue;
      const uri = this.feedUri(feed);
      const own = written.get(uri);
      if (own) {
        snapshots.push(own);
        continue;
      }
      const latest = await this.scores.latestSnapshot(uri);
      if (latest) snapshots.push({ communities: feed.communities, posts: await this.scores.top(uri, latest.snapshot, latest.posts) });
    }
    return snapshots;
  }

  /** The curation in force: the last good definitions while the curator file has a mistake. */
  private async currentCuration(): Promise<Curation> {
    await this.curation.checkFile();
    const rejected = this.curation.fileRejected;
    if (!rejected) this.reportedProblem = undefined;
    else if (rejected.message !== this.reportedProblem) {
      this.reportedProblem = rejected.message;
      this.log.error(
        { file: this.curation.store.file, problems: rejected.problems, version: this.curation.snapshot?.version },
        'curator file rejected; snapshots continue with the last good definitions',
      );
    }
    return this.curation.current;
  }

  /**
   * A community over the members bound counts as empty: its feeds rank nothing of its members,
   * and the other communities, feeds and funds go on. Said once (an error log) until it fits again.
   */
  private tooLargeAsEmpty(curation: Curation, sources: MemberSources, error: unknown, tooLarge: Set<string>): string[] {
    if (!(error instanceof CommunityTooLargeError)) throw error;
    const ids = [...curation.communities].filter(([, community]) => community.members === sources).map(([id]) => id);
    for (const id of ids) {
      tooLarge.add(id);
      if (!this.stats.communitiesTooLarge.has(id)) this.log.error({ community: id, maxMembers: error.maxMembers, err: error.message }, 'community over the members bound counts as empty');
    }
    return [];
  }

  /** A community's members now; its handles count once verified (see VerifiedHandleResolver). */
  private async resolveMembers(sources: MemberSources, nowMs: number): Promise<string[]> {
    const verified = await this.handles.resolve(sources.handles);
    return this.communities.members({ ...sources, dids: [...sources.dids, ...verified] }, nowMs * 1000 - HASHTAG_WINDOW_US);
  }

  /** A deliberation feed's statements (replies and quotes of its root, or its hashtag) and everyone's votes on them. */
  private async conversation(feed: FeedDefinition, windowSinceUs: number) {
    const { root, hashtag } = feed.deliberation!;
    const source = root ? { root } : { hashtag: hashtag! };
    const sinceUs = root ? conversationSinceUs(root, windowSinceUs) : windowSinceUs;
    const [statements, votes] = await Promise.all([this.conversations.statements(source, sinceUs), this.conversations.votes(feed.shortname, source, sinceUs)]);
    // A statement posted between the two reads is counted next run, with its votes.
    const known = new Set(statements.map((statement) => statement.uri));
    return [statements, votes.filter((vote) => known.has(vote.uri))] as const;
  }

  /**
   * The notes this run's feeds and labels act on. One ranker scores them (the shared work); the
   * others act on the statuses it stored.
   *
   * @NOTE A notes step that fails stops no feed: the feeds and labels keep the last notes run, or
   * else the statuses the last scoring stored. With neither, the feeds go on without notes and
   * `undefined` says so: no labels are emitted then, or every note's label would be negated.
   */
  /**
   * The run's Bridge Funds. A step that fails (a community's members unreadable, the ledger not
   * written) costs this run its boosts, not its feeds: they are ranked without them, and the next
   * run settles the funds again (a settlement covers the whole epoch).
   */
  private async fundsOfRun(curation: Curation, nowMs: number, membersOf: (sources: MemberSources) => Promise<string[]>, shared: boolean): Promise<FundRun> {
    try {
      return await this.fund.prepare(curation, nowMs, membersOf, { settle: shared });
    } catch (error) {
      this.stats.fundFailures += 1;
      this.log.error({ err: (error as Error).message }, 'Bridge Fund step failed; the feeds are ranked without boosts this run');
      return NO_FUNDS;
    }
  }

  private async notesOfRun(curation: Curation, shared: boolean, nowMs: number): Promise<NotesRun | undefined> {
    try {
      return await (shared ? this.notes.run(nowMs, this.raterPriors(curation)) : this.notes.stored());
    } catch (error) {
      this.notes.stats.failures += 1;
      const kept = this.notes.stats.last ?? (shared ? await this.notes.stored().catch(() => undefined) : undefined);
      this.log.error(
        { err: (error as Error).message },
        kept ? 'notes step failed; the feeds and labels keep the last notes' : 'notes step failed; the feeds go on without notes and no labels are emitted this run',
      );
      return kept;
    }
  }

  /**
   * Raters' positions from their Bluesky likes, for the notes step: each member's factor in the
   * within-community factor model of the last run of a `bridging-within` feed (the first such feed
   * that knows the member, in curation order).
   */
  private raterPriors(curation: Curation): { rater: string; factor: number }[] {
    const priors = new Map<string, number>();
    for (const feed of curation.feeds.values()) {
      if (feed.ranking !== 'bridging-within') continue;
      const state = this.state.get(this.feedUri(feed));
      if (!state) continue;
      const { users, model } = state;
      for (let u = 0; u < Math.min(users.size, model.userCount); u++) {
        const rater = users.idAt(u);
        const factor = model.userFactor[u * model.dimensions];
        if (!priors.has(rater) && factor !== undefined && Number.isFinite(factor)) priors.set(rater, factor);
      }
    }
    return [...priors].map(([rater, factor]) => ({ rater, factor }));
  }

  /**
   * Labels the feed's rules act on: those in force from the labelers we follow with a value the
   * feed's rules or the bot discount name, on the posts of the feed's window, their authors and the
   * accounts whose signals it reads; and ours from context notes — `readers-added-context` on a post
   * whose helpful note says it misleads.
   */
  private async followedLabels(
    feed: FeedDefinition,
    notes: NotesRun | undefined,
    nowMs: number,
    window: { candidates: readonly { uri: string; author: string }[]; signals: readonly { actor: string }[] },
  ): Promise<RankingLabels | undefined> {
    const followed = this.config.labeler.subscribe;
    const posts = new Map<string, Set<string>>();
    const accounts = new Map<string, Set<string>>();
    for (const note of notes?.helpful ?? []) if (note.misleading) posts.set(note.post, new Set([READERS_ADDED_CONTEXT]));
    if (followed.length === 0) return posts.size > 0 ? { posts, accounts } : undefined;
    const values = [...new Set([...(feed.labels?.exclude ?? []), ...(feed.labels?.downrank?.labels ?? []), BOT])];
    const subjects = new Set<string>();
    for (const post of window.candidates) subjects.add(post.uri).add(post.author);
    for (const signal of window.signals) subjects.add(signal.actor);
    const nowIso = new Date(nowMs).toISOString();
    for (const label of await this.labels.externalInForce({ sources: followed, values, subjects: [...subjects], nowIso })) {
      const into = label.uri.startsWith('did:') ? accounts : posts;
      const set = into.get(label.uri) ?? new Set<string>();
      set.add(label.val);
      into.set(label.uri, set);
    }
    return { posts, accounts };
  }

  /**
   * Ranks one feed, lets its funds' boosts in, and writes its snapshot; for a digest feed
   * (`withEditions`) also freezes the edition the ranking says is due. Returns the posts written,
   * for the labels.
   *
   * Nothing is written (and `undefined` returned) once the feed is no longer this ranker's: the
   * snapshot id is claimed first (`FeedOwnership`), and every write of the feed follows the claim.
   *
   * @NOTE Editions are frozen here, by the feed's one ranker (claimed like snapshots), and read
   * back from ClickHouse at each run (not kept in memory): every feed generator serves the same
   * stored edition, and a restarted ranker, or one that took the feed over, neither freezes an
   * edition twice nor serves a post again. An edition is written under the claim's epoch: should a
   * fenced ranker's write of it land after the new owner's, readers still take the new owner's.
   */
  private async snapshotFeed(
    curation: Curation,
    feed: FeedDefinition,
    rank: RankFn,
    funds: FundRun,
    membersOf: (sources: MemberSources) => Promise<string[]>,
    notes: NotesRun | undefined,
    nowMs: number,
    withEditions: boolean,
  ): Promise<{ run: SnapshotRun; posts: RankedPost[] } | undefined> {
    const started = performance.now();
    let lapStarted = started;
    const lap = () => {
      const now = performance.now();
      const ms = Math.round(now - lapStarted);
      lapStarted = now;
      return ms;
    };
    const feedUri = this.feedUri(feed);
    const members = new Map<string, ReadonlySet<string>>();
    for (const id of feed.communities) {
      const community = curation.communities.get(id);
      const list = community ? await membersOf(community.members) : [];
      members.set(id, new Set(list));
    }
    const everyone = [...new Set([...members.values()].flatMap((set) => [...set]))];
    const window = { authors: everyone, sinceUs: (nowMs - feed.windowHours * 3_600_000) * 1000, includeReplies: feed.includeReplies };
    const [candidates, signals] = await (feed.deliberation
      ? this.conversation(feed, window.sinceUs)
      : Promise.all([this.scores.candidates(window), this.scores.signals({ ...window, actors: everyone })]));
    const labels = await this.followedLabels(feed, notes, nowMs, { candidates, signals });
    const editions = withEditions ? await this.editions.history(feedUri) : undefined;
    const read = lap();
    // In turns: in one process the feeds, ingest and this job share the event loop.
    const ranking = await runInTurns(rank({
      feed,
      members,
      candidates,
      signals,
      nowMs,
      previous: this.state.get(feedUri),
      ...(editions && { editions }),
      ...(labels && { labels }),
    }));
    if (ranking.state) this.state.set(feedUri, ranking.state);
    const rankMs = lap();
    const claim = await this.ownership.claimSnapshot(feedUri, Math.max(nowMs, (this.stats.lastByFeed.get(feedUri)?.snapshot ?? 0) + 1));
    if (!claim) return undefined;
    const { snapshot, epoch } = claim;
    const frozen = ranking.edition && (await this.ownership.claimEdition(feedUri, ranking.edition.at, epoch)) ? ranking.edition : undefined;
    if (frozen) await this.editions.write(feedUri, frozen.at, frozen.posts, epoch);
    const boosted = funds.boost(feed, ranking.posts);
    await this.fund.recordAllocations(feedUri, snapshot, funds.epoch, boosted.allocations);
    const boostMs = lap();
    await this.scores.writeSnapshot(feedUri, snapshot, boosted.posts, { epoch, ranker: this.ownership.ranker });
    if (ranking.report) await this.conversations.writeReport(feedUri, snapshot, ranking.report);
    await this.scores.prune(feedUri, SNAPSHOTS_KEPT, SNAPSHOT_MIN_AGE_MS, nowMs);
    const write = lap();
    const run: SnapshotRun = {
      feed: feedUri,
      snapshot,
      posts: ranking.posts.length,
      candidates: candidates.length,
      signals: signals.length,
      boosted: boosted.allocations.length,
      boostMs,
      ms: Math.round(performance.now() - started),
      stepsMs: { read, rank: rankMs, boost: boostMs, write },
      epoch,
      ...(frozen && { edition: frozen.at }),
    };
    this.stats.lastByFeed.set(feedUri, run);
    this.stats.lastSnapshotAt = Date.now();
    this.log.info({ ...run, ranker: this.ownership.ranker }, 'score snapshot written');
    return { run, posts: boosted.posts };
  }
}
