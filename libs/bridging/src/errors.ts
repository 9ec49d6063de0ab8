/** Thrown when inputs to the ranking maths are inconsistent (lengths, indices out of range, bad options). */
export class BridgingInputError extends Error {
  override name = 'BridgingInputError';
}
