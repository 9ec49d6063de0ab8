/**
 * The embedded ingest's stages, each timed alone on the same synthetic events as
 * `bench:embedded`: Jetstream frames parsed, mapped to pipeline events, turned into rows, the rows
 * encoded for chDB, and chDB's insert into each table (CPU of the JavaScript thread and of the
 * whole process, every thread). It says where a change to the pipeline can save CPU.
 *
 *     npm run build && node dist/bench/ingest-stages.bench.js     # STAGES_EVENTS=200000 STAGES_WRITE=28571
 *
 * The JSON.parse and mapping stages keep every event they make, as a batch waits for its write:
 * their figures include the collector's work on what survives.
 */
import 'reflect-metadata';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { applyMigrations, createClickHouseClient } from '#lib/clickhouse';
import { jsonRows } from '../libs/clickhouse/src/clickhouse.client.js';
import type { PipelineEventV1 } from '#lib/contracts';
import { mapJetstreamEvent } from '#lib/domain';
import { EventRepository, rowsOf } from '../libs/clickhouse/src/event.repository.js';
import { loadAverage } from './bench-report.js';
import { benchEvents } from './embedded-ingest.js';

const events = Number(process.env.STAGES_EVENTS ?? 200_000);
const perWrite = Number(process.env.STAGES_WRITE ?? 28_571);

const generated = benchEvents({ seed: 99, events, startUs: (Date.now() - 12 * 3_600_000) * 1000, durationSec: 12 * 3_600 - 60 });
const frames = generated.events.map((event) => JSON.stringify(event));
const buffers = frames.map((frame) => Buffer.from(frame));

interface Cost {
  thread: number;
  process: number;
}

function timed<T>(run: () => T): { value: T; cost: Cost } {
  const thread = process.threadCpuUsage();
  const whole = process.cpuUsage();
  const value = run();
  const t = process.threadCpuUsage(thread);
  const w = process.cpuUsage(whole);
  return { value, cost: { thread: t.user + t.system, process: w.user + w.system } };
}

async function timedAsync<T>(run: () => Promise<T>): Promise<{ value: T; cost: Cost }> {
  const thread = process.threadCpuUsage();
  const whole = process.cpuUsage();
  const value = await run();
  const t = process.threadCpuUsage(thread);
  const w = process.cpuUsage(whole);
  return { value, cost: { thread: t.user + t.system, process: w.user + w.system } };
}

const lines: string[] = [];
const report = (stage: string, cost: Cost, per = events) =>
  lines.push(`${stage.padEnd(52)} ${(cost.thread / per).toFixed(2).padStart(6)} µs JS thread  ${(cost.process / per).toFixed(2).padStart(6)} µs process`);

const parsedFromStrings = timed(() => frames.map((frame) => JSON.parse(frame) as unknown));
report('JSON.parse of the frames (strings)', parsedFromStrings.cost);
const parsedFromBuffers = timed(() => buffers.map((buffer) => JSON.parse(buffer.toString()) as unknown));
report('the frames as bytes: UTF-8 decode + JSON.parse', parsedFromBuffers.cost);
const mapped = timed(() => {
  const out: PipelineEventV1[] = [];
  for (const raw of parsedFromStrings.value) {
    const result = mapJetstreamEvent(raw);
    if (result.kind === 'event') out.push(result.event);
  }
  return out;
});
report('mapJetstreamEvent', mapped.cost);
const pipeline = mapped.value;
const batches: PipelineEventV1[][] = [];
for (let i = 0; i < pipeline.length; i += perWrite) batches.push(pipeline.slice(i, i + perWrite));
const rows = timed(() => batches.map((batch) => rowsOf(batch)));
report('rowsOf', rows.cost, pipeline.length);
const encoded = timed(() => rows.value.map((tables) => Object.values(tables).map((values) => (values.length === 0 ? undefined : jsonRows(values)))));
report('rows → JSONCompactEachRow bytes (jsonRows)', encoded.cost, pipeline.length);

const dir = await mkdtemp(path.join(os.tmpdir(), 'cg-stages-'));
const client = createClickHouseClient({ kind: 'embedded', path: dir, database: 'stages' });
await applyMigrations(client, 'stages');
const repository = new EventRepository(client, 'stages');
const write = await timedAsync(async () => {
  for (const batch of batches) await repository.write(batch);
});
report(`EventRepository.write, ${batches.length} writes of ≤ ${perWrite} events`, write.cost, pipeline.length);
const settle = await timedAsync(() => new Promise((resolve) => setTimeout(resolve, 3_000)));
report('3 s after the last write (background merges)', settle.cost, pipeline.length);
await client.close();
await rm(dir, { recursive: true, force: true });

console.log(`${events} frames, ${pipeline.length} pipeline events, ${(frames.reduce((sum, frame) => sum + frame.length, 0) / frames.length).toFixed(0)} characters a frame`);
for (const line of lines) console.log(line);
console.log(loadAverage());
