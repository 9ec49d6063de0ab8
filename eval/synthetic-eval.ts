import { Signal } from '#lib/bridging';
import { silentProgressReport, type Logger, type ProgressReport } from '#lib/platform';
import { plantedCommunities, type PlantedCommunities, type PlantedCommunitiesOptions } from '#lib/testing';
import { EvalInputError } from './eval.errors.js';
import type { EvalDataset, EvalVote, VoteKind } from './eval-dataset.js';
import { runPipeline, type EvalFeed, type PipelineRunResult, type ReplayTiming } from './pipeline-run.js';

/** The generator's size and seed (`interactions`: impressions, sent as `interactionSeen`, plus approvals and `requestLess`). */
export interface SyntheticEvalOptions
  extends Pick<PlantedCommunitiesOptions, 'seed' | 'users' | 'posts' | 'interactions' | 'communities' | 'bridgingPosts' | 'viralPosts'> {
  /** How signals meet the clock (see `ReplayTiming`); default `'live'`. */
  timing?: ReplayTiming;
  progress?: ProgressReport;
  logger?: Logger;
  stallTimeoutMs?: number;
  /** Passed to each pipeline run: where its data folder is made. */
  dataDir?: string;
}

export interface SyntheticEvalRow {
  variant: 'groups' | 'within' | 'likes';
  label: string;
  ranking: string;
  signals: string;
  ranked: number;
  /** Planted bridging posts among the feed's first k (k = number of planted bridging posts), over k. */
  precision: number;
  /** One-sided viral posts among the first k. */
  viralInTop: number;
  popularityPrecision: number;
  popularityViralInTop: number;
}

export interface SyntheticEvalResult {
  options: Required<Omit<SyntheticEvalOptions, 'progress' | 'logger' | 'stallTimeoutMs' | 'timing' | 'dataDir'>>;
  rows_: number;
  counts: { likes: number; reposts: number; seen: number; requestLess: number };
  bridgingPosts: number;
  viralPosts: number;
  k: number;
  rows: SyntheticEvalRow[];
  runs: {
    label: string;
    timings: PipelineRunResult['timings'];
    events: number;
    feedback: number;
    accounts: number;
  }[];
  elapsedMs: number;
}

export const SYNTHETIC_DEFAULTS = { seed: 7, users: 1_000, posts: 1_000, interactions: 20_000, communities: 4, bridgingPosts: 20, viralPosts: 20 } as const;

const kindOfSignal: Partial<Record<number, VoteKind>> = {
  [Signal.Like]: 'like',
  [Signal.Repost]: 'repost',
  [Signal.Seen]: 'seen',
  [Signal.RequestLess]: 'requestLess',
};

/**
 * The same harness on libs/testing's planted communities, where the truth is known: which posts
 * were planted as bridging (approved by both sides) and which as one-sided viral posts. Reports
 * precision@k of the planted bridging posts for each variant against raw popularity.
 */
