import { runSteps, type Steps } from '#lib/steps';
import { BridgingInputError, FactorModelError } from './errors.js';
import { seededRandom } from './random.js';
import { CellKind, type RatingCells } from './rating-cells.js';

/**
 * Community Notes' bridging model: `r̂_up = μ + i_u + i_p + f_u·f_p`, fitted by minimising
 * `Σ w_up (r_up − r̂_up)² + λ_i(Σi_u² + Σi_p² + μ²) + λ_f(Σ|f_u|² + Σ|f_p|²)`.
 * The factor f soaks up approval explained by the opinion axis; the post intercept i_p is the
 * approval left over — approval from both sides — and is the bridging score.
 */
export interface FactorModel {
  readonly dimensions: number;
  readonly userCount: number;
  readonly postCount: number;
  readonly mu: number;
  readonly userIntercept: Float64Array;
  /** Row-major `userCount × dimensions`. */
  readonly userFactor: Float64Array;
  readonly postIntercept: Float64Array;
  /** Row-major `postCount × dimensions`. */
  readonly postFactor: Float64Array;
  readonly iterations: number;
  readonly converged: boolean;
  /** Weighted root-mean-square error of the fit on the rated cells. */
  readonly rmse: number;
}

/** The rating (target value) of each cell kind; an approval's rating is its graded strength. */
interface CellRatings {
  seen: number;
  negative: number;
  exposed: number;
}

/** The weight of each cell kind in the squared error; 0 leaves that kind out of the fit. */
interface CellWeights {
  approval: number;
  seen: number;
  negative: number;
  exposed: number;
}

export interface FactorModelOptions {
  dimensions?: number;
  lambdaIntercept?: number;
  lambdaFactor?: number;
  /** A safety bound on sweeps; the fit stops on convergence (`tolerance`) long before it on real data. */
  maxIterations?: number;
  /** Stops when one sweep lowers the objective by less than this share of it. Default 1e-6. */
  tolerance?: number;
  /** Only breaks ties in the starting vector of the power iteration and seeds the factors of dimensions past the first. */
  seed?: number;
  /** Standard deviation of the random initial factors of dimensions past the first. */
  initScale?: number;
  ratings?: Partial<CellRatings>;
  weights?: Partial<CellWeights>;
  /** A model fitted earlier on the same (append-only) indices: its parameters are the starting point. */
  warmStart?: FactorModel;
  /**
   * `'mean'` (default): mean squared error plus λ × the mean square of each parameter family, as
   * the Community Notes code computes it; `'sum'`: the sums written in the Birdwatch paper.
   */
  regularisation?: 'mean' | 'sum';
  /** A weight per cell (in cell order), multiplied into its kind's weight: how much each rating counts. */
  cellWeights?: ArrayLike<number>;
  /**
   * A prior per user on the first factor dimension (NaN: none): the user's factor is shrunk toward
   * it instead of toward 0, so a user with few ratings keeps the position known from elsewhere.
   */
  userFactorPrior?: Float64Array;
}

/**
 * @NOTE rating scale (Polis analogy: agree = 1, pass = seen, disagree = requestLess):
 * approval → its strength (like = 1), seen → 0, requestLess → −1 with weight 1. A negative rating
 * rather than "0 with more weight" keeps three distinguishable levels, so a post its opponents push
 * away moves the opinion axis harder than one they merely scroll past. On the Polis data it finds the
 * groups better: side-balanced intercept vs Polis GIC ρ 0.879 (Seattle) and 0.978 (Brexit) with −1,
 * against 0.788 and 0.972 with 0. Inferred exposure (no row of the user at all) is left out by
 * default: an estimate is not an observation.
 */
const DEFAULT_CELL_RATINGS: Readonly<CellRatings> = Object.freeze({ seen: 0, negative: -1, exposed: 0 });
const DEFAULT_CELL_WEIGHTS: Readonly<CellWeights> = Object.freeze({ approval: 1, seen: 1, negative: 1, exposed: 0 });

const DEFAULT_FACTOR_OPTIONS = Object.freeze({
  dimensions: 1,
  lambdaIntercept: 0.15,
  lambdaFactor: 0.03,
  maxIterations: 1_000,
  tolerance: 1e-6,
  seed: 1,
  initScale: 0.1,
  regularisation: 'mean',
});

