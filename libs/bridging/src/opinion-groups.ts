import { BridgingInputError } from './errors.js';
import { seededRandom } from './random.js';
import { CellKind, type RatingCells } from './rating-cells.js';

/**
 * Opinion groups found in the members' own ratings, as Polis finds them (polismath's conversation,
 * pca and clusters): the rating matrix (approval +1, seen 0, requestLess −1; a missing rating is the
 * post's mean) factorised by PCA, each member projected on the first components with Polis's
 * sparsity-aware scaling (√(rated posts / the member's ratings)) so that a sparse voter is not pulled
 * to the centre, then k-means over the projections for every k from 2 to min(5, 2 + ⌊members / 12⌋),
 * keeping the k whose clustering has the best silhouette. The members are the users with at least
 * `minRatings` ratings (Polis: 7), and when fewer than 15 have that many, the users who rated most
 * (as Polis); a passer-by does not decide which camp a post reaches, and the others belong to no group.
 * @NOTE Polis clusters the members into 100 base clusters first and groups those (a device for
 * scale); here every member is a point of its own (up to an even sample of 2,000), which is the
 * same when a conversation has at most 100 members. Grouping 100 base clusters instead, with the
 * silhouette over them, was measured on the seven Polis conversations of test/fixtures/polis: the
 * groups then moved with the base clustering's random starts (15-per-hour-seattle: adjusted Rand
 * index against Polis's groups 0.80 with two starts, 0.29–0.50 with eight; 0.78 here, with 8 or
 * 16), and taking the components from every voter's ratings, as Polis does, instead of the members'
 * lowered that 0.80 to 0.56. The published groups of austria-climate and bg2050-volunteers are
 * reproduced (index 0.95 and 1.00) only when the comments moderated out count as passes of every
 * participant in the scaling, as polismath's zeroed columns do; a conversation here has no such
 * statements.
 *
 * Deterministic, and for a given set of members the same whatever their order: the power iteration
 * starts from a fixed vector, and k-means runs from enough seeded k-means++ starts (`KMEANS_STARTS`)
 * that the clustering with the least within-group spread, which is kept, does not depend on which
 * start found it. Who is a member depends on the order in one case: voters topped up to
 * `GREEDY_MEMBERS` with as many ratings tie by their index, which is the order of their first vote
 * when the votes come in time order (as the conversation report's do).
 */
interface OpinionGroupOptions {
  /** A fixed number of groups; without it, the best of 2 … `maxGroups` by silhouette. */
  groups?: number;
  /** The most groups the silhouette search tries. Default 5, as Polis. */
  maxGroups?: number;
  /**
   * Members a group needs (default 3): a clustering with a smaller group is not considered. One
   * person far from everyone is an outlier, not an opinion group, and every group weighs the same in
   * the consensus product.
   */
  minGroupSize?: number;
  /** Principal components the users are projected on. Default 2, as Polis. */
  components?: number;
  /** Ratings a user needs to be grouped (fewer posts than this: every post). Default 7, as Polis. */
  minRatings?: number;
  /**
   * How many members must have rated both posts of a pair, on average over the pairs of rated posts,
   * to look for groups at all (below it nobody is grouped and the result is not `reliable`). Default
   * 5. The principal components are read from how the posts' ratings vary together, and a pair of
   * posts says how they vary only through the people who rated both: in a Polis conversation that
   * is 12 to 190 people (sixteen conversations of the compdemocracy/openData export, where each
   * member rated 12 % to 77 % of the comments); on a social network, where each person rates a
   * sliver, it is a fraction of one, the imputed means dominate, and k-means splits off outliers
   * instead of camps.
   *
   * @NOTE This replaced a floor of 20 % on the observed share of the members × posts matrix, which
   * left ungrouped two conversations of that export with 1,247 and 582 members (shares 0.19 and
   * 0.12, 93 and 12 co-raters a pair), where Polis found two groups: the share alone does not say
   * how much evidence there is, the members who rated each pair do.
   */
  minCoRaters?: number;
}

interface OpinionGroups {
  readonly groupCount: number;
  /** Group per user index; −1 for users with too few ratings. */
  readonly groupOfUser: Int32Array;
  readonly groupSizes: Uint32Array;
  /** Observed share of the active users' ratings matrix. */
  readonly observedShare: number;
  /** Members who rated both posts of a pair, on average over the pairs of rated posts (`minCoRaters`). */
  readonly coRaters: number;
  /** Mean silhouette of the clustering kept (−1 … 1; 0 when nobody is grouped). */
  readonly silhouette: number;
  /** Dense enough to look (`minCoRaters`), and every group found has `minGroupSize` members. */
  readonly reliable: boolean;
}

