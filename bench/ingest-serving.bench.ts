/**
 * Ingest while serving: the embedded ingest rate with feed readers reading at the same time,
 * against the idle rate, in one run.
 *
 *     npm run bench:ingest-serving     # BENCH_EVENTS=200000 (each phase) BENCH_READERS=10 BENCH_READER_PAUSE_MS=0
 *
 * Three phases, each replaying `BENCH_EVENTS` events of the next twelve hours from a local Jetstream
 * (a process of its own) into the embedded app, restarted on the same data before each:
 * 1. Idle: nobody reads; then a bridging snapshot is taken, so the feeds have something to serve.
 * 2. Serving: the feed generator is read by `BENCH_READERS` readers (keep-alive connections, each
 *    asking for the next page as soon as it has one, or after `BENCH_READER_PAUSE_MS`), the recent
 *    and the bridging feed in turn; only then does the stream start, and the app resumes from its
 *    cursor.
 * 3. Idle again, as the first.
 * The rate is measured the same way in every phase: from the first event received to the last
 * written. The share is the serving rate over the mean of the two idle ones.
 *
 * @NOTE Idle on both sides of serving: each phase writes onto a fuller store than the one before,
 * and the machine's speed drifts over a run (in six runs the second idle phase ran at 69–127 % of
 * the first); with an idle phase only before, both were counted for or against the readers.
 */
import 'reflect-metadata';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '#lib/testing';
import { startApp } from '../services/app/src/app.factory.js';
import { ScoreSnapshotJob } from '../services/scoring/src/score-snapshot.job.js';
import { atLeast, reportFigures } from './bench-report.js';
import { embeddedConfig, feedUri, measureIngest, startReplay, writeEvents, writeFeeds, type EventSet } from './embedded-ingest.js';
import { formatLoad, runLoad, type LoadResult } from './http-load.js';

const events = Number(process.env.BENCH_EVENTS ?? 200_000);
const readers = Number(process.env.BENCH_READERS ?? 10);
const pauseMs = Number(process.env.BENCH_READER_PAUSE_MS ?? 0);
const GOAL = { share: 90 };
const HALF_DAY_SEC = 12 * 3_600;

const dir = await mkdtemp(path.join(os.tmpdir(), 'cg-bench-ingest-serving-'));
const startUs = (Date.now() - 3 * HALF_DAY_SEC * 1000) * 1000;
const eventSets = await Promise.all(
  [0, 1, 2].map((half) =>
    writeEvents(dir, `half-${half}`, { seed: 31, events, startUs: startUs + half * HALF_DAY_SEC * 1_000_000, durationSec: HALF_DAY_SEC - 60 }),
  ),
);
const [before, during, after] = [eventSets[0]!, eventSets[1]!, eventSets[2]!];
const feeds = await writeFeeds(dir, before.communities);

/**
 * Replays `set` into the app restarted on the store; `readWhile` starts readers before the stream
 * and returns their result; `snapshot` ranks the feeds after.
 */
async function phase(name: string, set: EventSet, { readWhile, snapshot = false }: { readWhile?: (url: string) => Promise<LoadResult>; snapshot?: boolean }) {
  const port = await freePort();
  const running = await startApp(embeddedConfig(dir, `ws://127.0.0.1:${port}/subscribe`, feeds));
  let load: Promise<LoadResult> | undefined;
  const loadStarted = performance.now();
  if (readWhile) {
    load = readWhile(running.url);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
  const replay = await startReplay(set.file, { port });
  const run = await measureIngest(running.app, set.mappable);
  const ingestEndedSec = (performance.now() - loadStarted) / 1000;
  console.log(`${name}: ${run.events} events in ${run.seconds.toFixed(2)} s = ${Math.round(run.eventsPerSecond)} events/s, ${run.cpuUsPerEvent.toFixed(1)} µs CPU/event`);
  if (snapshot) await running.app.get(ScoreSnapshotJob).runOnce();
  const result = load && (await load);
  await running.close();
  await replay.process.stop();
  return { run, load: result, covered: result ? ingestEndedSec <= result.seconds : true };
}

const idleBefore = await phase('idle', before, { snapshot: true });
// Long enough to outlast the ingest even at a quarter of the idle rate.
const loadSeconds = Math.ceil(idleBefore.run.seconds * 4 + 10);
const serving = await phase('serving', during, {
  readWhile: (url) =>
    runLoad({
      urls: ['recent', 'bridging'].map((feed) => `${url}/xrpc/app.bsky.feed.getFeedSkeleton?feed=${feedUri(feed)}&limit=50`),
      connections: readers,
      durationSec: loadSeconds,
      ...(pauseMs > 0 ? { pauseMs } : {}),
    }),
});
const idleAfter = await phase('idle again', after, {});
const result = serving.load!;
console.log(formatLoad(`the readers meanwhile (${readers} connections${pauseMs > 0 ? `, ${pauseMs} ms between pages` : ''}, recent and bridging in turn, over ${loadSeconds} s)`, result));
const idleRate = (idleBefore.run.eventsPerSecond + idleAfter.run.eventsPerSecond) / 2;

reportFigures('ingest-serving', [
  {
    figure: `embedded ingest with ${readers} concurrent feed readers, share of the idle rate`,
    measured: (100 * serving.run.eventsPerSecond) / idleRate,
    unit: '%',
    goal: atLeast(GOAL.share),
    note:
      `${Math.round(serving.run.eventsPerSecond)} against ${Math.round(idleRate)} events/s idle (${Math.round(idleBefore.run.eventsPerSecond)} before, ${Math.round(idleAfter.run.eventsPerSecond)} after); ` +
      `readers ${Math.round(result.requestsPerSecond)} req/s, p99 ${result.p99Ms.toFixed(1)} ms` +
      (serving.covered ? '' : '; the readers stopped before ingest ended: the rate is partly idle'),
  },
]);

await rm(dir, { recursive: true, force: true });
