import { atUri, Nsid, type JetstreamEvent } from '#lib/domain';
import { deterministicDidPlc, generateCid, mulberry32, tid } from '#lib/testing';

/**
 * What an evaluation replays, independent of where it came from (a Polis conversation, the
 * planted-communities generator): actors, posts, and votes on posts in the order they were cast.
 */
export type VoteKind = 'like' | 'repost' | 'seen' | 'requestLess';

export interface EvalPost {
  /** Actor index of the author. */
  author: number;
  createdMs: number;
  text: string;
}

export interface EvalVote {
  actor: number;
  post: number;
  kind: VoteKind;
  timeMs: number;
}

export interface EvalGroup {
  /** Community id in the curation file. */
  id: string;
  name: string;
  /** Actor indices. */
  members: readonly number[];
}

export interface EvalDataset {
  /** Seeds the DIDs: the same dataset always maps to the same accounts. */
  key: string;
  /** One label per actor (for handles and messages), e.g. `participant-12`. */
  actors: readonly string[];
  posts: readonly EvalPost[];
  /** In the order they were cast (ascending time; ties keep their order). */
  votes: readonly EvalVote[];
  /** The opinion groups or communities of variants with communities. */
  groups: readonly EvalGroup[];
}

/** One `sendInteractions` interaction, due at `atMs` (the vote's time, shifted). */
export interface ScheduledFeedback {
  atMs: number;
  actor: number;
  item: string;
  event: `app.bsky.feed.defs#${'interactionSeen' | 'requestLess'}`;
}

export interface ReplayPlan {
  dids: readonly string[];
  handles: readonly string[];
  postUris: readonly string[];
  /** Jetstream commits (posts, likes, reposts) in `time_us` order, strictly increasing. */
  events: readonly JetstreamEvent[];
  /** `seen` and `requestLess` in vote order. Empty for likes-only runs. */
  feedback: readonly ScheduledFeedback[];
  /** Commits and feedback merged in the order they happened: what a live replay sends, one after the other. */
  steps: readonly ReplayStep[];
  /** Accounts that send feedback (they need keys), in order of their first feedback. */
  feedbackActors: readonly number[];
  counts: { posts: number; likes: number; reposts: number; seen: number; requestLess: number };
  /** Rows ClickHouse must hold once everything arrived: `event_log` and `interactions`. */
  expected: { events: number; interactions: number; feedback: number };
  /** Time of the first and last replayed signal (unix ms), after shifting. */
  startMs: number;
  endMs: number;
  /** Factor by which the dataset's timeline was compressed (1: shifted only). */
  compression: number;
}

export type ReplayStep = { kind: 'commit'; event: JetstreamEvent & { kind: 'commit' } } | { kind: 'feedback'; feedback: ScheduledFeedback };

export interface ReplayPlanOptions {
  /** `'all'`: votes as the brief maps them; `'likes'`: approvals only (no `sendInteractions`). */
  signals: 'all' | 'likes';
  /** The last event lands here (unix ms), e.g. a minute before now. */
  endMs: number;
  /** Longest timeline replayed as is; a longer one is compressed linearly to this. Default 30 days. */
  maxSpanMs?: number;
  seed?: number;
}

const POST_TEXT_GRAPHEMES = 300;
/** A vote comes at least this long after its post. */
const AFTER_POST_MS = 1;
export const DEFAULT_MAX_SPAN_MS = 30 * 86_400_000;
const segmenter = new Intl.Segmenter('en', { granularity: 'grapheme' });

/** A post's text within Bluesky's limit of 300 graphemes (longer Polis comments are cut with an ellipsis). */
export function postText(text: string): string {
  const graphemes = Array.from(segmenter.segment(text.trim()), (s) => s.segment);
  if (graphemes.length <= POST_TEXT_GRAPHEMES) return graphemes.join('');
  return `${graphemes.slice(0, POST_TEXT_GRAPHEMES - 1).join('').trimEnd()}…`;
}

