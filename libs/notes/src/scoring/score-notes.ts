import { fitFactorModelSteps, type RatingCells } from '#lib/bridging';
import { runSteps, type Steps } from '#lib/steps';
import { NotesInputError } from '../errors.js';
import type { NoteRating, NoteScore, NotesScoring, NoteStatus, RaterPrior, StatusChange } from './note-scoring.types.js';
import { ratingTableSteps } from './rating-table.js';
import { decideStatus, type StatusRules, statusRules } from './status-rules.js';

export interface ScoreNotesOptions {
  priors?: readonly RaterPrior[];
  seed?: number;
  rules?: Partial<StatusRules>;
  /** Community Notes: λ_i = 0.15 on every intercept and μ. */
  lambdaIntercept?: number;
  /** Community Notes: λ_f = 0.03 on every factor. */
  lambdaFactor?: number;
  /** The fit stops when a sweep lowers the objective by less than this share of it. */
  tolerance?: number;
}

/** Community Notes' regularisation (`matrix_factorization.py`): intercepts penalised 5× the factors. */
const LAMBDA_FACTOR = 0.03;
const LAMBDA_INTERCEPT = 5 * LAMBDA_FACTOR;
const TOLERANCE = 1e-8;

/**
 * Scores notes as Community Notes does: fits `r̂ = μ + i_u + i_n + f_u·f_n` (one dimension) to the
 * ratings by minimising the mean squared error plus λ_i·mean(i²) + λ_f·mean(f²) per parameter family
 * and λ_i·μ², then gives each note a status with the reference's thresholds (see `StatusRules`).
 * `previous` holds the statuses of the last run (a note missing there was needs-more-ratings); every
 * note whose status differs comes out in `changes` with the reason.
 *
 * @NOTE the fit is the project's alternating least squares (`fitFactorModel` in libs/bridging) with
 * Community Notes' averaged regularisation, which is the reference's objective exactly; the reference
 * minimises it with Adam over torch tensors. ALS solves each rater's and note's 2×2 ridge system in
 * closed form, needs no learning rate and stops on the objective, and starts on the leading singular
 * vector instead of a random draw: the same ratings give the same scores.
 * @NOTE orientation: without priors the axis is flipped so that most raters have a negative factor,
 * as the reference does (`_flip_factors_for_identification`). With priors each rater's factor is
 * shrunk toward its prior instead of toward 0 (ridge λ_f·(f_u − prior)²), and the axis keeps the
 * priors' orientation.
 * @NOTE one rating per rater per note: when a rater rated a note more than once, the last one in
 * `ratings` counts (pass them in time order). Ratings of weight 0 are left out.
 */
export function scoreNotes(ratings: readonly NoteRating[], previous: ReadonlyMap<string, NoteStatus>, options: ScoreNotesOptions = {}): NotesScoring {
  return runSteps(scoreNotesSteps(ratings, previous, options));
}

