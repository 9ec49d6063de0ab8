import { NotesInputError } from '../errors.js';
import type { NoteRating, NoteStatus } from './note-scoring.types.js';
import { lockstepGroups, withRaterWeights } from './rating-weights.js';
import { scoreNotes } from './score-notes.js';

/** Two camps of raters, `a0…` and `b0…`, rating every note in `notes` with a value per camp (undefined: not rated). */
type CampValues = readonly [NoteRating['value'] | undefined, NoteRating['value'] | undefined];

function table(campSize: number, notes: Record<string, CampValues>): NoteRating[] {
  const ratings: NoteRating[] = [];
  for (const [note, [a, b]] of Object.entries(notes)) {
    for (let i = 0; i < campSize; i++) {
      if (a !== undefined) ratings.push({ rater: `a${i}`, note, value: a });
      if (b !== undefined) ratings.push({ rater: `b${i}`, note, value: b });
    }
  }
  return ratings;
}

/** Partisan notes that give the raters their positions on the axis. */
const AXIS: Record<string, CampValues> = { pa1: [1, 0], pa2: [1, 0], pa3: [1, 0], pb1: [0, 1], pb2: [0, 1], pb3: [0, 1] };

const none = new Map<string, NoteStatus>();

function statusOf(result: ReturnType<typeof scoreNotes>, note: string): NoteStatus | undefined {
  return result.notes.find((n) => n.note === note)?.status;
}

