/**
 * What a user did with a post. Values are stable: they are stored in `Uint8Array` columns.
 * `Seen` is exposure only (a served impression, or `interactionSeen` without any approval).
 */
export const Signal = {
  Like: 0,
  Repost: 1,
  Reply: 2,
  Quote: 3,
  Seen: 4,
  RequestLess: 5,
  RequestMore: 6,
} as const;

export type Signal = (typeof Signal)[keyof typeof Signal];

export const SIGNAL_COUNT = 7;

/**
 * Graded approval strength per signal. Positive values are approvals, a negative value is an
 * explicit disapproval; `Seen` has no weight because it is exposure only.
 * @NOTE a reply is weak approval (0.5): replies are often disagreement, but they are still
 * engagement from someone who chose to answer rather than scroll past.
 */
export interface ApprovalWeights {
  like: number;
  repost: number;
  reply: number;
  quote: number;
  requestMore: number;
  requestLess: number;
}

const DEFAULT_APPROVAL_WEIGHTS: Readonly<ApprovalWeights> = Object.freeze({
  like: 1,
  repost: 1.2,
  reply: 0.5,
  quote: 0.8,
  requestMore: 1,
  requestLess: -1,
});

/** The weights as a lookup table indexed by `Signal` (Seen → 0). */
export function approvalWeightTable(weights: Partial<ApprovalWeights> = {}): Float64Array {
  const w = { ...DEFAULT_APPROVAL_WEIGHTS, ...weights };
  const table = new Float64Array(SIGNAL_COUNT);
  table[Signal.Like] = w.like;
  table[Signal.Repost] = w.repost;
  table[Signal.Reply] = w.reply;
  table[Signal.Quote] = w.quote;
  table[Signal.Seen] = 0;
  table[Signal.RequestLess] = w.requestLess;
  table[Signal.RequestMore] = w.requestMore;
  return table;
}
