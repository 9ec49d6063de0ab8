import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { AtpAgent } from '@atproto/api';
import type { Keypair } from '@atproto/crypto';
import { createServiceJwt } from '@atproto/xrpc-server';
import { stringify } from 'yaml';
import { loadConfig } from '#lib/config';
import { atUri, Nsid, type JetstreamEvent } from '#lib/domain';
import type { Logger, ProgressReport } from '#lib/platform';
import { startJetstreamReplayServer, startPlcDirectory, tid, type JetstreamReplayServer, type PlcDirectoryServer } from '#lib/testing';
import { EventBatchConsumer, ScoreSnapshotJob, type SnapshotRun } from '#services/scoring';
import { startApp, type RunningApp } from '#services/app';
import { createAccountKeypair } from './account-keypair.js';
import { memoryFilesystem } from '#scripts/memory-filesystem.mjs';
import { EvalInterruptedError, EvalPipelineError } from './eval.errors.js';
import {
  actorDids,
  actorHandles,
  datasetSpan,
  DEFAULT_MAX_SPAN_MS,
  planReplay,
  type EvalDataset,
  type ReplayPlan,
  type ScheduledFeedback,
} from './eval-dataset.js';

export interface EvalCommunity {
  id: string;
  name: string;
  /** Actor indices of the dataset. */
  members: readonly number[];
}

export interface EvalFeed {
  /** Record key of the feed (a-z, 0-9 and -, at most 15). */
  name: string;
  displayName: string;
  ranking: 'bridging' | 'bridging-within' | 'balanced';
  communities: readonly string[];
}

/**
 * - `'live'` (default): the replay is live and ordered. Commits and feedback are sent one after the
 *   other in the order the votes were cast, each commit stamped (`time_us`) when it is sent, and each
 *   post only once the feedback before it has been acknowledged (so stamped earlier). Every signal
 *   then sits on one clock in its true order relative to every post, which is all the ranking
 *   compares; the gaps between them shrink to what the pipeline takes.
 * - `'shifted'`: the history as is, as fast as possible: commits carry their time-shifted historical
 *   `time_us`, but `sendInteractions` carries no time, so the feedback is stamped on arrival: after
 *   every commit, in the ranking's eyes (every account looks active until now).
 */
export type ReplayTiming = 'live' | 'shifted';

export interface PipelineRunOptions {
  /** Shown in progress lines, e.g. `brexit-consensus (every vote)`. */
  label: string;
  dataset: EvalDataset;
  /** `'likes'`: approvals only, nothing through `sendInteractions`. */
  signals: 'all' | 'likes';
  /** How signals meet the clock; see `ReplayTiming`. */
  timing: ReplayTiming;
  communities: readonly EvalCommunity[];
  feeds: readonly EvalFeed[];
  progress: ProgressReport;
  /** The app's own logs; silent by default (progress and results are what the user reads). */
  logger?: Logger;
  /** Give up when nothing new reaches ClickHouse for this long. Default 60 s. */
  stallTimeoutMs?: number;
  /** `sendInteractions` requests in flight. Default 16. */
  concurrency?: number;
  /** Where the run's data folder is made: by default the memory filesystem where there is one, else the temporary folder. */
  dataDir?: string;
}

export interface PipelineRunResult {
  plan: ReplayPlan;
  /** Post URIs of each feed (by name), in feed order, read to the end through getFeedSkeleton. */
  feeds: Map<string, string[]>;
  snapshots: SnapshotRun[];
  /** What `/status` reported once everything had arrived. */
  status: AppStatus;
  timings: RunTimings;
  /** DID documents the verifier fetched from the local PLC directory. */
  plcRequests: number;
}

type RunPhase = 'setupMs' | 'replayMs' | 'settleMs' | 'scoringMs' | 'readMs';

/** Wall time of each phase of a run, and the CPU time the whole process (every thread: chDB's too) spent in it. */
export type RunTimings = Record<RunPhase | 'totalMs', number> & { cpu: Record<RunPhase | 'totalMs', number> };

/** Times consecutive phases: wall clock and the process's CPU time. */
class PhaseClock {
  private readonly wall: Partial<Record<RunPhase, number>> = {};
  private readonly cpu: Partial<Record<RunPhase, number>> = {};
  private readonly startedMs = performance.now();
  private readonly startedCpuMs = processCpuMs();
  private lastMs = this.startedMs;
  private lastCpuMs = this.startedCpuMs;

