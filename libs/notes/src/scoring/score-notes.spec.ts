import { NotesInputError } from '../errors.js';
import type { NoteRating, NoteStatus } from './note-scoring.types.js';
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

  it('refuses malformed ratings with a clear error', () => {
    expect(() => scoreNotes([{ rater: 'a', note: 'n', value: 0.7 as 0.5 }], none)).toThrow(NotesInputError);
    expect(() => scoreNotes([{ rater: '', note: 'n', value: 1 }], none)).toThrow(/rating 0 has no rater/);
    expect(() => scoreNotes([{ rater: 'a', note: 'n', value: 1, weight: -1 }], none)).toThrow(/weight/);
  });
});