/**
 * Fits by alternating least squares: with the posts fixed, each user's (i_u, f_u) is a small ridge
 * regression solved in closed form (2×2 in one dimension), then the same for each post, then μ.
 * Each sweep is O(cells · k²) and never increases the objective; the fit stops when a sweep lowers
 * it by less than `tolerance` of itself. A cold start begins on the leading singular vector of the
 * centred ratings (`leadingAxis`), so the result depends on the data, not on a seed.
 * @NOTE regularisation defaults to the averaged form Community Notes runs (MSE + λ·mean(param²)):
 * multiplied out, each user's ridge is λ·ratings/users and each post's λ·ratings/posts, so a user
 * with a handful of ratings is shrunk firmly. The paper's summed form (`'sum'`) with the same λ
 * barely regularises: on sparse synthetic data (8 ratings per user) it overfitted (≈70% of users on
 * their planted side against ≈83% averaged; 2–4 of 20 planted bridging posts in the top 20 against
 * 14–20) and on Polis Brexit it had not converged after 200 sweeps where the averaged form needs ~50.
 * @NOTE a fixed number of sweeps from small random factors left the fit wherever it was when the
 * count ran out: on the scoring bench's 1 M interactions, 40 sweeps gave 2 to 18 of 20 planted
 * bridging posts in the top 20 depending on the seed. Stopping on the objective and starting on the
 * data's own leading axis removes both the seed and the cut-off from the result. The tail of ALS
 * converges linearly (each tenfold tighter tolerance adds about as many sweeps again); 1e-6 is where
 * the order stops moving: on 15-per-hour-seattle the side-balanced intercept's ρ against Polis is
 * 0.858 at 1e-5 and 0.879 at 1e-6, 1e-7 and 1e-8.
 */
export function fitFactorModel(cells: RatingCells, options: FactorModelOptions = {}): FactorModel {
  return runSteps(fitFactorModelSteps(cells, options));
}

/** `fitFactorModel` in steps (`#lib/steps`): one after each half-sweep and each power iteration of a cold start. */
export function* fitFactorModelSteps(cells: RatingCells, options: FactorModelOptions = {}): Steps<FactorModel> {
  const o = { ...DEFAULT_FACTOR_OPTIONS, ...options };
  const k = o.dimensions;
  if (!Number.isInteger(k) || k < 1) throw new BridgingInputError('dimensions must be a positive integer');
  const targets = cellTargets(cells, { ...DEFAULT_CELL_RATINGS, ...options.ratings }, { ...DEFAULT_CELL_WEIGHTS, ...options.weights }, options.cellWeights);
  const prior = options.userFactorPrior;
  if (prior && prior.length !== cells.userCount) throw new BridgingInputError('userFactorPrior must have one entry per user');
  yield;
  const warmStart = options.warmStart && usableWarmStart(options.warmStart, cells, k);
  const { userCount: U, postCount: P } = cells;
  // Nothing to fit: every parameter at its penalty's minimum, 0 (and a sweep would divide 0 by 0).
  if (!(targets.weightSum > 0)) return zeroModel(k, U, P);
  const penalty = penalties(cells, targets.weightSum, o);
  const params = yield* initialParameters(cells, targets, penalty, o, warmStart);
  const userSolver = new RidgeSolver(k, penalty.liU, penalty.lfU, prior);
  const postSolver = new RidgeSolver(k, penalty.liP, penalty.lfP);
  let iterations = 0;
  let converged = false;
  let objective = Infinity;
  while (iterations < o.maxIterations) {
    iterations++;
    solveUsers(cells, targets, params, userSolver);
    yield;
    const residuals = solvePosts(cells, targets, params, postSolver);
    const next = solveMu(targets, params, penalty, prior, residuals);
    yield;
    // Never a model to keep or to start from: a NaN objective would also never converge.
    if (!Number.isFinite(next)) throw new FactorModelError(`the fit's objective is not finite after ${iterations} sweeps`);
    const decrease = objective - next;
    objective = next;
    if (decrease <= o.tolerance * Math.max(next, Number.MIN_VALUE)) {
      converged = true;
      break;
    }
  }
  const rmse = weightedRmse(cells, targets, params);
  const [userIntercept, userFactor] = unpack(params.user, U, k);
  const [postIntercept, postFactor] = unpack(params.post, P, k);
  orientFactors(cells, userFactor, postFactor, U, P, k);
  return {
    dimensions: k,
    userCount: U,
    postCount: P,
    mu: params.mu,
    userIntercept,
    userFactor,
    postIntercept,
    postFactor,
    iterations,
    converged,
    rmse,
  };
}

/** Targets and weights per cell in post order, and copies in user order (sequential access in both sweeps). */
interface CellTargets {
  rating: Float32Array;
  weight: Float32Array;
  uPost: Uint32Array;
  uRating: Float32Array;
  uWeight: Float32Array;
  weightSum: number;
  ratingSum: number;
}