  lap(phase: RunPhase): void {
    const [nowMs, nowCpuMs] = [performance.now(), processCpuMs()];
    this.wall[phase] = nowMs - this.lastMs;
    this.cpu[phase] = nowCpuMs - this.lastCpuMs;
    [this.lastMs, this.lastCpuMs] = [nowMs, nowCpuMs];
  }

  timings(): RunTimings {
    const phases = (times: Partial<Record<RunPhase, number>>) => ({
      setupMs: times.setupMs ?? 0,
      replayMs: times.replayMs ?? 0,
      settleMs: times.settleMs ?? 0,
      scoringMs: times.scoringMs ?? 0,
      readMs: times.readMs ?? 0,
    });
    return {
      ...phases(this.wall),
      totalMs: this.lastMs - this.startedMs,
      cpu: { ...phases(this.cpu), totalMs: this.lastCpuMs - this.startedCpuMs },
    };
  }
}

/** CPU time the process has used so far, every thread (chDB's included), in ms. */
export function processCpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

export interface AppStatus {
  ingest?: { received: number; published: number; malformed: number };
  scoring?: { written: number; deadLettered: number };
  feedback?: { consumed: number; written: number; deadLettered: number };
  store: { events: number; posts: number; interactions: number; graph: number };
}

/** `sendInteractions` accepts at most this many interactions per request. */
const MAX_INTERACTIONS_PER_REQUEST = 1_000;
const PAGE_LIMIT = 100;
const REQUEST_TIMEOUT_MS = 30_000;
/** A viewer's service token is reused until it has less than this left (clients do the same). */
const TOKEN_MIN_LIFE_S = 20;
/**
 * How long a viewer's service token lives: within the feed generator's bound on `exp`
 * (SERVICE_AUTH_MAX_EXP_SECONDS, 300 s by default), long enough that a conversation's replay signs
 * one token per account and the verifier checks each signature once, where a 60-second token was
 * signed and verified again every 40 seconds of replay.
 */
const TOKEN_LIFE_S = 240;
let runCounter = 0;
/** The runs under way, each with its data folder (chDB's, on the memory filesystem where there is one). */
const runsUnderWay = new Set<RunResources>();
/** Set by `stopRuns`: no part of a run (`startPart`), and so no run, starts after it. */
let stopping = false;

/**
 * Stops the runs under way and removes their data folders: for a process about to exit on a signal,
 * whose runs will not reach their own clean-up. On the memory filesystem a folder left behind holds
 * memory until the machine restarts. No run starts after it, and a run starts none of its parts
 * after it (`startPart`): chDB opened at a folder already removed would create it again.
 */
export async function stopRuns(): Promise<void> {
  stopping = true;
  await Promise.allSettled([...runsUnderWay].map((run) => releaseRun(run)));
}

/**
 * Starts one part of a run (its folder, a server, the app), unless runs are being stopped, and keeps
 * it on the run as soon as it is up (`keep`). A stop waits for the part under way, then closes it with the rest:
 * the app is closed once started, as chDB, in the middle of a migration, writes files into its folder.
 */
function startPart<T>(run: RunResources, start: () => Promise<T>, keep: (part: T) => void = () => undefined): Promise<T> {
  if (stopping) return Promise.reject(new EvalInterruptedError());
  const part = start().then((value) => {
    keep(value);
    return value;
  });
  run.pending = part.then(
    () => undefined,
    () => undefined,
  );
  return part;
}

/**
 * Closes what a run started, once, and removes its folder. The run stays under way until its folder
 * is gone: a stop that comes during a run's own release waits for it too.
 */
function releaseRun(run: RunResources): Promise<void> {
  run.released ??= (async () => {
    await run.pending;
    await run.sender?.drain().catch(() => undefined);
    await run.running?.close();
    await run.replay?.close();
    await run.plc?.close();
    if (run.dir !== undefined) await rm(run.dir, { recursive: true, force: true });
  })().finally(() => runsUnderWay.delete(run));
  return run.released;
}

/**
 * One run of the real embedded pipeline on a dataset: a local Jetstream replays posts and approvals
 * into ingest → in-process bus → scoring → ClickHouse (chDB in memory, a database of its own); every
 * account with feedback sends it through the feed generator's `sendInteractions` with a service-auth
 * JWT signed by its own key (resolved through a local PLC directory); then one scoring pass ranks the
 * feeds and each feed is read to its end with `getFeedSkeleton`.
 */
