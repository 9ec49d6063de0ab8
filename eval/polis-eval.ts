import path from 'node:path';
import { spearman, topKOverlap } from '#lib/bridging';
import { silentProgressReport, type Logger, type ProgressReport } from '#lib/platform';
import { polisAgreeCounts, polisCommentsWithGroupVotes, polisGroupConsensus } from '#lib/testing';
import { runPipeline, type EvalFeed, type PipelineRunResult, type ReplayTiming } from './pipeline-run.js';
import { loadConversationFolder, polisAttribution, polisDataset, type PolisDataset } from './polis-dataset.js';

export const PolisVariants = ['groups', 'found', 'within', 'likes'] as const;
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
  within: {
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

export interface PolisEvalOptions {
  variants?: readonly PolisVariant[];
  progress?: ProgressReport;
  logger?: Logger;
  /** How signals meet the clock (see `ReplayTiming`); default `'live'`. */
  timing?: ReplayTiming;
  /** Passed to each pipeline run: give up when ClickHouse stops growing for this long. */
  stallTimeoutMs?: number;
}

export interface PolisEvalRow {
  conversation: string;
  variant: PolisVariant;
  label: string;
  ranking: string;
  signals: string;
  /** Kept comments our feed served, of all kept comments. */
  ranked: number;
  comments: number;
  /**
   * Spearman's ρ of our feed order against Polis's group-informed consensus (absent comments tie
   * last), over the `compared` comments: those at least one clustered participant voted on.
   */
  spearman: number;
  /** Of Polis's 10 most consensual compared comments, how many are in our feed's first 10 of them. */
  top10: number;
  compared: number;
  /** The same over every kept comment, unvoted ones at Polis's prior included. */
  spearmanAll: number;
  top10All: number;
  popularitySpearman: number;
  popularityTop10: number;
  /** ρ above popularity's. */
  beatsPopularity: boolean;
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
  rows: PolisEvalRow[];
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
}

/**
 * Evaluates the ranking on a Polis conversation through the real pipeline: each signal set is its
 * own pipeline run (variants (1) and (2) share the run with every vote; (3) has a run with likes
 * only, so it cannot see a `seen` or `requestLess`), and each variant's feed order is compared with
 * Polis's own group-informed consensus `Π_g (agrees_g + 1)/(votes_g + 2)`.
 */
export async function evaluatePolis(folder: string, options: PolisEvalOptions = {}): Promise<PolisEvalResult> {
  const started = performance.now();
  const progress = options.progress ?? silentProgressReport;
  const variants = options.variants ?? PolisVariants;
  const conversation = loadConversationFolder(folder);
  const name = path.basename(path.resolve(folder));
  const polis = polisDataset(conversation, `polis/${name}`);
  const reference = polisGroupConsensus(conversation);
  // Compared on the comments some clustered participant voted on: the others have Polis's prior only.
  const compared = polisCommentsWithGroupVotes(conversation);
  const onCompared = (values: ArrayLike<number>) => compared.map((post) => values[post]!);
  const comparedReference = onCompared(reference);
  const popularity = polisAgreeCounts(conversation, { clusteredOnly: false });
  const popularitySpearman = spearman(onCompared(popularity), comparedReference);
  const popularityTop10 = topKOverlap(onCompared(popularity), comparedReference, 10);

  const timing = options.timing ?? 'live';
  const rows: PolisEvalRow[] = [];
  const runs: PolisEvalResult['runs'] = [];
  let timeCompression = 1;
  for (const signals of ['all', 'likes'] as const) {
    const inRun = variants.filter((variant) => POLIS_VARIANTS[variant].signals === signals);
    if (inRun.length === 0) continue;
    const label = `${name} (${signals === 'all' ? 'every vote' : 'likes only'})`;
    const result = await runPipeline({
      label,
      dataset: polis.dataset,
      signals,
      timing,
      communities: [
        ...polis.dataset.groups,
        // Every participant, and the generated authors of comments whose author did not vote (they
        // have no signals; they are members so that their comments are candidates).
        { id: EVERYONE, name: 'Every participant', members: polis.dataset.actors.map((_, actor) => actor) },
      ],
      feeds: inRun.map((variant) => {
        const definition = POLIS_VARIANTS[variant];
        return {
          name: definition.feed,
          displayName: definition.displayName,
          ranking: definition.ranking,
          communities: definition.communities === 'groups' ? polis.dataset.groups.map((g) => g.id) : [EVERYONE],
        };
      }),
      progress,
      ...(options.logger && { logger: options.logger }),
      ...(options.stallTimeoutMs !== undefined && { stallTimeoutMs: options.stallTimeoutMs }),
    });
    const plan = result.plan;
    timeCompression = plan.compression;
    runs.push({
      label,
      timings: result.timings,
      events: plan.expected.events,
      feedback: plan.expected.feedback,
      plcRequests: result.plcRequests,
    });
    for (const variant of inRun) {
      const definition = POLIS_VARIANTS[variant];
      const order = result.feeds.get(definition.feed) ?? [];
      const scores = feedOrderScores(order, plan.postUris);
      const spearmanRho = spearman(onCompared(scores.values), comparedReference);
      const inCommunities = definition.communities === 'everyone' ? () => true : groupedAuthor(polis);
      rows.push({
        conversation: name,
        variant,
        label: definition.label,
        ranking: definition.ranking,
        signals: definition.signalsLabel,
        ranked: scores.ranked,
        comments: conversation.comments.length,
        spearman: spearmanRho,
        top10: topKOverlap(onCompared(scores.values), comparedReference, 10),
        compared: compared.length,
        spearmanAll: spearman(scores.values, reference),
        top10All: topKOverlap(scores.values, reference, 10),
        popularitySpearman,
        popularityTop10,
        beatsPopularity: spearmanRho > popularitySpearman,
        absent: scores.absent.map((post) => ({ commentId: conversation.comments[post]!.id, authorInCommunities: inCommunities(post) })),
      });
    }
  }
  rows.sort((a, b) => PolisVariants.indexOf(a.variant) - PolisVariants.indexOf(b.variant));

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
    rows,
    timeCompression,
    timing,
    runs,
    attribution: polisAttribution(name, conversation.summary['url']),
    elapsedMs: performance.now() - started,
  };
}

const EVERYONE = 'polis-everyone';

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