function cellTargets(cells: RatingCells, ratings: CellRatings, weights: CellWeights, cellWeights: ArrayLike<number> | undefined): CellTargets {
  const C = cells.cellCount;
  if (cellWeights && cellWeights.length !== C) throw new BridgingInputError('cellWeights must have one entry per cell');
  const rating = new Float32Array(C);
  const weight = new Float32Array(C);
  let weightSum = 0;
  let ratingSum = 0;
  for (let c = 0; c < C; c++) {
    let r: number;
    let w: number;
    switch (cells.kind[c]) {
      case CellKind.Approval:
        r = cells.strength[c]!;
        w = weights.approval;
        break;
      case CellKind.Seen:
        r = ratings.seen;
        w = weights.seen;
        break;
      case CellKind.Negative:
        r = ratings.negative;
        w = weights.negative;
        break;
      default:
        r = ratings.exposed;
        w = weights.exposed;
    }
    if (cellWeights) {
      const cw = cellWeights[c]!;
      if (!(cw >= 0) || !Number.isFinite(cw)) throw new BridgingInputError(`cellWeights[${c}] must be a finite number ≥ 0`);
      w *= cw;
    }
    rating[c] = r;
    weight[c] = w;
    weightSum += w;
    ratingSum += w * r;
  }
  const uPost = new Uint32Array(C);
  const uRating = new Float32Array(C);
  const uWeight = new Float32Array(C);
  for (let j = 0; j < C; j++) {
    const c = cells.userCells[j]!;
    uPost[j] = cells.cellPost[c]!;
    uRating[j] = rating[c]!;
    uWeight[j] = weight[c]!;
  }
  return { rating, weight, uPost, uRating, uWeight, weightSum, ratingSum };
}

/**
 * The least ridge penalty of a row: a row whose cells all weigh 0 (or a fit asked for no
 * regularisation) still has a system with one solution, 0 where nothing is known, not 0/0.
 */
const MIN_PENALTY = 1e-9;

/** Ridge penalties per user, per post and on μ (see the regularisation note on `fitFactorModel`). */
interface Penalties {
  liU: number;
  lfU: number;
  liP: number;
  lfP: number;
  liMu: number;
}

function penalties(cells: RatingCells, weightSum: number, o: { lambdaIntercept: number; lambdaFactor: number; regularisation: string }): Penalties {
  let ratedUsers = 0;
  let ratedPosts = 0;
  for (let u = 0; u < cells.userCount; u++) if (cells.userOffsets[u + 1]! > cells.userOffsets[u]!) ratedUsers++;
  for (let p = 0; p < cells.postCount; p++) if (cells.postOffsets[p + 1]! > cells.postOffsets[p]!) ratedPosts++;
  if (!(o.lambdaIntercept >= 0 && o.lambdaFactor >= 0 && Number.isFinite(o.lambdaIntercept + o.lambdaFactor))) {
    throw new BridgingInputError('lambdaIntercept and lambdaFactor must be finite numbers ≥ 0');
  }
  const mean = o.regularisation === 'mean';
  const perUser = mean ? weightSum / Math.max(1, ratedUsers) : 1;
  const perPost = mean ? weightSum / Math.max(1, ratedPosts) : 1;
  return {
    liU: Math.max(MIN_PENALTY, o.lambdaIntercept * perUser),
    lfU: Math.max(MIN_PENALTY, o.lambdaFactor * perUser),
    liP: Math.max(MIN_PENALTY, o.lambdaIntercept * perPost),
    lfP: Math.max(MIN_PENALTY, o.lambdaFactor * perPost),
    liMu: o.lambdaIntercept * (mean ? weightSum : 1),
  };
}

/**
 * The parameters while fitting: per user and per post its intercept and its `k` factors side by
 * side (`[i, f₁ … f_k]`, a stride of `k + 1`), unpacked into the model's own arrays at the end.
 *
 * @NOTE Packed because every sweep reads the other side's parameters in random order, one cell at
 * a time: side by side they are one cache line a cell, not two. On `bench:scoring`'s 10 M
 * interactions (a million users and a million posts, whose parameters no longer fit in the cache) a
 * cold fit took 185 s with four separate arrays and 152 s packed; with the residuals summed in the
 * post sweep (`solvePosts`) and the axis's user sums read in user order (`leadingAxis`), 76 s
 * (against 181 s in the same run). The arithmetic and its order are unchanged: the fit is the same
 * to the last bit (compared on 1 M and 10 M interactions, 1–3 dimensions, priors and warm starts).
 */
interface Parameters {
  k: number;
  mu: number;
  user: Float64Array;
  post: Float64Array;
}

/** A packed side's intercepts and row-major factors, as the model holds them. */
function unpack(packed: Float64Array, rows: number, k: number): [Float64Array, Float64Array] {
  const n = k + 1;
  const intercept = new Float64Array(rows);
  const factor = new Float64Array(rows * k);
  for (let r = 0; r < rows; r++) {
    intercept[r] = packed[r * n]!;
    for (let d = 0; d < k; d++) factor[r * k + d] = packed[r * n + 1 + d]!;
  }
  return [intercept, factor];
}

/** Writes a model's intercepts and factors into a packed side (rows beyond the model's stay as they are). */
function packInto(packed: Float64Array, intercept: Float64Array, factor: Float64Array, k: number): void {
  const n = k + 1;
  for (let r = 0; r < intercept.length; r++) {
    packed[r * n] = intercept[r]!;
    for (let d = 0; d < k; d++) packed[r * n + 1 + d] = factor[r * k + d]!;
  }
}

