/**
 * Like → visible: the time from a like's Jetstream `time_us` to the first served page whose ranking
 * counts it, p50 and p95, embedded and scaled (Kafka between ingest and scoring), with the project's
 * default intervals unless set otherwise.
 *
 *     npm run bench:like-visible    # BENCH_SECONDS=120 (of likes) BENCH_LIKES_PER_SECOND=20 BENCH_EVENTS=100000 (history)
 *                                   # BENCH_MODES=embedded,scaled; SCORING_INTERVAL_SECONDS, INGEST_BATCH_MAX_WAIT_MS,
 *                                   # SCORING_BATCH_SIZE pass through; KAFKA_BROKERS=host:port to use your broker
 *
 * The app starts on a local Jetstream holding twelve hours of history (two communities), ingests
 * it and ranks it, then live likes arrive for `BENCH_SECONDS`, each stamped `time_us` = the wall
 * clock when Jetstream sends it, as the real one stamps events it receives. Meanwhile the bench
 * reads the bridging feed's first page every 100 ms, as a client would, and notes when each score
 * snapshot (the page's cursor names it: `s<snapshot>::…`) is first served; and it samples, from
 * the scoring consumer's own counter, when each like was written to ClickHouse. A snapshot counts a
 * like when it began (its id is the unix ms it began at) after the like was written: the like is
 * visible when the first such snapshot is served.
 */
import 'reflect-metadata';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { AppConfig } from '#lib/config';
import { Nsid } from '#lib/domain';
import { generateJetstreamEvents, likeEvent, mulberry32, startJetstreamReplayServer } from '#lib/testing';
import { startApp } from '../services/app/src/app.factory.js';
import { ScoreSnapshotJob } from '../services/scoring/src/score-snapshot.job.js';
import { EventBatchConsumer } from '../services/scoring/src/event-batch.consumer.js';
import { startBroker } from '#scripts/kafka-broker.mjs';
import { atMost, reportFigures, type Figure } from './bench-report.js';
import { embeddedConfig, feedUri, writeFeeds } from './embedded-ingest.js';

const seconds = Number(process.env.BENCH_SECONDS ?? 120);
const likesPerSecond = Number(process.env.BENCH_LIKES_PER_SECOND ?? 20);
const history = Number(process.env.BENCH_EVENTS ?? 100_000);
const modes = (process.env.BENCH_MODES ?? 'embedded,scaled').split(',').map((mode) => mode.trim());
const GOAL = { p95Seconds: 60 };
const POLL_MS = 100;

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;

