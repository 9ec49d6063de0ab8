import { BridgingInputError } from './errors.js';

type Side = string | number;

export interface RankedItem {
  readonly id: string;
  readonly score: number;
  /** Opinion side (e.g. from `userSides` on the post's approvers) or community. */
  readonly side: Side;
}

interface BalanceOptions {
  /**
   * Target share of each side, normalised over the sides present. Sides missing from the record
   * get share 0: they appear only once every side with a share has run out. Default `'equal'`.
   */
  shares?: Readonly<Record<string, number>> | 'equal';
  /** Number of leading positions to balance (the top of the feed); the rest follows in score order. Default: all. */
  window?: number;
}

/**
 * Re-ranks so that every prefix of the top of the feed gives each side its share: at each position
 * the side furthest below its quota (share × position) takes its best remaining item, among the
 * sides still within their upper quota ⌈share × position⌉. While every side has items left, each
 * side's count in every prefix of length n stays within ⌊share·n⌋ … ⌈share·n⌉ (checked in the spec,
 * and against a grid of share vectors for up to four sides while writing it). Score order is kept within a side; ties fall back to input
 * order, then to the side seen first, so the result is deterministic.
 */
export function balance<T extends RankedItem>(ranked: readonly T[], options: BalanceOptions = {}): T[] {
  const window = options.window ?? ranked.length;
  if (!(window >= 0)) throw new BridgingInputError('window must be ≥ 0');
  const byScore = ranked
    .map((item, index) => ({ item, index }))
    .sort((a, b) => b.item.score - a.item.score || a.index - b.index)
    .map((x) => x.item);

  const keys: string[] = [];
  const queues = new Map<string, T[]>();
  for (const item of byScore) {
    const key = String(item.side);
    let queue = queues.get(key);
    if (!queue) {
      queue = [];
      queues.set(key, queue);
      keys.push(key);
    }
    queue.push(item);
  }

  const shares = options.shares ?? 'equal';
  const raw = keys.map((key) => {
    const share = shares === 'equal' ? 1 : (shares[key] ?? 0);
    if (!(share >= 0)) throw new BridgingInputError(`share of side ${key} must be ≥ 0`);
    return share;
  });
  const total = raw.reduce((s, x) => s + x, 0);
  const share = raw.map((x) => (total > 0 ? x / total : 0));

  const head = new Array<number>(keys.length).fill(0);
  const taken = new Array<number>(keys.length).fill(0);
  const out: T[] = [];
  const limit = Math.min(window, byScore.length);
  for (let n = 1; n <= limit; n++) {
    let best = -1;
    let bestWithin = false;
    let bestDeficit = 0;
    for (let s = 0; s < keys.length; s++) {
      const queue = queues.get(keys[s]!)!;
      if (head[s]! >= queue.length || share[s] === 0) continue;
      const deficit = share[s]! * n - taken[s]!;
      const within = taken[s]! + 1 <= Math.ceil(share[s]! * n - 1e-9);
      const better =
        best < 0 ||
        (within && !bestWithin) ||
        (within === bestWithin &&
          (deficit > bestDeficit + 1e-12 ||
            (Math.abs(deficit - bestDeficit) <= 1e-12 &&
              queue[head[s]!]!.score > queues.get(keys[best]!)![head[best]!]!.score)));
      if (better) {
        best = s;
        bestWithin = within;
        bestDeficit = deficit;
      }
    }
    if (best < 0) break;
    out.push(queues.get(keys[best]!)![head[best]!++]!);
    taken[best]!++;
  }
  // Past the window, or once the sides with a share have run out: plain score order.
  const rest: T[] = [];
  for (let s = 0; s < keys.length; s++) rest.push(...queues.get(keys[s]!)!.slice(head[s]));
  const position = new Map(byScore.map((item, i) => [item, i]));
  rest.sort((a, b) => position.get(a)! - position.get(b)!);
  return out.concat(rest);
}