/** The model of a fit with nothing to fit: every parameter 0. */
function zeroModel(k: number, U: number, P: number): FactorModel {
  return {
    dimensions: k,
    userCount: U,
    postCount: P,
    mu: 0,
    userIntercept: new Float64Array(U),
    userFactor: new Float64Array(U * k),
    postIntercept: new Float64Array(P),
    postFactor: new Float64Array(P * k),
    iterations: 0,
    converged: true,
    rmse: 0,
  };
}

/** Whether every parameter of a model is a finite number: the only kind a fit starts from or returns. */
export function isFiniteModel(model: FactorModel): boolean {
  if (!Number.isFinite(model.mu)) return false;
  for (const values of [model.userIntercept, model.userFactor, model.postIntercept, model.postFactor]) {
    for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i]!)) return false;
  }
  return true;
}

/**
 * The warm start to fit from, checked: undefined when it has no opinion axis (every factor 0, as a
 * fit on no ratings leaves it). Alternating least squares cannot leave factors that are all 0 (each
 * side's solve to 0 against the other's), so such a start would hold the fit there: it starts cold.
 */
function usableWarmStart(warm: FactorModel, cells: RatingCells, k: number): FactorModel | undefined {
  if (warm.dimensions !== k) throw new BridgingInputError('warmStart has a different number of dimensions');
  if (warm.userCount > cells.userCount || warm.postCount > cells.postCount) throw new BridgingInputError('warmStart has more users or posts than the cells');
  if (!isFiniteModel(warm)) throw new BridgingInputError('warmStart has parameters that are not finite');
  const hasAxis = warm.postFactor.some((f) => f !== 0) || warm.userFactor.some((f) => f !== 0);
  return hasAxis ? warm : undefined;
}

/**
 * The starting point: a warm start's parameters where it has them; the first factor of new posts
 * from the leading singular vector of the centred ratings, further dimensions small and random.
 * Users need no start: they are solved first.
 */
function* initialParameters(
  cells: RatingCells,
  targets: CellTargets,
  penalty: Penalties,
  o: Required<Omit<FactorModelOptions, 'ratings' | 'weights' | 'warmStart' | 'cellWeights' | 'userFactorPrior'>>,
  warm: FactorModel | undefined,
): Steps<Parameters> {
  const k = o.dimensions;
  const { userCount: U, postCount: P } = cells;
  const params: Parameters = {
    k,
    mu: targets.weightSum > 0 ? targets.ratingSum / (targets.weightSum + penalty.liMu) : 0,
    user: new Float64Array(U * (k + 1)),
    post: new Float64Array(P * (k + 1)),
  };
  if (warm) {
    params.mu = warm.mu;
    packInto(params.user, warm.userIntercept, warm.userFactor, k);
    packInto(params.post, warm.postIntercept, warm.postFactor, k);
  }
  const from = warm?.postCount ?? 0;
  const rng = seededRandom(o.seed);
  const axis = from < P ? yield* leadingAxis(cells, targets, rng.next) : undefined;
  for (let p = from; p < P; p++) {
    params.post[p * (k + 1) + 1] = axis ? axis[p]! : 0;
    for (let d = 1; d < k; d++) params.post[p * (k + 1) + 1 + d] = o.initScale * rng.normal();
  }
  return params;
}

const AXIS_ITERATIONS = 100;
const AXIS_TOLERANCE = 1e-6;

/**
 * The leading right singular vector of the ratings with the global, user and post means taken out
 * (what the intercepts explain), by power iteration, scaled by √σ so that f_u·f_p starts at the
 * best rank-one fit of those residuals. An axis of the data, not of a random start.
 */
