/**
 * Embedded-mode benchmark: one process runs replay → ingest → in-process bus → scoring →
 * ClickHouse (chDB on disk), then serves getFeedSkeleton under load.
 *
 *     npm run bench:embedded                     # BENCH_EVENTS=200000 BENCH_SECONDS=10 BENCH_CONNECTIONS=32
 *
 * Prints ingest throughput (events/s from first event sent to the last one in ClickHouse) and
 * getFeedSkeleton requests/s with p50/p99 latency at limit 50, for a recent and a ranked feed.
 */
import 'reflect-metadata';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '#lib/config';
import { terminalProgress } from '#lib/platform';
import { generateJetstreamEvents, startJetstreamReplayServer } from '#lib/testing';
import { startApp } from '../services/app/src/app.factory.js';
import { ScoreSnapshotJob } from '../services/scoring/src/score-snapshot.job.js';
import { formatLoad, runLoad } from './http-load.js';

const events = Number(process.env.BENCH_EVENTS ?? 200_000);
const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 32);
const publisher = 'did:plc:benchpublisher00000000000';

const dir = await mkdtemp(path.join(os.tmpdir(), 'cg-bench-'));
const generated = generateJetstreamEvents({
  seed: 99,
  users: 20_000,
  events,
  startUs: (Date.now() - 12 * 3_600_000) * 1000,
  durationSec: 12 * 3_600 - 60,
  communities: [
    { name: 'north', members: 2_000 },
    { name: 'south', members: 2_000 },
  ],
  mix: { other: 0 },
});
const [north, south] = generated.communities;
await writeFile(
  path.join(dir, 'feeds.yaml'),
  [
    'communities:',
    `  north: { members: { dids: [${north!.members.join(', ')}] } }`,
    `  south: { members: { dids: [${south!.members.join(', ')}] } }`,
    'feeds:',
    '  recent: { displayName: Recent, communities: [north, south], includeReplies: true }',
    '  bridging: { displayName: Bridging, communities: [north, south], ranking: bridging }',
  ].join('\n'),
);
const replay = await startJetstreamReplayServer({ events: generated.events, startPaused: true });
const running = await startApp(
  loadConfig({
    DATA_DIR: dir,
    JETSTREAM_URL: replay.subscribeUrl,
    FEEDS_FILE: path.join(dir, 'feeds.yaml'),
    FEEDGEN_PUBLISHER_DID: publisher,
    HTTP_PORT: '0',
    OPS_PORT: '0',
    HTTP_BIND_HOST: '127.0.0.1',
    SCORING_INTERVAL_SECONDS: '86400',
    LOG_LEVEL: 'warn',
  }),
);
const status = async () => (await (await fetch(`${running.opsUrl}/status`)).json()) as { store: { events: number } };

await replay.waitForConnections(1);
const started = performance.now();
replay.resume();
const progress = terminalProgress({ label: 'ingest', total: generated.counts.mappable, unit: 'events' });
for (let stored = 0; stored < generated.counts.mappable; stored = (await status()).store.events) {
  progress.update(stored);
  await new Promise((resolve) => setTimeout(resolve, 50));
}
progress.update(generated.counts.mappable);
progress.finish();
const ingestSeconds = (performance.now() - started) / 1000;
console.log(
  `ingest: ${generated.counts.mappable} events replay → ClickHouse in ${ingestSeconds.toFixed(2)} s = ` +
    `${Math.round(generated.counts.mappable / ingestSeconds)} events/s (${events} frames sent)`,
);

const scoringStarted = performance.now();
const [run] = await running.app.get(ScoreSnapshotJob).runOnce();
console.log(`scoring: bridging snapshot of ${run!.posts} posts from ${run!.signals} signals in ${((performance.now() - scoringStarted) / 1000).toFixed(2)} s`);

for (const feed of ['recent', 'bridging']) {
  const url = `${running.url}/xrpc/app.bsky.feed.getFeedSkeleton?feed=at://${publisher}/app.bsky.feed.generator/${feed}&limit=50`;
  await runLoad({ urls: [url], connections: 4, durationSec: 1 });
  const result = await runLoad({ urls: [url], connections, durationSec: seconds });
  console.log(formatLoad(`getFeedSkeleton ${feed} limit=50, ${connections} connections`, result));
}

await running.close();
await replay.close();
await rm(dir, { recursive: true, force: true });
