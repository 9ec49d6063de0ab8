/**
 * Scaled-mode benchmark on a real Kafka broker:
 *  1. ingest → Kafka: replayed Jetstream events mapped, batched and published with `acks: -1`;
 *     events/s counted when the broker has acknowledged the last one.
 *  2. Kafka → ClickHouse: a scoring consumer group reads the topic from the start and writes the
 *     events (ClickHouse embedded in this process through chDB); events/s until all are stored,
 *     with the consumer lag per partition sampled every second.
 *
 *     npm run bench:kafka                   # BENCH_EVENTS=200000; KAFKA_BROKERS=host:port to use your broker
 *     KAFKA_COMPRESSION=gzip KAFKA_PRODUCERS=1 KAFKA_PARTITIONS=12 SCORING_BATCH_SIZE=50000 BENCH_INGEST_BATCH=20000 npm run bench:kafka
 */
import 'reflect-metadata';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, type AppConfig } from '#lib/config';
import { Topics } from '#lib/contracts';
import { KafkaBus } from '#lib/kafka';
import { AppProcess, generateJetstreamEvents, jetstreamReplayEntry, writeJsonl } from '#lib/testing';
import { startApp } from '../services/app/src/app.factory.js';
import { JetstreamIngestService } from '../services/ingest/src/jetstream-ingest.service.js';
import { EventBatchConsumer } from '../services/scoring/src/event-batch.consumer.js';
import { startBroker } from '#scripts/kafka-broker.mjs';
import { atLeast, cpuMs, reportFigures } from './bench-report.js';

const events = Number(process.env.BENCH_EVENTS ?? 200_000);
const GOAL = { eventsPerSecond: 60_000 };
const TUNABLE = ['KAFKA_COMPRESSION', 'KAFKA_PRODUCERS', 'KAFKA_PARTITIONS', 'SCORING_BATCH_SIZE'];
const dir = await mkdtemp(path.join(os.tmpdir(), 'cg-bench-kafka-'));
const broker = process.env.KAFKA_BROKERS ? undefined : await startBroker();
const brokers = process.env.KAFKA_BROKERS ?? broker!.brokers;
const prefix = `bench${Date.now()}.`;
await writeFile(path.join(dir, 'feeds.yaml'), 'communities: {}\nfeeds: {}\n');

// The local Jetstream runs in a process of its own, as the real one is remote; the events are
// written for it and dropped here, so this process's heap holds only what ingest itself holds.
const mappable = await (async () => {
  const generated = generateJetstreamEvents({
    seed: 5,
    users: 50_000,
    events,
    startUs: (Date.now() - 3_600_000) * 1000,
    mix: { other: 0 },
  });
  await writeJsonl(path.join(dir, 'events.jsonl'), generated.events);
  return generated.counts.mappable;
})();
const replay = new AppProcess('jetstream', jetstreamReplayEntry, {}, [path.join(dir, 'events.jsonl')]).start();
const { url: jetstreamUrl } = await replay.firstJsonLine<{ url: string }>('url');
const base = loadConfig({
  KAFKA_BROKERS: brokers,
  KAFKA_TOPIC_PREFIX: prefix,
  // Settings worth comparing come through from the environment; the rest are the project's defaults.
  ...Object.fromEntries(TUNABLE.flatMap((name) => (process.env[name] ? [[name, process.env[name]]] : []))),
  // On the broker `${prefix}scoring`: group ids go under the topic prefix.
  KAFKA_CONSUMER_GROUP: 'scoring',
  CLICKHOUSE_PATH: ':memory:',
  CLICKHOUSE_DATABASE: 'bench_kafka',
  DATA_DIR: dir,
  FEEDS_FILE: path.join(dir, 'feeds.yaml'),
  JETSTREAM_URL: jetstreamUrl,
  INGEST_BATCH_SIZE: process.env.BENCH_INGEST_BATCH ?? '10000',
  SCORING_SNAPSHOTS: 'false',
  HTTP_PORT: '0',
  OPS_PORT: '0',
  HTTP_BIND_HOST: '127.0.0.1',
  LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn',
});
// @NOTE One process plays each role in turn here; the embedded ClickHouse keeps the bench free of
// a server (scaled deployments point CLICKHOUSE_URL at one).
const as = (role: AppConfig['role']): AppConfig => ({ ...base, role });

