import { NotesInputError } from '../errors.js';
import type { NoteRating } from './note-scoring.types.js';

/**
 * The weight of a rating from an account of the given age: `weight` (default 0.25) below
 * `minAgeMs`, 1 from then on. An unknown creation time counts as young: age has to be shown.
 */
export function youngAccountWeight(accountCreatedAtMs: number | undefined, nowMs: number, options: { minAgeMs: number; weight?: number }): number {
  const { minAgeMs, weight = 0.25 } = options;
  if (!Number.isFinite(minAgeMs) || minAgeMs < 0) throw new NotesInputError('minAgeMs must be a finite number ≥ 0');
  if (!Number.isFinite(weight) || weight < 0 || weight > 1) throw new NotesInputError('the weight of a young account must lie in [0, 1]');
  if (!Number.isFinite(nowMs)) throw new NotesInputError('nowMs must be a finite number');
  if (accountCreatedAtMs === undefined || !Number.isFinite(accountCreatedAtMs)) return weight;
  return nowMs - accountCreatedAtMs < minAgeMs ? weight : 1;
}

export interface LockstepOptions {
  /** Raters are compared only over at least this many shared notes. Default 5. */
  minShared?: number;
  /** The share of the union of their notes both must have rated (Jaccard): rating the same notes. Default 0.8. */
  minOverlap?: number;
  /** The share of shared notes on which their values may differ. Default 0.05. */
  maxDisagreement?: number;
}

export interface LockstepGroups {
  /** Raters that rate in lock-step, each group with two or more members. */
  groups: string[][];
  /** 1/size for each member of a group, so that a group weighs as one rater; raters not listed weigh 1. */
  weights: Map<string, number>;
}

const BANDS = 8;
const ROWS = 2;

/**
 * Finds raters that rate in lock-step: near-identical rating vectors over nearly the same notes, as
 * coordinated accounts do (Community Notes treats such raters as one, see "Post Selection
 * Similarity"). Two raters are linked when they share `minShared` notes, their rated notes overlap
 * by `minOverlap` and their values differ on at most `maxDisagreement` of the shared notes; groups
 * are the connected components of those links.
 * @NOTE comparing every pair of raters is quadratic. Raters with the very same vector are merged
 * first; the rest are paired by MinHash banding on their note sets (8 bands of 2 hashes: a pair
 * that overlaps by 0.8 is a candidate with probability 1 − (1 − 0.8²)⁸ ≈ 0.9997) and each candidate
 * pair is checked exactly. Ratings are deduplicated per (rater, note), the last one counting.
 */