/** `scoreNotes` in steps (`#lib/steps`): the rating table's and the fit's. */
export function* scoreNotesSteps(ratings: readonly NoteRating[], previous: ReadonlyMap<string, NoteStatus>, options: ScoreNotesOptions = {}): Steps<NotesScoring> {
  const rules = statusRules(options.rules);
  const table = yield* ratingTableSteps(ratings);
  const prior = priorColumn(options.priors, table.raterIds);
  const notes: NoteScore[] = [];
  const raters = new Map<string, { intercept: number; factor: number }>();
  const changes: StatusChange[] = [];
  if (table.cells.cellCount > 0) {
    const model = yield* fitFactorModelSteps(table.cells, {
      dimensions: 1,
      lambdaIntercept: options.lambdaIntercept ?? LAMBDA_INTERCEPT,
      lambdaFactor: options.lambdaFactor ?? LAMBDA_FACTOR,
      regularisation: 'mean',
      tolerance: options.tolerance ?? TOLERANCE,
      seed: options.seed ?? 1,
      ratings: { seen: 0 },
      weights: { approval: 1, seen: 1 },
      cellWeights: table.weight,
      userFactorPrior: prior,
    });
    const sign = orientation(model.userFactor, prior);
    const sides = new Int8Array(model.userCount);
    table.raterIds.forEach((rater, u) => {
      const factor = sign * model.userFactor[u]! || 0;
      sides[u] = Math.sign(factor);
      raters.set(rater, { intercept: model.userIntercept[u]!, factor });
    });
    yield;
    const perSide = weightedSides(table.cells, table.weight, sides);
    yield;
    table.noteIds.forEach((note, n) => {
      const intercept = model.postIntercept[n]!;
      const factor = sign * model.postFactor[n]! || 0;
      const raterSides = { negative: perSide.negative[n]!, positive: perSide.positive[n]! };
      const before = previous.get(note) ?? 'needs-more-ratings';
      const decision = decideStatus({ intercept, factor, ratingWeight: perSide.total[n]!, raterSides }, before, rules);
      notes.push({ note, intercept, factor, raters: perSide.raters[n]!, status: decision.status, raterSides });
      if (decision.status !== before) changes.push({ note, from: before, to: decision.status, reason: decision.reason });
    });
  }
  const scored = new Set(notes.map((n) => n.note));
  for (const [note, status] of previous) {
    if (status !== 'needs-more-ratings' && !scored.has(note)) {
      changes.push({ note, from: status, to: 'needs-more-ratings', reason: 'no ratings left' });
    }
  }
  return { notes, raters, changes };
}

/** The priors as one entry per rater (NaN: none); undefined when no rater has one. */
function priorColumn(priors: readonly RaterPrior[] | undefined, raterIds: readonly string[]): Float64Array | undefined {
  if (!priors || priors.length === 0) return undefined;
  const byRater = new Map<string, number>();
  priors.forEach((p, i) => {
    if (typeof p?.rater !== 'string' || typeof p.factor !== 'number' || !Number.isFinite(p.factor)) {
      throw new NotesInputError(`prior ${i} needs a rater and a finite factor`);
    }
    byRater.set(p.rater, p.factor);
  });
  const column = Float64Array.from(raterIds, (rater) => byRater.get(rater) ?? NaN);
  return column.some((f) => !Number.isNaN(f)) ? column : undefined;
}

/**
 * +1 or −1: the sign that puts most raters on the negative side (the reference's convention), or,
 * with priors, the sign that agrees with the priors.
 */
function orientation(userFactor: Float64Array, prior: Float64Array | undefined): 1 | -1 {
  if (prior) {
    let agreement = 0;
    for (let u = 0; u < userFactor.length; u++) if (!Number.isNaN(prior[u]!)) agreement += prior[u]! * userFactor[u]!;
    return agreement < 0 ? -1 : 1;
  }
  // fitFactorModel leaves the majority positive.
  return -1;
}

/** Per note: distinct raters, total rating weight, and the weight from each side of the rater axis. */
function weightedSides(cells: RatingCells, weight: Float32Array, sides: Int8Array): { raters: Uint32Array; total: Float64Array; negative: Float64Array; positive: Float64Array } {
  const P = cells.postCount;
  const total = new Float64Array(P);
  const negative = new Float64Array(P);
  const positive = new Float64Array(P);
  const raters = new Uint32Array(P);
  for (let p = 0; p < P; p++) {
    for (let c = cells.postOffsets[p]!; c < cells.postOffsets[p + 1]!; c++) {
      const w = weight[c]!;
      total[p]! += w;
      const side = sides[cells.cellUser[c]!]!;
      if (side < 0) negative[p]! += w;
      else if (side > 0) positive[p]! += w;
    }
    raters[p] = cells.postOffsets[p + 1]! - cells.postOffsets[p]!;
  }
  return { raters, total, negative, positive };
}
