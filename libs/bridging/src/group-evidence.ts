import { BridgingInputError } from './errors.js';
import type { GroupMembership } from './group-membership.js';
import { CellKind, type RatingCells } from './rating-cells.js';

/** A sparse (post, group) → value map, CSR by post with groups ascending within a post. */
export interface PostGroupValues {
  readonly postOffsets: Uint32Array;
  readonly group: Uint32Array;
  readonly value: Float64Array;
}

/**
 * Per (post, group): graded approvals A and exposure S (how many members could have seen it).
 * Sparse: only pairs with exposure appear. When user sides are given (the opinion axis from the
 * factor model), the counts of the members whose exposure is observed (not estimated) are split by
 * side: index `2*e` is the negative side, `2*e+1` the positive side of entry e.
 */
export interface GroupEvidence {
  readonly postCount: number;
  readonly groupCount: number;
  readonly postOffsets: Uint32Array;
  readonly group: Uint32Array;
  readonly approvals: Float64Array;
  readonly exposure: Float64Array;
  /**
   * The part of `exposure` that was observed rather than estimated: members whose clients report
   * what they were shown (`estimatedUsers`), or all observed exposure when there is no floor.
   */
  readonly reportedExposure?: Float64Array;
  readonly sideApprovals?: Float64Array;
  readonly sideExposure?: Float64Array;
}

interface GroupEvidenceOptions {
  /**
   * Exposure known or estimated upstream, e.g. active followers of the author or members active in the
   * window (see `estimateExposure`). Combined as max(observed, floor): the observed exposure is a
   * lower bound, and without the member lists a count cannot be unioned exactly.
   */
  exposureFloor?: PostGroupValues;
  /**
   * 1 for the users whose exposure the floor estimates (default: every user). The observed exposure
   * of the other users (whose clients report what they were shown) is exact and is added to
   * max(observed, floor) of the estimated ones, instead of being swallowed by the estimate.
   */
  estimatedUsers?: Uint8Array;
  /** −1, 0 (no side) or +1 per user: splits the counts by opinion side for provenance. */
  userSide?: Int8Array;
}

/**
 * Counts approvals and exposure per (post, group) in one pass over the cells.
 * @NOTE approval counts only approving cells: a `requestLess` is exposure without approval, exactly
 * like a Polis disagree, so the GIC path reproduces Polis; the factor model is where negatives weigh.
 * @NOTE a member approves a post at most once, as Polis counts one agree a participant: a cell's
 * approval counts at its strength up to 1 (a reply's 0.5 counts half, a repost's 1.2 one). Counted
 * at 1.2, a community whose every member shown a post reposted it approved more often than it saw
 * it, an approval rate above 1 that the consensus cannot take. The repost's extra weight stays where
 * it grades an opinion rather than counts people: the factor model's rating.
 */
