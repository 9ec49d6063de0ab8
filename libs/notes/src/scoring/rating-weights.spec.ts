import { NotesInputError } from '../errors.js';
import type { NoteRating } from './note-scoring.types.js';
import { lockstepGroups, withRaterWeights, youngAccountWeight } from './rating-weights.js';

const DAY = 86_400_000;

describe('rating weights against abuse', () => {
  it('weighs ratings from accounts younger than the threshold less, and unknown ages as young', () => {
    const now = 100 * DAY;
    expect(youngAccountWeight(now - 2 * DAY, now, { minAgeMs: 7 * DAY })).toBe(0.25);
    expect(youngAccountWeight(now - 7 * DAY, now, { minAgeMs: 7 * DAY })).toBe(1);
    expect(youngAccountWeight(undefined, now, { minAgeMs: 7 * DAY, weight: 0 })).toBe(0);
    expect(() => youngAccountWeight(now, now, { minAgeMs: -1 })).toThrow(NotesInputError);
    expect(() => youngAccountWeight(now, now, { minAgeMs: DAY, weight: 2 })).toThrow(NotesInputError);
  });

  it('finds raters that rate the same notes the same way and makes each group weigh as one rater', () => {
    const ratings: NoteRating[] = [];
    const notes = Array.from({ length: 10 }, (_, n) => `n${n}`);
    // s0–s3 rate the same ten notes identically but for one value of s3; h0 and h1 rate the same notes
    // with their own judgement; o0 rates other notes.
    for (const rater of ['s0', 's1', 's2', 's3']) {
      notes.forEach((note, n) => ratings.push({ rater, note, value: rater === 's3' && n === 9 ? 0.5 : n % 2 === 0 ? 1 : 0 }));
    }
    notes.forEach((note, n) => ratings.push({ rater: 'h0', note, value: n < 5 ? 1 : 0 }));
    notes.forEach((note, n) => ratings.push({ rater: 'h1', note, value: n % 3 === 0 ? 0.5 : 1 }));
    for (let n = 0; n < 10; n++) ratings.push({ rater: 'o0', note: `m${n}`, value: 1 });
    const { groups, weights } = lockstepGroups(ratings, { maxDisagreement: 0.1 });
    expect(groups).toEqual([['s0', 's1', 's2', 's3']]);
    expect(weights.get('s2')).toBe(0.25);
    expect(weights.has('h0')).toBe(false);
    // A stricter disagreement bound keeps s3 apart.
    expect(lockstepGroups(ratings, { maxDisagreement: 0 }).groups).toEqual([['s0', 's1', 's2']]);
    const weighted = withRaterWeights([{ rater: 's0', note: 'n0', value: 1, weight: 0.5 }, { rater: 'h0', note: 'n0', value: 1 }], weights);
    expect(weighted.map((r) => r.weight)).toEqual([0.125, undefined]);
  });

  it('compares raters only over enough shared notes', () => {
    const ratings: NoteRating[] = ['x', 'y'].flatMap((rater) => ['n0', 'n1', 'n2'].map((note) => ({ rater, note, value: 1 as const })));
    expect(lockstepGroups(ratings).groups).toEqual([]);
    expect(lockstepGroups(ratings, { minShared: 3 }).groups).toEqual([['x', 'y']]);
    expect(() => lockstepGroups(ratings, { minOverlap: 2 })).toThrow(NotesInputError);
  });

  it('bounds its work when thousands of raters rate the same notes, each in their own way', () => {
    // 6,000 raters, the same 10 notes, no two with the same values: every rater falls in the same
    // MinHash bucket of every band, and comparing every pair there is 18 million pairs a band.
    const values = [0, 0.5, 1] as const;
    const ratings: NoteRating[] = [];
    for (let r = 0; r < 6_000; r++) {
      for (let n = 0, digits = r; n < 10; n++, digits = Math.floor(digits / 3)) ratings.push({ rater: `r${r}`, note: `n${n}`, value: values[digits % 3]! });
    }
    const started = performance.now();
    const { groups } = lockstepGroups(ratings, { maxDisagreement: 0.1 });
    expect(performance.now() - started).toBeLessThan(2_000);
    // Raters that differ on one note of ten are in lock-step at this bound: the neighbours found are linked.
    expect(groups.length).toBeGreaterThan(0);
  });
});
