import { NotesInputError } from '../errors.js';
import type { NoteRating } from './note-scoring.types.js';
import { runSteps, type Steps } from '#lib/steps';
import { ratingTableSteps } from './rating-table.js';

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
/** The raters each rater of a large bucket is compared with: its next ones in the order of their values. */
const NEIGHBOURS = 32;

/**
 * Finds raters that rate in lock-step: near-identical rating vectors over nearly the same notes, as
 * coordinated accounts do (Community Notes treats such raters as one, see "Post Selection
 * Similarity"). Two raters are linked when they share `minShared` notes, their rated notes overlap
 * by `minOverlap` and their values differ on at most `maxDisagreement` of the shared notes; groups
 * are the connected components of those links.
 * @NOTE comparing every pair of raters is quadratic. Raters with the very same vector are merged
 * first; the rest are paired by MinHash banding on their note sets (8 bands of 2 hashes: a pair
 * that overlaps by 0.8 is a candidate with probability 1 − (1 − 0.8²)⁸ ≈ 0.9997) and each candidate
 * pair is checked exactly, in the first band where it collides only. Raters who rate the same
 * notes share a bucket in every band, and thousands of them would be millions of pairs: a bucket
 * of more than `NEIGHBOURS + 1` raters is sorted by their values and each is compared with its
 * next `NEIGHBOURS` there (raters in lock-step have nearly the same values, so they sort side by
 * side); a smaller bucket is compared pair by pair. Ratings are deduplicated per (rater, note),
 * the last one counting; ratings of weight 0 are left out.
 */
export function lockstepGroups(ratings: readonly NoteRating[], options: LockstepOptions = {}): LockstepGroups {
  return runSteps(lockstepGroupsSteps(ratings, options));
}

/** Raters, or pairs of raters compared, between two steps of `lockstepGroupsSteps`. */
const STEP_WORK = 4_096;

