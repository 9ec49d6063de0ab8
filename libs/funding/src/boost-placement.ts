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
  const rankOf = new Map(ranked.map((item, index) => [item.uri, index + 1]));
  const offers = ranked
    .filter((item) => (lifts.get(item.uri) ?? 0) > 0)
    .map((item) => ({ item, target: item.score + Math.abs(item.score) * lifts.get(item.uri)! }))
    .sort((a, b) => b.target - a.target || rankOf.get(a.item.uri)! - rankOf.get(b.item.uri)!);
  const spacing = pageShare > 0 ? Math.ceil(1 / Math.min(1, pageShare)) : Infinity;
  // A ranking need not be in score order (balanced is not): a raise passes every item between.
  const highest = new RangeMax(ranked.map((item) => item.score));
  const placed = new Set<string>();
  const out: Placed<T>[] = [];
  let lastBoost = -Infinity;
  let organic = 0;
  let offer = 0;
  while (out.length < ranked.length) {
    while (organic < ranked.length && placed.has(ranked[organic]!.uri)) organic += 1;
    while (offer < offers.length && placed.has(offers[offer]!.item.uri)) offer += 1;
    const next = ranked[organic];
    const candidate = offers[offer];
    const raise =
      candidate !== undefined &&
      next !== undefined &&
      candidate.item.uri !== next.uri &&
      out.length - lastBoost >= spacing &&
      candidate.target > highest.between(organic, rankOf.get(candidate.item.uri)! - 1);
    const item = raise ? candidate.item : next!;
    if (raise) lastBoost = out.length;
    placed.add(item.uri);
    out.push({ item, boosted: raise, unboostedRank: rankOf.get(item.uri)! });
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