export async function runPipeline(options: PipelineRunOptions): Promise<PipelineRunResult> {
  const clock = new PhaseClock();
  const stallTimeoutMs = options.stallTimeoutMs ?? 60_000;
  // chDB's data on the memory filesystem where there is one: a live replay makes an insert per table
  // for each post with feedback before it, and creating files was most of the store's CPU.
  const run: RunResources = {};
  runsUnderWay.add(run);
  try {
    const dir = await startPart(run, () => mkdtemp(path.join(options.dataDir ?? memoryFilesystem() ?? os.tmpdir(), 'cg-eval-')), (made) => {
      run.dir = made;
    });
    const setup = await startRun(options, run, dir);
    clock.lap('setupMs');

    const plan = planReplay(options.dataset, { signals: options.signals, endMs: Date.now() - 60_000 });
    const sender = await replayPlan(options, run, setup, plan, stallTimeoutMs);
    clock.lap('replayMs');

    const status = await waitForStore(options, setup.app, sender, plan, stallTimeoutMs);
    await sender.drain();
    clock.lap('settleMs');

    const snapshots = await scoreOnce(options, setup.job);
    clock.lap('scoringMs');

    const feeds = new Map<string, string[]>();
    for (const feed of options.feeds) {
      feeds.set(feed.name, await readWholeFeed(setup.agent, atUri(setup.publisherDid, Nsid.generator, feed.name)));
    }
    clock.lap('readMs');
    return {
      plan,
      feeds,
      snapshots,
      status,
      timings: clock.timings(),
      plcRequests: setup.plc.requests,
    };
  } finally {
    await releaseRun(run);
  }
}

/** What a run started and must stop, whatever happens. */
interface RunResources {
  /** The run's data folder, once made. */
  dir?: string;
  /** Set once its release began: `releaseRun` runs once. */
  released?: Promise<void>;
  /** The part being started (`startPart`), settled either way. */
  pending?: Promise<void>;
  plc?: PlcDirectoryServer;
  replay?: JetstreamReplayServer;
  running?: RunningApp;
  sender?: FeedbackSender;
}

interface RunSetup {
  plc: PlcDirectoryServer;
  replay: JetstreamReplayServer;
  app: RunningApp;
  job: ScoreSnapshotJob;
  agent: AtpAgent;
  dids: readonly string[];
  keypairs: ReadonlyMap<number, Keypair>;
  senders: readonly number[];
  serviceDid: string;
  publisherDid: string;
}

/**
 * The curation file, a key and a DID document for every account that sends feedback, the local
 * Jetstream and the app on an empty store, after its first (empty) scoring pass.
 */
