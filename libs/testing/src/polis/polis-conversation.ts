/**
 * Loader for Polis conversation exports (the compdemocracy/openData folder format), used to check
 * the bridging scorer against what real people agreed on across opinion groups.
 *
 * Data attribution (CC BY 4.0), carried with the data as its licence requires:
 *
 *     Data was gathered using the Polis software (compdemocracy.org/polis) and is sub-licensed under
 *     CC BY 4.0 with Attribution to The Computational Democracy Project. The data and more information
 *     about how the data was collected can be found at the following link(s):
 *     https://compdemocracy.org/case-studies/2017-brexit-consensus
 *     https://compdemocracy.org/case-studies/2014-seattle-15-per-hour
 */
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseCsvRecords } from './csv.js';

type PolisVoteValue = -1 | 0 | 1;

interface PolisComment {
  readonly id: number;
  readonly authorId: number;
  readonly createdMs: number;
  /** Totals as exported in comments.csv (all participants, grouped or not). */
  readonly agrees: number;
  readonly disagrees: number;
  /** 1 accepted, 0 unmoderated, −1 moderated out. */
  readonly moderated: -1 | 0 | 1;
  readonly body: string;
}

interface PolisParticipant {
  readonly id: number;
  /** Polis's opinion group, or null when the participant was not clustered. */
  readonly groupId: number | null;
  /** Final vote per comment id (blank cells, i.e. not seen, are absent). */
  readonly votes: ReadonlyMap<number, PolisVoteValue>;
  /** Time of the latest logged vote per comment id (from votes.csv). */
  readonly voteTimeMs: ReadonlyMap<number, number>;
}

export interface PolisConversation {
  readonly name: string;
  readonly summary: Readonly<Record<string, string>>;
  /** Comments kept (moderated ≠ −1), in ascending id order. */
  readonly comments: readonly PolisComment[];
  readonly excludedCommentIds: readonly number[];
  readonly participants: readonly PolisParticipant[];
  /** Distinct opinion group ids, ascending. */
  readonly groupIds: readonly number[];
}

export class PolisFormatError extends Error {
  override name = 'PolisFormatError';
}

export function loadPolisConversation(dir: string): PolisConversation {
  const read = (file: string): Record<string, string>[] => {
    const path = join(dir, file);
    if (!existsSync(path)) throw new PolisFormatError(`${path} is missing`);
    return parseCsvRecords(readFileSync(path, 'utf8'));
  };
  const int = (value: string | undefined, what: string): number => {
    const n = Number(value);
    if (value === undefined || value.trim() === '' || !Number.isFinite(n)) throw new PolisFormatError(`${dir}: bad ${what}: ${value}`);
    return n;
  };

  const summary: Record<string, string> = {};
  const summaryPath = join(dir, 'summary.csv');
  if (existsSync(summaryPath)) {
    for (const line of readFileSync(summaryPath, 'utf8').split('\n')) {
      const comma = line.indexOf(',');
      if (comma > 0) summary[line.slice(0, comma)] = line.slice(comma + 1).replace(/^"|"$/g, '');
    }
  }

  const allComments = read('comments.csv').map((r): PolisComment => {
    const moderated = int(r['moderated'], 'moderated');
    if (moderated !== -1 && moderated !== 0 && moderated !== 1) throw new PolisFormatError(`${dir}: bad moderated ${moderated}`);
    return {
      id: int(r['comment-id'], 'comment-id'),
      authorId: int(r['author-id'], 'author-id'),
      createdMs: int(r['timestamp'], 'timestamp'),
      agrees: int(r['agrees'], 'agrees'),
      disagrees: int(r['disagrees'], 'disagrees'),
      moderated,
      body: r['comment-body'] ?? '',
    };
  });
  const comments = allComments.filter((c) => c.moderated !== -1).sort((a, b) => a.id - b.id);
  const excludedCommentIds = allComments.filter((c) => c.moderated === -1).map((c) => c.id).sort((a, b) => a - b);
  const kept = new Set(comments.map((c) => c.id));

  const voteTimes = new Map<number, Map<number, number>>();
  const votesPath = join(dir, 'votes.csv');
  if (existsSync(votesPath)) {
    for (const r of read('votes.csv')) {
      const voter = int(r['voter-id'], 'voter-id');
      const comment = int(r['comment-id'], 'comment-id');
      const t = int(r['timestamp'], 'timestamp');
      let times = voteTimes.get(voter);
      if (!times) voteTimes.set(voter, (times = new Map()));
      if (t > (times.get(comment) ?? -Infinity)) times.set(comment, t);
    }
  }

  const groups = new Set<number>();
  const participants = read('participants-votes.csv').map((r): PolisParticipant => {
    const id = int(r['participant'], 'participant');
    const g = r['group-id'] ?? '';
    const groupId = g.trim() === '' ? null : int(g, 'group-id');
    if (groupId !== null) groups.add(groupId);
    const votes = new Map<number, PolisVoteValue>();
    for (const [key, value] of Object.entries(r)) {
      if (!/^\d+$/.test(key) || value.trim() === '') continue;
      const comment = Number(key);
      if (!kept.has(comment)) continue;
      const v = int(value, `vote of ${id} on ${comment}`);
      if (v !== -1 && v !== 0 && v !== 1) throw new PolisFormatError(`${dir}: bad vote ${v}`);
      votes.set(comment, v);
    }
    return { id, groupId, votes, voteTimeMs: voteTimes.get(id) ?? new Map() };
  });

  return {
    name: summary['topic'] ?? dir,
    summary,
    comments,
    excludedCommentIds,
    participants,
    groupIds: [...groups].sort((a, b) => a - b),
  };
}