describe('scoreNotes (Community Notes statuses)', () => {
  it('finds the note both camps rate helpful helpful, and the note both rate unhelpful not helpful', () => {
    const ratings = table(6, { ...AXIS, bridge: [1, 1], bad: [0, 0] });
    const result = scoreNotes(ratings, none);
    const bridge = result.notes.find((n) => n.note === 'bridge')!;
    expect(bridge.status).toBe('helpful');
    expect(bridge.intercept).toBeGreaterThanOrEqual(0.4);
    expect(Math.abs(bridge.factor)).toBeLessThan(0.5);
    expect(bridge.raterSides).toEqual({ negative: 6, positive: 6 });
    expect(statusOf(result, 'bad')).toBe('not-helpful');
    for (const partisan of Object.keys(AXIS)) expect(statusOf(result, partisan)).toBe('needs-more-ratings');
    expect(result.changes.map((c) => [c.note, c.from, c.to]).sort()).toEqual([
      ['bad', 'needs-more-ratings', 'not-helpful'],
      ['bridge', 'needs-more-ratings', 'helpful'],
    ]);
    // Camps sit on opposite sides; the reference's orientation puts the majority (here a tie broken by the sum) negative.
    const a = result.raters.get('a0')!.factor;
    const b = result.raters.get('b0')!.factor;
    expect(Math.sign(a)).toBe(-Math.sign(b));
  });

  it('keeps a note rated helpful by one camp only at needs more ratings', () => {
    const ratings = table(6, { ...AXIS, bridge: [1, 1], onesided: [1, undefined] });
    const result = scoreNotes(ratings, none);
    expect(statusOf(result, 'onesided')).toBe('needs-more-ratings');
    expect(result.changes.find((c) => c.note === 'onesided')).toBeUndefined();
  });

  it('needs five ratings before any status', () => {
    const ratings = table(6, { ...AXIS, bridge: [1, 1] }).concat(
      ['a0', 'a1', 'b0', 'b1'].map((rater) => ({ rater, note: 'few', value: 1 as const })),
    );
    const result = scoreNotes(ratings, none);
    const few = result.notes.find((n) => n.note === 'few')!;
    expect(few.raters).toBe(4);
    expect(few.status).toBe('needs-more-ratings');
  });

  it('counts one rating per rater per note: the last', () => {
    const ratings = table(6, { ...AXIS, bridge: [1, 1] });
    const changed = ratings.concat(Array.from({ length: 6 }, (_, i) => ({ rater: `b${i}`, note: 'bridge', value: 0 as const })));
    const result = scoreNotes(changed, none);
    const bridge = result.notes.find((n) => n.note === 'bridge')!;
    expect(bridge.raters).toBe(12);
    expect(bridge.status).toBe('needs-more-ratings');
  });

  it('stabilises: a helpful note keeps its status through one more "somewhat" rating and loses it when its intercept falls clearly', () => {
    // 8 raters a side; note x: 5 of each camp say helpful, 3 somewhat → intercept just above 0.40.
    const values: Record<string, CampValues> = { ...AXIS };
    const ratings = table(8, values);
    for (let i = 0; i < 8; i++) {
      ratings.push({ rater: `a${i}`, note: 'x', value: i < 5 ? 1 : 0.5 });
      ratings.push({ rater: `b${i}`, note: 'x', value: i < 5 ? 1 : 0.5 });
    }
    const first = scoreNotes(ratings, none);
    expect(statusOf(first, 'x')).toBe('helpful');
    const previous = new Map<string, NoteStatus>([['x', 'helpful']]);
    const oneMore = ratings.concat({ rater: 'c0', note: 'x', value: 0.5 });
    const kept = scoreNotes(oneMore, previous);
    const x = kept.notes.find((n) => n.note === 'x')!;
    expect(x.intercept).toBeLessThan(0.4);
    expect(x.intercept).toBeGreaterThanOrEqual(0.39);
    expect(x.status).toBe('helpful');
    expect(kept.changes).toEqual([]);
    // Without the history the same scores are not (yet) helpful: the band only protects a status held.
    expect(statusOf(scoreNotes(oneMore, none), 'x')).toBe('needs-more-ratings');
    const lower = oneMore.concat({ rater: 'c1', note: 'x', value: 0 }, { rater: 'c2', note: 'x', value: 0 });
    const lost = scoreNotes(lower, previous);
    expect(statusOf(lost, 'x')).toBe('needs-more-ratings');
    expect(lost.changes).toEqual([{ note: 'x', from: 'helpful', to: 'needs-more-ratings', reason: expect.stringMatching(/intercept 0\.3\d+ < 0\.390/) }]);
  });

  it('reports a helpful note that lost all its ratings as a change back to needs more ratings', () => {
    const result = scoreNotes(table(6, { ...AXIS }), new Map([['gone', 'helpful']]));
    expect(result.changes).toEqual([{ note: 'gone', from: 'helpful', to: 'needs-more-ratings', reason: 'no ratings left' }]);
  });

  it('weighs ratings: a camp whose ratings weigh little cannot make a note helpful by itself', () => {
    const ratings = table(6, { ...AXIS, bridge: [1, 1] });
    const full = scoreNotes(ratings, none).notes.find((n) => n.note === 'bridge')!;
    expect(full.raterSides).toEqual({ negative: 6, positive: 6 });
    const light = scoreNotes(ratings.map((r) => (r.rater.startsWith('b') && r.note === 'bridge' ? { ...r, weight: 0.25 } : r)), none);
    const bridge = light.notes.find((n) => n.note === 'bridge')!;
    expect(Math.min(bridge.raterSides.negative, bridge.raterSides.positive)).toBeCloseTo(1.5);
    expect(bridge.status).toBe('needs-more-ratings');
  });

  it('does not let a lock-step group pose as the other side', () => {
    // Camp a rates x helpful; six accounts rate exactly alike, like camp b on the partisan notes, and x helpful too.
    // Genuine raters also rate notes of their own, so their rated notes differ.
    const ratings = table(6, { ...AXIS, x: [1, undefined] });
    for (const camp of ['a', 'b']) for (let i = 0; i < 6; i++) for (const own of [1, 2]) ratings.push({ rater: `${camp}${i}`, note: `own-${camp}${i}-${own}`, value: 1 });
    for (let i = 0; i < 6; i++) {
      for (const [note, [, b]] of Object.entries(AXIS)) ratings.push({ rater: `sock${i}`, note, value: b! });
      ratings.push({ rater: `sock${i}`, note: 'x', value: 1 });
    }
    expect(statusOf(scoreNotes(ratings, none), 'x')).toBe('helpful');
    const { groups, weights } = lockstepGroups(ratings);
    expect(groups).toEqual([['sock0', 'sock1', 'sock2', 'sock3', 'sock4', 'sock5']]);
    const weighed = scoreNotes(withRaterWeights(ratings, weights), none);
    expect(statusOf(weighed, 'x')).toBe('needs-more-ratings');
  });

  it('places raters with priors on the priors\' side of the axis', () => {
    // One bridging note only: nothing in the ratings separates the camps, the priors do.
    const ratings = table(4, { bridge: [1, 1], other: [0.5, 0.5] });
    const priors = [...Array(4).keys()].flatMap((i) => [{ rater: `a${i}`, factor: -1 }, { rater: `b${i}`, factor: 1 }]);
    const result = scoreNotes(ratings, none, { priors });
    for (let i = 0; i < 4; i++) {
      expect(result.raters.get(`a${i}`)!.factor).toBeLessThan(0);
      expect(result.raters.get(`b${i}`)!.factor).toBeGreaterThan(0);
    }
    expect(result.notes.find((n) => n.note === 'bridge')!.raterSides).toEqual({ negative: 4, positive: 4 });
  });

  it('refuses malformed ratings with a clear error', () => {
    expect(() => scoreNotes([{ rater: 'a', note: 'n', value: 0.7 as 0.5 }], none)).toThrow(NotesInputError);
    expect(() => scoreNotes([{ rater: '', note: 'n', value: 1 }], none)).toThrow(/rating 0 has no rater/);
    expect(() => scoreNotes([{ rater: 'a', note: 'n', value: 1, weight: -1 }], none)).toThrow(/weight/);
    expect(() => scoreNotes([{ rater: 'a', note: 'n', value: 1 }], none, { priors: [{ rater: 'a', factor: NaN }] })).toThrow(/prior 0/);
    expect(() => scoreNotes([], none, { rules: { minRatings: -1 } })).toThrow(NotesInputError);
  });
});
