import { runSteps, type Steps } from '#lib/steps';
import { BridgingInputError } from './errors.js';
import { groupEvidence, type PostGroupValues } from './group-evidence.js';
import type { GroupMembership } from './group-membership.js';
import type { InteractionTable } from './interaction-table.js';
import { aggregateCells, type RatingCells } from './rating-cells.js';
import { approvalWeightTable, Signal, type ApprovalWeights } from './signal.js';

interface ExposureEstimateOptions {
  /** When each post appeared (client `createdAt` or first sighting), by post index. */
  postCreatedMs: Float64Array;
  /** A member counts for a post if active at some time in `[created, created + windowMs]`. Default: unbounded. */
  windowMs?: number;
  /**
   * `'active'`: every member active in the window counts once. `'activity'` (default): each counts with
   * the share of live posts it plausibly saw, `min(1, approvals_u / (approvalRate × postsLive_u))`.
   */
  weighting?: 'active' | 'activity';
  /** Assumed approval rate per impression, for `'activity'` weighting: a member's likes over it is how many posts it saw. Default 0.5. */
  approvalRate?: number;
  weights?: Partial<ApprovalWeights>;
  /**
   * 1 for the users whose exposure to estimate (default: every user), e.g.
   * `usersWithoutExposureReports`; pass the same mask to `groupEvidence` as `estimatedUsers`.
   */
  users?: Uint8Array;
  /** The table's cells when the caller aggregated them already (with `weights`). */
  cells?: RatingCells;
  /** The Beta prior of each group's approval, as the consensus uses it. Default Polis's (1, 2). */
  prior?: { approvals: number; exposure: number };
}

/**
 * Estimates exposure per (post, group) when all we observe is approvals (likes, reposts): the
 * expected number of the group's members who saw the post. A member who rated it saw it; a member
 * who was active while it was live and did not rate it saw it with `q(1 − θ)/(1 − qθ)`, where `q` is
 * the share of live posts the member plausibly saw and θ the group's approval of the post (the
 * posterior `(A + a₀)/(S + s₀)` on the exposure this gives, a fixed point). Activity spans come from
 * the users' own rows (first to last signal). Feed it to `groupEvidence` as `exposureFloor`.
 *
 * @NOTE a user's last signal bounds what they could have seen: a post created after it cannot
 * have been seen. A member who liked 3 of 50 live posts did not see all 50, so each counts with an
 * estimated coverage q. Not liking a post is evidence of not having seen it, and the stronger the
 * more the group approves of it: the chance that a member who did not like it saw it is Bayes's
 * rule on q and θ. Counting every member at q whatever they did (the mean) made a post's exposure
 * blind to how many liked it, so a post liked by more members than the mean coverage predicts
 * looked approved by all who saw it, and 7 likes of 8 members ranked like 8 of 8. Members who saw
 * everything (q = 1) count fully, liked or not, as Polis counts them; only the relative size of the
 * estimate across posts matters much for the ranking, so `approvalRate` needs to be roughly right,
 * not exact.
 */
export function estimateExposure(table: InteractionTable, membership: GroupMembership, options: ExposureEstimateOptions): PostGroupValues {
  return runSteps(estimateExposureSteps(table, membership, options));
}