/**
 * Polis's own group-informed consensus per kept comment (aligned with `comments`):
 * `Π_g (agrees_g + 1) / (votes_g + 2)` over the opinion groups, counting clustered participants only.
 */
export function polisGroupConsensus(conversation: PolisConversation): Float64Array {
  const out = new Float64Array(conversation.comments.length);
  conversation.comments.forEach((comment, i) => {
    let gic = 1;
    for (const g of conversation.groupIds) {
      let agrees = 0;
      let votes = 0;
      for (const p of conversation.participants) {
        if (p.groupId !== g) continue;
        const v = p.votes.get(comment.id);
        if (v === undefined) continue;
        votes++;
        if (v === 1) agrees++;
      }
      gic *= (agrees + 1) / (votes + 2);
    }
    out[i] = gic;
  });
  return out;
}

/**
 * Kept comments (indices) that at least one clustered participant voted on. Polis's consensus of any
 * other comment is its prior alone (`(1/2)^groups`: no vote, no information about consensus), which
 * can place an unseen comment above most of those with evidence.
 */
export function polisCommentsWithGroupVotes(conversation: PolisConversation): number[] {
  return conversation.comments.flatMap((comment, i) =>
    conversation.participants.some((p) => p.groupId !== null && p.votes.has(comment.id)) ? [i] : [],
  );
}

/**
 * Kept comments (indices) that every opinion group voted on (at least one vote from a member of
 * each). Elsewhere some group's factor in Polis's consensus is its prior alone, so the consensus
 * says more about who happened to see the comment than about agreement.
 */
export function polisCommentsEveryGroupVotedOn(conversation: PolisConversation): number[] {
  return conversation.comments.flatMap((comment, i) =>
    conversation.groupIds.every((g) => conversation.participants.some((p) => p.groupId === g && p.votes.has(comment.id))) ? [i] : [],
  );
}

/** Raw agree counts per kept comment among clustered participants: the popularity baseline. */
export function polisAgreeCounts(conversation: PolisConversation, options: { clusteredOnly?: boolean } = {}): Float64Array {
  const clusteredOnly = options.clusteredOnly ?? true;
  const index = new Map(conversation.comments.map((c, i) => [c.id, i]));
  const out = new Float64Array(conversation.comments.length);
  for (const p of conversation.participants) {
    if (clusteredOnly && p.groupId === null) continue;
    for (const [comment, v] of p.votes) if (v === 1) out[index.get(comment)!]!++;
  }
  return out;
}
