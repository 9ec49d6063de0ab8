/** How far two partitions of the same people agree: found opinion groups against published ones. */
export interface ClusterAgreement {
  /** Adjusted Rand index: 1 for the same partition, about 0 for a chance one (can be negative). */
  ari: number;
  /** Share of people in the found group matched (by largest overlap, one to one) to their published group. */
  matched: number;
  /** People in both partitions, the only ones compared. */
  compared: number;
}

const pairs = (n: number) => (n * (n - 1)) / 2;

/**
 * Compares two assignments of people to groups over the people both assign. Labels are arbitrary
 * (group 3 of one need not be group 3 of the other); the matching pairs groups greedily by their
 * overlap, largest first, each group used once.
 */
export function clusterAgreement<K>(found: ReadonlyMap<K, number>, published: ReadonlyMap<K, number>): ClusterAgreement {
  const table = new Map<number, Map<number, number>>();
  const foundSizes = new Map<number, number>();
  const publishedSizes = new Map<number, number>();
  let compared = 0;
  for (const [person, a] of found) {
    const b = published.get(person);
    if (b === undefined) continue;
    compared += 1;
    const row = table.get(a) ?? new Map<number, number>();
    row.set(b, (row.get(b) ?? 0) + 1);
    table.set(a, row);
    foundSizes.set(a, (foundSizes.get(a) ?? 0) + 1);
    publishedSizes.set(b, (publishedSizes.get(b) ?? 0) + 1);
  }
  if (compared < 2) return { ari: compared === 1 ? 1 : 0, matched: compared === 1 ? 1 : 0, compared };

  let index = 0;
  const cells: { a: number; b: number; n: number }[] = [];
  for (const [a, row] of table) {
    for (const [b, n] of row) {
      index += pairs(n);
      cells.push({ a, b, n });
    }
  }
  const sumA = [...foundSizes.values()].reduce((sum, n) => sum + pairs(n), 0);
  const sumB = [...publishedSizes.values()].reduce((sum, n) => sum + pairs(n), 0);
  const expected = (sumA * sumB) / pairs(compared);
  const max = (sumA + sumB) / 2;
  // @NOTE Both partitions a single group (or all singletons): identical, and the formula is 0/0.
  const ari = max === expected ? 1 : (index - expected) / (max - expected);

  cells.sort((x, y) => y.n - x.n);
  const usedA = new Set<number>();
  const usedB = new Set<number>();
  let matched = 0;
  for (const { a, b, n } of cells) {
    if (usedA.has(a) || usedB.has(b)) continue;
    usedA.add(a);
    usedB.add(b);
    matched += n;
  }
  return { ari, matched: matched / compared, compared };
}
