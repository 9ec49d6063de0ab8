import { NotesInputError } from '../errors.js';
import type { NoteStatus } from './note-scoring.types.js';
import { decideStatus, statusRules } from './status-rules.js';

const rules = statusRules();
const both = { negative: 4, positive: 4 };

describe('note status rules (Community Notes thresholds)', () => {
  it.each<[string, number, number, number, { negative: number; positive: number }, NoteStatus, NoteStatus]>([
    // name, intercept, factor, rating weight, sides, previous, expected
    ['helpful at the threshold', 0.4, 0.1, 8, both, 'needs-more-ratings', 'helpful'],
    ['too few ratings for any status', 0.6, 0, 4, both, 'needs-more-ratings', 'needs-more-ratings'],
    ['high intercept but a large factor', 0.45, -0.55, 8, both, 'needs-more-ratings', 'needs-more-ratings'],
    ['high intercept, one side only', 0.5, 0.2, 8, { negative: 8, positive: 0 }, 'needs-more-ratings', 'needs-more-ratings'],
    ['high intercept, one rater on the other side', 0.5, 0.2, 8, { negative: 7, positive: 1 }, 'needs-more-ratings', 'needs-more-ratings'],
    ['not helpful at −0.05 with no factor', -0.05, 0, 8, both, 'needs-more-ratings', 'not-helpful'],
    ['a factor lowers the not-helpful bar: −0.05 − 0.8·0.5 = −0.45', -0.3, 0.5, 8, both, 'needs-more-ratings', 'needs-more-ratings'],
    ['below the lowered bar', -0.46, -0.5, 8, both, 'needs-more-ratings', 'not-helpful'],
    ['just below 0.40 is not enough to gain', 0.395, 0, 8, both, 'needs-more-ratings', 'needs-more-ratings'],
    ['just below 0.40 keeps a helpful note (inertia 0.01)', 0.395, 0, 8, both, 'helpful', 'helpful'],
    ['below 0.39 a helpful note loses it', 0.389, 0, 8, both, 'helpful', 'needs-more-ratings'],
    ['a helpful note can become not helpful', -0.2, 0, 8, both, 'helpful', 'not-helpful'],
  ])('%s', (_name, intercept, factor, ratingWeight, raterSides, previous, expected) => {
    const decision = decideStatus({ intercept, factor, ratingWeight, raterSides }, previous, rules);
    expect(decision.status).toBe(expected);
    expect(decision.reason.length).toBeGreaterThan(0);
  });

  it('takes the side requirement and the inertia from options', () => {
    const input = { intercept: 0.395, factor: 0, ratingWeight: 8, raterSides: { negative: 1, positive: 7 } };
    expect(decideStatus(input, 'helpful', statusRules({ minRatersPerSide: 1 })).status).toBe('helpful');
    expect(decideStatus(input, 'helpful', statusRules({ minRatersPerSide: 1, inertia: 0 })).status).toBe('needs-more-ratings');
    expect(() => statusRules({ helpfulIntercept: Number.NaN })).toThrow(NotesInputError);
  });
});