/** The dataset's accounts: the same dataset key and actor label always give the same DID. */
export function actorDids(dataset: EvalDataset): string[] {
  return dataset.actors.map((label) => deterministicDidPlc(`common-ground-eval/${dataset.key}/${label}`));
}

export function actorHandles(dataset: EvalDataset): string[] {
  return dataset.actors.map((label) => `${label.replace(/[^a-z0-9-]/gi, '-').toLowerCase()}.eval.invalid`);
}

/** First and last time of the dataset (posts and votes), unix ms. */
export function datasetSpan(dataset: EvalDataset): { minMs: number; maxMs: number } {
  let minMs = Infinity;
  let maxMs = -Infinity;
  for (const post of dataset.posts) {
    minMs = Math.min(minMs, post.createdMs);
    maxMs = Math.max(maxMs, post.createdMs);
  }
  for (const vote of dataset.votes) {
    minMs = Math.min(minMs, vote.timeMs);
    maxMs = Math.max(maxMs, vote.timeMs);
  }
  return Number.isFinite(minMs) ? { minMs, maxMs } : { minMs: 0, maxMs: 0 };
}

/**
 * Turns a dataset into what the pipeline consumes: Jetstream commits for posts and approvals, and
 * `sendInteractions` feedback for `seen` and `requestLess` (they are not records, so not on
 * Jetstream), time-shifted so the last one lands at `endMs`, and merged in the order they happened.
 *
 * @NOTE A timeline longer than `maxSpanMs` is compressed linearly (a Polis conversation can run for
 * years): the order of every event, and so every comparison the ranking makes, is kept, while
 * ClickHouse is spared a monthly partition per month of history.
 * @NOTE A signal never precedes its post (a like needs the post's CID); a vote logged before its
 * comment's timestamp (clock skew in the export) is moved to just after it.
 */
