import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { scoreNotes } from '#lib/notes';
import { EvalInputError, EvalUsageError } from '../eval.errors.js';
import { compareWithReference, type ReferenceScores } from './reference-comparison.js';
import { ratingsCsv, syntheticRatings } from './synthetic-ratings.js';

const USAGE = `Usage: npm run notes:reference [-- --ratings N] [--skip-large] [--threads N]

Checks our notes scorer against the Community Notes reference (twitter/communitynotes at 273c895,
vendored under eval/reference/communitynotes):
  1. writes a synthetic ratings table (two rater camps; bridging, partisan, unhelpful and mixed
     notes) to test/fixtures/notes/reference-ratings.csv;
  2. creates a Python virtual environment under .cache/communitynotes-reference/ and installs the
     reference's pinned dependencies from PyPI (first run only; torch is large);
  3. runs the reference's matrix factorisation on the table and stores its intercepts, factors and
     statuses in test/fixtures/notes/reference-scores.json (the fixture of reference-parity.spec.ts);
  4. times both scorers on the same large table (default 1,000,000 ratings).
  --ratings N     size of the timed table (default 1000000)
  --skip-large    only refresh the fixture
  --threads N     torch threads for the reference (default 1: ours is single-threaded)`;

/**
 * @NOTE the reference's scoring/requirements.txt pins numpy 1.26.4, pandas 2.2.2, torch 2.1.2 and
 * wandb 0.18.7, which the matrix factorisation imports; pyarrow is unpinned there and the current
 * release needs numpy 2, so it is pinned to 16.1.0 (pandas' pyarrow strings). scipy and
 * scikit-learn are not imported by the matrix factorisation and are not installed (scikit-learn
 * 1.0.2 has no wheel for current Pythons).
 */
const REQUIREMENTS = ['numpy==1.26.4', 'pandas==2.2.2', 'torch==2.1.2', 'wandb==0.18.7', 'pyarrow==16.1.0'];

/** The fixture's table: small enough to commit, large enough for every status. */
const FIXTURE = { raters: 240, notes: 80, ratingsPerRater: [10, 40] as const, seed: 17 };
const GOALS = { spearman: 0.95, statusAgreement: 0.95 };

