import { readFile } from 'node:fs/promises';
import { isMap, LineCounter, parseDocument, type Document } from 'yaml';
import type { ZodIssue } from 'zod';
import { asInvalidCuration, InvalidCurationError, type CurationProblem } from './curation.errors.js';
import { CurationSchema } from './curation.schema.js';
import type { Curation } from './curation.types.js';

/**
 * Reports problems with their file, line and field. The YAML tree is kept so that a problem
 * points at the line a curator has to fix.
 */
class Checker {
  readonly problems: CurationProblem[] = [];

  constructor(
    private readonly file: string,
    private readonly doc: Document,
    private readonly lines: LineCounter,
  ) {}

  problem(path: (string | number)[], message: string): void {
    let node: unknown = undefined;
    for (let depth = path.length; depth >= 0 && !node; depth -= 1) {
      node = depth === 0 ? this.doc.contents : this.doc.getIn(path.slice(0, depth), true);
    }
    const offset = (node as { range?: [number, number, number] } | undefined)?.range?.[0] ?? 0;
    const { line, col } = this.lines.linePos(offset);
    this.problems.push({ file: this.file, line, column: col, field: path.join('.') || '(document)', message });
  }

  /** A schema issue at its place in the tree; an unknown key is named at the key itself. */
  issue(issue: ZodIssue): void {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) this.problem([...issue.path, key], issue.message);
    } else {
      this.problem(issue.path, issue.message);
    }
  }
}

/** Parses and validates curator YAML (or JSON, which is YAML). Throws `InvalidCurationError`, and nothing else. */
export function parseCuration(text: string, file: string): Curation {
  try {
    return validate(text, file);
  } catch (error) {
    // e.g. aliases that expand past the parser's limit (`Excessive alias count`).
    throw asInvalidCuration(error, file);
  }
}

function validate(text: string, file: string): Curation {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const check = new Checker(file, doc, lines);
  for (const error of doc.errors) {
    const { line, col } = lines.linePos(error.pos[0]);
    check.problems.push({ file, line, column: col, field: '(syntax)', message: error.message.split('\n')[0]! });
  }
  if (check.problems.length > 0) throw new InvalidCurationError(check.problems);
  if (doc.contents !== null && !isMap(doc.contents)) {
    check.problem([], 'expected a mapping with communities and feeds');
  } else {
    const parsed = CurationSchema.safeParse(doc.toJS());
    if (parsed.success) return parsed.data;
    for (const issue of parsed.error.issues) check.issue(issue);
  }
  throw new InvalidCurationError(check.problems.sort((a, b) => a.line - b.line || a.column - b.column));
}

export async function loadCurationFile(file: string): Promise<Curation> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new InvalidCurationError([
      { file, line: 0, column: 0, field: '(file)', message: `cannot be read: ${(error as Error).message}` },
    ]);
  }
  return parseCuration(text, file);
}
