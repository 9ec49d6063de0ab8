import { averageRanks, spearman, topKOverlap } from './rank-metrics.js';

describe('rank metrics', () => {
  it('computes Spearman with average ranks for ties', () => {
    expect(spearman([1, 2, 3, 4], [10, 20, 30, 40])).toBeCloseTo(1, 12);
    expect(spearman([1, 2, 3, 4], [4, 3, 2, 1])).toBeCloseTo(-1, 12);
    expect(Array.from(averageRanks([5, 1, 5, 3]))).toEqual([3.5, 1, 3.5, 2]);
    // By hand: ranks a = 1,2,3,4,5; b = 2,1,4,3,5 → Σd² = 4 → ρ = 1 − 6·4/(5·24) = 0.8.
    expect(spearman([1, 2, 3, 4, 5], [2, 1, 4, 3, 5])).toBeCloseTo(0.8, 12);
  });

  it('counts the overlap of two top-k sets', () => {
    expect(topKOverlap([9, 8, 7, 1, 0], [9, 1, 7, 8, 0], 3)).toBe(2);
    expect(topKOverlap([1, 2, 3], [1, 2, 3], 3)).toBe(3);
  });
});
