import { BridgingInputError } from './errors.js';

/** Ranks 1…n, ties sharing their average rank (the usual convention for Spearman's ρ). */
export function averageRanks(values: ArrayLike<number>): Float64Array {
  const n = values.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => values[a]! - values[b]! || a - b);
  const ranks = new Float64Array(n);
  let i = 0;
  while (i < n) {
    let j = i;
    while (j + 1 < n && values[order[j + 1]!] === values[order[i]!]) j++;
    const rank = (i + j) / 2 + 1;
    for (let t = i; t <= j; t++) ranks[order[t]!] = rank;
    i = j + 1;
  }
  return ranks;
}

/** Spearman's rank correlation: Pearson's correlation of the average ranks. NaN when either side is constant. */
export function spearman(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new BridgingInputError('spearman needs two arrays of the same length');
  for (let i = 0; i < a.length; i++) {
    if (Number.isNaN(a[i]!) || Number.isNaN(b[i]!)) throw new BridgingInputError(`spearman: NaN at ${i}`);
  }
  const ra = averageRanks(a);
  const rb = averageRanks(b);
  const n = a.length;
  const mean = (n + 1) / 2;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    const x = ra[i]! - mean;
    const y = rb[i]! - mean;
    sab += x * y;
    saa += x * x;
    sbb += y * y;
  }
  return sab / Math.sqrt(saa * sbb);
}

/** Indices of the k largest values, best first; ties go to the lower index so the result is deterministic. */
export function topK(values: ArrayLike<number>, k: number): number[] {
  return Array.from({ length: values.length }, (_, i) => i)
    .sort((x, y) => values[y]! - values[x]! || x - y)
    .slice(0, k);
}

/** How many of the k best items by `a` are also among the k best by `b` (0…k). */
export function topKOverlap(a: ArrayLike<number>, b: ArrayLike<number>, k: number): number {
  if (a.length !== b.length) throw new BridgingInputError('topKOverlap needs two arrays of the same length');
  const best = new Set(topK(b, k));
  let overlap = 0;
  for (const i of topK(a, k)) if (best.has(i)) overlap++;
  return overlap;
}
