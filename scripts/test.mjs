#!/usr/bin/env node
// The test command (`npm test`, and so `.ci/run`): type-check, build, start what the tests need
// that the tests cannot start themselves (a real Kafka broker) or should not each start for
// themselves (one local Bluesky network, when the run holds a test on it), run Jest, and stop
// everything.
//
// KAFKA_BROKERS=host:port uses an existing broker instead of starting one. Extra arguments go to
// Jest, e.g. `npm test -- test/integration/kafka-bus.spec.ts`; `npm test -- --record-durations`
// runs the whole suite and writes each file's time to test/durations.json (the order of the next runs).
import { execFile, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { durationsFile } from './jest-sequencer.mjs';
import { memoryFilesystem } from './memory-filesystem.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bin = (name) => path.join(root, 'node_modules', '.bin', name);
const args = process.argv.slice(2);
const recordDurations = args.includes('--record-durations');
const jestArgs = args.filter((arg) => arg !== '--record-durations');

function run(command, commandArgs, env = process.env) {
  return new Promise((resolve) => {
    const child = spawn(command, commandArgs, { cwd: root, env, stdio: 'inherit' });
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

/** Runs a command with its output kept, for printing once it is done. */
function runCaptured(command, commandArgs, env = process.env) {
  return new Promise((resolve) => {
    const child = spawn(command, commandArgs, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.on('exit', (code, signal) => resolve({ code: code ?? (signal ? 1 : 0), signal, output }));
  });
}

async function main() {
  const started = Date.now();
  const runTmp = useMemoryTempDir();
  // Removed as the process exits, however it ends (an interrupted run exits from its signal handler).
  if (runTmp) process.once('exit', () => rmSync(runTmp, { recursive: true, force: true }));
  // Node's compile cache (kept between runs under .cache): the type-checks, the lint, Jest's
  // workers and the many processes the tests start each compile the same modules otherwise.
  process.env.NODE_COMPILE_CACHE ??= path.join(root, '.cache', 'node-compile');
  try {
    return await runAll(started);
  } catch (error) {
    // What could not start (the broker, the local network): said once, plainly, and the run fails.
    console.error(`[test] ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
}

/** Memory the run's temporary files may take: chDB's data, the broker's log and the network's database stay well under it. */
const MEMORY_TMP_MIN_FREE_BYTES = 6 * 1024 ** 3;

/**
 * Points the run's temporary folder (TMPDIR, which the broker, the local Bluesky network, Jest's
 * workers and every process they start inherit) at a fresh folder on the memory filesystem when
 * there is one with room (scripts/memory-filesystem.mjs); returns that folder, to remove when the
 * run ends. Every spec keeps chDB's data, the broker's log and the apps' cursors under it.
 * `CG_TEST_TMPDIR=disk` keeps the usual one.
 */
function useMemoryTempDir() {
  if (process.env.CG_TEST_TMPDIR === 'disk') return undefined;
  const memory = memoryFilesystem(MEMORY_TMP_MIN_FREE_BYTES);
  if (!memory) return undefined;
  const dir = mkdtempSync(path.join(memory, 'cg-test-'));
  // Open to every user as /tmp is (sticky): run as root, PostgreSQL runs as a user of its own.
  chmodSync(dir, 0o1777);
  process.env.TMPDIR = dir;
  return dir;
}

async function runAll(started) {
  let brokers = process.env.KAFKA_BROKERS;
  /** @type {Promise<{ brokers: string, stop: () => Promise<void> }> | undefined} */
  let brokerStarting;
  if (!brokers) {
    const problem = await javaProblem();
    if (problem) {
      console.error(`[test] ${problem}`);
      return 1;
    }
    const { startBroker } = await import('./kafka-broker.mjs');
    console.log('[test] starting a Kafka broker');
    // @NOTE Started first: the JVM's start-up overlaps the type-check and the build. Its `test`
    // profile makes it cheaper to start and to keep waiting between the files that use it.
    brokerStarting = startBroker({ profile: 'test' });
    brokerStarting.catch(() => undefined);
  }
  const stopBroker = async () => {
    const starting = brokerStarting;
    brokerStarting = undefined;
    const broker = await starting?.catch(() => undefined);
    if (!broker) return;
    await broker.stop();
    console.log('[test] Kafka broker stopped');
  };
  /** @type {Promise<{ controlUrl: string, env: string, stop: () => Promise<void> }> | undefined} */
  let networkStarting;
  let networkLeftovers = false;
  const stopNetwork = async () => {
    const starting = networkStarting;
    networkStarting = undefined;
    const network = await starting?.catch(() => undefined);
    if (!network) return;
    try {
      await network.stop();
      console.log('[test] local AT Protocol network stopped, nothing left behind');
    } catch (error) {
      networkLeftovers = true;
      console.error(`[test] ${error instanceof Error ? error.message : String(error)}`);
    }
  };
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.once(signal, () => void Promise.all([stopBroker(), stopNetwork()]).then(() => process.exit(130)));
  }

  try {
    console.log('[test] type-checking and building');
    // The two type-checks and the build (swc, which does not type-check) side by side; the local
    // Bluesky network starts from the build as soon as there is one, beside the type-checks.
    const steps = await Promise.all([
      run(bin('tsc'), ['-p', 'tsconfig.json']),
      run(bin('tsc'), ['-p', path.join('services', 'feed-generator', 'src', 'console', 'web')]),
      run(process.execPath, [path.join(root, 'scripts', 'build.mjs')]).then((code) => {
        if (code === 0 && runNeedsAtprotoNetwork(jestArgs)) {
          console.log('[test] starting the local AT Protocol network');
          networkStarting = startAtprotoNetwork();
          networkStarting.catch(() => undefined);
        }
        return code;
      }),
    ]);
    if (steps.some((code) => code !== 0)) return 1;
    // @NOTE Lint reads every file once more with the type checker (about a minute on 2 cores): it
    // runs beside the tests, not before them, and its verdict comes at the end.
    const lint = jestArgs.length > 0 ? undefined : runCaptured(bin('eslint'), ['--max-warnings', '0', '.']);
    if (brokerStarting) {
      brokers = (await brokerStarting).brokers;
      console.log(`[test] Kafka broker on ${brokers}`);
    }

    // @NOTE The broker address travels as CG_TEST_KAFKA_BROKERS, not KAFKA_BROKERS: the
    // application reads KAFKA_BROKERS to choose scaled mode, and embedded-mode tests must not.
    const env = { ...process.env, CG_TEST_KAFKA_BROKERS: brokers, NODE_OPTIONS: '--experimental-vm-modules --no-warnings' };
    delete env.KAFKA_BROKERS;
    if (networkStarting) {
      const network = await networkStarting;
      env[network.env] = network.controlUrl;
      console.log(`[test] local AT Protocol network serving (control API ${network.controlUrl})`);
    }
    if (jestArgs.length > 0) {
      const { code } = await jest(env, jestArgs);
      await stopNetwork();
      return code === 0 && !networkLeftovers ? 0 : 1;
    }
    const testsStarted = Date.now();
    const result = await jest(env, [], { recordDurations });
    console.log(`[test] Jest done in ${Math.round((Date.now() - testsStarted) / 1000)} s`);
    await stopNetwork();
    const linted = lint ? await lint : undefined;
    if (linted) console.log(linted.code === 0 ? '[test] lint: no problems' : `[test] lint failed:\n${linted.output}`);
    console.log(`tests: ${result.passed} passed, ${result.failed} failed, ${result.skipped} skipped`);
    return result.code === 0 && (linted?.code ?? 0) === 0 && !networkLeftovers ? 0 : 1;
  } finally {
    await Promise.all([stopBroker(), stopNetwork()]);
    console.log(`[test] done in ${Math.round((Date.now() - started) / 1000)} s`);
  }
}

/**
 * One local Bluesky network (libs/testing/src/atproto-network) in a process of its own, from the
 * build, for every test file on it to share: each starting its own cost the run a PostgreSQL and
 * a PDS, AppView and Ozone apiece. Its control URL goes to Jest in the environment variable `env`.
 */
async function startAtprotoNetwork() {
  const entry = path.join(root, 'dist', 'libs', 'testing', 'src', 'atproto-network', 'atproto-network.process.js');
  const { ATPROTO_NETWORK_ENV, startAtprotoNetworkProcess } = await import(entry);
  const network = await startAtprotoNetworkProcess();
  return { controlUrl: network.controlUrl, env: ATPROTO_NETWORK_ENV, stop: network.stop };
}

/**
 * Whether the run holds a test file on the local Bluesky network (one calling
 * `connectAtprotoNetwork`): every file when Jest is given no path, else the files its path
 * arguments match (as Jest matches them, a regular expression on the absolute path). A file run
 * without the shared network starts one for itself, so erring on "no" costs time, not a failure.
 */
function runNeedsAtprotoNetwork(jestArgs) {
  const patterns = jestArgs.filter((arg) => !arg.startsWith('-'));
  const specs = readdirSync(path.join(root, 'test'), { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.spec.ts'))
    .map((file) => path.join(root, 'test', file))
    .filter((file) => readFileSync(file, 'utf8').includes('connectAtprotoNetwork('));
  if (jestArgs.length === 0 || patterns.length === 0) return specs.length > 0;
  return specs.some((file) => patterns.some((pattern) => safeRegExp(pattern)?.test(file) ?? file.includes(pattern)));
}

function safeRegExp(pattern) {
  try {
    return new RegExp(pattern);
  } catch {
    return undefined;
  }
}

/**
 * Why the Kafka broker cannot start here, or undefined when it can: it needs Java 17 or newer, and
 * Maven to fetch its jars the first time (the one prerequisite beside npm; PostgreSQL and Chromium
 * come from npm packages).
 */
async function javaProblem() {
  const version = (command, args) =>
    new Promise((resolve) => {
      execFile(command, args, (error, stdout, stderr) => resolve({ error, text: `${stdout}${stderr}` }));
    });
  const result = await version('java', ['-version']);
  if (result.error) {
    return 'Java was not found: the tests start a real Kafka broker, which needs Java 17 or newer (e.g. `apt-get install openjdk-17-jre-headless`), or set KAFKA_BROKERS to a broker of your own';
  }
  const major = Number(/version "(?:1\.)?(\d+)/.exec(result.text)?.[1]);
  if (!(major >= 17)) {
    return `Java ${Number.isFinite(major) ? major : '(unknown version)'} found; the Kafka broker needs Java 17 or newer, or set KAFKA_BROKERS to a broker of your own`;
  }
  const { kafkaJarsCached } = await import('./kafka-broker.mjs');
  if (!kafkaJarsCached() && (await version('mvn', ['-v'])).error) {
    return 'Maven was not found: the tests fetch the Kafka broker from Maven Central with `mvn` the first time (e.g. `apt-get install maven`), or set KAFKA_BROKERS to a broker of your own';
  }
  return undefined;
}

/**
 * Jest's worker processes. @NOTE Each worker is a process of its own, as chDB needs (one data
 * directory per process), and takes the next file as soon as it is free, longest first (see
 * scripts/jest-sequencer.mjs). Most files wait on brokers, child processes, replays and servers
 * far more than they compute, so on 2 cores three workers overlap those waits; a fourth mostly
 * adds contention. Given `--maxWorkers`/`-w` or `--runInBand`/`-i`, Jest's own choice stands.
 */
const WORKERS = 3;

function workerArgs(jestArgs) {
  const chosen = jestArgs.some((arg) => /^(--maxWorkers|-w|--runInBand|-i)(=|$)/.test(arg));
  return chosen ? [] : [`--maxWorkers=${WORKERS}`];
}

/** One Jest run; resolves with its exit code and its counts (from Jest's JSON report). */
async function jest(env, jestArgs, { recordDurations = false } = {}) {
  const report = path.join(mkdtempSync(path.join(os.tmpdir(), 'cg-jest-')), 'report.json');
  const command = [bin('jest'), ...workerArgs(jestArgs), '--forceExit', '--json', `--outputFile=${report}`, ...jestArgs];
  const code = await run(process.execPath, command, env);
  try {
    const result = JSON.parse(readFileSync(report, 'utf8'));
    if (recordDurations && code === 0) writeDurations(result);
    return { code, passed: result.numPassedTests, failed: result.numFailedTests, skipped: result.numPendingTests + result.numTodoTests };
  } catch {
    return { code: code === 0 ? 1 : code, passed: 0, failed: 1, skipped: 0 };
  } finally {
    rmSync(path.dirname(report), { recursive: true, force: true });
  }
}

/** Writes each file's run time (seconds, from the report) to test/durations.json, longest first. */
function writeDurations(result) {
  const durations = result.testResults
    .map((file) => [path.relative(root, file.name).split(path.sep).join('/'), Math.round((file.endTime - file.startTime) / 100) / 10])
    .sort(([pathA, a], [pathB, b]) => b - a || pathA.localeCompare(pathB));
  writeFileSync(durationsFile, `${JSON.stringify(Object.fromEntries(durations), null, 2)}\n`);
  console.log(`[test] durations of ${durations.length} files written to ${path.relative(root, durationsFile)}`);
}

process.exitCode = await main();