/** `lockstepGroups` in steps (`#lib/steps`): the rating table's, then one every `STEP_WORK` raters or comparisons. */
export function* lockstepGroupsSteps(ratings: readonly NoteRating[], options: LockstepOptions = {}): Steps<LockstepGroups> {
  const minShared = options.minShared ?? 5;
  const minOverlap = options.minOverlap ?? 0.8;
  const maxDisagreement = options.maxDisagreement ?? 0.05;
  if (!Number.isInteger(minShared) || minShared < 1) throw new NotesInputError('minShared must be a positive integer');
  if (!(minOverlap >= 0 && minOverlap <= 1) || !(maxDisagreement >= 0 && maxDisagreement <= 1)) {
    throw new NotesInputError('minOverlap and maxDisagreement must lie in [0, 1]');
  }
  const { raterIds, cells } = yield* ratingTableSteps(ratings);
  const { userOffsets, userCells, cellPost, strength } = cells;
  // Each rater's notes ascending (cells are in note order) and values, as views into two columns.
  const noteOf = new Uint32Array(cells.cellCount);
  const valueOf = new Float32Array(cells.cellCount);
  for (let j = 0; j < cells.cellCount; j++) {
    noteOf[j] = cellPost[userCells[j]!]!;
    valueOf[j] = strength[userCells[j]!]!;
  }
  const size = (u: number): number => userOffsets[u + 1]! - userOffsets[u]!;
  const parent = Int32Array.from(raterIds, (_, u) => u);
  const find = (u: number): number => {
    while (parent[u] !== u) u = parent[u] = parent[parent[u]!]!;
    return u;
  };
  const union = (a: number, b: number): void => {
    const ra = find(a);
    const rb = find(b);
    if (ra !== rb) parent[Math.max(ra, rb)] = Math.min(ra, rb);
  };
  // The very same vector: one representative each, with its vector's key (its values in note order).
  const byVector = new Map<string, number>();
  const representatives: number[] = [];
  const vectorKeys: string[] = [];
  for (let u = 0; u < raterIds.length; u++) {
    if (u % STEP_WORK === 0) yield;
    if (size(u) < minShared) continue;
    const from = userOffsets[u]!;
    const to = userOffsets[u + 1]!;
    let key = '';
    for (let j = from; j < to; j++) key += `${noteOf[j]}:${valueOf[j]},`;
    const first = byVector.get(key);
    if (first === undefined) {
      byVector.set(key, u);
      representatives.push(u);
      vectorKeys.push(key);
    } else union(first, u);
  }
  // Candidates by MinHash banding on the note sets; buckets hold indices into `representatives`.
  const width = BANDS * ROWS;
  const hashes = noteHashes(cells.postCount, width);
  const signatures = new Uint32Array(representatives.length * width).fill(0xffffffff);
  const buckets = new Map<string, number[]>();
  for (const [r, u] of representatives.entries()) {
    if (r % STEP_WORK === 0) yield;
    const signature = signatures.subarray(r * width, (r + 1) * width);
    for (let j = userOffsets[u]!; j < userOffsets[u + 1]!; j++) {
      const at = noteOf[j]! * width;
      for (let h = 0; h < width; h++) if (hashes[at + h]! < signature[h]!) signature[h] = hashes[at + h]!;
    }
    for (let b = 0; b < BANDS; b++) {
      const key = `${b}:${signature.subarray(b * ROWS, (b + 1) * ROWS).join(',')}`;
      const bucket = buckets.get(key);
      if (bucket) bucket.push(r);
      else buckets.set(key, [r]);
    }
  }
  /** Whether two representatives share a bucket of a band before `band` (the pair was a candidate there). */
  const collidedBefore = (x: number, y: number, band: number): boolean => {
    for (let b = 0; b < band; b++) {
      let same = true;
      for (let h = b * ROWS; h < (b + 1) * ROWS && same; h++) same = signatures[x * width + h] === signatures[y * width + h];
      if (same) return true;
    }
    return false;
  };
  let work = 0;
  for (const [key, bucket] of buckets) {
    const band = Number(key.slice(0, key.indexOf(':')));
    if (bucket.length > NEIGHBOURS + 1) bucket.sort((x, y) => (vectorKeys[x]! < vectorKeys[y]! ? -1 : 1));
    for (let i = 0; i < bucket.length; i++) {
      work += Math.min(bucket.length - i, NEIGHBOURS + 1);
      if (work >= STEP_WORK) {
        work = 0;
        yield;
      }
      for (let k = i + 1; k < Math.min(bucket.length, i + 1 + NEIGHBOURS); k++) {
        const x = bucket[i]!;
        const y = bucket[k]!;
        const a = representatives[x]!;
        const b = representatives[y]!;
        if (find(a) === find(b) || collidedBefore(x, y, band)) continue;
        if (inLockstep(a, b)) union(a, b);
      }
    }
  }

  function inLockstep(a: number, b: number): boolean {
    let i = userOffsets[a]!;
    let j = userOffsets[b]!;
    const endA = userOffsets[a + 1]!;
    const endB = userOffsets[b + 1]!;
    let shared = 0;
    let differ = 0;
    while (i < endA && j < endB) {
      if (noteOf[i]! < noteOf[j]!) i++;
      else if (noteOf[i]! > noteOf[j]!) j++;
      else {
        shared++;
        if (valueOf[i] !== valueOf[j]) differ++;
        i++;
        j++;
      }
    }
    return shared >= minShared && shared / (size(a) + size(b) - shared) >= minOverlap && differ <= maxDisagreement * shared;
  }

  const members = new Map<number, string[]>();
  for (let u = 0; u < raterIds.length; u++) {
    if (size(u) < minShared) continue;
    const root = find(u);
    const group = members.get(root);
    if (group) group.push(raterIds[u]!);
    else members.set(root, [raterIds[u]!]);
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

/** `count` independent 32-bit hashes of each note index (multiply-xorshift mixes), row-major by note. */
function noteHashes(notes: number, count: number): Uint32Array {
  const out = new Uint32Array(notes * count);
  for (let n = 0; n < notes; n++) {
    for (let j = 0; j < count; j++) {
      let x = (Math.imul(n + 1, 0x85ebca6b) ^ Math.imul(j + 1, 0x9e3779b9)) >>> 0;
      x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
      x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
      out[n * count + j] = (x ^ (x >>> 16)) >>> 0;
    }
  }
  return out;
}
