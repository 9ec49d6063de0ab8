import { fitFactorModel, helpfulPosts, opinionAxis, postSides, sideBalancedIntercepts, userSides } from './factor-model.js';
import { aggregateCells } from './rating-cells.js';
import { InteractionTableBuilder, type InteractionTable } from './interaction-table.js';
import { seededRandom } from './random.js';
import { Signal } from './signal.js';

/**
 * 60 users in two camps (0–34: camp A, 35–59: camp B, so the sides are unequal), 40 posts:
 * 0–14 liked by camp A and pushed away by B, 15–29 the reverse, 30–34 liked by both (bridging),
 * 35–39 liked by few. Everyone sees every post; approval is noisy.
 */
function plantedAxis(seed = 3): { table: InteractionTable; camp: number[]; bridging: number[] } {
  const rng = seededRandom(seed);
  const b = new InteractionTableBuilder();
  const camp = Array.from({ length: 60 }, (_, u) => (u < 35 ? 0 : 1));
  for (let u = 0; u < 60; u++) b.users.intern(`u${u}`);
  for (let p = 0; p < 40; p++) b.posts.intern(`p${p}`);
  for (let u = 0; u < 60; u++) {
    for (let p = 0; p < 40; p++) {
      const kind = p < 15 ? 0 : p < 30 ? 1 : p < 35 ? 2 : 3;
      const approve = kind === 2 ? 0.75 : kind === 3 ? 0.1 : kind === camp[u] ? 0.85 : 0.08;
      const x = rng.next();
      const signal = x < approve ? Signal.Like : kind < 2 && x > 0.8 ? Signal.RequestLess : Signal.Seen;
      b.addIndexed(u, p, signal, p);
    }
  }
  return { table: b.build(), camp, bridging: [30, 31, 32, 33, 34] };
}

