import { admitProposals, isMisleading, ratingValue } from './proposals.js';

const DAY_US = 86_400_000_000;
const note = (author: string, timeUs: number, n: number) => ({ uri: `at://${author}/org.opencommunitynotes.label/${n}`, author, timeUs });

describe('note proposals', () => {
  it('admits each account\'s first notes of a UTC day up to the limit, and counts days apart', () => {
    const day = 20_000 * DAY_US;
    const proposals = [
      note('did:plc:a', day + 3, 3),
      note('did:plc:a', day + 1, 1),
      note('did:plc:b', day + 2, 9),
      note('did:plc:a', day + 2, 2),
      note('did:plc:a', day + DAY_US, 4),
    ];
    const { admitted, refused } = admitProposals(proposals, 2);
    expect(admitted.map((p) => p.uri.slice(-1))).toEqual(['1', '2', '9', '4']);
    expect(refused.map((p) => p.uri.slice(-1))).toEqual(['3']);
  });

  it('refuses a limit that is not a positive integer', () => {
    expect(() => admitProposals([], 0)).toThrow('proposals per day must be a positive integer, got 0');
  });

  it('reads ratings as the factorisation does and tells misleading reasons from others', () => {
    expect(['helpful', 'somewhat_helpful', 'not_helpful', 'great'].map(ratingValue)).toEqual([1, 0.5, 0, undefined]);
    expect(isMisleading('factual_error')).toBe(true);
    expect(isMisleading('joke_or_satire')).toBe(false);
    expect(isMisleading('other')).toBe(false);
  });
});