function main(): void {
  const { values } = parseArgs({
    options: { ratings: { type: 'string' }, 'skip-large': { type: 'boolean' }, threads: { type: 'string' }, help: { type: 'boolean' } },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const large = Number(values.ratings ?? 1_000_000);
  const threads = Number(values.threads ?? 1);
  if (!Number.isInteger(large) || large < 1000 || !Number.isInteger(threads) || threads < 1) throw new EvalUsageError('--ratings needs a whole number ≥ 1000 and --threads one ≥ 1');
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
  const cache = path.join(root, '.cache', 'communitynotes-reference');
  const fixtures = path.join(root, 'test', 'fixtures', 'notes');
  mkdirSync(cache, { recursive: true });
  mkdirSync(fixtures, { recursive: true });
  const python = ensureEnvironment(cache);
  const driver = path.join(root, 'eval', 'reference', 'notes_reference.py');

  const small = syntheticRatings({ ...FIXTURE, ratingsPerRater: [...FIXTURE.ratingsPerRater] });
  const smallCsv = path.join(fixtures, 'reference-ratings.csv');
  const smallOut = path.join(fixtures, 'reference-scores.json');
  writeFileSync(smallCsv, ratingsCsv(small.ratings));
  runReference(python, driver, smallCsv, smallOut, threads, true);
  const fixture = JSON.parse(readFileSync(smallOut, 'utf8')) as ReferenceScores;
  const ours = scoreNotes(small.ratings, new Map());
  const agreement = compareWithReference(ours, fixture);
  console.log(`fixture: ${small.ratings.length} ratings, ${FIXTURE.raters} raters, ${FIXTURE.notes} notes → ${path.relative(root, smallOut)}`);
  console.log(`  Spearman of note intercepts ${agreement.interceptSpearman.toFixed(4)} (goal ≥ ${GOALS.spearman}: ${agreement.interceptSpearman >= GOALS.spearman ? 'met' : 'not met'})`);
  console.log(`  statuses equal ${(100 * agreement.statusAgreement).toFixed(1)}% (goal ≥ ${100 * GOALS.statusAgreement}%: ${agreement.statusAgreement >= GOALS.statusAgreement ? 'met' : 'not met'})`);
  console.log(`  mean |intercept gap| ${agreement.meanInterceptGap.toFixed(4)}, correlation of note factors ${agreement.factorCorrelation.toFixed(4)}`);
  console.log(`  statuses (ours/reference): ${formatCounts(agreement.ourCounts)} / ${formatCounts(agreement.referenceCounts)}`);
  priorEffect();
  if (values['skip-large']) return;

  const raters = Math.round(large / 40);
  const notes = Math.max(100, Math.round(large / 400));
  const big = syntheticRatings({ raters, notes, ratingsPerRater: [20, 60], seed: 23 });
  const bigCsv = path.join(cache, `ratings-${big.ratings.length}.csv`);
  const bigOut = path.join(cache, `scores-${big.ratings.length}.json`);
  writeFileSync(bigCsv, ratingsCsv(big.ratings));
  const load = loadavg().map((x) => x.toFixed(2)).join(' ');
  const cpu = process.cpuUsage();
  const wall = performance.now();
  const ourBig = scoreNotes(big.ratings, new Map());
  const ourWall = (performance.now() - wall) / 1000;
  const used = process.cpuUsage(cpu);
  const ourCpu = (used.user + used.system) / 1e6;
  runReference(python, driver, bigCsv, bigOut, threads, false);
  const reference = JSON.parse(readFileSync(bigOut, 'utf8')) as ReferenceScores;
  const bigAgreement = compareWithReference(ourBig, reference);
  console.log(`timing: ${big.ratings.length} ratings, ${raters} raters, ${notes} notes (load average ${load}, ${cpus().length} CPUs)`);
  console.log(`  ours (TypeScript, ALS, 1 thread): ${ourWall.toFixed(2)} s wall, ${ourCpu.toFixed(2)} s CPU (scoreNotes: table, fit and statuses)`);
  console.log(`  reference (torch ${reference.versions.torch}, Adam, ${reference.threads} thread${reference.threads === 1 ? '' : 's'}): ${(reference.seconds ?? Number.NaN).toFixed(2)} s wall, ${(reference.cpuSeconds ?? Number.NaN).toFixed(2)} s CPU (run_mf: id maps and fit)`);
  console.log(`  agreement on this table: Spearman ${bigAgreement.interceptSpearman.toFixed(4)}, statuses equal ${(100 * bigAgreement.statusAgreement).toFixed(1)}%, mean |intercept gap| ${bigAgreement.meanInterceptGap.toFixed(4)}`);
}

/**
 * What rater priors (e.g. from members' Bluesky likes) change: on a sparse table (3–8 ratings per
 * rater) half of the raters get their planted factor as a prior; how many raters land on their
 * planted side of the axis, and how many notes change status.
 */
function priorEffect(): void {
  const sparse = syntheticRatings({ raters: 600, notes: 80, ratingsPerRater: [3, 8], seed: 29 });
  const priors = [...sparse.raterFactors].filter((_, i) => i % 2 === 0).map(([rater, factor]) => ({ rater, factor }));
  const plain = scoreNotes(sparse.ratings, new Map());
  const informed = scoreNotes(sparse.ratings, new Map(), { priors });
  const onSide = (scoring: typeof plain, raters: (rater: string) => boolean): string => {
    let right = 0;
    let all = 0;
    for (const [rater, planted] of sparse.raterFactors) {
      if (!raters(rater)) continue;
      all++;
      if (Math.sign(scoring.raters.get(rater)?.factor ?? 0) === Math.sign(planted)) right++;
    }
    return `${((100 * right) / Math.max(1, all)).toFixed(1)}%`;
  };
  const withPrior = new Set(priors.map((p) => p.rater));
  const statusOf = new Map(plain.notes.map((n) => [n.note, n.status]));
  const changed = informed.notes.filter((n) => statusOf.get(n.note) !== n.status).length;
  const helpful = (s: typeof plain): number => s.notes.filter((n) => n.status === 'helpful').length;
  console.log(`priors: ${sparse.ratings.length} ratings, 600 raters with 3–8 ratings each, half of them with their planted factor as a prior`);
  console.log(`  raters on their planted side: ${onSide(plain, () => true)} without priors, ${onSide(informed, () => true)} with (${onSide(informed, (r) => withPrior.has(r))} of those with a prior, ${onSide(informed, (r) => !withPrior.has(r))} of the others)`);
  console.log(`  notes changing status: ${changed} of ${informed.notes.length}; helpful ${helpful(plain)} → ${helpful(informed)}`);
}

/** The virtual environment's python, after creating it and installing the pins if needed. */
function ensureEnvironment(cache: string): string {
  const venv = path.join(cache, 'venv');
  const python = path.join(venv, 'bin', 'python');
  const marker = path.join(venv, 'installed.txt');
  if (!existsSync(python)) {
    console.log(`creating a Python virtual environment in ${venv}`);
    const made = spawnSync('python3', ['-m', 'venv', venv], { stdio: 'inherit' });
    if (made.status !== 0) throw new EvalInputError('python3 -m venv failed: a Python 3.9–3.11 with the venv module is needed');
  }
  if (!existsSync(marker) || readFileSync(marker, 'utf8') !== REQUIREMENTS.join('\n')) {
    console.log(`installing ${REQUIREMENTS.join(' ')} from PyPI (once; torch is large)`);
    const pip = spawnSync(python, ['-m', 'pip', 'install', '--disable-pip-version-check', ...REQUIREMENTS], { stdio: 'inherit' });
    if (pip.status !== 0) throw new EvalInputError('pip could not install the reference scorer\'s dependencies');
    writeFileSync(marker, REQUIREMENTS.join('\n'));
  }
  return python;
}

/** Runs the driver: for the fixture with the raters and without timings, for the timed table the other way round. */
function runReference(python: string, driver: string, ratings: string, out: string, threads: number, fixture: boolean): void {
  const args = [driver, '--ratings', ratings, '--out', out, '--threads', String(threads), fixture ? '--fixture' : '--no-raters'];
  execFileSync(python, args, { stdio: ['ignore', 'ignore', 'inherit'] });
}

function formatCounts(counts: Record<string, number>): string {
  return ['helpful', 'not-helpful', 'needs-more-ratings'].map((s) => `${counts[s] ?? 0} ${s}`).join(', ');
}

try {
  main();
} catch (error) {
  if (error instanceof EvalUsageError) {
    console.error(`${error.message}\n\n${USAGE}`);
    process.exit(2);
  }
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
}
