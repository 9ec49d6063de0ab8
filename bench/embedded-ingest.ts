/**
 * What the embedded benchmarks share: synthetic Jetstream events written for a local Jetstream in
 * a process of its own (as the real one is remote, the sender's CPU stays off the measured
 * process), the embedded app's configuration, and the ingest rate measured from inside the app.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { loadConfig, type AppConfig } from '#lib/config';
import { AppProcess, generateJetstreamEvents, jetstreamReplayEntry, writeJsonl } from '#lib/testing';
import type { startApp } from '../services/app/src/app.factory.js';
import { JetstreamIngestService } from '../services/ingest/src/jetstream-ingest.service.js';
import { EventBatchConsumer } from '../services/scoring/src/event-batch.consumer.js';
import { cpuMs } from './bench-report.js';

/** Settings a benchmark run may set in its environment, e.g. `INGEST_BATCH_SIZE=20000 npm run bench:embedded`. */
const TUNABLE = ['INGEST_BATCH_SIZE', 'INGEST_BATCH_MAX_WAIT_MS', 'SCORING_BATCH_SIZE', 'IN_PROCESS_BUS_MAX_QUEUED'];

export const publisher = 'did:plc:benchpublisher00000000000';
export const feedUri = (name: string) => `at://${publisher}/app.bsky.feed.generator/${name}`;

export interface EventSet {
  file: string;
  /** Events ingest keeps (the rest are frames it skips). */
  mappable: number;
  /** Frames written. */
  frames: number;
}

export interface Communities {
  north: string[];
  south: string[];
}

interface BenchEventOptions {
  seed: number;
  events: number;
  startUs: number;
  durationSec: number;
  users?: number;
}

/** The synthetic stream of the embedded benchmarks: only collections ingest keeps, two communities of 2,000. */
export function benchEvents(options: BenchEventOptions): ReturnType<typeof generateJetstreamEvents> {
  return generateJetstreamEvents({
    seed: options.seed,
    users: options.users ?? 20_000,
    events: options.events,
    startUs: options.startUs,
    durationSec: options.durationSec,
    communities: [
      { name: 'north', members: 2_000 },
      { name: 'south', members: 2_000 },
    ],
    mix: { other: 0 },
  });
}

/**
 * `events` frames over `durationSec` from `startUs`, by 20,000 users of whom two communities of
 * 2,000 (the same seed gives the same users and communities), written to `<dir>/<name>.jsonl`.
 */
export async function writeEvents(dir: string, name: string, options: BenchEventOptions): Promise<EventSet & { communities: Communities }> {
  const generated = benchEvents(options);
  const file = path.join(dir, `${name}.jsonl`);
  await writeJsonl(file, generated.events);
  const [north, south] = generated.communities;
  return {
    file,
    mappable: generated.counts.mappable,
    frames: generated.events.length,
    communities: { north: north!.members, south: south!.members },
  };
}

/** The curator file of the embedded benchmarks: a recent and a bridging feed over both communities. */
export async function writeFeeds(dir: string, communities: Communities): Promise<string> {
  const file = path.join(dir, 'feeds.yaml');
  await writeFile(
    file,
    [
      'communities:',
      `  north: { members: { dids: [${communities.north.join(', ')}] } }`,
      `  south: { members: { dids: [${communities.south.join(', ')}] } }`,
      'feeds:',
      '  recent: { displayName: Recent, communities: [north, south], includeReplies: true }',
      '  bridging: { displayName: Bridging, communities: [north, south], ranking: bridging }',
    ].join('\n'),
  );
  return file;
}

/** A local Jetstream replaying `file` in its own process; `eventsPerSecond` paces it per connection. */
export async function startReplay(file: string, options: { port?: number; eventsPerSecond?: number } = {}): Promise<{ process: AppProcess; url: string }> {
  const args = [file, String(options.port ?? 0), ...(options.eventsPerSecond ? [String(options.eventsPerSecond)] : [])];
  const replay = new AppProcess('jetstream', jetstreamReplayEntry, {}, args).start();
  const { url } = await replay.firstJsonLine<{ url: string }>('url');
  return { process: replay, url };
}

/** The embedded app of the benchmarks: everything in one process, chDB on disk under `dir`. */
export function embeddedConfig(dir: string, jetstreamUrl: string, feedsFile: string, env: Record<string, string> = {}): AppConfig {
  return loadConfig({
    DATA_DIR: dir,
    JETSTREAM_URL: jetstreamUrl,
    FEEDS_FILE: feedsFile,
    FEEDGEN_PUBLISHER_DID: publisher,
    HTTP_PORT: '0',
    OPS_PORT: '0',
    HTTP_BIND_HOST: '127.0.0.1',
    SCORING_INTERVAL_SECONDS: '86400',
    // The members' histories would be fetched from their PDSes, which a benchmark does not have.
    BACKFILL_ENABLED: 'false',
    LOG_LEVEL: 'warn',
    // Settings worth comparing come through from the environment.
    ...Object.fromEntries(TUNABLE.flatMap((name) => (process.env[name] ? [[name, process.env[name]]] : []))),
    ...env,
  });
}

export interface IngestRun {
  events: number;
  seconds: number;
  eventsPerSecond: number;
  /** CPU of the whole process (every thread, chDB's included) per event, µs. */
  cpuUsPerEvent: number;
  /** Of which the JavaScript thread's (parse, map, rows, the rest chDB's threads and the runtime's helpers), µs. */
  jsThreadUsPerEvent: number;
  /** Events per write of the scoring consumer, on average: ClickHouse's cost per event falls as writes grow. */
  eventsPerWrite: number;
}

/**
 * Waits until `target` more events are written to ClickHouse than when called, and measures the
 * steady rate: from the first event ingest received (connected, topics ready) to the last one
 * written, with the process's CPU over the same span. The counters are the app's own, so nothing
 * else queries ClickHouse meanwhile.
 */
export async function measureIngest(app: Awaited<ReturnType<typeof startApp>>['app'], target: number, onProgress?: (written: number) => void): Promise<IngestRun> {
  const ingest = app.get(JetstreamIngestService).stats;
  const written = app.get(EventBatchConsumer).stats;
  const receivedBefore = ingest.received;
  const writtenBefore = written.written;
  const writesBefore = written.writes;
  let first: { at: number; cpu: NodeJS.CpuUsage; thread: NodeJS.CpuUsage } | undefined;
  while (written.written - writtenBefore < target) {
    if (!first && ingest.received > receivedBefore) first = { at: performance.now(), cpu: process.cpuUsage(), thread: process.threadCpuUsage() };
    onProgress?.(written.written - writtenBefore);
    await new Promise((resolve) => setTimeout(resolve, first ? 20 : 2));
  }
  const seconds = (performance.now() - first!.at) / 1000;
  const cpu = cpuMs(first!.cpu);
  const thread = process.threadCpuUsage(first!.thread);
  const events = written.written - writtenBefore;
  return {
    events,
    seconds,
    eventsPerSecond: events / seconds,
    cpuUsPerEvent: (cpu * 1000) / events,
    jsThreadUsPerEvent: (thread.user + thread.system) / events,
    eventsPerWrite: events / Math.max(1, written.writes - writesBefore),
  };
}