let started = performance.now();
const ingest = await startApp(as('ingest'));
const ingestStats = ingest.app.get(JetstreamIngestService).stats;
const startupSeconds = (performance.now() - started) / 1000;
// Steady state: from the first event received (connected, topics ready) to the last acknowledged.
let firstReceived: number | undefined;
while (ingestStats.published < mappable) {
  if (firstReceived === undefined && ingestStats.received > 0) firstReceived = performance.now();
  await new Promise((resolve) => setTimeout(resolve, 5));
}
const ingestSeconds = (performance.now() - started) / 1000;
const streamingSeconds = (performance.now() - (firstReceived ?? started)) / 1000;
console.log(
  `ingest → Kafka: ${mappable} events acknowledged in ${streamingSeconds.toFixed(2)} s from the first event received = ` +
    `${Math.round(mappable / streamingSeconds)} events/s (${ingestStats.batches} batches, acks=-1, ` +
    `${base.bus.kind === 'kafka' ? `${base.bus.compression}, ${base.bus.producers} producers` : ''}); ` +
    `${Math.round(mappable / ingestSeconds)} events/s including ${startupSeconds.toFixed(2)} s of start-up`,
);
await ingest.close();

const admin = new KafkaBus({ brokers: [brokers], clientId: 'bench-lag', logLevel: 'error' });
const scoring = await startApp(as('scoring'));
const scoringStats = scoring.app.get(EventBatchConsumer).stats;
started = performance.now();
const samples: string[] = [];
const sampler = setInterval(() => {
  void admin.getLag(`${prefix}scoring`, `${prefix}${Topics.events}`).then((lag) => {
    const total = lag.reduce((sum, partition) => sum + partition.lag, 0);
    samples.push(`  t=${((performance.now() - started) / 1000).toFixed(0)}s lag ${total} [${lag.map((p) => p.lag).join(', ')}] written ${scoringStats.written}`);
  });
}, 1_000);
// Steady state: from the first batch stored (the group has joined) to the last.
let first: { at: number; written: number; cpu: NodeJS.CpuUsage } | undefined;
while (scoringStats.written < mappable) {
  if (!first && scoringStats.written > 0) first = { at: performance.now(), written: scoringStats.written, cpu: process.cpuUsage() };
  await new Promise((resolve) => setTimeout(resolve, 10));
}
const consumeSeconds = (performance.now() - started) / 1000;
clearInterval(sampler);
const steadySeconds = first ? (performance.now() - first.at) / 1000 : consumeSeconds;
const steadyEvents = scoringStats.written - (first?.written ?? 0);
const steadyCpuMs = first ? cpuMs(first.cpu) : Number.NaN;
console.log(
  `Kafka → ClickHouse: ${scoringStats.written} events stored in ${consumeSeconds.toFixed(2)} s including joining the group = ` +
    `${Math.round(scoringStats.written / consumeSeconds)} events/s; steady state ${Math.round(steadyEvents / steadySeconds)} events/s ` +
    `(${scoringStats.batches} batches in ${scoringStats.writes} writes)`,
);
console.log('consumer lag per partition while it ran:');
for (const sample of samples) console.log(sample);
reportFigures('kafka', [
  {
    figure: `ingest → Kafka, ${mappable} events, acks=-1`,
    measured: mappable / streamingSeconds,
    unit: 'events/s',
  },
  {
    figure: `Kafka → ClickHouse, ${mappable} events, steady`,
    measured: steadyEvents / steadySeconds,
    unit: 'events/s',
    goal: atLeast(GOAL.eventsPerSecond),
    note: `${((steadyCpuMs * 1000) / steadyEvents).toFixed(1)} µs of CPU per event in the scoring process (every thread; ClickHouse embedded in it), ${Math.round(scoringStats.written / Math.max(1, scoringStats.writes))} events a write`,
  },
]);

await scoring.close();
await admin.close();
await replay.stop();
await broker?.stop();
await rm(dir, { recursive: true, force: true });
