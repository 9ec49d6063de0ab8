import { spearman } from '#lib/bridging';
import type { NotesScoring, NoteStatus } from '#lib/notes';
import { EvalInputError } from '../eval.errors.js';

/** What the reference driver (eval/reference/notes_reference.py) writes. */
export interface ReferenceScores {
  reference: string;
  versions: { torch: string; numpy: string; pandas: string; python: string };
  threads: number;
  ratingCount: number;
  /** Wall and CPU seconds of the fit; absent from the fixture, which must not change from run to run. */
  seconds?: number;
  cpuSeconds?: number;
  notes: { note: string; intercept: number; factor: number; ratings: number; negative: number; positive: number; status: NoteStatus }[];
  raters?: { rater: string; intercept: number; factor: number }[];
}

export interface ReferenceAgreement {
  interceptSpearman: number;
  /** Mean |ours − reference| of the note intercepts. */
  meanInterceptGap: number;
  /** Pearson correlation of the note factors (both scorers orient the axis the same way). */
  factorCorrelation: number;
  statusAgreement: number;
  disagreements: { note: string; ours: NoteStatus; reference: NoteStatus }[];
  ourCounts: Record<string, number>;
  referenceCounts: Record<string, number>;
}

/** Our scores set beside the reference's, note by note. */
export function compareWithReference(ours: NotesScoring, reference: ReferenceScores): ReferenceAgreement {
  const byNote = new Map(ours.notes.map((n) => [n.note, n]));
  const a: number[] = [];
  const b: number[] = [];
  const fa: number[] = [];
  const fb: number[] = [];
  const disagreements: ReferenceAgreement['disagreements'] = [];
  const ourCounts: Record<string, number> = {};
  const referenceCounts: Record<string, number> = {};
  for (const ref of reference.notes) {
    const mine = byNote.get(ref.note);
    if (!mine) throw new EvalInputError(`note ${ref.note} is in the reference's scores but not in ours`);
    a.push(mine.intercept);
    b.push(ref.intercept);
    fa.push(mine.factor);
    fb.push(ref.factor);
    ourCounts[mine.status] = (ourCounts[mine.status] ?? 0) + 1;
    referenceCounts[ref.status] = (referenceCounts[ref.status] ?? 0) + 1;
    if (mine.status !== ref.status) disagreements.push({ note: ref.note, ours: mine.status, reference: ref.status });
  }
  if (a.length !== ours.notes.length) throw new EvalInputError('the reference scored a different set of notes');
  return {
    interceptSpearman: spearman(a, b),
    meanInterceptGap: a.reduce((sum, x, i) => sum + Math.abs(x - b[i]!), 0) / Math.max(1, a.length),
    factorCorrelation: pearson(fa, fb),
    statusAgreement: 1 - disagreements.length / Math.max(1, a.length),
    disagreements,
    ourCounts,
    referenceCounts,
  };
}

function pearson(a: readonly number[], b: readonly number[]): number {
  const n = a.length;
  const ma = a.reduce((s, x) => s + x, 0) / n;
  const mb = b.reduce((s, x) => s + x, 0) / n;
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < n; i++) {
    ab += (a[i]! - ma) * (b[i]! - mb);
    aa += (a[i]! - ma) ** 2;
    bb += (b[i]! - mb) ** 2;
  }
  return aa > 0 && bb > 0 ? ab / Math.sqrt(aa * bb) : 0;
}