export function groupEvidence(
  cells: RatingCells,
  membership: GroupMembership,
  options: GroupEvidenceOptions = {},
): GroupEvidence {
  const { postCount } = cells;
  const G = membership.groupCount;
  const floor = options.exposureFloor;
  const side = options.userSide;
  if (floor && floor.postOffsets.length !== postCount + 1) {
    throw new BridgingInputError('exposureFloor must have postCount + 1 offsets');
  }
  if (side && side.length < cells.userCount) throw new BridgingInputError('userSide must cover every user');
  const estimated = options.estimatedUsers;
  if (estimated && estimated.length < cells.userCount) throw new BridgingInputError('estimatedUsers must cover every user');
  const memberUsers = membership.offsets.length - 1;
  const { offsets: mOff, groups: mGroups } = membership;

  const stamp = new Int32Array(G).fill(-1);
  const touched = new Uint32Array(G);
  // Pass 1: entries per post.
  const postOffsets = new Uint32Array(postCount + 1);
  for (let p = 0; p < postCount; p++) {
    let count = 0;
    for (let c = cells.postOffsets[p]!; c < cells.postOffsets[p + 1]!; c++) {
      const u = cells.cellUser[c]!;
      if (u >= memberUsers) continue;
      for (let m = mOff[u]!; m < mOff[u + 1]!; m++) {
        const g = mGroups[m]!;
        if (stamp[g] !== p) {
          stamp[g] = p;
          count++;
        }
      }
    }
    if (floor) {
      for (let e = floor.postOffsets[p]!; e < floor.postOffsets[p + 1]!; e++) {
        const g = floor.group[e]!;
        if (g >= G) throw new BridgingInputError(`exposureFloor group ${g} ≥ groupCount ${G}`);
        if (floor.value[e]! > 0 && stamp[g] !== p) {
          stamp[g] = p;
          count++;
        }
      }
    }
    postOffsets[p + 1] = postOffsets[p]! + count;
  }

  const entries = postOffsets[postCount]!;
  const group = new Uint32Array(entries);
  const approvals = new Float64Array(entries);
  const exposure = new Float64Array(entries);
  const sideApprovals = side ? new Float64Array(2 * entries) : undefined;
  const sideExposure = side ? new Float64Array(2 * entries) : undefined;
  const a = new Float64Array(G);
  const s = new Float64Array(G);
  // Observed exposure of the users the floor estimates (all of it without `estimatedUsers`).
  const se = new Float64Array(G);
  // Observed exposure of the others: reported by their clients, counted as trials.
  const sr = new Float64Array(G);
  const reportedExposure = new Float64Array(entries);
  const sa = new Float64Array(2 * G);
  const ss = new Float64Array(2 * G);
  stamp.fill(-1);
  // Pass 2: accumulate in dense scratch, then emit touched groups in ascending order.
  for (let p = 0; p < postCount; p++) {
    let count = 0;
    for (let c = cells.postOffsets[p]!; c < cells.postOffsets[p + 1]!; c++) {
      const u = cells.cellUser[c]!;
      if (u >= memberUsers) continue;
      const approval = cells.kind[c] === CellKind.Approval ? Math.min(1, cells.strength[c]!) : 0;
      const sd = side ? side[u]! : 0;
      const isEstimated = floor !== undefined && (!estimated || estimated[u] === 1);
      for (let m = mOff[u]!; m < mOff[u + 1]!; m++) {
        const g = mGroups[m]!;
        if (stamp[g] !== p) {
          stamp[g] = p;
          touched[count++] = g;
          a[g] = 0;
          s[g] = 0;
          se[g] = 0;
          sr[g] = 0;
          sa[2 * g] = sa[2 * g + 1] = ss[2 * g] = ss[2 * g + 1] = 0;
        }
        a[g]! += approval;
        s[g]! += 1;
        if (isEstimated) se[g]! += 1;
        else sr[g]! += 1;
        // @NOTE A side's rate is read from the members whose exposure is observed. A member whose
        // exposure is estimated appears in the cells only where it approved, so its side's observed
        // rate would be about 1 whatever it thinks (its estimated exposure is a group total, not a
        // side's): a side of such members against a side that reports what it was shown made every
        // post they both saw look divisive.
        if (sd !== 0 && !isEstimated) {
          const k = 2 * g + (sd > 0 ? 1 : 0);
          sa[k]! += approval;
          ss[k]! += 1;
        }
      }
    }
    if (floor) {
      for (let e = floor.postOffsets[p]!; e < floor.postOffsets[p + 1]!; e++) {
        const g = floor.group[e]!;
        const v = floor.value[e]!;
        if (!(v > 0)) continue;
        if (stamp[g] !== p) {
          stamp[g] = p;
          touched[count++] = g;
          a[g] = 0;
          s[g] = 0;
          se[g] = 0;
          sr[g] = 0;
          sa[2 * g] = sa[2 * g + 1] = ss[2 * g] = ss[2 * g + 1] = 0;
        }
        if (v > se[g]!) {
          s[g]! += v - se[g]!;
          se[g] = v;
        }
      }
    }
    const list = touched.subarray(0, count).sort();
    let e = postOffsets[p]!;
    for (const g of list) {
      group[e] = g;
      approvals[e] = a[g]!;
      exposure[e] = s[g]!;
      reportedExposure[e] = sr[g]!;
      if (sideApprovals && sideExposure) {
        sideApprovals[2 * e] = sa[2 * g]!;
        sideApprovals[2 * e + 1] = sa[2 * g + 1]!;
        sideExposure[2 * e] = ss[2 * g]!;
        sideExposure[2 * e + 1] = ss[2 * g + 1]!;
      }
      e++;
    }
  }
  const evidence: GroupEvidence = { postCount, groupCount: G, postOffsets, group, approvals, exposure, reportedExposure };
  return sideApprovals && sideExposure ? { ...evidence, sideApprovals, sideExposure } : evidence;
}
