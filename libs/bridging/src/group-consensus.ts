import { BridgingInputError } from './errors.js';
import type { GroupEvidence } from './group-evidence.js';

/**
 * Group-informed consensus (Polis): `GIC(p) = Π_g (A_gp + a₀) / (S_gp + s₀)`, with a Beta prior
 * that defaults to Polis's (a₀ = 1, s₀ = 2): the estimated probability that every group approves.
 */
export interface ConsensusOptions {
  prior?: { approvals: number; exposure: number };
  /**
   * `'all'`: every group enters the product, and a group with no exposure contributes a₀/s₀ — Polis's
   * definition, for a handful of opinion groups. `'exposed'` (default): every group with any exposure
   * enters, so posts can be compared across many overlapping communities through the geometric mean.
   * @NOTE a group with little exposure still enters: dropping groups below a threshold lets a
   * partisan post escape the verdict of the few opponents who did see it (it then looks like it
   * bridges its two allied communities). Thresholds decide eligibility only.
   */
  scope?: 'all' | 'exposed';
  /** Exposure a group needs to count as evidence. Default 1. */
  minExposure?: number;
  /**
   * Approvals a group needs (besides `minExposure`) to count as evidence. Default 0: a group that saw
   * a post and passed it over said something about it, as a Polis disagree does; the prior orders
   * posts with thin evidence below those with the same approval rate on more votes.
   */
  minApprovals?: number;
  /** Groups with evidence a post needs to be eligible. Default 2. */
  minGroups?: number;
  /**
   * When set, each group's factor is the lower bound of its approval (the Wilson score bound at `z`
   * standard deviations, on the counts with the prior added) instead of the posterior mean: thin
   * evidence then ranks by how sure it is, below as strong a verdict on more votes. Default: the mean.
   */
  lowerBoundZ?: number;
}

export interface GroupConsensus {
  /** The product over the groups counted. */
  readonly gic: Float64Array;
  /** `gic^(1/G)` with G the groups counted: comparable across posts seen by different numbers of groups. */
  readonly geoMean: Float64Array;
  readonly groupsCounted: Uint32Array;
  readonly groupsWithEvidence: Uint32Array;
  /** 1 when at least `minGroups` groups gave evidence (approvals and exposure); 0 otherwise. */
  readonly eligible: Uint8Array;
}

const DEFAULT_CONSENSUS_OPTIONS: Readonly<Required<ConsensusOptions>> = Object.freeze({
  prior: { approvals: 1, exposure: 2 },
  scope: 'exposed',
  minExposure: 1,
  minApprovals: 0,
  minGroups: 2,
  lowerBoundZ: 0,
});

/** @NOTE sums logs rather than multiplying: with hundreds of communities the product underflows. */
export function groupInformedConsensus(evidence: GroupEvidence, options: ConsensusOptions = {}): GroupConsensus {
  const o = { ...DEFAULT_CONSENSUS_OPTIONS, ...options };
  const a0 = o.prior.approvals;
  const s0 = o.prior.exposure;
  if (!(a0 > 0 && s0 > a0)) throw new BridgingInputError('prior needs 0 < approvals < exposure');
  const P = evidence.postCount;
  const G = evidence.groupCount;
  const gic = new Float64Array(P);
  const geoMean = new Float64Array(P);
  const groupsCounted = new Uint32Array(P);
  const groupsWithEvidence = new Uint32Array(P);
  const eligible = new Uint8Array(P);
  const z = o.lowerBoundZ;
  if (!(z >= 0)) throw new BridgingInputError('lowerBoundZ must be ≥ 0');
  // @NOTE the bound counts only reported exposure as trials: an estimated exposure is an expected
  // number of viewers, not votes, so a group's z shrinks with the share of its exposure estimated.
  const factor = (A: number, S: number, reported: number) => {
    const zr = S > 0 ? (z * Math.min(reported, S)) / S : z;
    return zr > 0 ? wilsonLowerBound(A + a0, S + s0, zr) : (A + a0) / (S + s0);
  };
  const emptyLog = Math.log(factor(0, 0, 0));
  const reported = evidence.reportedExposure;
  for (let p = 0; p < P; p++) {
    let logSum = 0;
    let counted = 0;
    let evidenced = 0;
    for (let e = evidence.postOffsets[p]!; e < evidence.postOffsets[p + 1]!; e++) {
      const A = evidence.approvals[e]!;
      const S = evidence.exposure[e]!;
      if (S >= o.minExposure && A >= o.minApprovals) evidenced++;
      if (!(S > 0) && o.scope === 'exposed') continue;
      logSum += Math.log(factor(A, S, reported ? reported[e]! : S));
      counted++;
    }
    if (o.scope === 'all') {
      logSum += (G - counted) * emptyLog;
      counted = G;
    }
    groupsCounted[p] = counted;
    groupsWithEvidence[p] = evidenced;
    eligible[p] = evidenced >= o.minGroups ? 1 : 0;
    if (counted > 0) {
      gic[p] = Math.exp(logSum);
      geoMean[p] = Math.exp(logSum / counted);
    }
  }
  return { gic, geoMean, groupsCounted, groupsWithEvidence, eligible };
}

/**
 * Lower bound of a proportion from `successes` of `trials` (Wilson's score interval): in (0, 1) for
 * 0 < successes < trials, which the prior guarantees. The proportion is held to [0, 1], so counts
 * that disagree (more successes than trials) give a bound, not the root of a negative number.
 */
export function wilsonLowerBound(successes: number, trials: number, z: number): number {
  const p = Math.min(1, Math.max(0, successes / trials));
  const z2 = (z * z) / trials;
  return (p + z2 / 2 - z * Math.sqrt((p * (1 - p)) / trials + z2 / (4 * trials))) / (1 + z2);
}

/** The formula on plain per-group counts (one post): the reference the kernels are checked against. */
export function consensusFromCounts(
  approvals: readonly number[],
  exposure: readonly number[],
  prior: { approvals: number; exposure: number } = DEFAULT_CONSENSUS_OPTIONS.prior,
): { gic: number; geoMean: number } {
  if (approvals.length !== exposure.length || approvals.length === 0) {
    throw new BridgingInputError('approvals and exposure need one entry per group');
  }
  let gic = 1;
  for (let g = 0; g < approvals.length; g++) gic *= (approvals[g]! + prior.approvals) / (exposure[g]! + prior.exposure);
  return { gic, geoMean: Math.pow(gic, 1 / approvals.length) };
}
