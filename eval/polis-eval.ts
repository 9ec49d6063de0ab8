import path from 'node:path';
import { aggregateCells, clusterAgreement, findOpinionGroups, spearman, topKOverlap } from '#lib/bridging';
import { silentProgressReport, type Logger, type ProgressReport } from '#lib/platform';
import {
  polisAgreeCounts,
  polisCommentsEveryGroupVotedOn,
  polisCommentsWithGroupVotes,
  polisGroupConsensus,
  polisInteractions,
  type PolisConversation,
} from '#lib/testing';
import { processCpuMs, runPipeline, type EvalFeed, type PipelineRunResult, type ReplayTiming } from './pipeline-run.js';
import { loadConversationFolder, polisAttribution, polisDataset, type PolisDataset, type PolisVoteOrder } from './polis-dataset.js';

export const PolisVariants = ['groups', 'found', 'intercept', 'likes'] as const;
export type PolisVariant = (typeof PolisVariants)[number];

interface VariantDefinition {
  label: string;
  feed: string;
  displayName: string;
  ranking: EvalFeed['ranking'];
  signals: 'all' | 'likes';
  signalsLabel: string;
  communities: 'groups' | 'everyone';
}

/**
 * The ways the ranking is evaluated on a conversation:
 * (1) communities = Polis's opinion groups, every vote as a signal, bridging across the groups;
 * (2) no groups given: one community of everyone, bridging across the opinion groups found in the
 *     votes (`bridging` of one community: a factorisation of the votes, as Polis finds its groups);
 * (2′) no groups given, bridging inside the community (`bridging-within`: the Community Notes
 *     factorisation's intercept, its opinion axis found by itself);
 * (3) likes only (what Bluesky sees without feed feedback), communities = Polis's groups, bridging across them.
 */
export const POLIS_VARIANTS: Readonly<Record<PolisVariant, VariantDefinition>> = {
  groups: {
    label: '(1) Polis groups',
    feed: 'polis-groups',
    displayName: 'Polis groups',
    ranking: 'bridging',
    signals: 'all',
    signalsLabel: 'like + seen + requestLess',
    communities: 'groups',
  },
  found: {
    label: '(2) no groups, found',
    feed: 'polis-found',
    displayName: 'Polis, groups found',
    ranking: 'bridging',
    signals: 'all',
    signalsLabel: 'like + seen + requestLess',
    communities: 'everyone',
  },
  intercept: {
    label: "(2') no groups, intercept",
    feed: 'polis-within',
    displayName: 'Polis, no groups',
    ranking: 'bridging-within',
    signals: 'all',
    signalsLabel: 'like + seen + requestLess',
    communities: 'everyone',
  },
  likes: {
    label: '(3) likes only',
    feed: 'polis-likes',
    displayName: 'Polis groups, likes',
    ranking: 'bridging',
    signals: 'likes',
    signalsLabel: 'like',
    communities: 'groups',
  },
};

export interface PolisTarget {
  rho: number;
  top10: number;
  coverage: number;
}

/**
 * What each variant must reach on the comments every opinion group voted on, on every conversation
 * (the intercept variant is reported beside them, with no target of its own).
 */
export const POLIS_TARGETS: Readonly<Record<Exclude<PolisVariant, 'intercept'>, PolisTarget>> = {
  groups: { rho: 0.95, top10: 8, coverage: 0.95 },
  found: { rho: 0.9, top10: 7, coverage: 0.95 },
  likes: { rho: 0.85, top10: 7, coverage: 0.95 },
};

export interface PolisEvalOptions {
  variants?: readonly PolisVariant[];
  progress?: ProgressReport;
  logger?: Logger;
  /** How signals meet the clock (see `ReplayTiming`); default `'live'`. */
  timing?: ReplayTiming;
  /** Passed to each pipeline run: give up when ClickHouse stops growing for this long. */
  stallTimeoutMs?: number;
  /** Passed to each pipeline run: where its data folder is made. */
  dataDir?: string;
}

