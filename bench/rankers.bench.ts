/**
 * Rankers that scale out, on a real Kafka broker with a ClickHouse (chDB) process shared by them:
 *  1. one ranker computes every feed; snapshots per second over a window, and its CPU per snapshot;
 *  2. a second ranker joins: the two split the feeds; snapshots per second of both together;
 *  3. the second is killed (SIGKILL): seconds until the first has written every one of its feeds.
 *
 *     npm run bench:rankers                 # BENCH_FEEDS=96 BENCH_WINDOW_SECONDS=30; KAFKA_BROKERS=host:port to use your broker
 *
 * Each ranker runs its passes back to back (SCORING_INTERVAL_SECONDS=1), so snapshots per second
 * is what the rankers can compute. Two rankers compute twice as much only with a core each.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { applyMigrations, createClickHouseClient, EventRepository } from '#lib/clickhouse';
import { partitionOfKey } from '#lib/kafka';
import { AppProcess, chdbHttpEntry, feedsWrittenBy, rankerFeeds, type RankerProcess, startRanker, waitFor } from '#lib/testing';
import { startBroker } from '#scripts/kafka-broker.mjs';

const PARTITIONS = 12;
const feedCount = Number(process.env.BENCH_FEEDS ?? 96);
const windowSeconds = Number(process.env.BENCH_WINDOW_SECONDS ?? 30);
const TAKEOVER_GOAL_SECONDS = 30;
const SCALE_GOAL = 1.5;
const publisher = 'did:plc:publisher0000000000000000';
const database = 'bench_rankers';

const fixture = rankerFeeds({ publisher, partitions: PARTITIONS, perPartition: Math.max(1, Math.round(feedCount / PARTITIONS)), partitionOf: partitionOfKey });
const every = fixture.names.map(fixture.uri);
const dir = await mkdtemp(path.join(os.tmpdir(), 'cg-bench-rankers-'));
const broker = process.env.KAFKA_BROKERS ? undefined : await startBroker();
const brokers = process.env.KAFKA_BROKERS ?? broker!.brokers;
const prefix = `bench${Date.now()}.`;
await writeFile(path.join(dir, 'feeds.yaml'), fixture.curation);
const clickhouse = new AppProcess('clickhouse', chdbHttpEntry, {}, [path.join(dir, 'clickhouse')]).start();
const { url: clickhouseUrl } = await clickhouse.firstJsonLine<{ url: string }>('url');
const client = createClickHouseClient({ kind: 'server', url: clickhouseUrl, username: 'default', password: '', database });
await applyMigrations(client, database);
await new EventRepository(client, database).write(fixture.events());

const rankers: RankerProcess[] = [];
const ranker = async (name: string) => {
  const started = await startRanker({
    name, brokers, topicPrefix: prefix, clickhouseUrl, database, publisher, partitions: PARTITIONS, intervalSeconds: 1,
    feedsFile: path.join(dir, 'feeds.yaml'), dataDir: path.join(dir, name),
  });
  rankers.push(started);
  return started;
};
const logs = () => rankers.map(({ process }) => `--- ${process.name}\n${process.output.slice(-15).join('\n')}`).join('\n');

/** CPU seconds a process used so far (user + system, from /proc). */
const cpuSeconds = (pid: number | undefined): number => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
};
const snapshotCount = async (): Promise<number> => {
  const result = await client.query({ query: `SELECT count() AS n FROM ${database}.feed_snapshots`, format: 'JSONEachRow' });
  const [row] = await result.json<{ n: string }>();
  return Number(row?.n ?? 0);
};
/**
 * Snapshots per second written by the running rankers over the window, their CPU ms per snapshot,
 * and the shared ClickHouse process's (one chDB process here: with one core it caps the rankers).
 */