describe('factor model (Community Notes bridging)', () => {
  it('recovers a planted two-camp opinion axis and ranks the bridging posts by intercept', () => {
    const { table, camp, bridging } = plantedAxis();
    const cells = aggregateCells(table);
    const model = fitFactorModel(cells, { seed: 1 });
    expect(model.converged).toBe(true);
    const sides = userSides(model);
    // Users' factor signs match the camps (up to orientation: the larger camp, A, ends up positive).
    for (let u = 0; u < 60; u++) expect(sides[u]).toBe(camp[u] === 0 ? 1 : -1);
    // Partisan posts carry the polarity; bridging posts carry the intercept.
    for (let p = 0; p < 15; p++) expect(model.postFactor[p]).toBeGreaterThan(0.3);
    for (let p = 15; p < 30; p++) expect(model.postFactor[p]).toBeLessThan(-0.3);
    const byIntercept = Array.from(model.postIntercept.keys()).sort((a, b) => model.postIntercept[b]! - model.postIntercept[a]!);
    expect(byIntercept.slice(0, 5).sort((a, b) => a - b)).toEqual(bridging);
    const axis = opinionAxis(model, cells);
    expect([axis.highCount, axis.lowCount]).toEqual([35, 25]);
    const balanced = sideBalancedIntercepts(model, axis);
    const byBalanced = Array.from(balanced.keys()).sort((a, b) => balanced[b]! - balanced[a]!);
    expect(byBalanced.slice(0, 5).sort((a, b) => a - b)).toEqual(bridging);
    const helpful = helpfulPosts(model, postSides(cells, sides), { minIntercept: 0.2, minRatersPerSide: 20 });
    expect([...helpful.keys()].filter((p) => helpful[p])).toEqual(bridging);
  });

  it('is deterministic for a seed and warm-starts in a few iterations', () => {
    const { table } = plantedAxis();
    const cells = aggregateCells(table);
    const a = fitFactorModel(cells, { seed: 9 });
    const b = fitFactorModel(cells, { seed: 9 });
    expect(Array.from(b.postIntercept)).toEqual(Array.from(a.postIntercept));
    expect(Array.from(b.userFactor)).toEqual(Array.from(a.userFactor));
    // A refresh with a little more data starting from the previous parameters.
    const more = plantedAxis(4).table;
    const warm = fitFactorModel(aggregateCells(more), { warmStart: a });
    const cold = fitFactorModel(aggregateCells(more), { seed: 9 });
    expect(warm.converged).toBe(true);
    expect(warm.iterations).toBeLessThan(cold.iterations);
    for (let p = 0; p < 40; p++) expect(Math.abs(warm.postIntercept[p]! - cold.postIntercept[p]!)).toBeLessThan(0.02);
  });

  it('reaches the same fit from any seed: it starts on the leading axis of the data and stops when the objective settles', () => {
    const cells = aggregateCells(plantedAxis().table);
    const fits = [1, 2, 3, 4, 5, 6].map((seed) => fitFactorModel(cells, { seed }));
    for (const fit of fits) {
      expect(fit.converged).toBe(true);
      expect(fit.iterations).toBeLessThan(200);
      for (let p = 0; p < 40; p++) expect(Math.abs(fit.postIntercept[p]! - fits[0]!.postIntercept[p]!)).toBeLessThan(1e-3);
    }
    // A tighter tolerance takes more sweeps; the result barely moves.
    const tight = fitFactorModel(cells, { tolerance: 1e-9 });
    expect(tight.iterations).toBeGreaterThan(fits[0]!.iterations);
    for (let p = 0; p < 40; p++) expect(Math.abs(tight.postIntercept[p]! - fits[0]!.postIntercept[p]!)).toBeLessThan(0.01);
  });

  it('weighs cells: uniform weights change nothing, a zero weight silences a cell', () => {
    const cells = aggregateCells(plantedAxis().table);
    const plain = fitFactorModel(cells);
    const doubled = fitFactorModel(cells, { cellWeights: new Float32Array(cells.cellCount).fill(2) });
    for (let p = 0; p < 40; p++) expect(doubled.postIntercept[p]).toBeCloseTo(plain.postIntercept[p]!, 4);
    // Silence every cell of post 30 but one: its intercept falls back toward what one rating says.
    const weights = new Float32Array(cells.cellCount).fill(1);
    for (let c = cells.postOffsets[30]! + 1; c < cells.postOffsets[31]!; c++) weights[c] = 0;
    const silenced = fitFactorModel(cells, { cellWeights: weights });
    expect(Math.abs(silenced.postIntercept[30]!)).toBeLessThan(Math.abs(plain.postIntercept[30]!) / 2);
    expect(() => fitFactorModel(cells, { cellWeights: new Float32Array(3) })).toThrow(/one entry per cell/);
  });

  it('shrinks a user\'s factor toward its prior instead of toward 0', () => {
    const cells = aggregateCells(plantedAxis().table);
    const plain = fitFactorModel(cells);
    const prior = new Float64Array(cells.userCount).fill(Number.NaN);
    // User 0 (camp A, positive after orientation) is given a prior on the far negative side.
    prior[0] = -3;
    const pulled = fitFactorModel(cells, { userFactorPrior: prior });
    expect(pulled.userFactor[0]!).toBeLessThan(plain.userFactor[0]! - 0.05);
    for (let u = 1; u < 60; u++) expect(pulled.userFactor[u]).toBeCloseTo(plain.userFactor[u]!, 1);
    expect(() => fitFactorModel(cells, { userFactorPrior: new Float64Array(2) })).toThrow(/one entry per user/);
  });

  it('fits nothing to zeros when no cell weighs anything, and starts cold from such a fit', () => {
    const { table } = plantedAxis();
    const cells = aggregateCells(table);
    const empty = fitFactorModel(cells, { cellWeights: new Float32Array(cells.cellCount) });
    expect(empty).toMatchObject({ converged: true, iterations: 0, mu: 0, rmse: 0 });
    for (const values of [empty.userIntercept, empty.userFactor, empty.postIntercept, empty.postFactor]) expect(values.every((v) => v === 0)).toBe(true);
    // Factors all 0 are where alternating least squares cannot leave: a warm start from them is a cold start.
    const cold = fitFactorModel(cells);
    const fromEmpty = fitFactorModel(cells, { warmStart: empty });
    expect(Array.from(fromEmpty.postIntercept)).toEqual(Array.from(cold.postIntercept));
    const broken = { ...cold, postIntercept: cold.postIntercept.map((v, p) => (p === 3 ? Number.NaN : v)) };
    expect(() => fitFactorModel(cells, { warmStart: broken })).toThrow(/not finite/);
  });

  it('solves a row whose cells weigh nothing without regularisation to 0, not 0/0', () => {
    const cells = aggregateCells(plantedAxis().table);
    const weights = new Float32Array(cells.cellCount).fill(1);
    for (let c = cells.postOffsets[30]!; c < cells.postOffsets[31]!; c++) weights[c] = 0;
    const model = fitFactorModel(cells, { cellWeights: weights, lambdaIntercept: 0, lambdaFactor: 0, maxIterations: 50 });
    expect(model.postIntercept[30]).toBeCloseTo(0, 6);
    for (const values of [model.userIntercept, model.userFactor, model.postIntercept, model.postFactor]) expect(values.every(Number.isFinite)).toBe(true);
  });

  it('fits more than one dimension', () => {
    const { table, camp } = plantedAxis();
    const model = fitFactorModel(aggregateCells(table), { dimensions: 2, seed: 1 });
    expect(model.postFactor).toHaveLength(80);
    // Some dimension separates the camps.
    const separates = [0, 1].some((d) => {
      const s = (u: number) => Math.sign(model.userFactor[u * 2 + d]!);
      return camp.every((c, u) => s(u) === (c === 0 ? s(0) : -s(0)));
    });
    expect(separates).toBe(true);
  });
});
