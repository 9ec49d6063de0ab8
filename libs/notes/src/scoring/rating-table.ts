import { CellKind, indexCells, type RatingCells } from '#lib/bridging';
import type { Steps } from '#lib/steps';
import { NotesInputError } from '../errors.js';
import type { NoteRating } from './note-scoring.types.js';

export interface RatingTable {
  raterIds: string[];
  noteIds: string[];
  cells: RatingCells;
  /** Each cell's rating weight, in cell order. */
  weight: Float32Array;
}

/** Ratings between two steps of `ratingTableSteps`. */
const STEP_RATINGS = 16_384;

/**
 * Validates the ratings, keeps the last rating per (rater, note), and lays them out as cells sorted
 * by note, then rater; in steps (`#lib/steps`), one every `STEP_RATINGS` ratings or cells.
 */
export function* ratingTableSteps(ratings: readonly NoteRating[]): Steps<RatingTable> {
  if (!Array.isArray(ratings)) throw new NotesInputError('ratings must be an array');
  const raterIndex = new Map<string, number>();
  const noteIndex = new Map<string, number>();
  const raterIds: string[] = [];
  const noteIds: string[] = [];
  const intern = (index: Map<string, number>, ids: string[], id: string): number => {
    let i = index.get(id);
    if (i === undefined) {
      i = ids.length;
      index.set(id, i);
      ids.push(id);
    }
    return i;
  };
  const raterOf = new Uint32Array(ratings.length);
  const noteOf = new Uint32Array(ratings.length);
  for (const [i, rating] of ratings.entries()) {
    if (i % STEP_RATINGS === 0) yield;
    checkRating(rating, i);
    raterOf[i] = intern(raterIndex, raterIds, rating.rater);
    noteOf[i] = intern(noteIndex, noteIds, rating.note);
  }
  // One rating per rater per note, the last one; keys note·R + rater sort into cell order.
  const R = raterIds.length;
  const last = new Map<number, number>();
  for (let i = 0; i < ratings.length; i++) {
    if (i % STEP_RATINGS === 0) yield;
    last.set(noteOf[i]! * R + raterOf[i]!, i);
  }
  const keys = new Float64Array(last.size);
  let count = 0;
  for (const [key, i] of last) if ((ratings[i]!.weight ?? 1) > 0) keys[count++] = key;
  yield;
  const sorted = keys.subarray(0, count).sort();
  yield;
  const cellUser = new Uint32Array(count);
  const cellPost = new Uint32Array(count);
  const kind = new Uint8Array(count);
  const strength = new Float32Array(count);
  const weight = new Float32Array(count);
  for (let c = 0; c < count; c++) {
    if (c % STEP_RATINGS === 0) yield;
    const key = sorted[c]!;
    const rating = ratings[last.get(key)!]!;
    cellPost[c] = Math.floor(key / R);
    cellUser[c] = key - cellPost[c]! * R;
    kind[c] = rating.value > 0 ? CellKind.Approval : CellKind.Seen;
    strength[c] = rating.value;
    weight[c] = rating.weight ?? 1;
  }
  yield;
  const cells = indexCells(R, noteIds.length, { cellUser, cellPost, kind, strength, decidedMs: new Float64Array(count) });
  yield;
  return { raterIds, noteIds, cells, weight };
}

function checkRating(rating: NoteRating, i: number): void {
  if (typeof rating !== 'object' || rating === null) throw new NotesInputError(`rating ${i} is not an object`);
  if (typeof rating.rater !== 'string' || rating.rater === '') throw new NotesInputError(`rating ${i} has no rater`);
  if (typeof rating.note !== 'string' || rating.note === '') throw new NotesInputError(`rating ${i} has no note`);
  if (rating.value !== 0 && rating.value !== 0.5 && rating.value !== 1) throw new NotesInputError(`rating ${i} has value ${String(rating.value)}; expected 0, 0.5 or 1`);
  const w = rating.weight;
  if (w !== undefined && (typeof w !== 'number' || !Number.isFinite(w) || w < 0)) throw new NotesInputError(`rating ${i} has weight ${String(w)}; expected a finite number ≥ 0`);
}

