import 'reflect-metadata';
import { statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { InvalidConfigError } from '#lib/config';
import { InvalidCurationError } from '#lib/curation';
import { silentProgressReport, terminalProgressReport, type Logger } from '#lib/platform';
import { EvalInputError, EvalPipelineError, EvalUsageError } from './eval.errors.js';
import { polisConversationFolders } from './polis-dataset.js';
import { evaluatePolis, PolisVariants, type PolisEvalResult, type PolisVariant } from './polis-eval.js';
import { stopRuns, type ReplayTiming } from './pipeline-run.js';
import { formatPolisResult, formatPolisSummary, formatSyntheticResult } from './report.js';
import { evaluateSynthetic, SYNTHETIC_DEFAULTS, type SyntheticEvalResult } from './synthetic-eval.js';

const USAGE = `Usage:
  npm run eval -- --polis <folder> [--polis <folder> …] [--variants groups,found,intercept,likes] [--json <file>]
  npm run eval -- --polis <export folder>    (every conversation in it, e.g. a copy of compdemocracy/openData)
  npm run eval -- --synthetic [--users N] [--posts N] [--interactions N] [--seed N] [--json <file>]

Replays a Polis conversation export (participants-votes.csv, comments.csv, and votes.csv if there is
one; without it the final votes are replayed in a deterministic order) or planted
synthetic communities through the real embedded pipeline (local Jetstream → ingest → bus → scoring →
ClickHouse → feed generator) and compares the ranked feeds with the truth:
  --polis <folder>     a Polis conversation folder (compdemocracy/openData format), or a folder of
                       them; repeatable. With several conversations a summary follows, with the
                       minimum of each figure and the conversations short of each target; one that
                       cannot be read is reported and skipped (the exit code is then 1)
  --variants <list>    which of groups (1), found (2), intercept (2'), likes (3) to run (default: all)
  --synthetic          planted communities with known bridging posts; precision@k against popularity
  --users, --posts, --interactions, --seed, --communities
                       sizes of the synthetic data (defaults ${SYNTHETIC_DEFAULTS.users}, ${SYNTHETIC_DEFAULTS.posts}, ${SYNTHETIC_DEFAULTS.interactions}, ${SYNTHETIC_DEFAULTS.seed}, ${SYNTHETIC_DEFAULTS.communities})
  --timing live|shifted
                       live (default): every vote sent in the order it was cast, stamped when sent;
                       shifted: commits keep their time-shifted history and feedback, which
                       sendInteractions cannot date, is stamped after all of them
  --json <file>        also write the results as JSON to <file> (- for stdout, then no table): one
                       conversation's report alone, or { polis: [reports…], synthetic } for several
  --data-dir <folder>  where each run keeps its ClickHouse data while it runs, removed after it
                       (default: /dev/shm where it is writable, else the temporary folder)
  --quiet              no progress on stderr
  --verbose            the pipeline's own warnings and errors on stderr
  --help               this text
`;

interface Cli {
  polis: string[];
  synthetic: boolean;
  variants: PolisVariant[];
  /** Where the JSON report goes (`-`: stdout). */
  json?: string;
  quiet: boolean;
  verbose: boolean;
  timing: ReplayTiming;
  dataDir?: string;
  synthOptions: { users?: number; posts?: number; interactions?: number; seed?: number; communities?: number };
}

function parseCli(argv: string[]): Cli | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        polis: { type: 'string', multiple: true },
        variants: { type: 'string' },
        synthetic: { type: 'boolean' },
        users: { type: 'string' },
        posts: { type: 'string' },
        interactions: { type: 'string' },
        seed: { type: 'string' },
        communities: { type: 'string' },
        timing: { type: 'string' },
        json: { type: 'string' },
        'data-dir': { type: 'string' },
        quiet: { type: 'boolean' },
        verbose: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: false,
      strict: true,
    });
  } catch (error) {
    throw new EvalUsageError((error as Error).message);
  }
  const v = parsed.values;
  if (v.help) return 'help';
  const polis = v.polis ?? [];
  if (polis.length === 0 && !v.synthetic) throw new EvalUsageError('give --polis <folder> or --synthetic');
  const integer = (name: string, value: string | undefined): number | undefined => {
    if (value === undefined) return undefined;
    if (!/^\d+$/.test(value.replaceAll('_', ''))) throw new EvalUsageError(`--${name} must be a whole number, got "${value}"`);
    return Number(value.replaceAll('_', ''));
  };
  const synthFlags = ['users', 'posts', 'interactions', 'seed', 'communities'] as const;
  if (!v.synthetic && synthFlags.some((flag) => v[flag] !== undefined)) {
    throw new EvalUsageError(`--${synthFlags.find((flag) => v[flag] !== undefined)} only applies with --synthetic`);
  }
  const variants = (v.variants ?? PolisVariants.join(','))
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const variant of variants) {
    if (!(PolisVariants as readonly string[]).includes(variant)) {
      throw new EvalUsageError(`--variants: unknown variant "${variant}" (known: ${PolisVariants.join(', ')})`);
    }
  }
  const synthOptions: Cli['synthOptions'] = {};
  for (const flag of synthFlags) {
    const value = integer(flag, v[flag]);
    if (value !== undefined) synthOptions[flag] = value;
  }
  const timing = v.timing ?? 'live';
  if (timing !== 'live' && timing !== 'shifted') throw new EvalUsageError(`--timing must be live or shifted, got "${timing}"`);
  const dataDir = v['data-dir'];
  if (dataDir !== undefined && !statSync(dataDir, { throwIfNoEntry: false })?.isDirectory()) {
    throw new EvalUsageError(`--data-dir: "${dataDir}" is not a folder`);
  }
  return {
    timing,
    ...(dataDir !== undefined && { dataDir }),
    polis,
    synthetic: v.synthetic === true,
    variants: variants as PolisVariant[],
    ...(v.json !== undefined && { json: v.json }),
    quiet: v.quiet === true,
    verbose: v.verbose === true,
    synthOptions,
  };
}

