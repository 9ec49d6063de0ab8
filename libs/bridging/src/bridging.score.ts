import { runSteps, type Steps } from '#lib/steps';
import { BridgingInputError } from './errors.js';
import {
  fitFactorModelSteps,
  opinionAxis,
  postSides,
  sideBalancedIntercepts,
  userSides,
  type FactorModel,
  type FactorModelOptions,
  type OpinionAxis,
  type PostSides,
} from './factor-model.js';
import { groupInformedConsensus, type ConsensusOptions, type GroupConsensus } from './group-consensus.js';
import { groupEvidence, type GroupEvidence, type PostGroupValues } from './group-evidence.js';
import type { GroupMembership } from './group-membership.js';
import type { InteractionTable } from './interaction-table.js';
import { provenance, type Provenance, type ProvenanceOptions } from './provenance.js';
import { aggregateCells, type ExposurePairs, type RatingCells } from './rating-cells.js';
import type { ApprovalWeights } from './signal.js';

interface BridgingInput {
  table: InteractionTable;
  /** The table's cells when the caller aggregated them already (default weights, no exposure pairs). */
  cells?: RatingCells;
  /** Communities; without them only the factor model (bridging inside the whole population) runs. */
  membership?: GroupMembership;
  /** Exact exposure hints: (user, post) pairs unioned with the observed cells. */
  exposurePairs?: ExposurePairs;
  /** Counted exposure hints per (post, group), e.g. from `estimateExposure`; combined as max(observed, floor). */
  exposureFloor?: PostGroupValues;
  /** The users the floor estimates (see `groupEvidence`); default every user. */
  estimatedUsers?: Uint8Array;
}

interface BridgingOptions {
  weights?: Partial<ApprovalWeights>;
  /** `false` skips the factor model (then provenance cannot tell divided communities). */
  factor?: FactorModelOptions | false;
  /**
   * `false` skips the consensus across the groups: the side-balanced intercept is then the score,
   * and the provenance explains it (with the axis midpoint) instead of a consensus nothing ranks by.
   */
  consensus?: ConsensusOptions | false;
  provenance?: Partial<ProvenanceOptions>;
}

export interface BridgingScores {
  readonly cells: RatingCells;
  readonly model?: FactorModel;
  readonly axis?: OpinionAxis;
  /** −1/0/+1 per user, split at the axis's 2-means cut. */
  readonly userSide?: Int8Array;
  /** Intercepts centred between the two sides (`sideBalancedIntercepts`): the within-population bridging score. */
  readonly balancedIntercept?: Float64Array;
  readonly sides?: PostSides;
  readonly evidence?: GroupEvidence;
  readonly consensus?: GroupConsensus;
  provenance(post: number): Provenance;
}

/**
 * One full scoring pass: cells → factor model (opinion axis, sides) → per-community evidence split
 * by side → group-informed consensus. Pure and deterministic for a given seed; pass the previous
 * `model` as `factor.warmStart` for an incremental refresh.
 */
export function scoreBridging(input: BridgingInput, options: BridgingOptions = {}): BridgingScores {
  return runSteps(scoreBridgingSteps(input, options));
}

/** `scoreBridging` in steps: the fit's, and one between each stage. */
export function* scoreBridgingSteps(input: BridgingInput, options: BridgingOptions = {}): Steps<BridgingScores> {
  if (input.cells && (options.weights || input.exposurePairs)) {
    throw new BridgingInputError('pass weights and exposure pairs to aggregateCells when passing cells');
  }
  const cells =
    input.cells ??
    aggregateCells(input.table, {
      ...(options.weights && { weights: options.weights }),
      ...(input.exposurePairs && { exposurePairs: input.exposurePairs }),
    });
  let model: FactorModel | undefined;
  let axis: OpinionAxis | undefined;
  let userSide: Int8Array | undefined;
  let balancedIntercept: Float64Array | undefined;
  let sides: PostSides | undefined;
  if (options.factor !== false) {
    model = yield* fitFactorModelSteps(cells, options.factor ?? {});
    axis = opinionAxis(model, cells);
    userSide = userSides(model, { cut: axis.cut });
    balancedIntercept = sideBalancedIntercepts(model, axis);
    sides = postSides(cells, userSide);
    yield;
  }
  let evidence: GroupEvidence | undefined;
  let consensus: GroupConsensus | undefined;
  const membership = input.membership;
  if (membership) {
    evidence = groupEvidence(cells, membership, {
      ...(input.exposureFloor && { exposureFloor: input.exposureFloor }),
      ...(input.estimatedUsers && { estimatedUsers: input.estimatedUsers }),
      ...(userSide && { userSide }),
    });
    yield;
    if (options.consensus !== false) consensus = groupInformedConsensus(evidence, options.consensus);
  }
  const emptyProvenance: Provenance = { supportedBy: [], divisiveIn: [], components: { groups: [] } };
  return {
    cells,
    ...(model && { model }),
    ...(axis && { axis }),
    ...(userSide && { userSide }),
    ...(balancedIntercept && { balancedIntercept }),
    ...(sides && { sides }),
    ...(evidence && { evidence }),
    ...(consensus && { consensus }),
    provenance: (post) =>
      evidence && membership
        ? provenance(evidence, membership, post, options.provenance, {
            ...(consensus && { consensus }),
            ...(model && { model }),
            ...(!consensus && axis && { axis }),
          })
        : emptyProvenance,
  };
}