const DEFAULT_OPINION_GROUP_OPTIONS = Object.freeze({
  maxGroups: 5,
  minGroupSize: 3,
  components: 2,
  minRatings: 7,
  minCoRaters: 5,
});

const POWER_ITERATIONS = 300;
const POWER_TOLERANCE = 1e-10;
const KMEANS_ITERATIONS = 100;
/**
 * @NOTE From 8 starts the groups depended on the order the users happened to be indexed in (which
 * point a start draws): the same votes interned in reverse gave bg2050-volunteers a partition with an
 * adjusted Rand index of 0.50 against the first, austria-climate 0.92. From 32 starts every one of
 * the seven conversations of test/fixtures/polis gets the same groups in either order and from the
 * seeds tried, at about 0.3 s more CPU on austria-climate's 827 members (1.05 → 1.37 s a call).
 */
const KMEANS_STARTS = 32;
const KMEANS_SEED = 7;
/** k-means and the silhouette run on at most this many users (an even sample); everyone is then assigned. */
const CLUSTER_SAMPLE = 2_000;
/** Polis clusters at least this many people: when fewer rated enough, those who rated most join them. */
const GREEDY_MEMBERS = 15;

export function findOpinionGroups(cells: RatingCells, options: OpinionGroupOptions = {}): OpinionGroups {
  const o = { ...DEFAULT_OPINION_GROUP_OPTIONS, ...options };
  if (o.groups !== undefined && !(Number.isInteger(o.groups) && o.groups >= 2)) throw new BridgingInputError('groups must be an integer ≥ 2');
  if (!(Number.isInteger(o.maxGroups) && o.maxGroups >= 2)) throw new BridgingInputError('maxGroups must be an integer ≥ 2');
  if (!(Number.isInteger(o.components) && o.components >= 1)) throw new BridgingInputError('components must be a positive integer');
  const { userCount: U } = cells;
  const { members, ratings, ratedPosts, observedShare, coRaters } = activeUsers(cells, o.minRatings);
  // Polis tries at most 2 + ⌊clustered points / 12⌋ groups: a handful of people is not five camps.
  const maxGroups = Math.min(o.maxGroups, 2 + Math.floor(Math.min(members.length, CLUSTER_SAMPLE) / 12));
  const tried = o.groups !== undefined ? [o.groups] : Array.from({ length: maxGroups - 1 }, (_, i) => i + 2);
  const groupOfUser = new Int32Array(U).fill(-1);
  const nothing = { groupCount: tried[0]!, groupOfUser, groupSizes: new Uint32Array(tried[0]!), observedShare, coRaters, silhouette: 0, reliable: false };
  // Too few people, or too sparse to find camps in: nobody is grouped.
  if (members.length < Math.max(2, tried[0]!) || coRaters < o.minCoRaters) return nothing;

  const k = o.components;
  const points = projectUsers(cells, members, ratings, ratedPosts, k);
  const sample = evenSample(members.length, CLUSTER_SAMPLE);
  let best: { centres: Float64Array[]; silhouette: number } | undefined;
  for (const groups of tried) {
    if (groups > sample.length) break;
    const centres = bestKMeans(points, sample, k, groups);
    const assignment = assign(points, sample, k, centres);
    const sizes = new Uint32Array(groups);
    for (const g of assignment) sizes[g]!++;
    if (sizes.some((size) => size < Math.min(o.minGroupSize, Math.floor(sample.length / groups)))) continue;
    const score = silhouette(points, sample, k, assignment, groups);
    if (!best || score > best.silhouette) best = { centres, silhouette: score };
  }
  if (!best) return nothing;
  const everyone = assign(points, Uint32Array.from(members.keys()), k, best.centres);
  const groupSizes = new Uint32Array(best.centres.length);
  members.forEach((u, i) => {
    groupOfUser[u] = everyone[i]!;
    groupSizes[everyone[i]!]!++;
  });
  return {
    groupCount: best.centres.length,
    groupOfUser,
    groupSizes,
    observedShare,
    coRaters,
    silhouette: best.silhouette,
    reliable: groupSizes.every((size) => size >= Math.min(o.minGroupSize, members.length / best.centres.length)),
  };
}

const rated = (cells: RatingCells, c: number) => cells.kind[c] !== CellKind.Exposed;
const ratingValue = (cells: RatingCells, c: number) => (cells.kind[c] === CellKind.Approval ? 1 : cells.kind[c] === CellKind.Negative ? -1 : 0);

/**
 * Who votes and who is clustered, as Polis decides: the voters (one rating or more), the members
 * (`minRatings` ratings, or every rated post when there are fewer; and when that leaves fewer than
 * `GREEDY_MEMBERS`, the voters who rated most join them), how many ratings each gave, and how dense
 * the members' part of the matrix is.
 */
