import {
  capturedLogger,
  generateJetstreamEvents,
  metricTotal as total,
  type MetricSample,
  parseMetrics,
  rolesOf,
  startChdbHttpServer,
  startJetstreamReplayServer,
  startTestApp,
  type TestApp,
  type ChdbHttpServer,
  type JetstreamReplayServer,
  waitFor as waitUntil,
} from '#lib/testing';
import { startBroker, type StartedBroker } from '#scripts/kafka-broker.mjs';

const publisher = 'did:plc:publisher0000000000000000';
const feedUri = (name: string) => `at://${publisher}/app.bsky.feed.generator/${name}`;

/** The shared poll, with this file's longer default timeout (a replay runs first). */
const waitFor = <T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 90_000): Promise<T> => waitUntil(what, probe, timeoutMs);

async function scrape(app: TestApp): Promise<MetricSample[]> {
  const response = await fetch(`${app.opsUrl}/metrics`);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parseMetrics(await response.text());
}

async function readiness(app: TestApp): Promise<{ status: number; body: { status: string; checks: Record<string, boolean>; snapshot: { applies: boolean } } }> {
  const response = await fetch(`${app.opsUrl}/ready`);
  return { status: response.status, body: (await response.json()) as never };
}

describe('observability: /metrics during a replay, request logs, readiness', () => {
  const generated = generateJetstreamEvents({
    seed: 11,
    users: 300,
    events: 6_000,
    startUs: (Date.now() - 3_600_000) * 1000,
    durationSec: 3_000,
    communities: [
      { name: 'gardeners', members: 40 },
      { name: 'cyclists', members: 40 },
    ],
    malformedEvery: 600,
  });
  const [gardeners, cyclists] = generated.communities;
  let replay: JetstreamReplayServer;
  let running: TestApp;
  const captured = capturedLogger('debug', { role: 'all' });

  beforeAll(async () => {
    // Paced, so that the test can watch the counters move while the replay runs (about five seconds).
    replay = await startJetstreamReplayServer({ events: generated.events, pace: { eventsPerSecond: 1_250 } });
    running = await startTestApp({
      name: 'observability',
      feeds: [
        'communities:',
        `  gardeners: { members: { dids: [${gardeners!.members.join(', ')}] } }`,
        `  cyclists: { members: { dids: [${cyclists!.members.join(', ')}] } }`,
        'feeds:',
        '  gardeners-new: { displayName: Gardeners, communities: [gardeners], includeReplies: true }',
        '  common: { displayName: Common ground, communities: [gardeners, cyclists], ranking: bridging, windowHours: 48 }',
      ].join('\n'),
      jetstreamUrl: replay.subscribeUrl,
      // The request log lines are what this test reads.
      overrides: { FEEDGEN_PUBLISHER_DID: publisher, INGEST_BATCH_SIZE: '500', INGEST_BATCH_MAX_WAIT_MS: '100', LOG_LEVEL: 'info' },
      start: { logger: captured.logger },
    });
  });

  afterAll(async () => {
    await running?.close();
    await replay?.close();
  });

  it('finds the pipeline counters moving during the replay, and the lag gauges present', async () => {
    const received: number[] = [];
    const final = await waitFor('the whole replay written', async () => {
      const samples = await scrape(running);
      received.push(total(samples, 'cg_ingest_events_received_total') ?? 0);
      const written = total(samples, 'cg_scoring_events_written_total', { topic: 'cg.events.v1' }) ?? 0;
      return written === generated.counts.mappable ? samples : undefined;
    });
    // Seen part-way at least twice, each time further along.
    const during = received.filter((count) => count > 0 && count < received.at(-1)!);
    expect(during.length).toBeGreaterThanOrEqual(2);
    expect(during).toEqual([...during].sort((a, b) => a - b));
    expect(new Set(during).size).toBeGreaterThanOrEqual(2);

    expect(total(final, 'cg_ingest_events_published_total')).toBe(generated.counts.mappable);
    expect(total(final, 'cg_ingest_events_received_total', { collection: 'app.bsky.feed.post' })).toBeGreaterThan(0);
    expect(total(final, 'cg_ingest_malformed_total')).toBe(generated.counts.malformed);
    expect(total(final, 'cg_ingest_batch_size_count')).toBeGreaterThan(1);
    expect(total(final, 'cg_scoring_batch_size_count', { topic: 'cg.events.v1' })).toBeGreaterThan(1);
    expect(total(final, 'cg_clickhouse_insert_duration_seconds_count', { table: 'event_log' })).toBeGreaterThan(1);
    expect(total(final, 'cg_clickhouse_inserted_rows_total', { table: 'event_log' })).toBeGreaterThanOrEqual(generated.counts.mappable);
    // Lag: how far the replayed stream is behind real time, and what the consumer group has left.
    expect(total(final, 'cg_jetstream_lag_seconds', { position: 'received' })).toBeGreaterThan(0);
    expect(total(final, 'cg_jetstream_lag_seconds', { position: 'checkpoint' })).toBeGreaterThan(0);
    expect(total(final, 'cg_bus_consumer_lag', { group: 'scoring', topic: 'cg.events.v1', partition: '0' })).toBe(0);
    expect(total(final, 'cg_jetstream_connected')).toBe(1);
    // One process runs every part, and says so: the alert rules join on it.
    expect(rolesOf(final)).toEqual(['feed-generator', 'ingest', 'ranker', 'scoring']);
    // Node's own process metrics come along.
    expect(total(final, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(total(final, 'nodejs_eventloop_lag_seconds')).toBeDefined();
  });

  it('counts feed requests by feed and status, auth failures by reason, and logs each request with its reqId', async () => {
    const ok = await fetch(`${running.url}/xrpc/app.bsky.feed.getFeedSkeleton?feed=${encodeURIComponent(feedUri('gardeners-new'))}&limit=5`);
    expect(ok.status).toBe(200);
    const { reqId } = (await ok.json()) as { reqId: string };
    const badToken = await fetch(`${running.url}/xrpc/app.bsky.feed.getFeedSkeleton?feed=${encodeURIComponent(feedUri('gardeners-new'))}`, {
      headers: { authorization: 'Bearer not-a-jwt' },
    });
    expect(badToken.status).toBe(401);
    const unknown = await fetch(`${running.url}/xrpc/app.bsky.feed.getFeedSkeleton?feed=${encodeURIComponent(feedUri('nope'))}`);
    expect(unknown.status).toBe(400);

    const samples = await scrape(running);
    expect(total(samples, 'cg_feed_requests_total', { feed: 'gardeners-new', status: '200' })).toBe(1);
    expect(total(samples, 'cg_feed_requests_total', { feed: 'gardeners-new', status: '401' })).toBe(1);
    expect(total(samples, 'cg_feed_requests_total', { feed: 'unknown', status: '400' })).toBe(1);
    expect(total(samples, 'cg_feed_request_duration_seconds_count', { feed: 'gardeners-new' })).toBe(2);
    expect(total(samples, 'cg_feed_auth_failures_total', { reason: 'malformed' })).toBe(1);
    expect(total(samples, 'cg_feed_auth_failures_total', { reason: 'expired' })).toBe(0);
    expect(total(samples, 'cg_http_requests_total', { route: '/metrics', status: '200' })).toBeGreaterThan(0);

    const line = captured.lines.find((entry) => entry.component === 'http' && entry.reqId === reqId);
    expect(line).toMatchObject({ level: 20, method: 'GET', status: 200, msg: 'request' });
    expect(String(line!.url)).toContain('app.bsky.feed.getFeedSkeleton');
    expect(typeof line!.ms).toBe('number');
    const batch = captured.lines.find((entry) => entry.msg === 'batch written');
    expect(batch).toMatchObject({ topic: 'cg.events.v1', partition: 0, fromOffset: expect.any(String), toOffset: expect.any(String) });
  });

  it('is ready with a fresh snapshot of the ranked feed, and exports its age', async () => {
    const ready = await waitFor('a snapshot of the ranked feed', async () => {
      const result = await readiness(running);
      return result.status === 200 && result.body.snapshot.applies ? result : undefined;
    });
    expect(ready.body.checks).toEqual({ bus: true, clickhouse: true, snapshot: true });
    const samples = await waitFor('the snapshot age gauge', async () => {
      const current = await scrape(running);
      return total(current, 'cg_snapshot_age_seconds', { feed: 'common' }) === undefined ? undefined : current;
    });
    expect(total(samples, 'cg_snapshot_age_seconds', { feed: 'common' })).toBeLessThan(60);
    expect(total(samples, 'cg_scoring_snapshot_runs_total')).toBeGreaterThanOrEqual(1);
    expect(total(samples, 'cg_ready', { check: 'snapshot' })).toBe(1);
  });
});

describe('readiness follows ClickHouse: false while the server is away, true again after', () => {
  let clickhouse: ChdbHttpServer;
  let replay: JetstreamReplayServer;
  let running: TestApp;

  beforeAll(async () => {
    clickhouse = await startChdbHttpServer({ path: ':memory:' });
    replay = await startJetstreamReplayServer({ events: generateJetstreamEvents({ seed: 5, users: 50, events: 200, startUs: (Date.now() - 600_000) * 1000, durationSec: 300 }).events });
    running = await startTestApp({
      name: 'ready_clickhouse',
      feeds: 'communities: {}\nfeeds: {}\n',
      jetstreamUrl: replay.subscribeUrl,
      overrides: { CLICKHOUSE_URL: clickhouse.url },
    });
  });

  afterAll(async () => {
    await running?.close();
    await replay?.close();
    await clickhouse?.close();
  });

  it('turns not ready when the ClickHouse server stops and ready when it is back', async () => {
    expect((await readiness(running)).status).toBe(200);
    await clickhouse.stop();
    const away = await waitFor('readiness to turn false', async () => {
      const result = await readiness(running);
      return result.status === 503 ? result : undefined;
    });
    expect(away.body).toMatchObject({ status: 'not ready', checks: { bus: true, clickhouse: false } });
    expect(total(await scrape(running), 'cg_ready', { check: 'clickhouse' })).toBe(0);

    await clickhouse.start();
    const back = await waitFor('readiness to turn true again', async () => {
      const result = await readiness(running);
      return result.status === 200 ? result : undefined;
    });
    expect(back.body.checks).toMatchObject({ bus: true, clickhouse: true });
  });
});

// A broker of its own, which this test stops and restarts.
describe('readiness follows the Kafka broker: false while it is down, true again after', () => {
  let broker: StartedBroker;
  let replay: JetstreamReplayServer;
  let running: TestApp;

  beforeAll(async () => {
    broker = await startBroker({ profile: 'test' });
    replay = await startJetstreamReplayServer({ events: generateJetstreamEvents({ seed: 6, users: 50, events: 200, startUs: (Date.now() - 600_000) * 1000, durationSec: 300 }).events });
    running = await startTestApp({
      name: 'ready_kafka',
      feeds: 'communities: {}\nfeeds: {}\n',
      jetstreamUrl: replay.subscribeUrl,
      overrides: { KAFKA_BROKERS: broker.brokers, KAFKA_PARTITIONS: '2', KAFKA_CONSUMER_GROUP: `ready-${process.pid}` },
    });
  });

  afterAll(async () => {
    await running?.close();
    await replay?.close();
    await broker?.stop();
  });

  it('turns not ready when the broker stops and ready when it is back, with the lag per partition exported', async () => {
    await waitFor('ready on Kafka', async () => ((await readiness(running)).status === 200 ? true : undefined));
    // Each partition's lag is exported, and falls to nothing once the consumer has read the replay.
    await waitFor('no consumer lag on either partition', async () => {
      const current = await scrape(running);
      const lag = ['0', '1'].map((partition) => total(current, 'cg_bus_consumer_lag', { group: `ready-${process.pid}`, topic: 'cg.events.v1', partition }));
      return lag.every((value) => value === 0) ? true : undefined;
    });

    await broker.stop({ keepData: true });
    const away = await waitFor('readiness to turn false', async () => {
      const result = await readiness(running);
      return result.status === 503 ? result : undefined;
    });
    expect(away.body.checks).toMatchObject({ bus: false, clickhouse: true });

    await broker.restart();
    await waitFor('readiness to turn true again', async () => ((await readiness(running)).status === 200 ? true : undefined), 120_000);
  });
});