async function startRun(options: PipelineRunOptions, run: RunResources, dir: string): Promise<RunSetup> {
  const { dataset, progress } = options;
  const live = options.timing === 'live';
  const dids = actorDids(dataset);
  const handles = actorHandles(dataset);
  // Feeds rank a window ending now: it has to reach back to the first replayed post.
  const { minMs, maxMs } = datasetSpan(dataset);
  const spanHours = live ? 0 : Math.min(maxMs - minMs, DEFAULT_MAX_SPAN_MS) / 3_600_000;
  const windowHours = Math.ceil(spanHours) + 24;
  const feedsFile = path.join(dir, 'feeds.yaml');
  await startPart(run, () => writeFile(feedsFile, curationYaml(options.communities, dids, options.feeds, windowHours)));

  const senders =
    options.signals === 'all' ? [...new Set(dataset.votes.filter((v) => v.kind === 'seen' || v.kind === 'requestLess').map((v) => v.actor))] : [];
  const keysPhase = progress.phase(`${options.label}: keys`, senders.length, 'accounts');
  const plc = await startPart(run, startPlcDirectory, (started) => {
    run.plc = started;
  });
  const keypairs = new Map<number, Keypair>();
  for (const actor of senders) {
    const keypair = await createAccountKeypair();
    keypairs.set(actor, keypair);
    plc.publish(dids[actor]!, keypair, handles[actor]!);
    keysPhase.update(keypairs.size);
  }
  keysPhase.finish(`${keypairs.size} secp256k1 keys, their DID documents on a local PLC directory (${plc.url})`);

  // Commits are pushed once planned; the ingest connects before.
  const replay = await startPart(run, () => startJetstreamReplayServer({ events: [] }), (started) => {
    run.replay = started;
  });
  runCounter += 1;
  const config = loadConfig({
    JETSTREAM_URL: replay.subscribeUrl,
    CLICKHOUSE_PATH: path.join(dir, 'clickhouse'),
    CLICKHOUSE_DATABASE: `cg_eval_${process.pid}_${runCounter}_${randomBytes(3).toString('hex')}`,
    DATA_DIR: dir,
    FEEDS_FILE: feedsFile,
    HTTP_PORT: '0',
    OPS_PORT: '0',
    HTTP_BIND_HOST: '127.0.0.1',
    SCORING_INTERVAL_SECONDS: '86400',
    LOG_LEVEL: 'silent',
    PLC_URL: plc.url,
    IDENTITY_ALLOW_INSECURE: 'true',
    // The replay's own PLC directory answers slowly on a loaded machine; a token must not fail for it.
    IDENTITY_TIMEOUT_MS: '15000',
    // A conversation's history is replayed in seconds: every account sends at machine speed.
    SEND_INTERACTIONS_PER_MINUTE: '1000000',
    SEND_INTERACTIONS_BURST: '1000000',
    // Feedback waits for its posts to be stored (below): short ingest batches keep that wait short.
    INGEST_BATCH_MAX_WAIT_MS: '10',
    // The accounts exist only in the replay: a backfill would look for their repositories in vain.
    BACKFILL_ENABLED: 'false',
    // Nobody subscribes to labels here: the label stream looks for new ones once a minute, not every second.
    LABELS_POLL_MS: '60000',
    // A conversation deletes nothing: the removals are read once a minute, not four times a second.
    REMOVALS_POLL_MS: '60000',
  });
  const app = await startPart(run, () => startApp(config, options.logger ? { logger: options.logger } : {}), (started) => {
    run.running = started;
  });
  const job = app.app.get(ScoreSnapshotJob);
  // @NOTE The job's first scheduled pass runs one second after start. Letting it run on the empty
  // store before anything is replayed makes every evaluation start from the same state, instead of
  // one that depends on how much of the replay had arrived by then.
  await waitUntil('the first scheduled scoring pass', 15_000, () => job.stats.runs + job.stats.failures > 0);
  await replay.waitForConnections(1);
  return {
    plc,
    replay,
    app,
    job,
    agent: new AtpAgent({ service: app.url }),
    dids,
    keypairs,
    senders,
    serviceDid: config.feedGenerator.serviceDid,
    publisherDid: config.feedGenerator.publisherDid,
  };
}

/** Sends the plan: commits through the local Jetstream, feedback through `sendInteractions`. */
async function replayPlan(options: PipelineRunOptions, run: RunResources, setup: RunSetup, plan: ReplayPlan, stallTimeoutMs: number): Promise<FeedbackSender> {
  const live = options.timing === 'live';
  const { app, replay } = setup;
  const sender = (run.sender = new FeedbackSender({
    agent: setup.agent,
    serviceDid: setup.serviceDid,
    feed: atUri(setup.publisherDid, Nsid.generator, options.feeds[0]!.name),
    dids: setup.dids,
    keypairs: setup.keypairs,
    concurrency: options.concurrency ?? 16,
  }));
  // Tokens are signed ahead, as a client holds one before it needs it.
  await sender.prepareTokens(setup.senders);
  // @NOTE sendInteractions keeps feedback only about posts the feed generator served or could
  // serve, i.e. posts it stores. A client's feedback follows a post it was shown; the replay's
  // waits until the commits sent before it, posts among them, are in ClickHouse (the store starts
  // empty and nothing is deleted). Asked every few milliseconds, once per post: of the scoring
  // consumer in this process (its count of events written, after each insert), not of `/status`,
  // which counts four tables with FINAL on every call and so spent most of the replay's CPU.
  const written = app.app.get(EventBatchConsumer).stats;
  const eventsStored = (count: number) => waitUntil(`${count} events in ClickHouse`, stallTimeoutMs, () => written.written >= count, 2);
  const replayPhase = options.progress.phase(`${options.label}: replay${live ? ' (live, in vote order)' : ' (time-shifted history)'}`, plan.steps.length, 'signals');
  if (live) {
    await replayLive(plan, replay, sender, eventsStored, (dispatched) =>
      replayPhase.update(dispatched, `Jetstream sent ${replay.sentCount}/${plan.expected.events}, sendInteractions acknowledged ${sender.acknowledged}/${plan.expected.feedback}`),
    );
  } else {
    replay.push(...plan.events);
    if (plan.feedback.length > 0) await eventsStored(plan.events.length);
    sender.enqueueAll(plan.feedback);
  }
  replayPhase.finish(`${plan.expected.events} Jetstream commits, ${plan.expected.feedback} interactions ${live ? 'sent' : 'dispatched'}`);
  return sender;
}