function* leadingAxis(cells: RatingCells, targets: CellTargets, random: () => number): Steps<Float64Array> {
  const { userCount: U, postCount: P, cellCount: C } = cells;
  const { rating, weight } = targets;
  const mean = targets.weightSum > 0 ? targets.ratingSum / targets.weightSum : 0;
  const postMean = new Float64Array(P);
  const userMean = new Float64Array(U);
  const count = new Float64Array(Math.max(U, P));
  for (let c = 0; c < C; c++) {
    postMean[cells.cellPost[c]!]! += weight[c]! * (rating[c]! - mean);
    count[cells.cellPost[c]!]! += weight[c]!;
  }
  for (let p = 0; p < P; p++) postMean[p] = count[p]! > 0 ? postMean[p]! / count[p]! : 0;
  count.fill(0);
  for (let c = 0; c < C; c++) {
    const u = cells.cellUser[c]!;
    userMean[u]! += weight[c]! * (rating[c]! - mean - postMean[cells.cellPost[c]!]!);
    count[u]! += weight[c]!;
  }
  for (let u = 0; u < U; u++) userMean[u] = count[u]! > 0 ? userMean[u]! / count[u]! : 0;
  yield;
  const residual = new Float32Array(C);
  for (let c = 0; c < C; c++) {
    residual[c] = weight[c]! > 0 ? rating[c]! - mean - postMean[cells.cellPost[c]!]! - userMean[cells.cellUser[c]!]! : 0;
  }
  // The residuals again in user order, so that each user's sum is read in one run (the same cells in
  // the same order as in post order: each user's cells are listed in ascending cell order).
  const userResidual = new Float32Array(C);
  for (let j = 0; j < C; j++) userResidual[j] = residual[cells.userCells[j]!]!;
  let v = Float64Array.from({ length: P }, () => random() - 0.5);
  const user = new Float64Array(U);
  let sigma = 0;
  for (let iteration = 0; iteration < AXIS_ITERATIONS; iteration++) {
    yield;
    for (let u = 0; u < U; u++) {
      let s = 0;
      for (let j = cells.userOffsets[u]!; j < cells.userOffsets[u + 1]!; j++) s += userResidual[j]! * v[targets.uPost[j]!]!;
      user[u] = s;
    }
    const next = new Float64Array(P);
    for (let c = 0; c < C; c++) next[cells.cellPost[c]!]! += residual[c]! * user[cells.cellUser[c]!]!;
    let norm = 0;
    for (let p = 0; p < P; p++) norm += next[p]! * next[p]!;
    norm = Math.sqrt(norm);
    if (norm === 0) break;
    let change = 0;
    for (let p = 0; p < P; p++) {
      next[p]! /= norm;
      change = Math.max(change, Math.abs(next[p]! - v[p]!));
    }
    v = next;
    // ‖XᵀX v‖ for a unit v converges to σ².
    sigma = Math.sqrt(norm);
    if (change < AXIS_TOLERANCE) break;
  }
  const scale = Math.sqrt(sigma);
  for (let p = 0; p < P; p++) v[p]! *= scale;
  return v;
}

/** Each user's (i_u, f_u) with the posts fixed. */
function solveUsers(cells: RatingCells, targets: CellTargets, params: Parameters, solver: RidgeSolver): void {
  const rows = { offsets: cells.userOffsets, other: targets.uPost, rating: targets.uRating, weight: targets.uWeight };
  solveRows(rows, params.mu, params.post, params.user, params.k, solver);
}

/** Each post's (i_p, f_p) with the users fixed. */
/**
 * Each post's (i_p, f_p) with the users fixed; returns the sums of the residuals the sweep ends
 * with (before μ is solved), which `solveMu` needs.
 *
 * @NOTE The residuals are summed here, each post's cells again right after it is solved, while the
 * raters' parameters just read are still in the cache: a separate pass over every cell read them
 * all again in random order, about 40 % of a sweep on 10 M interactions. The cells are summed in
 * the same order as that pass did, so the sums are the same to the last bit.
 */
function solvePosts(cells: RatingCells, targets: CellTargets, params: Parameters, solver: RidgeSolver): Residuals {
  const rows = { offsets: cells.postOffsets, other: cells.cellUser, rating: targets.rating, weight: targets.weight };
  const residuals: Residuals = { sum: 0, sumOfSquares: 0 };
  solveRows(rows, params.mu, params.user, params.post, params.k, solver, residuals);
  return residuals;
}

/** Σ w·e and Σ w·e² over the weighted cells, e = rating − mu − i_u − i_p − f_u·f_p. */
interface Residuals {
  sum: number;
  sumOfSquares: number;
}

/**
 * One half-sweep: each row's (intercept, factors) by ridge regression on its cells, the other side
 * fixed. Rows are users (cells in user order) or posts (cells in post order); both sides packed.
 * With `residuals`, adds each solved row's residuals at μ = 0 to them, cell by cell.
 */
function solveRows(
  rows: { offsets: Uint32Array; other: Uint32Array; rating: Float32Array; weight: Float32Array },
  mu: number,
  fixed: Float64Array,
  solved: Float64Array,
  k: number,
  solver: RidgeSolver,
  residuals?: Residuals,
): void {
  const { offsets, other, rating, weight } = rows;
  const n = k + 1;
  for (let row = 0; row + 1 < offsets.length; row++) {
    const from = offsets[row]!;
    const to = offsets[row + 1]!;
    if (k === 1) {
      let sw = 0, sx = 0, sxx = 0, sy = 0, sxy = 0;
      for (let j = from; j < to; j++) {
        const w = weight[j]!;
        if (w === 0) continue;
        const o = 2 * other[j]!;
        const x = fixed[o + 1]!;
        const y = rating[j]! - mu - fixed[o]!;
        sw += w;
        sx += w * x;
        sxx += w * x * x;
        sy += w * y;
        sxy += w * x * y;
      }
      solver.solveOne(sw, sx, sxx, sy, sxy, solved, row);
      if (residuals) {
        const intercept = solved[2 * row]!;
        const factor = solved[2 * row + 1]!;
        for (let j = from; j < to; j++) {
          const w = weight[j]!;
          if (w === 0) continue;
          const o = 2 * other[j]!;
          const e = rating[j]! - fixed[o]! - intercept - fixed[o + 1]! * factor;
          residuals.sum += w * e;
          residuals.sumOfSquares += w * e * e;
        }
      }
    } else {
      solver.reset();
      for (let j = from; j < to; j++) {
        const w = weight[j]!;
        if (w === 0) continue;
        const o = other[j]! * n;
        solver.add(w, fixed, o + 1, rating[j]! - mu - fixed[o]!);
      }
      solver.solveInto(solved, row);
      if (residuals) {
        for (let j = from; j < to; j++) {
          const w = weight[j]!;
          if (w === 0) continue;
          const o = other[j]! * n;
          const e = rating[j]! - fixed[o]! - solved[row * n]! - dot(fixed, o + 1, solved, row * n + 1, k);
          residuals.sum += w * e;
          residuals.sumOfSquares += w * e * e;
        }
      }
    }
  }
}

