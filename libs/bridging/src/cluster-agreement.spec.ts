import { clusterAgreement } from './cluster-agreement.js';

const partition = (groups: number[]) => new Map(groups.map((group, person) => [person, group]));

describe('clusterAgreement', () => {
  it('is 1 for the same partition under other labels', () => {
    const result = clusterAgreement(partition([0, 0, 1, 1, 2, 2]), partition([5, 5, 3, 3, 9, 9]));
    expect(result).toEqual({ ari: 1, matched: 1, compared: 6 });
  });

  it('matches the textbook value for a partly agreeing pair', () => {
    // Contingency 3·1/2·2: index 5, expected 12·13/28, max 12.5, so (5 − 5.571)/(12.5 − 5.571) = −0.0825.
    // The matching pairs the overlap of 3, then the one of 2: five of eight people.
    const result = clusterAgreement(partition([0, 0, 0, 0, 1, 1, 1, 1]), partition([0, 0, 0, 1, 1, 1, 0, 0]));
    expect(result.ari).toBeCloseTo(-0.0825, 3);
    expect(result.matched).toBeCloseTo(5 / 8);
  });

  it('compares only the people both partitions assign', () => {
    const found = partition([0, 0, 1, 1]);
    const published = new Map([
      [0, 1],
      [1, 1],
      [2, 0],
      [7, 0],
    ]);
    const result = clusterAgreement(found, published);
    expect(result.compared).toBe(3);
    expect(result.matched).toBe(1);
  });

  it('is near 0 for a partition unrelated to the other', () => {
    const found = partition(Array.from({ length: 400 }, (_, i) => i % 2));
    const published = partition(Array.from({ length: 400 }, (_, i) => Math.floor(i / 2) % 2));
    expect(Math.abs(clusterAgreement(found, published).ari)).toBeLessThan(0.01);
  });
});