/** Waits until ClickHouse holds every event, interaction and feedback row; gives up when it stops growing. */
async function waitForStore(options: PipelineRunOptions, app: RunningApp, sender: FeedbackSender, plan: ReplayPlan, stallTimeoutMs: number): Promise<AppStatus> {
  const rows = plan.expected.events + plan.expected.interactions;
  const settlePhase = options.progress.phase(`${options.label}: ClickHouse`, rows, 'rows');
  let lastGrowth = performance.now();
  let lastDone = -1;
  for (;;) {
    const status = await fetchStatus(app.opsUrl);
    sender.throwIfFailed();
    const done = Math.min(status.store.events, plan.expected.events) + Math.min(status.store.interactions, plan.expected.interactions);
    settlePhase.update(
      done,
      `events ${status.store.events}/${plan.expected.events}, interactions ${status.store.interactions}/${plan.expected.interactions}, ` +
        `sendInteractions acknowledged ${sender.acknowledged}/${plan.expected.feedback}`,
    );
    if (
      status.store.events >= plan.expected.events &&
      status.store.interactions >= plan.expected.interactions &&
      (status.feedback?.written ?? 0) >= plan.expected.feedback
    ) {
      settlePhase.finish(`${status.store.events} events and ${status.store.interactions} interactions stored`);
      return status;
    }
    const progressed = done + (status.feedback?.written ?? 0);
    if (progressed > lastDone) {
      lastDone = progressed;
      lastGrowth = performance.now();
    } else if (performance.now() - lastGrowth > stallTimeoutMs) {
      throw new EvalPipelineError(
        `${options.label}: nothing new reached ClickHouse for ${Math.round(stallTimeoutMs / 1000)} s ` +
          `(events ${status.store.events}/${plan.expected.events}, interactions ${status.store.interactions}/${plan.expected.interactions}, ` +
          `feedback written ${status.feedback?.written ?? 0}/${plan.expected.feedback}; ingest ${JSON.stringify(status.ingest ?? null)})`,
      );
    }
    await sleep(100);
  }
}

/** One scoring pass over every feed, with progress while it runs. */
async function scoreOnce(options: PipelineRunOptions, job: ScoreSnapshotJob): Promise<SnapshotRun[]> {
  const scoringPhase = options.progress.phase(`${options.label}: scoring`, options.feeds.length, 'feeds');
  const before = new Map(job.stats.lastByFeed);
  let finished = false;
  const pass = job.runOnce().finally(() => (finished = true));
  // Handled here so that a failure waits for the `await` below instead of being reported as unhandled.
  void pass.catch(() => undefined);
  while (!finished) {
    scoringPhase.update([...job.stats.lastByFeed].filter(([feed, run]) => before.get(feed) !== run).length);
    await sleep(50);
  }
  const snapshots = await pass;
  scoringPhase.finish(snapshots.map((run) => `${run.feed.split('/').pop()}: ${run.posts} of ${run.candidates} candidates ranked in ${run.ms} ms`).join(', '));
  return snapshots;
}

/** Commits stamped and held at most this many before they are pushed to Jetstream. */
const LIVE_BATCH = 500;

/**
 * See `ReplayTiming` `'live'`. What the ranking sees is each signal's time against each post's:
 * every like and feedback between two posts must be stamped after the one and before the other.
 * So the replay waits only where that order asks for it, once per post that has feedback before
 * it: the feedback goes out once the posts it is about are stored (sendInteractions drops feedback
 * about posts it does not store) and the post is stamped once the feedback is acknowledged.
 *
 * @NOTE Commits are stamped as they come and pushed only when feedback is about a post among
 * those not pushed yet (or 500 are held, or the replay ends): every stamp keeps its place among the
 * others, so the rankings are the same to the last figure, and the store waits only for posts that
 * feedback is about. In a Polis conversation most votes between two comments are on older ones:
 * of the 650 stretches of feedback between two posts in the seven conversations, at most 342 are
 * about a post not pushed yet (austria: 57 of 227), and the others need no Jetstream batch, no ingest and
 * no insert in three tables. Each post still has a millisecond of its own, so feedback (stamped in
 * milliseconds on arrival) never shares one with it.
 */
