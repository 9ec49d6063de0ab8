/** Thrown when inputs to the ranking maths are inconsistent (lengths, indices out of range, bad options). */
export class BridgingInputError extends Error {
  override name = 'BridgingInputError';
}

/** Thrown when a factor-model fit leaves finite numbers (a defect: the inputs were checked). */
export class FactorModelError extends Error {
  override name = 'FactorModelError';
}