/** `estimateExposure` in steps (`#lib/steps`): between its stages, and every 1,024 posts of its sweep over them. */
export function* estimateExposureSteps(table: InteractionTable, membership: GroupMembership, options: ExposureEstimateOptions): Steps<PostGroupValues> {
  const { userCount: U, postCount: P } = table;
  const created = options.postCreatedMs;
  if (created.length !== P) throw new BridgingInputError('postCreatedMs needs one entry per post');
  const windowMs = options.windowMs ?? Infinity;
  const weighting = options.weighting ?? 'activity';
  const rate = options.approvalRate ?? 0.5;
  if (!(rate > 0 && rate <= 1)) throw new BridgingInputError('approvalRate must be in (0, 1]');
  const weightOf = approvalWeightTable(options.weights);

  const first = new Float64Array(U).fill(Infinity);
  const last = new Float64Array(U).fill(-Infinity);
  const approvals = new Float64Array(U);
  for (let i = 0; i < table.rowCount; i++) {
    const u = table.user[i]!;
    const t = table.timeMs[i]!;
    if (t < first[u]!) first[u] = t;
    if (t > last[u]!) last[u] = t;
    const w = weightOf[table.signal[i]!]!;
    if (w > 0) approvals[u]! += 1;
  }

  yield;
  // Coverage per user: the share of posts live during its activity that it plausibly saw.
  const coverage = new Float64Array(U);
  const sortedCreated = Float64Array.from(created).sort();
  for (let u = 0; u < U; u++) {
    if (last[u] === -Infinity) continue;
    if (weighting === 'active') {
      coverage[u] = 1;
      continue;
    }
    const live = countAtMost(sortedCreated, last[u]!) - countBelow(sortedCreated, first[u]! - windowMs);
    coverage[u] = live > 0 ? Math.min(1, Math.max(approvals[u]!, 1) / (rate * live)) : 1;
  }

  // Members of each group whose exposure is estimated, sorted by last and by first activity: sweeping
  // the posts newest first, a member enters the active set once its last activity reaches the post's
  // creation and leaves once its first activity is more than a window after it.
  const G = membership.groupCount;
  const memberUsers = Math.min(U, membership.offsets.length - 1);
  const only = options.users;
  const estimated = new Uint8Array(U);
  const entries: number[] = [];
  for (let u = 0; u < memberUsers; u++) {
    if (last[u] === -Infinity || (only && only[u] !== 1)) continue;
    estimated[u] = 1;
    if (membership.offsets[u + 1]! > membership.offsets[u]!) entries.push(u);
  }
  yield;
  const byLast = Uint32Array.from(entries).sort((a, b) => last[b]! - last[a]!);
  const byFirst = Uint32Array.from(entries).sort((a, b) => first[b]! - first[a]!);
  yield;
  const postOrder = Uint32Array.from({ length: P }, (_, p) => p).sort((a, b) => created[b]! - created[a]!);
  yield;

  // What the cells already say, per (post, group): approvals of every member, the exposure members
  // reported, and the estimated members who rated the post (they saw it).
  const cells = options.cells ?? aggregateCells(table, { ...(options.weights && { weights: options.weights }) });
  const observed = groupEvidence(cells, membership, { exposureFloor: emptyPostGroupValues(P), estimatedUsers: estimated });
  yield;
  const prior = options.prior ?? { approvals: 1, exposure: 2 };
  if (!(prior.approvals > 0 && prior.exposure > prior.approvals)) throw new BridgingInputError('prior needs 0 < approvals < exposure');

  const active = new CoverageHistogram(G);
  const isActive = new Uint8Array(U);
  const { offsets: mOff, groups: mGroups } = membership;
  const dense = new Float64Array(P * G);
  // Where no member of a group rated the post, its estimate depends only on the active set: computed
  // once per change of that set (most (post, group) pairs of a sparse window).
  const unratedVersion = new Float64Array(G).fill(-1);
  const unratedValue = new Float64Array(G);
  const entryOf = new Int32Array(G).fill(-1);
  let nextLast = 0;
  let nextFirst = 0;
  for (const [index, p] of postOrder.entries()) {
    if (index % 1_024 === 0) yield;
    const c = created[p]!;
    for (; nextLast < byLast.length && last[byLast[nextLast]!]! >= c; nextLast++) {
      const u = byLast[nextLast]!;
      if (first[u]! > c + windowMs) continue;
      isActive[u] = 1;
      for (let m = mOff[u]!; m < mOff[u + 1]!; m++) active.add(mGroups[m]!, coverage[u]!, true);
    }
    for (; nextFirst < byFirst.length && first[byFirst[nextFirst]!]! > c + windowMs; nextFirst++) {
      const u = byFirst[nextFirst]!;
      if (isActive[u] !== 1) continue;
      isActive[u] = 0;
      for (let m = mOff[u]!; m < mOff[u + 1]!; m++) active.remove(mGroups[m]!, coverage[u]!, true);
    }
    // The active members who rated the post saw it: set them aside, the rest may have seen it.
    const setAside = (put: (g: number, q: number) => void) => {
      for (let k = cells.postOffsets[p]!; k < cells.postOffsets[p + 1]!; k++) {
        const u = cells.cellUser[k]!;
        if (u < U && isActive[u] === 1) for (let m = mOff[u]!; m < mOff[u + 1]!; m++) put(mGroups[m]!, coverage[u]!);
      }
    };
    setAside((g, q) => active.remove(g, q));
    const from = observed.postOffsets[p]!;
    const to = observed.postOffsets[p + 1]!;
    for (let e = from; e < to; e++) entryOf[observed.group[e]!] = e;
    for (let g = 0; g < G; g++) {
      if (active.isEmpty(g)) {
        if (entryOf[g]! >= 0) dense[p * G + g] = observed.exposure[entryOf[g]!]! - observed.reportedExposure![entryOf[g]!]!;
        continue;
      }
      const e = entryOf[g]!;
      if (e < 0) {
        if (unratedVersion[g] !== active.version(g)) {
          unratedVersion[g] = active.version(g);
          unratedValue[g] = expectedUnratedExposure(active, g, 0, 0, prior);
        }
        dense[p * G + g] = unratedValue[g]!;
        continue;
      }
      const reported = observed.reportedExposure![e]!;
      const seen = observed.exposure[e]! - reported;
      dense[p * G + g] = seen + expectedUnratedExposure(active, g, observed.approvals[e]!, reported + seen, prior);
    }
    for (let e = from; e < to; e++) entryOf[observed.group[e]!] = -1;
    setAside((g, q) => active.add(g, q));
  }

  const postOffsets = new Uint32Array(P + 1);
  let n = 0;
  for (let p = 0; p < P; p++) {
    for (let g = 0; g < G; g++) if (dense[p * G + g]! > 0) n++;
    postOffsets[p + 1] = n;
  }
  const group = new Uint32Array(n);
  const value = new Float64Array(n);
  let e = 0;
  for (let p = 0; p < P; p++) {
    for (let g = 0; g < G; g++) {
      const v = dense[p * G + g]!;
      if (v > 0) {
        group[e] = g;
        value[e++] = v;
      }
    }
  }
  return { postOffsets, group, value };
}

