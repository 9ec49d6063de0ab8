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
  constructor(
    readonly problems: CurationProblem[],
    options?: ErrorOptions,
  ) {
    super(problems.map((p) => `${p.file}:${p.line}:${p.column} ${p.field}: ${p.message}`).join('\n'), options);
  }
}

/** An edit removes an entry the newest version does not have (`feeds.climate`, say): nothing is written. */
export class CurationEntryNotFoundError extends Error {
  override name = 'CurationEntryNotFoundError';
  constructor(readonly entry: string) {
    super(`no ${entry} in the curation`);
  }
}

/**
 * Any error met while reading, checking or editing a curation, as curators see problems: an
 * unexpected one (a bug, a limit of the YAML parser) still names the file and is reported and
 * refused like a mistake, instead of escaping as a 500 or stopping the process.
 */
export function asInvalidCuration(error: unknown, file: string, field = '(document)'): InvalidCurationError {
  if (error instanceof InvalidCurationError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new InvalidCurationError([{ file, line: 0, column: 0, field, message: `could not be checked: ${message}` }], { cause: error });
}
