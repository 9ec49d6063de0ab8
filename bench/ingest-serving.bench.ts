/**
 * Ingest while serving: the embedded ingest rate with feed readers reading at the same time,
 * against the idle rate, in one run.
 *
 *     npm run bench:ingest-serving     # BENCH_EVENTS=200000 (each phase) BENCH_ROUNDS=3 BENCH_READERS=10 BENCH_READER_PAUSE_MS=0
 *
 * Phases that each replay `BENCH_EVENTS` events of the next stretch of the last 60 hours (within
 * the feeds' 72-hour window, so that every phase's readers read full feeds) from a local Jetstream
 * (a process of its own) into the embedded app, restarted on the same data before each: idle, then
 * `BENCH_ROUNDS` times serving and idle again.
 * - Idle: nobody reads. After the first, a bridging snapshot is taken, so the feeds have something
 *   to serve.
 * - Serving: the feed generator is read by `BENCH_READERS` readers (keep-alive connections, each
 *   asking for the next page as soon as it has one, or after `BENCH_READER_PAUSE_MS`), the recent
 *   and the bridging feed in turn; only then does the stream start, and the app resumes from its
 *   cursor.
 * The rate is measured the same way in every phase: from the first event received to the last
 * written. A round's share is its serving rate over the mean of the idle phases either side of it;
 * the figure is the median round's.
 *
 * @NOTE Idle on both sides of serving, and rounds: each phase writes onto a fuller store than the
 * one before, and the machine's speed drifts over a run (in ten runs of one round the idle phase
 * after ran at 69–130 % of the one before, and the share moved from 71 to 109 % with the same
 * code); with an idle phase only before, both were counted for or against the readers.
 */
import 'reflect-metadata';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '#lib/testing';
import { startApp } from '../services/app/src/app.factory.js';
import { ScoreSnapshotJob } from '../services/scoring/src/score-snapshot.job.js';
import { atLeast, reportFigures } from './bench-report.js';
import { embeddedConfig, feedUri, measureIngest, startReplay, writeEvents, writeFeeds, type Communities, type EventSet } from './embedded-ingest.js';
import { formatLoad, runLoad, type LoadResult } from './http-load.js';

const events = Number(process.env.BENCH_EVENTS ?? 200_000);
const readers = Number(process.env.BENCH_READERS ?? 10);
const pauseMs = Number(process.env.BENCH_READER_PAUSE_MS ?? 0);
const GOAL = { share: 90 };
/** What the phases span together, ending now: inside the feeds' default window of 72 hours. */
const SPAN_SEC = 60 * 3_600;

const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
if (!(Number.isInteger(rounds) && rounds >= 1)) throw new Error(`BENCH_ROUNDS must be a positive integer, got ${process.env.BENCH_ROUNDS}`);

const dir = await mkdtemp(path.join(os.tmpdir(), 'cg-bench-ingest-serving-'));
const phases = 2 * rounds + 1;
const phaseSec = Math.floor(SPAN_SEC / phases);
const startUs = (Date.now() - SPAN_SEC * 1000) * 1000;
// One after the other, so that only one phase's events are in memory at a time.
const eventSets: (EventSet & { communities: Communities })[] = [];
for (let index = 0; index < phases; index++) {
  eventSets.push(await writeEvents(dir, `phase-${index}`, { seed: 31, events, startUs: startUs + index * phaseSec * 1_000_000, durationSec: phaseSec - 60 }));
}
const feeds = await writeFeeds(dir, eventSets[0]!.communities);

/**
 * Replays `set` into the app restarted on the store; `readWhile` starts readers before the stream
 * and returns their result once ingest has written the set (`until`); `snapshot` ranks the feeds after.
 */
async function phase(
  name: string,
  set: EventSet,
  { readWhile, snapshot = false }: { readWhile?: (url: string, until: Promise<unknown>) => Promise<LoadResult>; snapshot?: boolean },
) {
  const port = await freePort();
  const running = await startApp(embeddedConfig(dir, `ws://127.0.0.1:${port}/subscribe`, feeds));
  let load: Promise<LoadResult> | undefined;
  let ingested: () => void = () => undefined;
  const loadStarted = performance.now();
  if (readWhile) {
    load = readWhile(running.url, new Promise<void>((resolve) => (ingested = resolve)));
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
  const replay = await startReplay(set.file, { port });
  const run = await measureIngest(running.app, set.mappable);
  ingested();
  const ingestSec = (performance.now() - loadStarted) / 1000;
  console.log(`${name}: ${run.events} events in ${run.seconds.toFixed(2)} s = ${Math.round(run.eventsPerSecond)} events/s, ${run.cpuUsPerEvent.toFixed(1)} µs CPU/event`);
  if (snapshot) await running.app.get(ScoreSnapshotJob).runOnce();
  const result = load && (await load);
  await running.close();
  await replay.process.stop();
  return { run, load: result, ingestSec };
}

let idle = await phase('idle', eventSets[0]!, { snapshot: true });
// Long enough to outlast the ingest even at a quarter of the idle rate; it ends with the ingest.
const loadSeconds = Math.ceil(idle.run.seconds * 4 + 10);
const readWhile = (url: string, until: Promise<unknown>) =>
  runLoad({
    until,
    urls: ['recent', 'bridging'].map((feed) => `${url}/xrpc/app.bsky.feed.getFeedSkeleton?feed=${feedUri(feed)}&limit=50`),
    connections: readers,
    durationSec: loadSeconds,
    ...(pauseMs > 0 ? { pauseMs } : {}),
  });
const results = [];
for (let round = 1; round <= rounds; round++) {
  const serving = await phase(`round ${round}, serving`, eventSets[2 * round - 1]!, { readWhile });
  const after = await phase(`round ${round}, idle`, eventSets[2 * round]!, {});
  const load = serving.load!;
  const idleRate = (idle.run.eventsPerSecond + after.run.eventsPerSecond) / 2;
  const share = (100 * serving.run.eventsPerSecond) / idleRate;
  console.log(
    `round ${round}: ${share.toFixed(1)} % (${Math.round(serving.run.eventsPerSecond)} against ${Math.round(idleRate)} events/s idle); ` +
      formatLoad(`readers (${readers} connections${pauseMs > 0 ? `, ${pauseMs} ms between pages` : ''}, recent and bridging in turn)`, load),
  );
  results.push({ share, serving: serving.run.eventsPerSecond, idle: idleRate, load, covered: serving.ingestSec < loadSeconds });
  idle = after;
}
const median = [...results].sort((a, b) => a.share - b.share)[Math.floor((results.length - 1) / 2)]!;

reportFigures('ingest-serving', [
  {
    figure: `embedded ingest with ${readers} concurrent feed readers, share of the idle rate (median of ${rounds} round${rounds === 1 ? '' : 's'})`,
    measured: median.share,
    unit: '%',
    goal: atLeast(GOAL.share),
    note:
      `${Math.round(median.serving)} against ${Math.round(median.idle)} events/s idle; readers ${Math.round(median.load.requestsPerSecond)} req/s, p99 ${median.load.p99Ms.toFixed(1)} ms; ` +
      `rounds ${results.map((r) => `${r.share.toFixed(1)} %`).join(', ')}` +
      (results.every((r) => r.covered) ? '' : '; the readers stopped before ingest ended in a round: its rate is partly idle'),
  },
]);

await rm(dir, { recursive: true, force: true });
