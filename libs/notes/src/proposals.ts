/**
 * What the pipeline decides about note records before and after scoring: which proposals are
 * admitted (rate limits), what a rating is worth, and which notes say a post misleads.
 */

/** A rating's `val` as the factorisation reads it: helpful 1, somewhat helpful 0.5, not helpful 0. */
export function ratingValue(helpfulness: string): 0 | 0.5 | 1 | undefined {
  switch (helpfulness) {
    case 'helpful':
      return 1;
    case 'somewhat_helpful':
      return 0.5;
    case 'not_helpful':
      return 0;
    default:
      return undefined;
  }
}

/**
 * The note reasons that say the post itself misleads (X's "misinformed or potentially misleading"
 * classification). `joke_or_satire` and `other` add context without saying so: a helpful note with
 * one of them is shown, but does not move the post in feeds.
 */
const MISLEADING_REASONS: ReadonlySet<string> = new Set([
  'factual_error',
  'altered_media',
  'outdated_information',
  'misrepresentation_or_missing_context',
  'unverified_claim_as_fact',
]);

export function isMisleading(reason: string): boolean {
  return MISLEADING_REASONS.has(reason);
}

export interface Proposal {
  uri: string;
  author: string;
  timeUs: number;
}

const DAY_US = 86_400_000_000;

/**
 * The proposals scored under a rate limit of `perDay` notes per account per UTC day (by the time
 * the relay saw them): each account's first `perDay` live notes of a day are admitted, the rest
 * refused.
 */
export function admitProposals<T extends Proposal>(proposals: readonly T[], perDay: number): { admitted: T[]; refused: T[] } {
  if (!Number.isInteger(perDay) || perDay < 1) throw new RangeError(`proposals per day must be a positive integer, got ${perDay}`);
  const ordered = [...proposals].sort((a, b) => a.timeUs - b.timeUs || (a.uri < b.uri ? -1 : a.uri > b.uri ? 1 : 0));
  const counted = new Map<string, number>();
  const admitted: T[] = [];
  const refused: T[] = [];
  for (const proposal of ordered) {
    const key = `${proposal.author} ${Math.floor(proposal.timeUs / DAY_US)}`;
    const count = (counted.get(key) ?? 0) + 1;
    counted.set(key, count);
    (count <= perDay ? admitted : refused).push(proposal);
  }
  return { admitted, refused };
}
