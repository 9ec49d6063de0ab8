/**
 * Ingest while serving: the embedded ingest rate with feed readers reading at the same time,
 * against the idle rate, in one run.
 *
 *     npm run bench:ingest-serving     # BENCH_EVENTS=200000 (each phase) BENCH_READERS=10 BENCH_READER_PAUSE_MS=0
 *
 * 1. Idle: a local Jetstream (a process of its own) replays `BENCH_EVENTS` events of twelve hours;
 *    the embedded app ingests them with nobody reading, then a bridging snapshot is taken.
 * 2. Serving: the app restarts on the same data and its feed generator is read by
 *    `BENCH_READERS` readers (keep-alive connections, each asking for the next page as soon as it has
 *    one, or after `BENCH_READER_PAUSE_MS`), the recent and the bridging feed in turn; only then
 *    does a second Jetstream start replaying the next twelve hours, and the app resumes from its
 *    cursor. The rate is measured the same way in both phases: from the first event received to
 *    the last written. The second phase writes onto a fuller store, which if anything slows it.
 */
import 'reflect-metadata';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '#lib/testing';
import { startApp } from '../services/app/src/app.factory.js';
import { ScoreSnapshotJob } from '../services/scoring/src/score-snapshot.job.js';
import { atLeast, reportFigures } from './bench-report.js';
import { embeddedConfig, feedUri, measureIngest, startReplay, writeEvents, writeFeeds } from './embedded-ingest.js';
import { formatLoad, runLoad } from './http-load.js';

const events = Number(process.env.BENCH_EVENTS ?? 200_000);
const readers = Number(process.env.BENCH_READERS ?? 10);
const pauseMs = Number(process.env.BENCH_READER_PAUSE_MS ?? 0);
const GOAL = { share: 90 };
const HALF_DAY_SEC = 12 * 3_600;

const dir = await mkdtemp(path.join(os.tmpdir(), 'cg-bench-ingest-serving-'));
const startUs = (Date.now() - 2 * HALF_DAY_SEC * 1000) * 1000;
const first = await writeEvents(dir, 'first', { seed: 31, events, startUs, durationSec: HALF_DAY_SEC - 60 });
const second = await writeEvents(dir, 'second', { seed: 31, events, startUs: startUs + HALF_DAY_SEC * 1_000_000, durationSec: HALF_DAY_SEC - 60 });
const feeds = await writeFeeds(dir, first.communities);

// 1. Idle.
let replay = await startReplay(first.file);
let running = await startApp(embeddedConfig(dir, replay.url, feeds));
const idle = await measureIngest(running.app, first.mappable);
console.log(`idle: ${idle.events} events in ${idle.seconds.toFixed(2)} s = ${Math.round(idle.eventsPerSecond)} events/s, ${idle.cpuUsPerEvent.toFixed(1)} µs CPU/event`);
await running.app.get(ScoreSnapshotJob).runOnce();
await running.close();
await replay.process.stop();

// 2. Serving: readers first, then the stream.
const port = await freePort();
running = await startApp(embeddedConfig(dir, `ws://127.0.0.1:${port}/subscribe`, feeds));
const urls = ['recent', 'bridging'].map((feed) => `${running.url}/xrpc/app.bsky.feed.getFeedSkeleton?feed=${feedUri(feed)}&limit=50`);
// Long enough to outlast the ingest even at a quarter of the idle rate.
const loadSeconds = Math.ceil(idle.seconds * 4 + 10);
const loadStarted = performance.now();
const load = runLoad({ urls, connections: readers, durationSec: loadSeconds, ...(pauseMs > 0 ? { pauseMs } : {}) });
await new Promise((resolve) => setTimeout(resolve, 1_000));
replay = await startReplay(second.file, { port });
const serving = await measureIngest(running.app, second.mappable);
const ingestEndedSec = (performance.now() - loadStarted) / 1000;
console.log(`serving: ${serving.events} events in ${serving.seconds.toFixed(2)} s = ${Math.round(serving.eventsPerSecond)} events/s, ${serving.cpuUsPerEvent.toFixed(1)} µs CPU/event`);
const result = await load;
console.log(formatLoad(`the readers meanwhile (${readers} connections${pauseMs > 0 ? `, ${pauseMs} ms between pages` : ''}, recent and bridging in turn, over ${loadSeconds} s)`, result));
const covered = ingestEndedSec <= result.seconds;

reportFigures('ingest-serving', [
  {
    figure: `embedded ingest with ${readers} concurrent feed readers, share of the idle rate`,
    measured: (100 * serving.eventsPerSecond) / idle.eventsPerSecond,
    unit: '%',
    goal: atLeast(GOAL.share),
    note:
      `${Math.round(serving.eventsPerSecond)} against ${Math.round(idle.eventsPerSecond)} events/s idle; readers ${Math.round(result.requestsPerSecond)} req/s, p99 ${result.p99Ms.toFixed(1)} ms` +
      (covered ? '' : '; the readers stopped before ingest ended: the rate is partly idle'),
  },
]);

await running.close();
await replay.process.stop();
await rm(dir, { recursive: true, force: true });