/** μ given everything else; returns the objective (squared error plus every penalty) after the update. */
function solveMu(targets: CellTargets, params: Parameters, penalty: Penalties, prior: Float64Array | undefined, residuals: Residuals): number {
  const { weightSum } = targets;
  const { k, user, post } = params;
  const { sum: residual, sumOfSquares: residualSq } = residuals;
  const mu = weightSum > 0 ? residual / (weightSum + penalty.liMu) : 0;
  params.mu = mu;
  const squaredError = residualSq - 2 * mu * residual + mu * mu * weightSum;
  return (
    squaredError +
    penalty.liMu * mu * mu +
    penalty.liU * sumOfSquares(user, k, 0) +
    penalty.lfU * (prior ? sumOfSquaresFrom(user, k, prior) : sumOfSquares(user, k, 1)) +
    penalty.liP * sumOfSquares(post, k, 0) +
    penalty.lfP * sumOfSquares(post, k, 1)
  );
}

/** Σ x² over a packed side's intercepts (`from` 0) or over its factors (`from` 1), row by row. */
function sumOfSquares(packed: Float64Array, k: number, from: 0 | 1): number {
  const n = k + 1;
  const width = from === 0 ? 1 : k;
  let s = 0;
  for (let r = 0; r < packed.length; r += n) {
    for (let i = r + from; i < r + from + width; i++) s += packed[i]! * packed[i]!;
  }
  return s;
}

/** Σ (f − prior)² over a packed side's factors where the first dimension has a prior, Σ f² elsewhere. */
function sumOfSquaresFrom(packed: Float64Array, k: number, prior: Float64Array): number {
  const n = k + 1;
  let s = 0;
  for (let r = 0; r * n < packed.length; r++) {
    for (let d = 0; d < k; d++) {
      const centre = d === 0 ? prior[r]! : NaN;
      const x = packed[r * n + 1 + d]! - (Number.isNaN(centre) ? 0 : centre);
      s += x * x;
    }
  }
  return s;
}

/** √(Σ w·e² / Σ w) over the weighted cells, e = rating − μ − i_u − i_p − f_u·f_p. */
function weightedRmse(cells: RatingCells, targets: CellTargets, params: Parameters): number {
  const { rating, weight } = targets;
  const { k, mu, user, post } = params;
  const n = k + 1;
  let squares = 0;
  for (let c = 0; c < cells.cellCount; c++) {
    const w = weight[c]!;
    if (w === 0) continue;
    const u = cells.cellUser[c]! * n;
    const p = cells.cellPost[c]! * n;
    const e = rating[c]! - mu - user[u]! - post[p]! - dot(user, u + 1, post, p + 1, k);
    squares += w * e * e;
  }
  return targets.weightSum > 0 ? Math.sqrt(squares / targets.weightSum) : 0;
}

function dot(a: Float64Array, ai: number, b: Float64Array, bi: number, k: number): number {
  let s = 0;
  for (let d = 0; d < k; d++) s += a[ai + d]! * b[bi + d]!;
  return s;
}

/**
 * The sign of a factor axis is arbitrary (f_u·f_p = (−f_u)·(−f_p)). Flip each dimension so that
 * more raters sit on the positive side (ties: so that the factor sum is positive): the same data
 * then always yields the same orientation.
 */
function orientFactors(cells: RatingCells, userFactor: Float64Array, postFactor: Float64Array, U: number, P: number, k: number): void {
  for (let d = 0; d < k; d++) {
    let positive = 0;
    let negative = 0;
    let sum = 0;
    for (let u = 0; u < U; u++) {
      if (cells.userOffsets[u + 1] === cells.userOffsets[u]) continue;
      const f = userFactor[u * k + d]!;
      if (f > 0) positive++;
      else if (f < 0) negative++;
      sum += f;
    }
    if (negative > positive || (negative === positive && sum < 0)) {
      for (let u = 0; u < U; u++) userFactor[u * k + d] = -userFactor[u * k + d]! || 0;
      for (let p = 0; p < P; p++) postFactor[p * k + d] = -postFactor[p * k + d]! || 0;
    }
  }
}

