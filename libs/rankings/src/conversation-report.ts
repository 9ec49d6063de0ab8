import {
  aggregateCells,
  CellKind,
  findOpinionGroups,
  groupEvidence,
  groupInformedConsensus,
  IdIndex,
  InteractionTableBuilder,
  membershipFromAssignment,
  Signal,
  type RatingCells,
} from '#lib/bridging';
import type { RankingInput } from './ranking.js';

/** Votes a statement needs before the report weighs it (fewer: "thin on evidence"). */
export const THIN_VOTES = 5;
/** Statements listed per section of the report. */
const LISTED = 10;
/** Representative statements per group. */
const REPRESENTATIVE = 3;
/** Points of the participation chart at most. */
const PARTICIPATION_POINTS = 48;

/** Bluesky's votes: like = agree, requestLess = disagree, interactionSeen without either = pass. */
const voteOfKind: Readonly<Record<string, Signal>> = { like: Signal.Like, requestLess: Signal.RequestLess, interactionSeen: Signal.Seen };

export interface GroupVotes {
  group: number;
  agree: number;
  disagree: number;
  votes: number;
  /** Estimated share of the group that agrees: (agree + 1) / (votes + 2), Polis's prior. */
  agreeRate: number;
}

export interface ReportStatement {
  uri: string;
  votes: number;
  agree: number;
  disagree: number;
  pass: number;
  /** Group-informed consensus, as the geometric mean over the groups (Polis's GIC^(1/G)); without groups, everyone's agree rate. */
  consensus: number;
  /** Largest minus smallest group agree rate: how far the groups part on it. */
  spread: number;
  groups: GroupVotes[];
}

export interface ConversationReport {
  computedAt: number;
  statements: number;
  participants: number;
  votes: { agree: number; disagree: number; pass: number };
  /** Votes per interval and the participants so far, oldest first. */
  participation: { atMs: number; votes: number; participants: number }[];
  /** Opinion groups found in the votes (as Polis finds them), largest first; empty while too sparse. */
  groups: { group: number; size: number }[];
  /** Statements more people agree with than disagree, highest group-informed consensus first (without groups: everyone's agree rate). */
  consensus: ReportStatement[];
  /** Statements more of some group agree with and more of another disagree with, widest apart first, with the group that agrees most. */
  divisive: (ReportStatement & { agreeingGroup: number })[];
  /** Per group, the statements it agrees with more than the rest do. */
  representative: { group: number; statements: ReportStatement[] }[];
  /** The first ten statements with fewer than `THIN_VOTES` votes, fewest first. */
  thin: { uri: string; votes: number }[];
  /**
   * How many statements have fewer than `THIN_VOTES` votes. A flooded conversation has thousands:
   * the public report names ten and counts the rest. Absent from reports stored before it was.
   */
  thinCount?: number;
}

export interface ConversationAnalysis {
  report: ConversationReport;
  /** Per candidate statement (by URI): its line in the report, for routing. */
  statements: Map<string, ReportStatement>;
  /** The group of each participant (DID) that was grouped. */
  groupOf: Map<string, number>;
}

/**
 * The live report of a conversation from its statements (the candidates) and the votes on them: the
 * opinion groups found in the votes (`findOpinionGroups`), each statement's group-informed
 * consensus over those groups (Polis's definition: every group enters), what divides them, what
 * each group stands for, and what is still thin on evidence.
 */