async function replayLive(
  plan: ReplayPlan,
  replay: JetstreamReplayServer,
  sender: FeedbackSender,
  eventsStored: (count: number) => Promise<void>,
  onProgress: (dispatched: number) => void,
): Promise<void> {
  let lastUs = 0;
  const stamp = (event: JetstreamEvent & { kind: 'commit' }): JetstreamEvent => {
    const timeUs = Math.max(lastUs + 1, Date.now() * 1000);
    lastUs = timeUs;
    const { commit } = event;
    return {
      ...event,
      time_us: timeUs,
      commit: { ...commit, rev: tid(timeUs, 0), ...(commit.record && { record: { ...commit.record, createdAt: new Date(timeUs / 1000).toISOString() } }) },
    };
  };
  let commits: JetstreamEvent[] = [];
  let eventsPushed = 0;
  const push = () => {
    if (commits.length === 0) return;
    replay.push(...commits);
    eventsPushed += commits.length;
    commits = [];
  };
  // Where each post is in the order of commits (pushed in that order): it is stored once that many events are.
  const postPosition = new Map<string, number>();
  let feedback: ScheduledFeedback[] = [];
  let feedbackNeeds = 0;
  const sendFeedback = async () => {
    if (feedback.length === 0) return;
    if (feedbackNeeds > eventsPushed) push();
    await eventsStored(feedbackNeeds);
    sender.enqueueAll(feedback);
    feedback = [];
    feedbackNeeds = 0;
    await sender.drain();
  };
  let dispatched = 0;
  for (const step of plan.steps) {
    sender.throwIfFailed();
    if (step.kind === 'commit' && step.event.commit.collection === Nsid.post) {
      // Everything before the post is stamped before it, everything after it later.
      await sendFeedback();
      await nextMillisecond();
      commits.push(stamp(step.event));
      postPosition.set(atUri(step.event.did, Nsid.post, step.event.commit.rkey), eventsPushed + commits.length);
      await nextMillisecond();
    } else if (step.kind === 'commit') {
      commits.push(stamp(step.event));
    } else {
      feedback.push(step.feedback);
      feedbackNeeds = Math.max(feedbackNeeds, postPosition.get(step.feedback.item) ?? 0);
    }
    dispatched += 1;
    if (commits.length >= LIVE_BATCH) {
      push();
      await sleep(0);
    }
    onProgress(dispatched);
  }
  await sendFeedback();
  push();
}

/** Resolves once the wall clock has moved to the next millisecond (feedback is stamped in ms). */
async function nextMillisecond(): Promise<void> {
  const now = Date.now();
  while (Date.now() <= now) await sleep(1);
}

interface FeedbackSenderOptions {
  agent: AtpAgent;
  serviceDid: string;
  feed: string;
  dids: readonly string[];
  keypairs: ReadonlyMap<number, Keypair>;
  concurrency: number;
}

/**
 * Sends feedback through `sendInteractions` as each account would: authenticated with a service-auth
 * JWT (`iss` the account, `aud` the feed generator, `lxm` the method) signed by the account's key and
 * reused while it has life left. One account's requests go out one after the other, so its feedback
 * reaches the pipeline in the order it was given; accounts proceed in parallel up to `concurrency`.
 */
class FeedbackSender {
  acknowledged = 0;
  private readonly chains = new Map<number, Promise<void>>();
  private readonly tokens = new Map<number, { jwt: string; expS: number }>();
  private inFlight = 0;
  private readonly waiting: (() => void)[] = [];
  private failure: unknown;

  constructor(private readonly options: FeedbackSenderOptions) {}

  /** Queues interactions (in order); groups consecutive ones of an account into requests. */
  enqueueAll(items: readonly ScheduledFeedback[]): void {
    const byActor = new Map<number, ScheduledFeedback[]>();
    for (const item of items) {
      const list = byActor.get(item.actor);
      if (list) list.push(item);
      else byActor.set(item.actor, [item]);
    }
    for (const [actor, list] of byActor) {
      for (let i = 0; i < list.length; i += MAX_INTERACTIONS_PER_REQUEST) {
        const chunk = list.slice(i, i + MAX_INTERACTIONS_PER_REQUEST);
        const previous = this.chains.get(actor) ?? Promise.resolve();
        const next = previous.then(() => this.send(actor, chunk)).catch((error: unknown) => {
          this.failure ??= error;
        });
        this.chains.set(actor, next);
      }
    }
  }