/** Accumulates and solves the (k+1)×(k+1) ridge system for one row (intercept + k factors) by Cholesky. */
class RidgeSolver {
  private readonly k: number;
  private readonly li: number;
  private readonly lf: number;
  private readonly n: number;
  private readonly m: Float64Array;
  private readonly v: Float64Array;
  private readonly x: Float64Array;
  /** Per row, the value the first factor is shrunk toward (NaN or absent: 0). */
  private readonly prior: Float64Array | undefined;

  constructor(k: number, li: number, lf: number, prior?: Float64Array) {
    this.k = k;
    this.li = li;
    this.lf = lf;
    this.prior = prior;
    this.n = k + 1;
    this.m = new Float64Array(this.n * this.n);
    this.v = new Float64Array(this.n);
    this.x = new Float64Array(this.n);
  }

  reset(): void {
    this.m.fill(0);
    this.v.fill(0);
  }

  /** The one-dimensional system (intercept and one factor) from its sums, in closed form. */
  solveOne(sw: number, sx: number, sxx: number, sy: number, sxy: number, packed: Float64Array, row: number): void {
    const a = sw + this.li;
    const d = sxx + this.lf;
    const det = a * d - sx * sx;
    const sxyPrior = sxy + this.lf * this.centre(row);
    packed[2 * row] = (d * sy - sx * sxyPrior) / det;
    packed[2 * row + 1] = (a * sxyPrior - sx * sy) / det;
  }

  /** Adds one observation with features (1, f[at … at+k-1]) and target y. */
  add(w: number, f: Float64Array, at: number, y: number): void {
    const { n, m, v, x } = this;
    x[0] = 1;
    for (let d = 0; d < this.k; d++) x[d + 1] = f[at + d]!;
    for (let r = 0; r < n; r++) {
      const wr = w * x[r]!;
      v[r]! += wr * y;
      for (let c = 0; c <= r; c++) m[r * n + c]! += wr * x[c]!;
    }
  }

  /** The prior of a row's first factor (0 without one): the ridge `λ_f (f − prior)²` adds `λ_f·prior` to its normal equation. */
  private centre(row: number): number {
    const p = this.prior?.[row];
    return p === undefined || Number.isNaN(p) ? 0 : p;
  }

  /** Solves and writes the row's intercept and factors into a packed side. */
  solveInto(packed: Float64Array, row: number): void {
    const { n, m, v, x } = this;
    m[0]! += this.li;
    v[1]! += this.lf * this.centre(row);
    for (let d = 1; d < n; d++) m[d * n + d]! += this.lf;
    // Cholesky: m = L Lᵀ, L stored in the lower triangle.
    for (let r = 0; r < n; r++) {
      for (let c = 0; c <= r; c++) {
        let s = m[r * n + c]!;
        for (let t = 0; t < c; t++) s -= m[r * n + t]! * m[c * n + t]!;
        m[r * n + c] = r === c ? Math.sqrt(s) : s / m[c * n + c]!;
      }
    }
    for (let r = 0; r < n; r++) {
      let s = v[r]!;
      for (let t = 0; t < r; t++) s -= m[r * n + t]! * x[t]!;
      x[r] = s / m[r * n + r]!;
    }
    for (let r = n - 1; r >= 0; r--) {
      let s = x[r]!;
      for (let t = r + 1; t < n; t++) s -= m[t * n + r]! * x[t]!;
      x[r] = s / m[r * n + r]!;
    }
    for (let i = 0; i < n; i++) packed[row * n + i] = x[i]!;
  }
}

/**
 * The opinion axis split in two: an exact one-dimensional 2-means over the factors of the users who
 * rated anything (sort, then the cut with the least within-side variance). `low`/`high` are the
 * side centroids and `midpoint` lies halfway between them.
 */
export interface OpinionAxis {
  readonly dimension: number;
  readonly cut: number;
  readonly low: number;
  readonly high: number;
  readonly midpoint: number;
  readonly lowCount: number;
  readonly highCount: number;
}

export function opinionAxis(model: FactorModel, cells: RatingCells, dimension = 0): OpinionAxis {
  const k = model.dimensions;
  const values: number[] = [];
  for (let u = 0; u < model.userCount; u++) {
    if (cells.userOffsets[u + 1]! > cells.userOffsets[u]!) values.push(model.userFactor[u * k + dimension]!);
  }
  const xs = Float64Array.from(values).sort();
  const n = xs.length;
  if (n < 2) return { dimension, cut: 0, low: 0, high: 0, midpoint: 0, lowCount: 0, highCount: n };
  let total = 0;
  for (let i = 0; i < n; i++) total += xs[i]!;
  let best = Infinity;
  let split = 1;
  let left = 0;
  let leftSq = 0;
  let totalSq = 0;
  for (let i = 0; i < n; i++) totalSq += xs[i]! * xs[i]!;
  for (let i = 1; i < n; i++) {
    left += xs[i - 1]!;
    leftSq += xs[i - 1]! * xs[i - 1]!;
    if (xs[i] === xs[i - 1]) continue;
    const right = total - left;
    const within = leftSq - (left * left) / i + (totalSq - leftSq) - (right * right) / (n - i);
    if (within < best) {
      best = within;
      split = i;
    }
  }
  let lowSum = 0;
  for (let i = 0; i < split; i++) lowSum += xs[i]!;
  const low = lowSum / split;
  const high = (total - lowSum) / (n - split);
  return { dimension, cut: (xs[split - 1]! + xs[split]!) / 2, low, high, midpoint: (low + high) / 2, lowCount: split, highCount: n - split };
}

