/**
 * Memory: the peak resident set of the embedded process (every role in one process, chDB inside)
 * holding and serving a bridging snapshot of `BENCH_POSTS` scored posts and `BENCH_POSTS` recent
 * posts, read by `BENCH_CONNECTIONS` connections at first pages and deep pages of both feeds.
 *
 *     npm run bench:memory                          # BENCH_POSTS=1000000 BENCH_SECONDS=20 BENCH_CONNECTIONS=16
 *     BENCH_POSTS=10000000 npm run bench:memory      # 10 M: loading takes minutes, most of it chDB's
 *
 * The data are written straight into ClickHouse (`INSERT … SELECT FROM numbers()`), as the scoring
 * service would have written them; snapshots are not recomputed during the run (they would replace
 * the loaded one). Prints the peak resident set of the whole run (the kernel's high-water mark,
 * loading included) and the highest one sampled while serving, with the heap beside it.
 */
import 'reflect-metadata';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { ClickHouseClient } from '#lib/clickhouse';
import { CLICKHOUSE } from '#lib/platform';
import { deterministicDidPlc, startJetstreamReplayServer } from '#lib/testing';
import { startApp } from '../services/app/src/app.factory.js';
import { atMost, reportFigures } from './bench-report.js';
import { embeddedConfig, feedUri, writeFeeds } from './embedded-ingest.js';
import { formatLoad, runLoad } from './http-load.js';
import { loadRecentPosts, loadScoredPosts } from './served-posts.js';

const posts = Number(process.env.BENCH_POSTS ?? 1_000_000);
const seconds = Number(process.env.BENCH_SECONDS ?? 20);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 16);
const AUTHORS = 1_000;
const LIMIT = 50;
const GIB = 1024 ** 3;
const GOAL = { bytesAt1m: 2 * GIB };

const dir = await mkdtemp(path.join(os.tmpdir(), 'cg-bench-memory-'));
const authors = Array.from({ length: AUTHORS }, (_, i) => deterministicDidPlc(`bench-author-${i}`));
const feedsFile = await writeFeeds(dir, { north: authors.slice(0, AUTHORS / 2), south: authors.slice(AUTHORS / 2) });
// A Jetstream with nothing to send: ingest is connected and idle, as between events.
const replay = await startJetstreamReplayServer({ events: [] });
const config = embeddedConfig(dir, replay.subscribeUrl, feedsFile, { SCORING_SNAPSHOTS: 'false' });
const { database } = config.clickhouse;
const running = await startApp(config);
const clickhouse = running.app.get<ClickHouseClient>(CLICKHOUSE);

const started = performance.now();
const snapshot = Date.now();
await loadScoredPosts(clickhouse, { database, feed: feedUri('bridging'), snapshot, authors, posts });
const newestUs = Date.now() * 1000;
await loadRecentPosts(clickhouse, { database, authors, newestUs, posts });
const loadSeconds = (performance.now() - started) / 1000;
console.log(`memory bench: ${posts} scored posts (one bridging snapshot) and ${posts} recent posts loaded in ${loadSeconds.toFixed(1)} s; rss ${(process.memoryUsage.rss() / GIB).toFixed(2)} GiB`);

const skeletonUrl = (feed: string, cursor?: string) => `${running.url}/xrpc/app.bsky.feed.getFeedSkeleton?feed=${encodeURIComponent(feedUri(feed))}&limit=${LIMIT}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
const depths = Array.from({ length: 50 }, (_, i) => Math.floor(((i * 7919) % 50) * (posts / 50)) + 1);
const urls = [
  skeletonUrl('bridging'),
  skeletonUrl('recent'),
  ...depths.map((rank) => skeletonUrl('bridging', `s${snapshot}::${rank}::bafyreibench`)),
  ...depths.map((rank) => skeletonUrl('recent', `t::${newestUs - rank * 1000}::bafyreibench`)),
];
let servingPeak = 0;
let heapAtPeak = 0;
const sampler = setInterval(() => {
  const { rss, heapUsed } = process.memoryUsage();
  if (rss > servingPeak) [servingPeak, heapAtPeak] = [rss, heapUsed];
}, 100);
const result = await runLoad({ urls, connections, durationSec: seconds });
clearInterval(sampler);
console.log(formatLoad(`getFeedSkeleton, first and deep pages of both feeds, ${connections} connections`, result));
// The kernel's high-water mark of this process (KiB), loading included.
const peak = process.resourceUsage().maxRSS * 1024;

reportFigures('memory', [
  {
    figure: `embedded process, peak RSS, ${posts.toLocaleString('en-US')} scored + ${posts.toLocaleString('en-US')} recent posts`,
    measured: peak / GIB,
    unit: 'GiB',
    ...(posts <= 1_000_000 ? { goal: atMost(GOAL.bytesAt1m / GIB) } : {}),
    note: `highest sampled while serving ${(servingPeak / GIB).toFixed(2)} GiB (heap ${(heapAtPeak / GIB).toFixed(2)} GiB); loading took ${loadSeconds.toFixed(0)} s; ${result.errors} errors in ${result.requests} requests`,
  },
]);

await running.close();
await replay.close();
await rm(dir, { recursive: true, force: true });