  async prepareTokens(actors: readonly number[]): Promise<void> {
    for (const actor of actors) await this.token(actor);
  }

  throwIfFailed(): void {
    if (this.failure !== undefined) throw this.failure;
  }

  async drain(): Promise<void> {
    await Promise.all(this.chains.values());
    this.throwIfFailed();
  }

  private async send(actor: number, items: readonly ScheduledFeedback[]): Promise<void> {
    if (this.failure !== undefined) return;
    await this.acquire();
    try {
      const iss = this.options.dids[actor]!;
      try {
        await this.options.agent.app.bsky.feed.sendInteractions(
          { feed: this.options.feed, interactions: items.map(({ item, event }) => ({ item, event })) },
          {
            headers: { authorization: `Bearer ${await this.token(actor)}` },
            encoding: 'application/json',
            signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
          },
        );
      } catch (error) {
        throw new EvalPipelineError(`sendInteractions as ${iss} failed: ${(error as Error).message}`, { cause: error });
      }
      this.acknowledged += items.length;
    } finally {
      this.release();
    }
  }

  private async token(actor: number): Promise<string> {
    const nowS = Date.now() / 1000;
    const cached = this.tokens.get(actor);
    if (cached && cached.expS - nowS > TOKEN_MIN_LIFE_S) return cached.jwt;
    const expS = Math.floor(nowS) + TOKEN_LIFE_S;
    const jwt = await createServiceJwt({
      iss: this.options.dids[actor]!,
      aud: this.options.serviceDid,
      lxm: Nsid.sendInteractions,
      exp: expS,
      keypair: this.options.keypairs.get(actor)!,
    });
    this.tokens.set(actor, { jwt, expS });
    return jwt;
  }

  private async acquire(): Promise<void> {
    if (this.inFlight < this.options.concurrency) {
      this.inFlight += 1;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.inFlight -= 1;
  }
}

/** Pages `getFeedSkeleton` to the end (no cursor, or an empty page) and checks no post comes twice. */
export async function readWholeFeed(agent: AtpAgent, feed: string): Promise<string[]> {
  const posts: string[] = [];
  const seen = new Set<string>();
  let cursor: string | undefined;
  for (;;) {
    const { data } = await agent.app.bsky.feed.getFeedSkeleton({ feed, limit: PAGE_LIMIT, ...(cursor && { cursor }) });
    for (const item of data.feed) {
      if (seen.has(item.post)) throw new EvalPipelineError(`${feed} served ${item.post} twice`);
      seen.add(item.post);
      posts.push(item.post);
    }
    if (data.feed.length === 0 || !data.cursor || data.cursor === cursor) return posts;
    cursor = data.cursor;
  }
}

async function fetchStatus(url: string): Promise<AppStatus> {
  const response = await fetch(`${url}/status`);
  if (!response.ok) throw new EvalPipelineError(`GET /status answered ${response.status}`);
  return (await response.json()) as AppStatus;
}

async function waitUntil(what: string, timeoutMs: number, probe: () => boolean | Promise<boolean>, intervalMs = 50): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await probe())) {
    if (performance.now() > deadline) throw new EvalPipelineError(`timed out waiting for ${what}`);
    await sleep(intervalMs);
  }
}

/**
 * The curation file of a run: communities with explicit DIDs, and the feeds. The window reaches the
 * first replayed post; the half-life is so long that decay changes no order (the evaluation
 * compares rankings, not freshness).
 */
export function curationYaml(communities: readonly EvalCommunity[], dids: readonly string[], feeds: readonly EvalFeed[], windowHours: number): string {
  const doc = {
    communities: Object.fromEntries(communities.map((c) => [c.id, { name: c.name, members: { dids: c.members.map((actor) => dids[actor]!) } }])),
    feeds: Object.fromEntries(
      feeds.map((feed) => [
        feed.name,
        { displayName: feed.displayName, communities: [...feed.communities], ranking: feed.ranking, windowHours, halfLifeHours: 1e9 },
      ]),
    ),
  };
  return `# Generated by the Common Ground evaluation harness (npm run eval).\n${stringify(doc)}`;
}