export async function evaluateSynthetic(options: SyntheticEvalOptions = {}): Promise<SyntheticEvalResult> {
  const started = performance.now();
  const o = {
    seed: options.seed ?? SYNTHETIC_DEFAULTS.seed,
    users: options.users ?? SYNTHETIC_DEFAULTS.users,
    posts: options.posts ?? SYNTHETIC_DEFAULTS.posts,
    interactions: options.interactions ?? SYNTHETIC_DEFAULTS.interactions,
    communities: options.communities ?? SYNTHETIC_DEFAULTS.communities,
    bridgingPosts: options.bridgingPosts ?? SYNTHETIC_DEFAULTS.bridgingPosts,
    viralPosts: options.viralPosts ?? SYNTHETIC_DEFAULTS.viralPosts,
  };
  for (const [name, value, min] of [
    ['users', o.users, 2],
    ['posts', o.posts, o.bridgingPosts + o.viralPosts + 1],
    ['interactions', o.interactions, 1],
    ['communities', o.communities, 2],
    ['bridgingPosts', o.bridgingPosts, 1],
    ['viralPosts', o.viralPosts, 0],
  ] as const) {
    if (!Number.isInteger(value) || value < min) throw new EvalInputError(`--${name} must be an integer ≥ ${min}, got ${value}`);
  }
  const progress = options.progress ?? silentProgressReport;
  const spanMs = 86_400_000;
  const planted = plantedCommunities({
    seed: o.seed,
    users: o.users,
    posts: o.posts,
    interactions: o.interactions,
    communities: o.communities,
    bridgingPosts: o.bridgingPosts,
    viralPosts: o.viralPosts,
    startMs: Date.now() - spanMs - 5 * 60_000,
    spanMs,
  });
  const dataset = syntheticDataset(planted, o.seed);
  const groupIds = dataset.groups.map((g) => g.id);
  const k = o.bridgingPosts;
  const bridging = new Set(planted.bridgingPosts);
  const viral = new Set(planted.viralPosts);

  const popularity = new Float64Array(o.posts);
  for (const vote of dataset.votes) if (vote.kind === 'like' || vote.kind === 'repost') popularity[vote.post]! += 1;
  const popularTop = topIndices(popularity, k);
  const popularityPrecision = popularTop.filter((p) => bridging.has(p)).length / k;
  const popularityViralInTop = popularTop.filter((p) => viral.has(p)).length;

  const variants = [
    { variant: 'groups', label: '(1) communities', feed: 'synth-groups', ranking: 'bridging', signals: 'all', communities: groupIds },
    { variant: 'within', label: '(2) no communities', feed: 'synth-within', ranking: 'bridging-within', signals: 'all', communities: [EVERYONE] },
    { variant: 'likes', label: '(3) likes only', feed: 'synth-likes', ranking: 'bridging', signals: 'likes', communities: groupIds },
  ] as const;
  const rows: SyntheticEvalRow[] = [];
  const runs: SyntheticEvalResult['runs'] = [];
  let counts = { likes: 0, reposts: 0, seen: 0, requestLess: 0 };
  for (const signals of ['all', 'likes'] as const) {
    const inRun = variants.filter((v) => v.signals === signals);
    const label = `planted communities (${signals === 'all' ? 'every signal' : 'likes and reposts only'})`;
    const feeds: EvalFeed[] = inRun.map((v) => ({ name: v.feed, displayName: v.label.slice(4), ranking: v.ranking, communities: [...v.communities] }));
    const result = await runPipeline({
      label,
      dataset,
      signals,
      timing: options.timing ?? 'live',
      communities: [...dataset.groups, { id: EVERYONE, name: 'Everyone', members: dataset.actors.map((_, actor) => actor) }],
      feeds,
      progress,
      ...(options.logger && { logger: options.logger }),
      ...(options.stallTimeoutMs !== undefined && { stallTimeoutMs: options.stallTimeoutMs }),
      ...(options.dataDir !== undefined && { dataDir: options.dataDir }),
    });
    const plan = result.plan;
    if (signals === 'all') counts = { likes: plan.counts.likes, reposts: plan.counts.reposts, seen: plan.counts.seen, requestLess: plan.counts.requestLess };
    runs.push({
      label,
      timings: result.timings,
      events: plan.expected.events,
      feedback: plan.expected.feedback,
      accounts: plan.feedbackActors.length,
    });
    const postOfUri = new Map(plan.postUris.map((uri, p) => [uri, p]));
    for (const v of inRun) {
      const order = (result.feeds.get(v.feed) ?? []).map((uri) => postOfUri.get(uri)!);
      const top = order.slice(0, k);
      rows.push({
        variant: v.variant,
        label: v.label,
        ranking: v.ranking,
        signals: signals === 'all' ? 'like + repost + seen + requestLess' : 'like + repost',
        ranked: order.length,
        precision: top.filter((p) => bridging.has(p)).length / k,
        viralInTop: top.filter((p) => viral.has(p)).length,
        popularityPrecision,
        popularityViralInTop,
      });
    }
  }
  return {
    options: o,
    rows_: planted.table.rowCount,
    counts,
    bridgingPosts: planted.bridgingPosts.length,
    viralPosts: planted.viralPosts.length,
    k,
    rows,
    runs,
    elapsedMs: performance.now() - started,
  };
}

const EVERYONE = 'synth-everyone';

function syntheticDataset(planted: PlantedCommunities, seed: number): EvalDataset {
  const { table, membership } = planted;
  const U = table.userCount;
  const actors = Array.from({ length: U }, (_, u) => `user-${u}`);
  // Authors are spread over the users (every user is in a community, so every post is a candidate).
  const posts = Array.from(planted.postCreatedMs, (createdMs, p) => ({
    author: Number((BigInt(p) * 2_654_435_761n + BigInt(seed)) % BigInt(U)),
    createdMs,
    text: `Planted post ${p}`,
  }));
  const votes: (EvalVote & { order: number })[] = [];
  // @NOTE The generator samples impressions with replacement; an account likes (or is shown) a post
  // once on Bluesky, so repeats of the same (account, post, signal) are dropped.
  const seen = new Set<string>();
  for (let i = 0; i < table.rowCount; i++) {
    const kind = kindOfSignal[table.signal[i]!];
    if (kind === undefined) continue;
    const key = `${table.user[i]} ${table.post[i]} ${kind}`;
    if (seen.has(key)) continue;
    seen.add(key);
    votes.push({ actor: table.user[i]!, post: table.post[i]!, kind, timeMs: table.timeMs[i]!, order: i });
  }
  votes.sort((a, b) => a.timeMs - b.timeMs || a.order - b.order);
  const groups = Array.from({ length: membership.groupCount }, (_, g) => ({ id: `community-${g}`, name: `Planted community ${g}`, members: [] as number[] }));
  for (let u = 0; u < Math.min(U, membership.offsets.length - 1); u++) {
    for (let m = membership.offsets[u]!; m < membership.offsets[u + 1]!; m++) groups[membership.groups[m]!]!.members.push(u);
  }
  return { key: `planted/${seed}`, actors, posts, votes: votes.map(({ order: _order, ...vote }) => vote), groups };
}

function topIndices(values: Float64Array, k: number): number[] {
  return Array.from(values.keys())
    .sort((a, b) => values[b]! - values[a]! || a - b)
    .slice(0, k);
}