/** One ranking's feed against Polis's consensus, on three sets of comments (see `PolisEvalResult.compared`). */
export interface PolisVariantReport {
  name: PolisVariant;
  label: string;
  ranking: string;
  signals: string;
  /** Kept comments our feed served, of all kept comments. */
  inFeed: number;
  /** Spearman's ρ of our feed order against Polis's group-informed consensus (absent comments tie last) on the comments every group voted on. */
  spearmanEvery: number;
  /** Of Polis's 10 most consensual of those comments, how many are among our feed's first 10 of them. */
  top10Every: number;
  /** Share of the comments every group voted on that are in the feed. */
  coverageEvery: number;
  /** The same on the comments some clustered participant voted on. */
  spearmanClustered: number;
  top10Clustered: number;
  /** The same on every kept comment, unvoted ones at Polis's prior included. */
  spearmanAll: number;
  top10All: number;
  /** Raw agree counts ranked the same way, on the comments every group voted on. */
  popularitySpearmanEvery: number;
  popularityTop10Every: number;
  /** Kept comments not in the feed: whether their author is in one of the feed's communities (else not a candidate). */
  absent: { commentId: number; authorInCommunities: boolean }[];
}

export interface PolisEvalResult {
  conversation: string;
  topic: string;
  folder: string;
  participants: number;
  comments: number;
  moderatedOut: number;
  /** Kept comments whose author is not a participant: posted by a generated account. */
  generatedAuthors: number;
  groups: { id: number; members: number }[];
  ungrouped: number;
  votes: { agree: number; pass: number; disagree: number };
  /**
   * Where votes come from: `votes.csv` (each vote at the time it was cast), or the final votes of
   * `participants-votes.csv` when the export has no vote log (each at its comment's creation time, by
   * participant, in file order).
   */
  voteOrder: PolisVoteOrder;
  /**
   * Comments compared: `every` opinion group voted on them (the main comparison: elsewhere Polis's
   * consensus is mostly its prior), `clustered` some clustered participant voted on them, `all` kept.
   */
  compared: { every: number; clustered: number; all: number };
  /** The opinion groups found in the votes (as the `found` variant finds them) against the published ones. */
  groupAgreement: { ari: number; matched: number; groups: number; groupSizes: number[] };
  variants: PolisVariantReport[];
  /** Linear compression applied to the conversation's timeline (1 = shifted only). */
  timeCompression: number;
  timing: ReplayTiming;
  runs: {
    label: string;
    timings: PipelineRunResult['timings'];
    events: number;
    feedback: number;
    plcRequests: number;
  }[];
  attribution: string;
  elapsedMs: number;
  /** CPU time of the whole process (every thread) while the conversation was evaluated. */
  cpuMs: number;
}

/** The comments each comparison runs on, Polis's consensus and popularity. */
interface Comparison {
  reference: Float64Array;
  popularity: Float64Array;
  sets: { every: number[]; clustered: number[]; all: number[] };
}

/**
 * Evaluates the ranking on a Polis conversation through the real pipeline: each signal set is its
 * own pipeline run (variants (1) and (2) share the run with every vote; (3) has a run with likes
 * only, so it cannot see a `seen` or `requestLess`), and each variant's feed order is compared with
 * Polis's own group-informed consensus `Π_g (agrees_g + 1)/(votes_g + 2)`.
 */