/**
 * The post intercepts re-expressed with the axis origin at the midpoint between the two sides:
 * `i_p + midpoint·f_p`, i.e. the mean approval the model predicts for the two sides, weighted equally.
 * @NOTE the plain intercept is the approval predicted at f_u = 0, which regularisation places near the
 * user-weighted centre: when one side is much larger (Seattle's $15/hour: 99 vs 39 clustered, plus
 * 201 unclustered leaning one way) that centre sits inside the majority and the intercept rewards
 * what the majority likes. Re-centring is exact (f_u·f_p = (f_u − δ)f_p + δf_p): only the reading changes.
 */
export function sideBalancedIntercepts(model: FactorModel, axis: OpinionAxis): Float64Array {
  const k = model.dimensions;
  const out = new Float64Array(model.postCount);
  for (let p = 0; p < model.postCount; p++) {
    out[p] = model.postIntercept[p]! + axis.midpoint * model.postFactor[p * k + axis.dimension]!;
  }
  return out;
}

/**
 * Opinion side per user from the first factor: +1 above `cut + deadZone`, −1 below `cut − deadZone`,
 * 0 in between or without ratings (factor exactly 0). Pass `opinionAxis(...).cut` to split at the 2-means cut.
 */
export function userSides(model: FactorModel, options: { cut?: number; deadZone?: number } = {}): Int8Array {
  const cut = options.cut ?? 0;
  const dead = options.deadZone ?? 0;
  const sides = new Int8Array(model.userCount);
  const k = model.dimensions;
  for (let u = 0; u < model.userCount; u++) {
    const f = model.userFactor[u * k]!;
    if (f === 0 && model.userIntercept[u] === 0) continue;
    sides[u] = f > cut + dead ? 1 : f < cut - dead ? -1 : 0;
  }
  return sides;
}

/** Per post: raters (observed cells) and graded approvals on each side of the opinion axis. */
export interface PostSides {
  readonly positiveRaters: Uint32Array;
  readonly negativeRaters: Uint32Array;
  readonly positiveApprovals: Float64Array;
  readonly negativeApprovals: Float64Array;
}

export function postSides(cells: RatingCells, sides: Int8Array): PostSides {
  const P = cells.postCount;
  const positiveRaters = new Uint32Array(P);
  const negativeRaters = new Uint32Array(P);
  const positiveApprovals = new Float64Array(P);
  const negativeApprovals = new Float64Array(P);
  for (let p = 0; p < P; p++) {
    for (let c = cells.postOffsets[p]!; c < cells.postOffsets[p + 1]!; c++) {
      const kind = cells.kind[c]!;
      if (kind === CellKind.Exposed) continue;
      const s = sides[cells.cellUser[c]!]!;
      const approval = kind === CellKind.Approval ? cells.strength[c]! : 0;
      if (s > 0) {
        positiveRaters[p]!++;
        positiveApprovals[p]! += approval;
      } else if (s < 0) {
        negativeRaters[p]!++;
        negativeApprovals[p]! += approval;
      }
    }
  }
  return { positiveRaters, negativeRaters, positiveApprovals, negativeApprovals };
}

interface HelpfulnessRule {
  /** Community Notes: 0.40 on its 0–1 rating scale. */
  minIntercept: number;
  /** Community Notes: 0.5. */
  maxAbsFactor: number;
  minRatersPerSide: number;
}

const DEFAULT_HELPFULNESS_RULE: Readonly<HelpfulnessRule> = Object.freeze({
  minIntercept: 0.4,
  maxAbsFactor: 0.5,
  minRatersPerSide: 5,
});

/** 1 where `i_p ≥ minIntercept`, `|f_p| < maxAbsFactor` and both sides have `minRatersPerSide` raters. */
export function helpfulPosts(model: FactorModel, sides: PostSides, rule: Partial<HelpfulnessRule> = {}): Uint8Array {
  const r = { ...DEFAULT_HELPFULNESS_RULE, ...rule };
  const out = new Uint8Array(model.postCount);
  const k = model.dimensions;
  for (let p = 0; p < model.postCount; p++) {
    out[p] =
      model.postIntercept[p]! >= r.minIntercept &&
      Math.abs(model.postFactor[p * k]!) < r.maxAbsFactor &&
      sides.positiveRaters[p]! >= r.minRatersPerSide &&
      sides.negativeRaters[p]! >= r.minRatersPerSide
        ? 1
        : 0;
  }
  return out;
}