export function analyseConversation(input: RankingInput, counts: (actor: string) => boolean): ConversationAnalysis {
  const users = new IdIndex();
  const posts = new IdIndex(input.candidates.map((post) => post.uri));
  const isStatement = new Set(input.candidates.map((post) => post.uri));
  const builder = new InteractionTableBuilder({ users, posts, capacity: input.signals.length + 16 });
  for (const signal of input.signals) {
    const vote = voteOfKind[signal.kind];
    if (vote === undefined || !isStatement.has(signal.uri) || !counts(signal.actor)) continue;
    builder.add(signal.actor, signal.uri, vote, signal.timeUs / 1000);
  }
  const table = builder.build();
  const cells = aggregateCells(table);
  const found = findOpinionGroups(cells);
  const groupCount = found.reliable ? found.groupCount : 0;
  // Groups numbered largest first: the report's letters read in order of size (A the largest).
  const bySize = Array.from({ length: groupCount }, (_, group) => group).sort((a, b) => (found.groupSizes[b] ?? 0) - (found.groupSizes[a] ?? 0) || a - b);
  const numberOf = new Int32Array(groupCount);
  bySize.forEach((group, rank) => (numberOf[group] = rank));
  const groupOfUser = found.reliable ? Int32Array.from(found.groupOfUser, (group) => (group < 0 ? group : numberOf[group]!)) : new Int32Array(table.userCount).fill(-1);
  const statements = statementLines(cells, posts, groupOfUser, groupCount);

  const weighed = [...statements.values()].filter((statement) => statement.votes >= THIN_VOTES);
  // The consensus is ranked by the group-informed consensus alone, as Polis ranks it; a statement
  // more people disagree with than agree is none, however its groups compare. A division is a
  // statement more of some group agree with and more of another disagree with (passes take no
  // side). Without them, the least disliked statements of a small conversation read as its
  // consensus, and a statement everyone rejects as a division "group A agrees with most".
  const byConsensus = weighed.filter((statement) => statement.agree > statement.disagree).sort((a, b) => b.consensus - a.consensus || a.uri.localeCompare(b.uri));
  const bySpread = weighed
    .filter((statement) => statement.groups.some((line) => line.agree > line.disagree) && statement.groups.some((line) => line.disagree > line.agree))
    .sort((a, b) => b.spread - a.spread || a.uri.localeCompare(b.uri));
  const groupOf = new Map<string, number>();
  for (let u = 0; u < table.userCount; u += 1) if (groupOfUser[u]! >= 0) groupOf.set(users.idAt(u), groupOfUser[u]!);
  const totals = { agree: 0, disagree: 0, pass: 0 };
  for (const statement of statements.values()) {
    totals.agree += statement.agree;
    totals.disagree += statement.disagree;
    totals.pass += statement.pass;
  }
  const thin = [...statements.values()].filter((statement) => statement.votes < THIN_VOTES).sort((a, b) => a.votes - b.votes || a.uri.localeCompare(b.uri));
  return {
    statements,
    groupOf,
    report: {
      computedAt: input.nowMs,
      statements: statements.size,
      participants: table.userCount,
      votes: totals,
      participation: participation(cells),
      groups: bySize.map((group, number) => ({ group: number, size: found.groupSizes[group] ?? 0 })),
      // Without groups (too few votes to find them, or everyone votes alike) everyone is one group.
      consensus: byConsensus.slice(0, LISTED),
      divisive: groupCount > 0 ? bySpread.slice(0, LISTED).map((statement) => ({ ...statement, agreeingGroup: mostAgreeing(statement) })) : [],
      representative: Array.from({ length: groupCount }, (_, group) => ({ group, statements: representativeOf(weighed, group) })),
      thin: thin.slice(0, LISTED).map(({ uri, votes }) => ({ uri, votes })),
      thinCount: thin.length,
    },
  };
}