export async function evaluatePolis(folder: string, options: PolisEvalOptions = {}): Promise<PolisEvalResult> {
  const started = performance.now();
  const startedCpuMs = processCpuMs();
  const progress = options.progress ?? silentProgressReport;
  const variants = options.variants ?? PolisVariants;
  const conversation = loadConversationFolder(folder);
  const name = path.basename(path.resolve(folder));
  const polis = polisDataset(conversation, `polis/${name}`);
  const comparison: Comparison = {
    reference: polisGroupConsensus(conversation),
    popularity: polisAgreeCounts(conversation, { clusteredOnly: false }),
    sets: {
      every: polisCommentsEveryGroupVotedOn(conversation),
      clustered: polisCommentsWithGroupVotes(conversation),
      all: conversation.comments.map((_, i) => i),
    },
  };
  const timing = options.timing ?? 'live';
  const reports: PolisVariantReport[] = [];
  const runs: PolisEvalResult['runs'] = [];
  let timeCompression = 1;
  for (const signals of ['all', 'likes'] as const) {
    const inRun = variants.filter((variant) => POLIS_VARIANTS[variant].signals === signals);
    if (inRun.length === 0) continue;
    const label = `${name} (${signals === 'all' ? 'every vote' : 'likes only'})`;
    const result = await runVariants(polis, inRun, { ...options, label, signals, timing, progress });
    timeCompression = result.plan.compression;
    runs.push({
      label,
      timings: result.timings,
      events: result.plan.expected.events,
      feedback: result.plan.expected.feedback,
      plcRequests: result.plcRequests,
    });
    for (const variant of inRun) {
      const scores = feedOrderScores(result.feeds.get(POLIS_VARIANTS[variant].feed) ?? [], result.plan.postUris);
      reports.push(variantReport(variant, scores, comparison, polis, conversation));
    }
  }
  reports.sort((a, b) => PolisVariants.indexOf(a.name) - PolisVariants.indexOf(b.name));

  let agree = 0;
  let pass = 0;
  let disagree = 0;
  for (const participant of conversation.participants) {
    for (const vote of participant.votes.values()) {
      if (vote === 1) agree += 1;
      else if (vote === 0) pass += 1;
      else disagree += 1;
    }
  }
  return {
    conversation: name,
    topic: conversation.summary['topic'] ?? name,
    folder: path.resolve(folder),
    participants: conversation.participants.length,
    comments: conversation.comments.length,
    moderatedOut: conversation.excludedCommentIds.length,
    generatedAuthors: polis.generatedAuthors.length,
    groups: conversation.groupIds.map((id) => ({ id, members: conversation.participants.filter((p) => p.groupId === id).length })),
    ungrouped: conversation.participants.filter((p) => p.groupId === null).length,
    votes: { agree, pass, disagree },
    voteOrder: polis.voteOrder,
    compared: { every: comparison.sets.every.length, clustered: comparison.sets.clustered.length, all: comparison.sets.all.length },
    groupAgreement: foundGroupAgreement(conversation),
    variants: reports,
    timeCompression,
    timing,
    runs,
    attribution: polisAttribution(name, conversation.summary['url']),
    elapsedMs: performance.now() - started,
    cpuMs: processCpuMs() - startedCpuMs,
  };
}

const EVERYONE = 'polis-everyone';

/** One pipeline run with the feeds of `variants` (which share its signals). */
function runVariants(
  polis: PolisDataset,
  variants: readonly PolisVariant[],
  options: PolisEvalOptions & { label: string; signals: 'all' | 'likes'; timing: ReplayTiming; progress: ProgressReport },
): Promise<PipelineRunResult> {
  return runPipeline({
    label: options.label,
    dataset: polis.dataset,
    signals: options.signals,
    timing: options.timing,
    communities: [
      ...polis.dataset.groups,
      // Every participant, and the generated authors of comments whose author did not vote (they
      // have no signals; they are members so that their comments are candidates).
      { id: EVERYONE, name: 'Every participant', members: polis.dataset.actors.map((_, actor) => actor) },
    ],
    feeds: variants.map((variant) => {
      const definition = POLIS_VARIANTS[variant];
      return {
        name: definition.feed,
        displayName: definition.displayName,
        ranking: definition.ranking,
        communities: definition.communities === 'groups' ? polis.dataset.groups.map((g) => g.id) : [EVERYONE],
      };
    }),
    progress: options.progress,
    ...(options.logger && { logger: options.logger }),
    ...(options.stallTimeoutMs !== undefined && { stallTimeoutMs: options.stallTimeoutMs }),
    ...(options.dataDir !== undefined && { dataDir: options.dataDir }),
  });
}

