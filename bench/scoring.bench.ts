/**
 * Scoring benchmark: a full recompute (cells → factor model → community evidence → GIC) and an
 * incremental warm-started refresh on synthetic data with planted communities and bridging posts.
 *
 * Run (Node's type stripping does not map our `./x.js` imports to `.ts`, so run the swc build):
 *
 *     node_modules/.bin/swc libs bench -d dist && node_modules/.bin/node dist/bench/scoring.bench.js
 *
 * Sizes: BENCH_SIZES=1m,10m (default both). Each size runs in this process one after the other;
 * maxRSS is the process peak so far, RSS is sampled between stages (the kernels are synchronous).
 */
import {
  aggregateCells,
  findOpinionGroups,
  fitFactorModel,
  groupEvidence,
  groupInformedConsensus,
  membershipFromAssignment,
  opinionAxis,
  postSides,
  sideBalancedIntercepts,
  topK,
  userSides,
  type FactorModel,
  type InteractionTable,
} from '#lib/bridging';
import { plantedCommunities, PlantedPostKind } from '#lib/testing';

const SIZES = {
  '1m': { interactions: 1_000_000, users: 100_000, posts: 100_000, bridgingPosts: 20, viralPosts: 20 },
  '10m': { interactions: 10_000_000, users: 1_000_000, posts: 1_000_000, bridgingPosts: 50, viralPosts: 50 },
} as const;

const CONSENSUS = { scope: 'exposed', minExposure: 10, minApprovals: 1, minGroups: 2 } as const;
const COLD = { maxIterations: 40, tolerance: 1e-4, seed: 1 };
const WARM = { maxIterations: 8, tolerance: 1e-4, seed: 1 };
const INCREMENT = 0.05;
/** Like X's "different perspectives" pilot (> 29 viewers per side): an intercept needs raters on both sides to mean anything. */
const MIN_RATERS_PER_SIDE = 20;

const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
let peakSampled = 0;
const sample = (): number => {
  const rss = process.memoryUsage().rss;
  if (rss > peakSampled) peakSampled = rss;
  return rss;
};

function prefix(table: InteractionTable, rows: number): InteractionTable {
  return {
    user: table.user.subarray(0, rows),
    post: table.post.subarray(0, rows),
    signal: table.signal.subarray(0, rows),
    timeMs: table.timeMs.subarray(0, rows),
    rowCount: rows,
    userCount: table.userCount,
    postCount: table.postCount,
  };
}

function recompute(label: string, table: InteractionTable, data: ReturnType<typeof plantedCommunities>, warm?: FactorModel) {
  const stages: string[] = [];
  const t0 = performance.now();
  let t = t0;
  const stage = (name: string): void => {
    const now = performance.now();
    stages.push(`${name} ${((now - t) / 1000).toFixed(2)}s`);
    t = now;
    sample();
  };
  const cells = aggregateCells(table);
  stage('cells');
  const model = fitFactorModel(cells, warm ? { ...WARM, warmStart: warm } : COLD);
  stage(`factor(${model.iterations} it${model.converged ? ', converged' : ''})`);
  const axis = opinionAxis(model, cells);
  const side = userSides(model, { cut: axis.cut });
  const balanced = sideBalancedIntercepts(model, axis);
  const sides = postSides(cells, side);
  stage('axis');
  const evidence = groupEvidence(cells, data.membership, { userSide: side });
  const consensus = groupInformedConsensus(evidence, CONSENSUS);
  stage('gic');
  // A `bridging` feed of one community: consensus across the opinion groups found in the ratings, when
  // dense enough to be reliable (a feed of this data would be ranked as bridging-within instead).
  const found = findOpinionGroups(cells);
  const foundConsensus = found.reliable
    ? groupInformedConsensus(groupEvidence(cells, membershipFromAssignment(found.groupOfUser, found.groupCount)), CONSENSUS)
    : undefined;
  stage(`groups found (${[...found.groupSizes].join('/')}, ${(100 * found.observedShare).toPrecision(2)}% observed, ${found.reliable ? 'reliable' : 'too sparse'}) + gic`);
  const total = (performance.now() - t0) / 1000;

  const k = data.bridgingPosts.length;
  const planted = new Set(data.bridgingPosts);
  const eligibleScore = (c: typeof consensus) => Float64Array.from(c.geoMean, (g, p) => (c.eligible[p] ? g : -1));
  const gicRank = eligibleScore(consensus);
  const mfRank = Float64Array.from(balanced, (b, p) =>
    sides.positiveRaters[p]! >= MIN_RATERS_PER_SIDE && sides.negativeRaters[p]! >= MIN_RATERS_PER_SIDE ? b : -Infinity,
  );
  const precision = (scores: Float64Array): string => {
    const top = topK(scores, k);
    const hits = top.filter((p) => planted.has(p)).length;
    const viral = top.filter((p) => data.postKind[p] === PlantedPostKind.ViralOneSided).length;
    return `${hits}/${k}${viral ? ` (${viral} viral)` : ''}`;
  };
  let sideAgree = 0;
  let sideCount = 0;
  for (let u = 0; u < side.length; u++) {
    if (side[u] === 0) continue;
    sideCount++;
    if (side[u] === data.userSide[u]) sideAgree++;
  }
  console.log(
    `  ${label}: ${total.toFixed(2)}s [${stages.join(', ')}] rss ${mib(sample())}, maxRSS ${mib(process.resourceUsage().maxRSS * 1024)}\n` +
      `    precision@${k}: GIC ${precision(gicRank)}, GIC across groups found ${foundConsensus ? precision(eligibleScore(foundConsensus)) : '— (too sparse to look)'}, balanced intercept ${precision(mfRank)}; ` +
      // The axis orientation is a convention (larger side positive), so agreement is up to a flip.
      `users on their planted side ${((100 * Math.max(sideAgree, sideCount - sideAgree)) / Math.max(1, sideCount)).toFixed(1)}%, rmse ${model.rmse.toFixed(3)}`,
  );
  return model;
}

const wanted = (process.env['BENCH_SIZES'] ?? '1m,10m').split(',').map((s) => s.trim()) as (keyof typeof SIZES)[];
console.log(`node ${process.version}, ${process.env['BENCH_SIZES'] ?? '1m,10m'}`);
for (const name of wanted) {
  const size = SIZES[name];
  if (!size) throw new Error(`unknown size ${name}`);
  const g0 = performance.now();
  const total = Math.round(size.interactions * (1 + INCREMENT));
  const data = plantedCommunities({ ...size, interactions: total, seed: 11 });
  console.log(
    `${name}: ${size.interactions} interactions, ${size.users} users, ${size.posts} posts, 4 communities ` +
      `(generated ${((performance.now() - g0) / 1000).toFixed(1)}s)`,
  );
  const model = recompute('full recompute', prefix(data.table, size.interactions), data);
  recompute(`incremental (+${INCREMENT * 100}% rows, warm start)`, data.table, data, model);
}
console.log(`peak sampled RSS ${mib(peakSampled)}, maxRSS ${mib(process.resourceUsage().maxRSS * 1024)}`);