export function lockstepGroups(ratings: readonly NoteRating[], options: LockstepOptions = {}): LockstepGroups {
  const minShared = options.minShared ?? 5;
  const minOverlap = options.minOverlap ?? 0.8;
  const maxDisagreement = options.maxDisagreement ?? 0.05;
  if (!Number.isInteger(minShared) || minShared < 1) throw new NotesInputError('minShared must be a positive integer');
  if (!(minOverlap >= 0 && minOverlap <= 1) || !(maxDisagreement >= 0 && maxDisagreement <= 1)) {
    throw new NotesInputError('minOverlap and maxDisagreement must lie in [0, 1]');
  }
  const vectors = raterVectors(ratings);
  const raters = [...vectors.keys()].filter((r) => vectors.get(r)!.size >= minShared);
  const parent = new Map<string, string>(raters.map((r) => [r, r]));
  const find = (r: string): string => {
    let root = r;
    while (parent.get(root) !== root) root = parent.get(root)!;
    parent.set(r, root);
    return root;
  };
  const union = (a: string, b: string): void => {
    const ra = find(a);
    const rb = find(b);
    if (ra !== rb) parent.set(ra < rb ? rb : ra, ra < rb ? ra : rb);
  };
  // The very same vector: one representative each.
  const byVector = new Map<string, string>();
  const representatives: string[] = [];
  for (const rater of raters) {
    const key = [...vectors.get(rater)!].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([n, v]) => `${n}\u0000${v}`).join('\u0001');
    const first = byVector.get(key);
    if (first === undefined) {
      byVector.set(key, rater);
      representatives.push(rater);
    } else union(first, rater);
  }
  // Candidates by MinHash banding, each checked exactly.
  const buckets = new Map<string, string[]>();
  for (const rater of representatives) {
    const signature = minHashes(vectors.get(rater)!.keys(), BANDS * ROWS);
    for (let b = 0; b < BANDS; b++) {
      const key = `${b}:${signature.slice(b * ROWS, (b + 1) * ROWS).join(',')}`;
      const bucket = buckets.get(key);
      if (bucket) bucket.push(rater);
      else buckets.set(key, [rater]);
    }
  }
  const checked = new Set<string>();
  for (const bucket of buckets.values()) {
    for (let i = 0; i < bucket.length; i++) {
      for (let j = i + 1; j < bucket.length; j++) {
        const a = bucket[i]!;
        const b = bucket[j]!;
        const pair = a < b ? `${a}\u0000${b}` : `${b}\u0000${a}`;
        if (checked.has(pair)) continue;
        checked.add(pair);
        if (inLockstep(vectors.get(a)!, vectors.get(b)!, minShared, minOverlap, maxDisagreement)) union(a, b);
      }
    }
  }
  const members = new Map<string, string[]>();
  for (const rater of raters) {
    const root = find(rater);
    const group = members.get(root);
    if (group) group.push(rater);
    else members.set(root, [rater]);
  }
  const groups = [...members.values()].filter((g) => g.length > 1).map((g) => g.sort());
  const weights = new Map<string, number>();
  for (const group of groups) for (const rater of group) weights.set(rater, 1 / group.length);
  return { groups: groups.sort((a, b) => (a[0]! < b[0]! ? -1 : 1)), weights };
}

/** The ratings with each rater's weight multiplied in (raters missing from `weights` keep theirs). */
export function withRaterWeights(ratings: readonly NoteRating[], weights: ReadonlyMap<string, number>): NoteRating[] {
  return ratings.map((r) => {
    const w = weights.get(r.rater);
    return w === undefined ? r : { ...r, weight: (r.weight ?? 1) * w };
  });
}

function raterVectors(ratings: readonly NoteRating[]): Map<string, Map<string, number>> {
  const vectors = new Map<string, Map<string, number>>();
  ratings.forEach((r, i) => {
    if (typeof r?.rater !== 'string' || typeof r.note !== 'string') throw new NotesInputError(`rating ${i} needs a rater and a note`);
    let vector = vectors.get(r.rater);
    if (!vector) vectors.set(r.rater, (vector = new Map()));
    vector.set(r.note, r.value);
  });
  return vectors;
}

function inLockstep(a: Map<string, number>, b: Map<string, number>, minShared: number, minOverlap: number, maxDisagreement: number): boolean {
  const [small, large] = a.size <= b.size ? [a, b] : [b, a];
  let shared = 0;
  let differ = 0;
  for (const [note, value] of small) {
    const other = large.get(note);
    if (other === undefined) continue;
    shared++;
    if (other !== value) differ++;
  }
  const union = a.size + b.size - shared;
  return shared >= minShared && shared / union >= minOverlap && differ <= maxDisagreement * shared;
}

/** `count` MinHash values of a set of strings (FNV-1a, then one multiply-xorshift mix per hash). */
function minHashes(items: Iterable<string>, count: number): Uint32Array {
  const mins = new Uint32Array(count).fill(0xffffffff);
  for (const item of items) {
    let h = 0x811c9dc5;
    for (let i = 0; i < item.length; i++) h = Math.imul(h ^ item.charCodeAt(i), 0x01000193);
    for (let j = 0; j < count; j++) {
      let x = (h ^ Math.imul(j + 1, 0x9e3779b9)) >>> 0;
      x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
      x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
      x = (x ^ (x >>> 16)) >>> 0;
      if (x < mins[j]!) mins[j] = x;
    }
  }
  return mins;
}