/** A variant's feed order against Polis's consensus on each set of comments. */
function variantReport(
  variant: PolisVariant,
  scores: ReturnType<typeof feedOrderScores>,
  comparison: Comparison,
  polis: PolisDataset,
  conversation: PolisConversation,
): PolisVariantReport {
  const definition = POLIS_VARIANTS[variant];
  const { reference, popularity, sets } = comparison;
  const on = (values: ArrayLike<number>, set: readonly number[]) => set.map((post) => values[post]!);
  const rho = (set: readonly number[], values: ArrayLike<number> = scores.values) => spearman(on(values, set), on(reference, set));
  const top10 = (set: readonly number[], values: ArrayLike<number> = scores.values) => topKOverlap(on(values, set), on(reference, set), 10);
  const absent = new Set(scores.absent);
  const inCommunities = definition.communities === 'everyone' ? () => true : groupedAuthor(polis);
  return {
    name: variant,
    label: definition.label,
    ranking: definition.ranking,
    signals: definition.signalsLabel,
    inFeed: scores.ranked,
    spearmanEvery: rho(sets.every),
    top10Every: top10(sets.every),
    coverageEvery: sets.every.length > 0 ? sets.every.filter((post) => !absent.has(post)).length / sets.every.length : 1,
    spearmanClustered: rho(sets.clustered),
    top10Clustered: top10(sets.clustered),
    spearmanAll: rho(sets.all),
    top10All: top10(sets.all),
    popularitySpearmanEvery: rho(sets.every, popularity),
    popularityTop10Every: top10(sets.every, popularity),
    absent: scores.absent.map((post) => ({ commentId: conversation.comments[post]!.id, authorInCommunities: inCommunities(post) })),
  };
}

/**
 * The opinion groups `findOpinionGroups` finds in every participant's votes (what the `found`
 * variant's feed of one community bridges across) against Polis's published groups.
 */
function foundGroupAgreement(conversation: PolisConversation): PolisEvalResult['groupAgreement'] {
  const votes = polisInteractions(conversation, 'votes');
  const found = findOpinionGroups(aggregateCells(votes.table));
  const foundGroups = new Map<number, number>();
  const publishedGroups = new Map<number, number>();
  conversation.participants.forEach((participant, user) => {
    if (found.groupOfUser[user]! >= 0) foundGroups.set(participant.id, found.groupOfUser[user]!);
    if (participant.groupId !== null) publishedGroups.set(participant.id, participant.groupId);
  });
  const { ari, matched } = clusterAgreement(foundGroups, publishedGroups);
  return { ari, matched, groups: found.reliable ? found.groupCount : 0, groupSizes: found.reliable ? [...found.groupSizes] : [] };
}

function groupedAuthor(polis: PolisDataset): (post: number) => boolean {
  const grouped = new Set(polis.dataset.groups.flatMap((group) => group.members));
  return (post) => grouped.has(polis.dataset.posts[post]!.author);
}

/**
 * Scores from a feed order, aligned with the posts: the first post gets the highest score, posts
 * absent from the feed share the lowest (Spearman then gives them their average rank).
 */
export function feedOrderScores(order: readonly string[], postUris: readonly string[]): { values: Float64Array; ranked: number; absent: number[] } {
  const position = new Map(order.map((uri, i) => [uri, i]));
  const values = new Float64Array(postUris.length);
  const absent: number[] = [];
  let ranked = 0;
  postUris.forEach((uri, post) => {
    const at = position.get(uri);
    if (at === undefined) {
      absent.push(post);
      return;
    }
    values[post] = order.length - at;
    ranked += 1;
  });
  return { values, ranked, absent };
}