const measure = async (running: RankerProcess[]) => {
  const cpu = () => running.reduce((sum, { process }) => sum + cpuSeconds(process.pid), 0);
  const [count0, cpu0, store0, t0] = [await snapshotCount(), cpu(), cpuSeconds(clickhouse.pid), performance.now()];
  await new Promise((resolve) => setTimeout(resolve, windowSeconds * 1000));
  const [count1, cpu1, store1, t1] = [await snapshotCount(), cpu(), cpuSeconds(clickhouse.pid), performance.now()];
  const snapshots = count1 - count0;
  const perSnapshot = (seconds: number) => (snapshots > 0 ? (seconds * 1000) / snapshots : NaN);
  return { perSecond: snapshots / ((t1 - t0) / 1000), cpuMsPerSnapshot: perSnapshot(cpu1 - cpu0), storeMsPerSnapshot: perSnapshot(store1 - store0) };
};
const holdsAll = async (one: RankerProcess) => {
  const share = await one.share();
  return share.feeds.length === every.length && (await feedsWrittenBy(client, database, share.ranker)).size === every.length;
};

try {
  const first = await ranker('ranker-1');
  await waitFor('one ranker computing every feed', () => holdsAll(first), { timeoutMs: 180_000, intervalMs: 500, context: logs });
  const alone = await measure([first]);

  const second = await ranker('ranker-2');
  const shareOfSecond = await waitFor(
    'two rankers splitting the feeds',
    async () => {
      const [one, two] = [await first.share(), await second.share()];
      if (one.feeds.length === 0 || two.feeds.length === 0 || one.feeds.length + two.feeds.length !== every.length) return undefined;
      const wrote = await feedsWrittenBy(client, database, two.ranker);
      return two.feeds.every((feed) => wrote.has(feed)) ? two : undefined;
    },
    { timeoutMs: 180_000, intervalMs: 500, context: logs },
  );
  const split = await measure([first, second]);

  const firstId = (await first.share()).ranker;
  const killedAt = Date.now();
  await second.process.stop('SIGKILL');
  await waitFor(
    "the survivor computing the killed ranker's feeds",
    async () => {
      const wrote = await feedsWrittenBy(client, database, firstId, killedAt);
      return shareOfSecond.feeds.every((feed) => wrote.has(feed));
    },
    { timeoutMs: 300_000, intervalMs: 100, context: logs },
  );
  const takeoverSeconds = (Date.now() - killedAt) / 1000;

  const scale = split.perSecond / alone.perSecond;
  const verdict = (met: boolean) => (met ? 'met' : 'not met');
  console.log(`rankers: ${every.length} bridging feeds on ${PARTITIONS} partitions, ${windowSeconds} s windows; load average ${os.loadavg().map((load) => load.toFixed(2)).join(' ')} on ${os.cpus().length} cores`);
  const cpuLine = (run: typeof alone) => `${run.cpuMsPerSnapshot.toFixed(1)} ms ranker CPU + ${run.storeMsPerSnapshot.toFixed(1)} ms ClickHouse CPU per snapshot`;
  console.log(`  one ranker   ${alone.perSecond.toFixed(1)} snapshots/s, ${cpuLine(alone)}`);
  console.log(`  two rankers  ${split.perSecond.toFixed(1)} snapshots/s, ${cpuLine(split)} (${shareOfSecond.feeds.length} feeds on the second)`);
  console.log(`  scale-out    ×${scale.toFixed(2)} with the second ranker (goal ≥ ×${SCALE_GOAL} with a free core each: ${verdict(scale >= SCALE_GOAL)})`);
  console.log(`  takeover     ${takeoverSeconds.toFixed(1)} s from SIGKILL to every feed of the killed ranker written by the survivor (goal ≤ ${TAKEOVER_GOAL_SECONDS} s: ${verdict(takeoverSeconds <= TAKEOVER_GOAL_SECONDS)})`);
} finally {
  for (const { process } of rankers) await process.stop('SIGKILL');
  await client.close();
  await clickhouse.stop();
  await broker?.stop();
  await rm(dir, { recursive: true, force: true });
}