function activeUsers(cells: RatingCells, minRatings: number) {
  const { userCount: U, postCount: P, cellCount: C } = cells;
  const ratings = new Uint32Array(U);
  for (let c = 0; c < C; c++) if (rated(cells, c)) ratings[cells.cellUser[c]!]!++;
  const postRated = new Uint8Array(P);
  for (let c = 0; c < C; c++) if (rated(cells, c)) postRated[cells.cellPost[c]!] = 1;
  const ratedPosts = postRated.reduce((n, r) => n + r, 0);
  const threshold = Math.min(minRatings, ratedPosts);
  const voters: number[] = [];
  for (let u = 0; u < U; u++) if (ratings[u]! > 0) voters.push(u);
  const members = voters.filter((u) => ratings[u]! >= threshold);
  if (members.length < GREEDY_MEMBERS) {
    const rest = voters.filter((u) => ratings[u]! < threshold).sort((a, b) => ratings[b]! - ratings[a]! || a - b);
    members.push(...rest.slice(0, GREEDY_MEMBERS - members.length));
  }
  let observed = 0;
  // Σ over members of the pairs of posts each rated: the co-raters of every pair of posts, summed.
  let ratedPairs = 0;
  for (const u of members) {
    const r = ratings[u]!;
    observed += r;
    ratedPairs += r * (r - 1);
  }
  const observedShare = members.length > 0 ? observed / (members.length * ratedPosts) : 0;
  const coRaters = ratedPosts > 1 ? ratedPairs / (ratedPosts * (ratedPosts - 1)) : 0;
  return { members, ratings, ratedPosts, observedShare, coRaters };
}

/**
 * The members' sparsity-aware projections on the first `k` principal components of their centred
 * ratings (a missing rating, imputed by the post's mean, centres to 0): row-major members × k.
 */
function projectUsers(cells: RatingCells, members: readonly number[], ratings: Uint32Array, ratedPosts: number, k: number): Float64Array {
  const { userCount: U, postCount: P, cellCount: C } = cells;
  const row = new Int32Array(U).fill(-1);
  members.forEach((u, i) => (row[u] = i));
  const sum = new Float64Array(P);
  const count = new Uint32Array(P);
  const postRated = new Uint8Array(P);
  for (let c = 0; c < C; c++) {
    if (!rated(cells, c) || row[cells.cellUser[c]!]! < 0) continue;
    sum[cells.cellPost[c]!]! += ratingValue(cells, c);
    count[cells.cellPost[c]!]!++;
    postRated[cells.cellPost[c]!] = 1;
  }
  const centred = new Float64Array(C);
  for (let c = 0; c < C; c++) {
    if (!rated(cells, c) || row[cells.cellUser[c]!]! < 0) continue;
    const p = cells.cellPost[c]!;
    centred[c] = ratingValue(cells, c) - sum[p]! / count[p]!;
  }
  const components = principalComponents(cells, centred, postRated, k);
  const points = new Float64Array(members.length * k);
  for (let c = 0; c < C; c++) {
    const i = row[cells.cellUser[c]!]!;
    if (i < 0) continue;
    for (let d = 0; d < k; d++) points[i * k + d]! += centred[c]! * components[d]![cells.cellPost[c]!]!;
  }
  members.forEach((u, i) => {
    const scale = Math.sqrt(ratedPosts / ratings[u]!);
    for (let d = 0; d < k; d++) points[i * k + d]! *= scale;
  });
  return points;
}