async function measure(mode: string): Promise<Figure[]> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `cg-bench-like-${mode}-`));
  const broker = mode === 'scaled' && !process.env.KAFKA_BROKERS ? await startBroker() : undefined;
  const generated = generateJetstreamEvents({
    seed: 17,
    users: 20_000,
    events: history,
    startUs: (Date.now() - 12 * 3_600_000) * 1000,
    durationSec: 12 * 3_600 - 600,
    communities: [
      { name: 'north', members: 2_000 },
      { name: 'south', members: 2_000 },
    ],
    mix: { other: 0 },
  });
  const [north, south] = generated.communities;
  const posts = generated.events.flatMap((event) =>
    'commit' in event && event.commit.collection === Nsid.post && event.commit.operation === 'create' && event.commit.cid
      ? [{ uri: `at://${event.did}/${Nsid.post}/${event.commit.rkey}`, cid: event.commit.cid }]
      : [],
  );
  const likers = [...north!.members, ...south!.members];
  const replay = await startJetstreamReplayServer({ events: generated.events });
  const env: Record<string, string> = {};
  if (mode === 'scaled') {
    const prefix = `benchlike${Date.now()}.`;
    Object.assign(env, { KAFKA_BROKERS: process.env.KAFKA_BROKERS ?? broker!.brokers, KAFKA_TOPIC_PREFIX: prefix, KAFKA_CONSUMER_GROUP: 'scoring' });
  }
  const config: AppConfig = embeddedConfig(dir, replay.subscribeUrl, await writeFeeds(dir, { north: north!.members, south: south!.members }), {
    SCORING_INTERVAL_SECONDS: process.env.SCORING_INTERVAL_SECONDS ?? '30',
    ...env,
  });
  const running = await startApp(config);
  const written = running.app.get(EventBatchConsumer).stats;
  while (written.written < generated.counts.mappable) await new Promise((resolve) => setTimeout(resolve, 100));
  await running.app.get(ScoreSnapshotJob).runOnce();

  // The bench's clocks: when each snapshot was first served, when the consumer had written up to which time_us.
  const firstServed = new Map<number, number>();
  const writtenAt: { at: number; upToUs: number }[] = [];
  const pageUrl = `${running.url}/xrpc/app.bsky.feed.getFeedSkeleton?feed=${feedUri('bridging')}&limit=1`;
  let polling = true;
  const poll = (async () => {
    while (polling) {
      const response = await fetch(pageUrl);
      const body = (await response.json()) as { cursor?: string };
      const snapshot = /^s(\d+)::/.exec(body.cursor ?? '')?.[1];
      if (snapshot && !firstServed.has(Number(snapshot))) firstServed.set(Number(snapshot), Date.now());
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  })();
  const sampler = setInterval(() => writtenAt.push({ at: Date.now(), upToUs: written.newestEventUs }), 20);

  const rng = mulberry32(23);
  const likes: number[] = [];
  const until = Date.now() + seconds * 1000;
  while (Date.now() < until) {
    const event = likeEvent({ did: likers[Math.floor(rng() * likers.length)]!, subject: posts[Math.floor(rng() * posts.length)]! });
    replay.push(event);
    const timeUs = event.time_us;
    likes.push(timeUs);
    await new Promise((resolve) => setTimeout(resolve, 1000 / likesPerSecond));
  }

  // Visible: the first served snapshot that began after the like was written.
  const lastUs = likes.at(-1)!;
  const visibleAt = (timeUs: number): number | undefined => {
    const stored = writtenAt.find((sample) => sample.upToUs >= timeUs)?.at;
    if (stored === undefined) return undefined;
    let first: number | undefined;
    for (const [snapshot, servedAt] of firstServed) if (snapshot >= stored && (first === undefined || servedAt < first)) first = servedAt;
    return first;
  };
  const deadline = Date.now() + (config.scoring.intervalSeconds * 3 + 60) * 1000;
  while (visibleAt(lastUs) === undefined && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 500));
  polling = false;
  clearInterval(sampler);
  await poll;
  const latencies = likes.map((timeUs) => visibleAt(timeUs)).flatMap((at, index) => (at === undefined ? [] : [(at - likes[index]! / 1000) / 1000]));
  latencies.sort((a, b) => a - b);
  const unseen = likes.length - latencies.length;
  const settings =
    `SCORING_INTERVAL_SECONDS=${config.scoring.intervalSeconds}, INGEST_BATCH_MAX_WAIT_MS=${config.ingest.batchMaxWaitMs}, ` +
    `INGEST_BATCH_SIZE=${config.ingest.batchSize}, SCORING_BATCH_SIZE=${config.scoring.batchSize}; ${likes.length} likes over ${seconds} s` +
    (unseen > 0 ? `; ${unseen} not visible within ${config.scoring.intervalSeconds * 3 + 60} s` : '');
  console.log(`${mode}: ${firstServed.size} snapshots served; ${settings}`);

  await running.close();
  await replay.close();
  await broker?.stop();
  await rm(dir, { recursive: true, force: true });
  const p95 = unseen > likes.length * 0.05 ? Number.POSITIVE_INFINITY : quantile(latencies, 0.95);
  return [
    { figure: `like → visible, ${mode}, p50`, measured: quantile(latencies, 0.5), unit: 's', note: settings },
    { figure: `like → visible, ${mode}, p95`, measured: p95, unit: 's', goal: atMost(GOAL.p95Seconds) },
  ];
}

const figures: Figure[] = [];
for (const mode of modes) figures.push(...(await measure(mode)));
reportFigures('like-visible', figures);