/** Buckets of coverage below 1; members who saw everything are counted apart (they saw the post for sure). */
const COVERAGE_BUCKETS = 32;

/**
 * The coverages of the active members of each group, as counts and sums per bucket (a member who
 * saw a post with probability q and did not rate it saw it with q(1 − θ)/(1 − qθ), which is
 * evaluated once per bucket at its mean coverage).
 */
class CoverageHistogram {
  private readonly count: Float64Array;
  private readonly sum: Float64Array;
  private readonly members: Float64Array;
  /** Changes of each group's set of members (not counting those set aside and put back). */
  private readonly changes: Float64Array;

  constructor(groups: number) {
    this.count = new Float64Array(groups * (COVERAGE_BUCKETS + 1));
    this.sum = new Float64Array(groups * (COVERAGE_BUCKETS + 1));
    this.members = new Float64Array(groups);
    this.changes = new Float64Array(groups);
  }

  add(group: number, coverage: number, change = false): void {
    const k = this.slot(group, coverage);
    this.count[k]! += 1;
    this.sum[k]! += coverage;
    this.members[group]! += 1;
    if (change) this.changes[group]! += 1;
  }

  remove(group: number, coverage: number, change = false): void {
    const k = this.slot(group, coverage);
    this.count[k]! -= 1;
    this.sum[k]! -= coverage;
    this.members[group]! -= 1;
    if (change) this.changes[group]! += 1;
  }

  version(group: number): number {
    return this.changes[group]!;
  }

  isEmpty(group: number): boolean {
    return this.members[group]! < 0.5;
  }

  /** Σ over the group's members of the chance that one who did not rate the post saw it, at approval θ. */
  unratedSeen(group: number, theta: number): number {
    const base = group * (COVERAGE_BUCKETS + 1);
    let total = this.count[base + COVERAGE_BUCKETS]!;
    for (let k = base; k < base + COVERAGE_BUCKETS; k++) {
      const n = this.count[k]!;
      if (n < 0.5) continue;
      const q = this.sum[k]! / n;
      total += (n * q * (1 - theta)) / (1 - q * theta);
    }
    return total;
  }

  private slot(group: number, coverage: number): number {
    const bucket = coverage >= 1 ? COVERAGE_BUCKETS : Math.min(COVERAGE_BUCKETS - 1, Math.floor(coverage * COVERAGE_BUCKETS));
    return group * (COVERAGE_BUCKETS + 1) + bucket;
  }
}

/**
 * Expected number of the group's active members who saw the post without rating it. A member who
 * saw a post approves it with the group's approval θ, so not rating it is evidence of not having
 * seen it: with coverage q, P(seen | not rated) = q(1 − θ)/(1 − qθ). θ is the group's posterior
 * approval on the exposure that results, `(A + a₀)/(S + s₀)`: a fixed point, found by iterating
 * from θ = 0 (each step raises θ and lowers the exposure, so it converges from below).
 */
function expectedUnratedExposure(
  active: CoverageHistogram,
  group: number,
  approvals: number,
  seen: number,
  prior: { approvals: number; exposure: number },
): number {
  let theta = 0;
  let unrated = active.unratedSeen(group, theta);
  for (let i = 0; i < 100; i++) {
    const next = (approvals + prior.approvals) / (seen + unrated + prior.exposure);
    if (Math.abs(next - theta) < 1e-7) break;
    theta = Math.min(next, 1 - 1e-12);
    unrated = active.unratedSeen(group, theta);
  }
  return unrated;
}

function emptyPostGroupValues(postCount: number): PostGroupValues {
  return { postOffsets: new Uint32Array(postCount + 1), group: new Uint32Array(0), value: new Float64Array(0) };
}

/**
 * 1 for each user none of whose rows reports exposure (`Seen`: a served impression or
 * `interactionSeen`; or `RequestLess`). A user whose client sends feedback has its exposure
 * observed; the others only approve, and what they saw has to be estimated.
 */
export function usersWithoutExposureReports(table: InteractionTable): Uint8Array {
  const out = new Uint8Array(table.userCount).fill(1);
  for (let i = 0; i < table.rowCount; i++) {
    const signal = table.signal[i]!;
    if (signal === Signal.Seen || signal === Signal.RequestLess) out[table.user[i]!] = 0;
  }
  return out;
}

/** Number of entries < x in an ascending array. */
function countBelow(sorted: Float64Array, x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Number of entries ≤ x in an ascending array. */
function countAtMost(sorted: Float64Array, x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