/** Principal components by power iteration on XᵀX, each deflated against those found before. */
function principalComponents(cells: RatingCells, centred: Float64Array, postRated: Uint8Array, k: number): Float64Array[] {
  const { userCount: U, postCount: P, cellCount: C } = cells;
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
  return components;
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

/** At most `max` indices of 0 … n−1, evenly spaced. */
function evenSample(n: number, max: number): Uint32Array {
  if (n <= max) return Uint32Array.from({ length: n }, (_, i) => i);
  return Uint32Array.from({ length: max }, (_, i) => Math.floor((i * n) / max));
}

function squaredDistance(points: Float64Array, i: number, k: number, centre: Float64Array): number {
  let s = 0;
  for (let d = 0; d < k; d++) s += (points[i * k + d]! - centre[d]!) ** 2;
  return s;
}

/** The nearest centre of each point of `rows`. */
function assign(points: Float64Array, rows: Uint32Array, k: number, centres: readonly Float64Array[]): Int32Array {
  const out = new Int32Array(rows.length);
  rows.forEach((i, r) => {
    let best = 0;
    let bestDistance = Infinity;
    centres.forEach((centre, g) => {
      const distance = squaredDistance(points, i, k, centre);
      if (distance < bestDistance) {
        bestDistance = distance;
        best = g;
      }
    });
    out[r] = best;
  });
  return out;
}

/** Lloyd's k-means from `KMEANS_STARTS` seeded k-means++ starts; the centres with the least within-group spread. */
function bestKMeans(points: Float64Array, rows: Uint32Array, k: number, groups: number): Float64Array[] {
  const rng = seededRandom(KMEANS_SEED + groups);
  let best: { centres: Float64Array[]; spread: number } | undefined;
  for (let start = 0; start < KMEANS_STARTS; start++) {
    const centres = kMeansPlusPlus(points, rows, k, groups, rng.next);
    const spread = lloyd(points, rows, k, centres);
    if (!best || spread < best.spread - 1e-12) best = { centres, spread };
  }
  return best!.centres;
}

/** k-means++ seeding: each next centre drawn with probability proportional to its squared distance. */
function kMeansPlusPlus(points: Float64Array, rows: Uint32Array, k: number, groups: number, random: () => number): Float64Array[] {
  const pointAt = (i: number) => points.slice(i * k, i * k + k);
  const centres = [pointAt(rows[Math.floor(random() * rows.length)]!)];
  const nearest = Float64Array.from(rows, (i) => squaredDistance(points, i, k, centres[0]!));
  while (centres.length < groups) {
    const total = nearest.reduce((s, d) => s + d, 0);
    let target = random() * total;
    let chosen = rows.length - 1;
    for (let r = 0; r < rows.length; r++) {
      target -= nearest[r]!;
      if (target < 0) {
        chosen = r;
        break;
      }
    }
    const centre = pointAt(rows[chosen]!);
    centres.push(centre);
    rows.forEach((i, r) => (nearest[r] = Math.min(nearest[r]!, squaredDistance(points, i, k, centre))));
  }
  return centres;
}

/** Lloyd iterations on `centres` in place, until no point changes group; returns the within-group sum of squares. */
function lloyd(points: Float64Array, rows: Uint32Array, k: number, centres: Float64Array[]): number {
  const groups = centres.length;
  const assignment = new Int32Array(rows.length).fill(-1);
  const sums = new Float64Array(groups * k);
  const sizes = new Uint32Array(groups);
  let spread = 0;
  for (let iteration = 0; iteration < KMEANS_ITERATIONS; iteration++) {
    let changed = false;
    spread = 0;
    sums.fill(0);
    sizes.fill(0);
    for (let r = 0; r < rows.length; r++) {
      const i = rows[r]!;
      let best = 0;
      let bestDistance = Infinity;
      for (let g = 0; g < groups; g++) {
        const distance = squaredDistance(points, i, k, centres[g]!);
        if (distance < bestDistance) {
          bestDistance = distance;
          best = g;
        }
      }
      if (assignment[r] !== best) {
        assignment[r] = best;
        changed = true;
      }
      spread += bestDistance;
      sizes[best]!++;
      for (let d = 0; d < k; d++) sums[best * k + d]! += points[i * k + d]!;
    }
    if (!changed) break;
    for (let g = 0; g < groups; g++) {
      if (sizes[g]! > 0) for (let d = 0; d < k; d++) centres[g]![d] = sums[g * k + d]! / sizes[g]!;
    }
  }
  return spread;
}

/** Mean silhouette `(b − a) / max(a, b)` of the points of `rows` (a: mean distance to its own group, b: to the nearest other). */
function silhouette(points: Float64Array, rows: Uint32Array, k: number, assignment: Int32Array, groups: number): number {
  const sizes = new Uint32Array(groups);
  for (const g of assignment) sizes[g]!++;
  const sums = new Float64Array(groups);
  let total = 0;
  for (let r = 0; r < rows.length; r++) {
    sums.fill(0);
    for (let q = 0; q < rows.length; q++) {
      if (q === r) continue;
      let s = 0;
      for (let d = 0; d < k; d++) s += (points[rows[r]! * k + d]! - points[rows[q]! * k + d]!) ** 2;
      sums[assignment[q]!]! += Math.sqrt(s);
    }
    const own = assignment[r]!;
    if (sizes[own]! <= 1) continue;
    const a = sums[own]! / (sizes[own]! - 1);
    let b = Infinity;
    for (let g = 0; g < groups; g++) if (g !== own && sizes[g]! > 0) b = Math.min(b, sums[g]! / sizes[g]!);
    const m = Math.max(a, b);
    if (m > 0 && b !== Infinity) total += (b - a) / m;
  }
  return total / rows.length;
}
