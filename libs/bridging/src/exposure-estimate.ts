import { BridgingInputError } from './errors.js';
import type { GroupMembership } from './group-membership.js';
import type { PostGroupValues } from './group-evidence.js';
import type { InteractionTable } from './interaction-table.js';
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
  /** Assumed approval rate per impression, for `'activity'` weighting. Default 0.5. */
  approvalRate?: number;
  weights?: Partial<ApprovalWeights>;
  /**
   * 1 for the users whose exposure to estimate (default: every user), e.g.
   * `usersWithoutExposureReports`; pass the same mask to `groupEvidence` as `estimatedUsers`.
   */
  users?: Uint8Array;
}

/**
 * Estimates exposure per (post, group) when all we observe is approvals (likes, reposts): the
 * members who were active while the post was live, each weighted by how much of the feed they
 * evidently consumed. Activity spans come from the users' own rows (first to last signal).
 * Feed it to `groupEvidence` as `exposureFloor`.
 *
 * @NOTE a user's last signal bounds what they could have seen: a post created after it cannot
 * have been seen. A member who liked 3 of 50 live posts did not see all 50; dividing by every
 * active member would treat heavy and light users alike, so each counts with an estimated coverage.
 * Only the relative size of the estimate across posts matters much for the ranking (a constant
 * factor per group moves every post's product alike, up to the prior), so `approvalRate` needs
 * to be roughly right, not exact.
 */
export function estimateExposure(
  table: InteractionTable,
  membership: GroupMembership,
  options: ExposureEstimateOptions,
): PostGroupValues {
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

  // Per group, members sorted by last and by first activity with prefix sums of coverage: then the
  // members active in [c, c + W] are (last ≥ c) minus (first > c + W) — first ≤ last makes these nested.
  const G = membership.groupCount;
  const members: number[][] = Array.from({ length: G }, () => []);
  const memberUsers = Math.min(U, membership.offsets.length - 1);
  const only = options.users;
  for (let u = 0; u < memberUsers; u++) {
    if (last[u] === -Infinity || (only && only[u] !== 1)) continue;
    for (let m = membership.offsets[u]!; m < membership.offsets[u + 1]!; m++) members[membership.groups[m]!]!.push(u);
  }
  const dense = new Float64Array(P * G);
  for (let g = 0; g < G; g++) {
    const list = members[g]!;
    if (list.length === 0) continue;
    const byLast = Float64Array.from(list, (u) => last[u]!);
    const lastOrder = Array.from(list.keys()).sort((a, b) => byLast[a]! - byLast[b]!);
    const lastSorted = Float64Array.from(lastOrder, (i) => byLast[i]!);
    const lastSuffix = suffixSums(lastOrder.map((i) => coverage[list[i]!]!));
    const byFirst = Float64Array.from(list, (u) => first[u]!);
    const firstOrder = Array.from(list.keys()).sort((a, b) => byFirst[a]! - byFirst[b]!);
    const firstSorted = Float64Array.from(firstOrder, (i) => byFirst[i]!);
    const firstSuffix = suffixSums(firstOrder.map((i) => coverage[list[i]!]!));
    for (let p = 0; p < P; p++) {
      const c = created[p]!;
      let s = lastSuffix[countBelow(lastSorted, c)]!;
      if (windowMs !== Infinity) s -= firstSuffix[countAtMost(firstSorted, c + windowMs)]!;
      dense[p * G + g] = Math.max(0, s);
    }
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

function suffixSums(values: number[]): Float64Array {
  const out = new Float64Array(values.length + 1);
  for (let i = values.length - 1; i >= 0; i--) out[i] = out[i + 1]! + values[i]!;
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
