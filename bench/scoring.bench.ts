/**
 * Scoring benchmark: a full recompute (cells → factor model → community evidence → GIC) and an
 * incremental warm-started refresh on synthetic data with planted communities and bridging posts, at
 * the settings the ranker uses (the factor model's defaults: it runs until the objective settles).
 * The full recompute runs once per factor seed (BENCH_SEEDS, default 6): the summary gives the
 * minimum over the seeds of precision@k and of the share of users on their planted side, beside the
 * goals (every seed ≥ 17/20; a full recompute ≤ 10 s at 1 M interactions).
 *
 * Run (Node's type stripping does not map our `./x.js` imports to `.ts`, so run the swc build):
 *
 *     node_modules/.bin/swc libs bench -d dist && node_modules/.bin/node dist/bench/scoring.bench.js
 *
 * Sizes: BENCH_SIZES=1m,10m (default both); factor seeds: BENCH_SEEDS=6. Each size runs in this process one after the other;
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
const INCREMENT = 0.05;
/** Like X's "different perspectives" pilot (> 29 viewers per side): an intercept needs raters on both sides to mean anything. */
const MIN_RATERS_PER_SIDE = 20;
/** Goals: 17 of 20 planted bridging posts in the top 20 for every seed (the same share at other k), a full recompute ≤ 10 s at 1 M. */
const GOAL = { precisionShare: 17 / 20, fullSecondsAt1m: 10 };

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

interface Recompute {
  model: FactorModel;
  seconds: number;
  /** Planted bridging posts in the first k by side-balanced intercept. */
  interceptHits: number;
  gicHits: number;
  sideShare: number;
}

function recompute(label: string, table: InteractionTable, data: ReturnType<typeof plantedCommunities>, factor: { seed: number; warm?: FactorModel }): Recompute {
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
  const model = fitFactorModel(cells, factor.warm ? { seed: factor.seed, warmStart: factor.warm } : { seed: factor.seed });
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
  stage(`groups found (${[...found.groupSizes].join('/')}, ${(100 * found.observedShare).toPrecision(2)}% observed, ${found.coRaters.toPrecision(2)} co-raters a pair of posts (groups need ≥ 5), ${found.reliable ? 'reliable' : 'too sparse'}) + gic`);
  const total = (performance.now() - t0) / 1000;

  const k = data.bridgingPosts.length;
  const planted = new Set(data.bridgingPosts);
  const eligibleScore = (c: typeof consensus) => Float64Array.from(c.geoMean, (g, p) => (c.eligible[p] ? g : -1));
  const gicRank = eligibleScore(consensus);
  const mfRank = Float64Array.from(balanced, (b, p) =>
    sides.positiveRaters[p]! >= MIN_RATERS_PER_SIDE && sides.negativeRaters[p]! >= MIN_RATERS_PER_SIDE ? b : -Infinity,
  );
  const hitsOf = (scores: Float64Array): number => topK(scores, k).filter((p) => planted.has(p)).length;
  const precision = (scores: Float64Array): string => {
    const viral = topK(scores, k).filter((p) => data.postKind[p] === PlantedPostKind.ViralOneSided).length;
    return `${hitsOf(scores)}/${k}${viral ? ` (${viral} viral)` : ''}`;
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
  return {
    model,
    seconds: total,
    interceptHits: hitsOf(mfRank),
    gicHits: hitsOf(gicRank),
    sideShare: Math.max(sideAgree, sideCount - sideAgree) / Math.max(1, sideCount),
  };
}

const wanted = (process.env['BENCH_SIZES'] ?? '1m,10m').split(',').map((s) => s.trim()) as (keyof typeof SIZES)[];
const seedCount = Number(process.env['BENCH_SEEDS'] ?? 6);
if (!(Number.isInteger(seedCount) && seedCount >= 1)) throw new Error(`BENCH_SEEDS must be a positive integer, got ${process.env['BENCH_SEEDS']}`);
const seeds = Array.from({ length: seedCount }, (_, i) => i + 1);
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
  const runs = seeds.map((seed) => recompute(`full recompute, factor seed ${seed}`, prefix(data.table, size.interactions), data, { seed }));
  const incremental = recompute(`incremental (+${INCREMENT * 100}% rows, warm start)`, data.table, data, { seed: seeds[0]!, warm: runs[0]!.model });
  const k = data.bridgingPosts.length;
  const min = (values: number[]) => Math.min(...values);
  const max = (values: number[]) => Math.max(...values);
  const fullGoal = name === '1m' ? ` (goal ≤ ${GOAL.fullSecondsAt1m} s)` : '';
  console.log(
    `  ${name} at the ranker's settings over factor seeds ${seeds.join(', ')}: full recompute ${min(runs.map((r) => r.seconds)).toFixed(2)}–${max(runs.map((r) => r.seconds)).toFixed(2)} s${fullGoal}, ` +
      `incremental ${incremental.seconds.toFixed(2)} s; minimum precision@${k} by side-balanced intercept ${min(runs.map((r) => r.interceptHits))}/${k} ` +
      `(goal ≥ ${Math.ceil(GOAL.precisionShare * k)}/${k} for every seed), by GIC across communities ${min(runs.map((r) => r.gicHits))}/${k}; ` +
      `minimum share of users on their planted side ${(100 * min(runs.map((r) => r.sideShare))).toFixed(1)}%`,
  );
}
console.log(`peak sampled RSS ${mib(peakSampled)}, maxRSS ${mib(process.resourceUsage().maxRSS * 1024)}`);
