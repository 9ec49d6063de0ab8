/** The command line was wrong (unknown flag, missing value, bad number): exit code 2 with usage. */
export class EvalUsageError extends Error {
  override name = 'EvalUsageError';
}

/** The input (a Polis conversation folder, synthetic options) cannot be evaluated, and why. */
export class EvalInputError extends Error {
  override name = 'EvalInputError';
}

/** The pipeline under evaluation did not get where it had to (stalled ingestion, a failed request). */
export class EvalPipelineError extends Error {
  override name = 'EvalPipelineError';
}

/** The evaluation was stopped (Ctrl-C, SIGTERM) while a run was under way: nothing to report. */
export class EvalInterruptedError extends Error {
  override name = 'EvalInterruptedError';
  constructor() {
    super('the evaluation was interrupted');
  }
}
