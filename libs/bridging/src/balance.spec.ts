import { balance, type RankedItem } from './balance.js';

const items = (side: string, n: number, base: number): RankedItem[] =>
  Array.from({ length: n }, (_, i) => ({ id: `${side}${i}`, score: base - i, side }));

/** Counts per side in every prefix stay within ⌊share·n⌋ … ⌈share·n⌉. */
function expectFairPrefixes(out: readonly RankedItem[], shares: Record<string, number>, upTo: number): void {
  const total = Object.values(shares).reduce((a, b) => a + b, 0);
  const taken: Record<string, number> = {};
  for (let n = 1; n <= upTo; n++) {
    const side = String(out[n - 1]!.side);
    taken[side] = (taken[side] ?? 0) + 1;
    for (const [s, share] of Object.entries(shares)) {
      const q = (share / total) * n;
      expect(taken[s] ?? 0).toBeGreaterThanOrEqual(Math.floor(q + 1e-9));
      expect(taken[s] ?? 0).toBeLessThanOrEqual(Math.ceil(q - 1e-9));
    }
  }
}

describe('balance', () => {
  it('gives each side its equal share in every prefix even when one side has all the top scores', () => {
    const ranked = [...items('loud', 30, 100), ...items('quiet', 30, 10)];
    const out = balance(ranked);
    expectFairPrefixes(out, { loud: 1, quiet: 1 }, 60);
    // Score order is kept within a side.
    const quiet = out.filter((x) => x.side === 'quiet').map((x) => x.id);
    expect(quiet).toEqual(items('quiet', 30, 10).map((x) => x.id));
  });

  it('honours unequal shares across three sides in every prefix', () => {
    const ranked = [...items('a', 40, 100), ...items('b', 40, 50), ...items('c', 40, 0)];
    const shares = { a: 3, b: 2, c: 1 };
    expectFairPrefixes(balance(ranked, { shares }), shares, 60);
  });

  it('is deterministic, balances only the window, then falls back to score order', () => {
    const ranked = [...items('x', 10, 100), ...items('y', 10, 50)];
    const a = balance(ranked, { window: 6 });
    expect(balance([...ranked].reverse(), { window: 6 }).map((i) => i.id)).toEqual(a.map((i) => i.id));
    expect(a.slice(0, 6).map((i) => i.side)).toEqual(['x', 'y', 'x', 'y', 'x', 'y']);
    expect(a.slice(6).map((i) => i.id)).toEqual(['x3', 'x4', 'x5', 'x6', 'x7', 'x8', 'x9', 'y3', 'y4', 'y5', 'y6', 'y7', 'y8', 'y9']);
  });

  it('fills from the remaining sides once one side runs out, and accepts numeric sides', () => {
    const ranked: RankedItem[] = [...items('-1', 2, 10), ...items('1', 5, 5)].map((x) => ({ ...x, side: Number(x.side) }));
    const out = balance(ranked);
    expect(out.map((x) => x.side)).toEqual([-1, 1, -1, 1, 1, 1, 1]);
  });
});
