import { BridgingInputError } from './errors.js';
import { CellKind, type RatingCells } from './rating-cells.js';

/**
 * Opinion groups found in the members' own ratings, as Polis finds them: the rating matrix
 * (approval +1, seen 0, requestLess −1; a missing rating is the post's mean) factorised by PCA, each
 * active user projected on the first components with Polis's sparsity-aware scaling
 * (√(rated posts / the user's ratings)), then k-means over the projections. Only users with at least
 * `minRatings` ratings are grouped (Polis: 7), so a passer-by does not decide which camp a post
 * reaches; the others belong to no group.
 *
 * Deterministic: the power iteration and the k-means start from fixed points.
 */
interface OpinionGroupOptions {
  /** Groups to find (Polis usually settles on 2 to 5). Default 2. */
  groups?: number;
  /** Principal components the users are projected on. Default 2, as Polis. */
  components?: number;
  /** Ratings a user needs to be grouped (fewer posts than this: every post). Default 7, as Polis. */
  minRatings?: number;
  /**
   * Share of the (active users × rated posts) matrix that must be observed to look for groups at all
   * (below it nobody is grouped and the result is not `reliable`). Default 0.2. In a Polis
   * conversation people vote on about half of it; on a social network each person rates a sliver,
   * the imputed means dominate, and k-means splits off outliers instead of camps.
   */
  minObservedShare?: number;
}

interface OpinionGroups {
  readonly groupCount: number;
  /** Group per user index; −1 for users with too few ratings. */
  readonly groupOfUser: Int32Array;
  readonly groupSizes: Uint32Array;
  /** Observed share of the active users' ratings matrix. */
  readonly observedShare: number;
  /** Dense enough to look (`minObservedShare`), and every group found has members. */
  readonly reliable: boolean;
}

const DEFAULT_OPINION_GROUP_OPTIONS: Readonly<Required<OpinionGroupOptions>> = Object.freeze({
  groups: 2,
  components: 2,
  minRatings: 7,
  minObservedShare: 0.2,
});

const POWER_ITERATIONS = 300;
const POWER_TOLERANCE = 1e-10;
const KMEANS_ITERATIONS = 100;

