/** A ranked item the placement can move: its unboosted score and identity. */
export interface Placeable {
  uri: string;
  score: number;
}

export interface Placed<T> {
  item: T;
  /** True when the boost moved the item up: only such items say they are boosted, and only they are charged. */
  boosted: boolean;
  /** Position (1-based) the item had before boosts. */
  unboostedRank: number;
}

/** Credits at which a boost reaches half its largest lift. */
const HALF_LIFT_CREDITS = 100;

/** How much a boost of `credits` lifts a score: `maxLift · c / (c + 100)`, never more than `maxLift`. */
export function liftOf(credits: number, maxLift: number): number {
  return credits > 0 ? (maxLift * credits) / (credits + HALF_LIFT_CREDITS) : 0;
}

/**
 * Places boosted items into a ranking. A boosted item may pass an item only when its lifted score
 * `score + |score| · lift` is above that item's unboosted score, so it never passes a post that
 * scores higher by more than the boost allows; boosted items stand at least `⌈1 / pageShare⌉`
 * positions apart, so any page of `n` items holds at most `⌈n · pageShare⌉` of them; each item is
 * placed once, so a boosted post never appears twice on a page. An item whose turn comes before its
 * boost would move it stays where it is and is not boosted.
 *
 * `ranked` is best first; `lifts` maps the URIs offered a boost to their lift.
 */
export function placeBoosts<T extends Placeable>(ranked: readonly T[], lifts: ReadonlyMap<string, number>, pageShare: number): Placed<T>[] {
  // @NOTE Items are tracked by their index in `ranked` (its unboosted rank − 1): a ranking holds
  // tens of thousands of posts and a few hundred offers, so nothing here is keyed by URI.
  const offers: { index: number; target: number }[] = [];
  if (lifts.size > 0) {
    ranked.forEach((item, index) => {
      const lift = lifts.get(item.uri) ?? 0;
      if (lift > 0) offers.push({ index, target: item.score + Math.abs(item.score) * lift });
    });
  }
  if (offers.length === 0) return ranked.map((item, index) => ({ item, boosted: false, unboostedRank: index + 1 }));
  offers.sort((a, b) => b.target - a.target || a.index - b.index);
  const spacing = pageShare > 0 ? Math.ceil(1 / Math.min(1, pageShare)) : Infinity;
  // A ranking need not be in score order (balanced is not): a raise passes every item between. No
  // raise reaches past the lowest offer, so the table stops there.
  const lowest = offers.reduce((last, { index }) => Math.max(last, index), 0);
  const highest = new RangeMax(ranked.slice(0, lowest).map((item) => item.score));
  const placed = new Uint8Array(ranked.length);
  const out: Placed<T>[] = [];
  let lastBoost = -Infinity;
  let organic = 0;
  let offer = 0;
  while (out.length < ranked.length) {
    while (organic < ranked.length && placed[organic]) organic += 1;
    while (offer < offers.length && placed[offers[offer]!.index]) offer += 1;
    const candidate = offers[offer];
    const raise =
      candidate !== undefined &&
      organic < ranked.length &&
      candidate.index !== organic &&
      out.length - lastBoost >= spacing &&
      candidate.target > highest.between(organic, candidate.index);
    const index = raise ? candidate.index : organic;
    if (raise) lastBoost = out.length;
    placed[index] = 1;
    out.push({ item: ranked[index]!, boosted: raise, unboostedRank: index + 1 });
  }
  return out;
}

/** Highest value in any span of an array, in constant time after an `n log n` table (a sparse table). */
class RangeMax {
  private readonly levels: Float64Array[];

  constructor(values: readonly number[]) {
    this.levels = [Float64Array.from(values)];
    for (let width = 2; width <= values.length; width *= 2) {
      const below = this.levels.at(-1)!;
      const level = new Float64Array(values.length - width + 1);
      for (let i = 0; i < level.length; i += 1) level[i] = Math.max(below[i]!, below[i + width / 2]!);
      this.levels.push(level);
    }
  }

  /** Highest value at indices `[from, to)`; −∞ for an empty span. */
  between(from: number, to: number): number {
    if (to <= from) return -Infinity;
    const level = Math.floor(Math.log2(to - from));
    const values = this.levels[level]!;
    return Math.max(values[from]!, values[to - 2 ** level]!);
  }
}