export function planReplay(dataset: EvalDataset, options: ReplayPlanOptions): ReplayPlan {
  const rng = mulberry32(options.seed ?? 2026);
  const { minMs, maxMs } = datasetSpan(dataset);
  const span = Math.max(1, maxMs - minMs);
  const maxSpan = options.maxSpanMs ?? DEFAULT_MAX_SPAN_MS;
  const compression = span > maxSpan ? maxSpan / span : 1;
  const shift = (t: number) => options.endMs - (maxMs - t) * compression;

  const dids = actorDids(dataset);
  const handles = actorHandles(dataset);
  const clockIds = dataset.actors.map((_, i) => i % 1024);

  interface Pending {
    timeMs: number;
    order: number;
    build: (timeUs: number) => JetstreamEvent;
  }
  const pending: Pending[] = [];
  const postUris: string[] = [];
  const postCids: string[] = [];
  const postTimes: number[] = [];
  // Post rkeys are TIDs of their (shifted) creation time, one microsecond later when an author's two
  // posts share a timestamp.
  const usedRkeys = new Set<string>();
  dataset.posts.forEach((post) => {
    const timeMs = shift(post.createdMs);
    let rkeyUs = Math.round(timeMs * 1000);
    let rkey = tid(rkeyUs, clockIds[post.author]!);
    while (usedRkeys.has(`${post.author} ${rkey}`)) rkey = tid(++rkeyUs, clockIds[post.author]!);
    usedRkeys.add(`${post.author} ${rkey}`);
    const uri = atUri(dids[post.author]!, Nsid.post, rkey);
    const cid = generateCid(rng);
    postUris.push(uri);
    postCids.push(cid);
    postTimes.push(timeMs);
    pending.push({
      timeMs,
      order: pending.length,
      build: (timeUs) => ({
        did: dids[post.author]!,
        time_us: timeUs,
        kind: 'commit',
        commit: {
          rev: tid(timeUs, clockIds[post.author]!),
          operation: 'create',
          collection: Nsid.post,
          rkey,
          record: { $type: Nsid.post, text: postText(post.text), langs: ['en'], createdAt: new Date(timeMs).toISOString() },
          cid,
        },
      }),
    });
  });

  const counts = { posts: dataset.posts.length, likes: 0, reposts: 0, seen: 0, requestLess: 0 };
  const feedback: ScheduledFeedback[] = [];
  const feedbackActors = new Set<number>();
  for (const vote of dataset.votes) {
    const timeMs = Math.max(shift(vote.timeMs), postTimes[vote.post]! + AFTER_POST_MS);
    if (vote.kind === 'seen' || vote.kind === 'requestLess') {
      if (options.signals === 'likes') continue;
      counts[vote.kind] += 1;
      feedbackActors.add(vote.actor);
      feedback.push({
        atMs: timeMs,
        actor: vote.actor,
        item: postUris[vote.post]!,
        event: vote.kind === 'seen' ? 'app.bsky.feed.defs#interactionSeen' : 'app.bsky.feed.defs#requestLess',
      });
      continue;
    }
    counts[vote.kind === 'like' ? 'likes' : 'reposts'] += 1;
    const collection = vote.kind === 'like' ? Nsid.like : Nsid.repost;
    const actor = vote.actor;
    const subject = { uri: postUris[vote.post]!, cid: postCids[vote.post]! };
    const cid = generateCid(rng);
    pending.push({
      timeMs,
      order: pending.length,
      build: (timeUs) => {
        const rkey = tid(timeUs, clockIds[actor]!);
        return {
          did: dids[actor]!,
          time_us: timeUs,
          kind: 'commit',
          commit: {
            rev: rkey,
            operation: 'create',
            collection,
            rkey,
            record: { $type: collection, subject, createdAt: new Date(timeMs).toISOString() },
            cid,
          },
        };
      },
    });
  }
  pending.sort((a, b) => a.timeMs - b.timeMs || a.order - b.order);
  // Clamping to the post can reorder feedback slightly; vote order is otherwise kept (stable sort).
  feedback.sort((a, b) => a.atMs - b.atMs);
  const events: JetstreamEvent[] = [];
  let lastUs = -Infinity;
  for (const item of pending) {
    // Jetstream's time_us is strictly increasing; the TIDs built from it are then unique per account.
    const timeUs = Math.max(lastUs + 1, Math.round(item.timeMs * 1000));
    lastUs = timeUs;
    events.push(item.build(timeUs));
  }

  // Merged by time; a commit goes before feedback of the same instant (the post before its first vote).
  const steps: ReplayStep[] = [];
  let f = 0;
  for (const event of events) {
    while (f < feedback.length && feedback[f]!.atMs * 1000 < event.time_us) steps.push({ kind: 'feedback', feedback: feedback[f++]! });
    steps.push({ kind: 'commit', event: event as JetstreamEvent & { kind: 'commit' } });
  }
  while (f < feedback.length) steps.push({ kind: 'feedback', feedback: feedback[f++]! });

  const feedbackCount = counts.seen + counts.requestLess;
  // ClickHouse keeps one feedback row per (account, event, post): a repeated one replaces itself.
  const feedbackRows = new Set(feedback.map((item) => `${item.actor} ${item.event} ${item.item}`)).size;
  const firstMs = Math.min(events.length > 0 ? events[0]!.time_us / 1000 : Infinity, feedback[0]?.atMs ?? Infinity);
  const lastMs = Math.max(events.length > 0 ? events[events.length - 1]!.time_us / 1000 : -Infinity, feedback.at(-1)?.atMs ?? -Infinity);
  return {
    dids,
    handles,
    postUris,
    events,
    feedback,
    steps,
    feedbackActors: [...feedbackActors],
    counts,
    expected: { events: events.length, interactions: counts.likes + counts.reposts + feedbackRows, feedback: feedbackCount },
    startMs: Number.isFinite(firstMs) ? firstMs : shift(minMs),
    endMs: Number.isFinite(lastMs) ? lastMs : shift(maxMs),
    compression,
  };
}