export function findOpinionGroups(cells: RatingCells, options: OpinionGroupOptions = {}): OpinionGroups {
  const o = { ...DEFAULT_OPINION_GROUP_OPTIONS, ...options };
  if (!(Number.isInteger(o.groups) && o.groups >= 2)) throw new BridgingInputError('groups must be an integer ≥ 2');
  if (!(Number.isInteger(o.components) && o.components >= 1)) throw new BridgingInputError('components must be a positive integer');
  const { userCount: U, postCount: P, cellCount: C } = cells;
  const rated = (c: number) => cells.kind[c] !== CellKind.Exposed;
  const value = (c: number) => (cells.kind[c] === CellKind.Approval ? 1 : cells.kind[c] === CellKind.Negative ? -1 : 0);

  // Users with enough ratings; posts any of them rated.
  const ratings = new Uint32Array(U);
  for (let c = 0; c < C; c++) if (rated(c)) ratings[cells.cellUser[c]!]!++;
  const postRated = new Uint8Array(P);
  for (let c = 0; c < C; c++) if (rated(c)) postRated[cells.cellPost[c]!] = 1;
  const ratedPosts = postRated.reduce((n, r) => n + r, 0);
  const threshold = Math.min(o.minRatings, ratedPosts);
  const active = new Uint8Array(U);
  const members: number[] = [];
  for (let u = 0; u < U; u++) {
    if (ratings[u]! > 0 && ratings[u]! >= threshold) {
      active[u] = 1;
      members.push(u);
    }
  }
  const groupOfUser = new Int32Array(U).fill(-1);
  const groupSizes = new Uint32Array(o.groups);
  let observed = 0;
  for (const u of members) observed += ratings[u]!;
  const observedShare = members.length > 0 ? observed / (members.length * ratedPosts) : 0;
  // Too few people, or too sparse to find camps in: nobody is grouped.
  if (members.length < o.groups || observedShare < o.minObservedShare) {
    return { groupCount: o.groups, groupOfUser, groupSizes, observedShare, reliable: false };
  }

  // Centred ratings of the active users (a missing rating, imputed by the post's mean, centres to 0).
  const sum = new Float64Array(P);
  const count = new Uint32Array(P);
  for (let c = 0; c < C; c++) {
    if (!rated(c) || !active[cells.cellUser[c]!]) continue;
    sum[cells.cellPost[c]!]! += value(c);
    count[cells.cellPost[c]!]!++;
  }
  const centred = new Float64Array(C);
  for (let c = 0; c < C; c++) {
    if (!rated(c) || !active[cells.cellUser[c]!]) continue;
    const p = cells.cellPost[c]!;
    centred[c] = value(c) - sum[p]! / count[p]!;
  }

  // Principal components by power iteration on XᵀX, deflated against those found before.
  const k = o.components;
  const components: Float64Array[] = [];
  const projected = new Float64Array(U);
  for (let d = 0; d < k; d++) {
    let v = new Float64Array(P);
    for (let p = 0; p < P; p++) v[p] = postRated[p] ? Math.sin(p + 1 + d) : 0;
    normalise(v);
    for (let iteration = 0; iteration < POWER_ITERATIONS; iteration++) {
      projected.fill(0);
      for (let c = 0; c < C; c++) projected[cells.cellUser[c]!]! += centred[c]! * v[cells.cellPost[c]!]!;
      const next = new Float64Array(P);
      for (let c = 0; c < C; c++) next[cells.cellPost[c]!]! += centred[c]! * projected[cells.cellUser[c]!]!;
      for (const previous of components) {
        const overlap = dot(next, previous);
        for (let p = 0; p < P; p++) next[p]! -= overlap * previous[p]!;
      }
      if (normalise(next) === 0) break;
      let change = 0;
      for (let p = 0; p < P; p++) change = Math.max(change, Math.abs(next[p]! - v[p]!));
      v = next;
      if (change < POWER_TOLERANCE) break;
    }
    components.push(v);
  }

  // Sparsity-aware projections of the active users: row-major members × k.
  const points = new Float64Array(members.length * k);
  const row = new Int32Array(U).fill(-1);
  members.forEach((u, i) => (row[u] = i));
  for (let c = 0; c < C; c++) {
    const i = row[cells.cellUser[c]!]!;
    if (i < 0) continue;
    for (let d = 0; d < k; d++) points[i * k + d]! += centred[c]! * components[d]![cells.cellPost[c]!]!;
  }
  members.forEach((u, i) => {
    const scale = Math.sqrt(ratedPosts / ratings[u]!);
    for (let d = 0; d < k; d++) points[i * k + d]! *= scale;
  });

  const assignment = kMeans(points, members.length, k, o.groups);
  members.forEach((u, i) => {
    groupOfUser[u] = assignment[i]!;
    groupSizes[assignment[i]!]!++;
  });
  return { groupCount: o.groups, groupOfUser, groupSizes, observedShare, reliable: groupSizes.every((size) => size > 0) };
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

/** Scales `v` to unit length in place; returns its former length. */
function normalise(v: Float64Array): number {
  const length = Math.sqrt(dot(v, v));
  if (length > 0) for (let i = 0; i < v.length; i++) v[i]! /= length;
  return length;
}

/**
 * Lloyd's k-means over `n` points of dimension `k`, started deterministically: the point farthest
 * from the centroid, then repeatedly the point farthest from the centres chosen so far.
 */
function kMeans(points: Float64Array, n: number, k: number, groups: number): Int32Array {
  const distance = (i: number, centre: Float64Array) => {
    let s = 0;
    for (let d = 0; d < k; d++) s += (points[i * k + d]! - centre[d]!) ** 2;
    return s;
  };
  const pointAt = (i: number) => points.slice(i * k, i * k + k);
  const mean = new Float64Array(k);
  for (let i = 0; i < n; i++) for (let d = 0; d < k; d++) mean[d]! += points[i * k + d]! / n;
  const centres: Float64Array[] = [];
  const nearest = new Float64Array(n);
  for (let i = 0; i < n; i++) nearest[i] = distance(i, mean);
  while (centres.length < groups) {
    let farthest = 0;
    for (let i = 1; i < n; i++) if (nearest[i]! > nearest[farthest]!) farthest = i;
    const centre = pointAt(farthest);
    centres.push(centre);
    for (let i = 0; i < n; i++) nearest[i] = centres.length === 1 ? distance(i, centre) : Math.min(nearest[i]!, distance(i, centre));
  }
  const assignment = new Int32Array(n).fill(-1);
  for (let iteration = 0; iteration < KMEANS_ITERATIONS; iteration++) {
    let moved = false;
    for (let i = 0; i < n; i++) {
      let best = 0;
      for (let g = 1; g < groups; g++) if (distance(i, centres[g]!) < distance(i, centres[best]!)) best = g;
      if (assignment[i] !== best) {
        assignment[i] = best;
        moved = true;
      }
    }
    if (!moved) break;
    for (let g = 0; g < groups; g++) {
      const centre = new Float64Array(k);
      let size = 0;
      for (let i = 0; i < n; i++) {
        if (assignment[i] !== g) continue;
        size++;
        for (let d = 0; d < k; d++) centre[d]! += points[i * k + d]!;
      }
      if (size > 0) for (let d = 0; d < k; d++) centre[d]! /= size;
      centres[g] = size > 0 ? centre : centres[g]!;
    }
  }
  return assignment;
}
