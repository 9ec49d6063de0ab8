export interface CurationProblem {
  file: string;
  line: number;
  column: number;
  /** Dotted path of the field, e.g. `feeds.climate.ranking`. */
  field: string;
  message: string;
}

/** A curator file with mistakes; the message names each file, line and field. */
export class InvalidCurationError extends Error {
  override name = 'InvalidCurationError';
  constructor(readonly problems: CurationProblem[]) {
    super(problems.map((p) => `${p.file}:${p.line}:${p.column} ${p.field}: ${p.message}`).join('\n'));
  }
}
