import { seededRandom } from '#lib/bridging';
import type { NoteRating } from '#lib/notes';
import { EvalInputError } from '../eval.errors.js';

/** The kind a synthetic note is planted as. */
export type PlantedKind = 'bridging' | 'partisan' | 'unhelpful' | 'mixed';

export interface SyntheticRatingsOptions {
  raters: number;
  notes: number;
  /** Each rater rates a uniform number of distinct notes in [min, max]. */
  ratingsPerRater: readonly [number, number];
  seed: number;
}

export interface SyntheticRatings {
  ratings: NoteRating[];
  kinds: Map<string, PlantedKind>;
  /** Each rater's planted factor (the larger camp negative, as the reference orients the axis). */
  raterFactors: Map<string, number>;
}

/**
 * Ratings from two camps of raters (60% and 40%) on notes of four planted kinds: bridging (helpful
 * to both camps), partisan (helpful to one camp), unhelpful (to both) and mixed (in between). A
 * rating is the latent helpfulness `0.35 + i_u + i_n + f_u·f_n` plus noise, cut into not helpful (0),
 * somewhat (0.5) and helpful (1). Deterministic for a seed.
 */
export function syntheticRatings(options: SyntheticRatingsOptions): SyntheticRatings {
  const { raters, notes, ratingsPerRater, seed } = options;
  const rng = seededRandom(seed);
  const uniform = (lo: number, hi: number): number => lo + (hi - lo) * rng.next();
  const raterFactor = new Float64Array(raters);
  const raterIntercept = new Float64Array(raters);
  for (let u = 0; u < raters; u++) {
    raterFactor[u] = (u % 5 < 3 ? -1 : 1) * uniform(0.5, 1);
    raterIntercept[u] = 0.1 * rng.normal();
  }
  const kinds = new Map<string, PlantedKind>();
  const noteFactor = new Float64Array(notes);
  const noteIntercept = new Float64Array(notes);
  for (let n = 0; n < notes; n++) {
    const kind: PlantedKind = (['bridging', 'partisan', 'partisan', 'unhelpful', 'mixed'] as const)[n % 5]!;
    kinds.set(noteId(n), kind);
    if (kind === 'bridging') {
      noteIntercept[n] = uniform(0.35, 0.6);
      noteFactor[n] = 0.1 * rng.normal();
    } else if (kind === 'partisan') {
      noteIntercept[n] = uniform(0, 0.25);
      noteFactor[n] = (n % 2 === 0 ? -1 : 1) * uniform(0.5, 0.9);
    } else if (kind === 'unhelpful') {
      noteIntercept[n] = uniform(-0.45, -0.2);
      noteFactor[n] = 0.1 * rng.normal();
    } else {
      noteIntercept[n] = uniform(-0.1, 0.3);
      noteFactor[n] = 0.3 * rng.normal();
    }
  }
  const ratings: NoteRating[] = [];
  const [min, max] = ratingsPerRater;
  const chosen = new Set<number>();
  for (let u = 0; u < raters; u++) {
    const count = Math.min(notes, min + rng.int(max - min + 1));
    chosen.clear();
    while (chosen.size < count) chosen.add(rng.int(notes));
    for (const n of [...chosen].sort((a, b) => a - b)) {
      const latent = 0.35 + raterIntercept[u]! + noteIntercept[n]! + raterFactor[u]! * noteFactor[n]! + 0.2 * rng.normal();
      const value = latent >= 0.7 ? 1 : latent >= 0.35 ? 0.5 : 0;
      ratings.push({ rater: `r${u}`, note: noteId(n), value });
    }
  }
  const raterFactors = new Map(Array.from(raterFactor, (f, u) => [`r${u}`, f] as const));
  return { ratings, kinds, raterFactors };
}

function noteId(n: number): string {
  return `n${n}`;
}

/** The ratings as CSV with a header `rater,note,value`, as the reference driver reads them. */
export function ratingsCsv(ratings: readonly NoteRating[]): string {
  const lines = ['rater,note,value'];
  for (const r of ratings) lines.push(`${r.rater},${r.note},${r.value}`);
  return `${lines.join('\n')}\n`;
}

/** Reads what `ratingsCsv` wrote. */
export function parseRatingsCsv(text: string): NoteRating[] {
  const [header, ...lines] = text.trimEnd().split('\n');
  if (header !== 'rater,note,value') throw new EvalInputError(`unexpected ratings header: ${header ?? ''}`);
  return lines.map((line, i) => {
    const [rater, note, raw] = line.split(',');
    const value = Number(raw);
    if (!rater || !note || (value !== 0 && value !== 0.5 && value !== 1)) throw new EvalInputError(`ratings line ${i + 2} is malformed: ${line}`);
    return { rater, note, value };
  });
}