/** Each statement's votes, per group and in all, and its consensus and spread across the groups. */
function statementLines(cells: RatingCells, posts: IdIndex, groupOfUser: ArrayLike<number>, groupCount: number): Map<string, ReportStatement> {
  const consensus =
    groupCount > 0
      ? groupInformedConsensus(groupEvidence(cells, membershipFromAssignment(groupOfUser, groupCount)), { scope: 'all', minGroups: 1 }).geoMean
      : undefined;
  const lines = new Map<string, ReportStatement>();
  for (let p = 0; p < cells.postCount; p += 1) {
    const groups = Array.from({ length: groupCount }, (_, group) => ({ group, agree: 0, disagree: 0, votes: 0, agreeRate: 0 }));
    let agree = 0;
    let disagree = 0;
    let votes = 0;
    for (let c = cells.postOffsets[p]!; c < cells.postOffsets[p + 1]!; c += 1) {
      const kind = cells.kind[c];
      if (kind === CellKind.Exposed) continue;
      votes += 1;
      if (kind === CellKind.Approval) agree += 1;
      if (kind === CellKind.Negative) disagree += 1;
      const line = groups[groupOfUser[cells.cellUser[c]!]!];
      if (!line) continue;
      line.votes += 1;
      if (kind === CellKind.Approval) line.agree += 1;
      if (kind === CellKind.Negative) line.disagree += 1;
    }
    for (const line of groups) line.agreeRate = (line.agree + 1) / (line.votes + 2);
    const rates = groups.map((line) => line.agreeRate);
    lines.set(posts.idAt(p), {
      uri: posts.idAt(p),
      votes,
      agree,
      disagree,
      pass: votes - agree - disagree,
      consensus: consensus ? consensus[p]! : (agree + 1) / (votes + 2),
      spread: rates.length > 1 ? Math.max(...rates) - Math.min(...rates) : 0,
      groups,
    });
  }
  return lines;
}

function mostAgreeing(statement: ReportStatement): number {
  return statement.groups.reduce((best, line) => (line.agreeRate > (statement.groups[best]?.agreeRate ?? -1) ? line.group : best), 0);
}

/**
 * Polis's representativeness: how much likelier the group is to agree than everyone else,
 * `rate_g / rate_rest`, among statements most of the group agrees with.
 */
function representativeOf(statements: readonly ReportStatement[], group: number): ReportStatement[] {
  const scored = statements.flatMap((statement) => {
    const own = statement.groups[group];
    if (!own || own.agreeRate <= 0.5) return [];
    const rest = statement.groups.filter((line) => line.group !== group);
    const restAgree = rest.reduce((sum, line) => sum + line.agree, 0);
    const restVotes = rest.reduce((sum, line) => sum + line.votes, 0);
    return [{ statement, ratio: own.agreeRate / ((restAgree + 1) / (restVotes + 2)) }];
  });
  return scored
    .sort((a, b) => b.ratio - a.ratio || a.statement.uri.localeCompare(b.statement.uri))
    .slice(0, REPRESENTATIVE)
    .map((entry) => entry.statement);
}

/**
 * Votes per interval (whole hours, at most `PARTICIPATION_POINTS` of them) and the participants so
 * far; a vote is one person's last word on a statement, at the time they gave it.
 */
function participation(cells: RatingCells): ConversationReport['participation'] {
  const sorted: { timeMs: number; actor: number }[] = [];
  for (let c = 0; c < cells.cellCount; c += 1) if (cells.kind[c] !== CellKind.Exposed) sorted.push({ timeMs: cells.decidedMs[c]!, actor: cells.cellUser[c]! });
  if (sorted.length === 0) return [];
  sorted.sort((a, b) => a.timeMs - b.timeMs);
  const first = sorted[0]!.timeMs;
  const span = sorted.at(-1)!.timeMs - first;
  const hour = 3_600_000;
  const step = Math.max(hour, Math.ceil(span / PARTICIPATION_POINTS / hour) * hour);
  const start = Math.floor(first / hour) * hour;
  const points: ConversationReport['participation'] = [];
  const seen = new Set<number>();
  for (const vote of sorted) {
    const atMs = start + Math.floor((vote.timeMs - start) / step) * step;
    seen.add(vote.actor);
    const last = points.at(-1);
    if (last && last.atMs === atMs) {
      last.votes += 1;
      last.participants = seen.size;
    } else points.push({ atMs, votes: 1, participants: seen.size });
  }
  return points;
}