/** Set on Ctrl-C or SIGTERM: what the stopped runs throw then is their stop, not an error to report. */
let interrupted = false;

async function main(): Promise<number> {
  let cli: Cli | 'help';
  try {
    cli = parseCli(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof EvalUsageError)) throw error;
    process.stderr.write(`npm run eval: ${error.message}\n\n${USAGE}`);
    return 2;
  }
  if (cli === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  // Interrupted (Ctrl-C), the run under way is stopped and its data folder removed before the process exits.
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    process.once(signal, () => {
      interrupted = true;
      void stopRuns().finally(() => process.exit(code));
    });
  }
  const progress = cli.quiet ? silentProgressReport : terminalProgressReport(process.stderr);
  const logger: Logger | undefined = cli.verbose ? pino({ level: 'warn' }, pino.destination(2)) : undefined;
  const runOptions = { ...(logger && { logger }), ...(cli.dataDir !== undefined && { dataDir: cli.dataDir }) };
  const polisResults: PolisEvalResult[] = [];
  let synthetic: SyntheticEvalResult | undefined;
  const folders = polisConversationFolders(cli.polis);
  const unreadable: string[] = [];
  for (const folder of folders) {
    progress.note(`Evaluating Polis conversation ${folder}`);
    let result: PolisEvalResult;
    try {
      result = await evaluatePolis(folder, { variants: cli.variants, progress, timing: cli.timing, ...runOptions });
    } catch (error) {
      // One conversation that is not a readable export does not stop a batch; it is said, and counts.
      if (!(error instanceof EvalInputError) || folders.length === 1) throw error;
      process.stderr.write(`\nnpm run eval: ${error.message} (skipped)\n`);
      unreadable.push(folder);
      continue;
    }
    polisResults.push(result);
    if (cli.json !== '-') process.stdout.write(`\n${formatPolisResult(result)}\n\n`);
    else process.stderr.write(`${result.attribution}\n`);
  }
  if (polisResults.length > 1 && cli.json !== '-') process.stdout.write(`${formatPolisSummary(polisResults)}\n\n`);
  if (unreadable.length > 0) process.stderr.write(`npm run eval: ${unreadable.length} of ${folders.length} folders could not be read: ${unreadable.join(', ')}\n`);
  if (cli.synthetic) {
    progress.note('Evaluating on planted synthetic communities');
    synthetic = await evaluateSynthetic({ ...cli.synthOptions, progress, timing: cli.timing, ...runOptions });
    if (cli.json !== '-') process.stdout.write(`\n${formatSyntheticResult(synthetic)}\n\n`);
  }
  if (cli.json !== undefined) {
    const report = polisResults.length === 1 && !synthetic ? polisResults[0] : { polis: polisResults, ...(synthetic && { synthetic }) };
    const text = `${JSON.stringify(report, null, 2)}\n`;
    if (cli.json === '-') process.stdout.write(text);
    else await writeFile(cli.json, text);
  }
  return unreadable.length > 0 ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (interrupted) return;
    if (error instanceof EvalInputError || error instanceof EvalPipelineError || error instanceof InvalidConfigError || error instanceof InvalidCurationError) {
      process.stderr.write(`\nnpm run eval: ${error.message}\n`);
    } else {
      process.stderr.write(`\n${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    }
    process.exitCode = 1;
  },
);
