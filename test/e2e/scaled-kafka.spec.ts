import { setTimeout as sleep } from 'node:timers/promises';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DeadLetterHeaders, Topics, type IncomingMessage } from '#lib/contracts';
import { KafkaBus } from '#lib/kafka';
import { PrefixedBus } from '#lib/bus';
import {
  AppProcess,
  appEntry,
  chdbHttpEntry,
  freePort,
  generateJetstreamEvents,
  metricTotal,
  parseMetrics,
  rolesOf,
  startJetstreamReplayServer,
  type JetstreamReplayServer, kafkaTestEnv, waitFor } from '#lib/testing';
import { startBroker, type StartedBroker } from '#scripts/kafka-broker.mjs';

/**
 * @NOTE Each `/status` counts four tables of the store with FINAL (200,000 rows at the end): polled
 * back to back, as waitFor's 100 ms do, the counts kept the ClickHouse server busy for the whole
 * wait. Once a second is as often as a wait of tens of seconds needs to look.
 */
const STORE_POLL_MS = 1_000;

interface Status {
  ingest?: { published: number };
  scoring?: { written: number; deadLettered: number };
  store: { events: number; posts: number };
}


describe('scaled mode: ingest, scoring and feed generator as processes on a real Kafka broker', () => {
  const generated = generateJetstreamEvents({
    seed: 3,
    users: 20_000,
    events: 200_000,
    startUs: (Date.now() - 12 * 3_600_000) * 1000,
    durationSec: 12 * 3_600 - 60,
    mix: { other: 0 },
  });
  const prefix = `e2e${Date.now()}.`;
  let dir: string;
  let broker: StartedBroker;
  let clickhouse: AppProcess;
  let replay: JetstreamReplayServer;
  const services = new Map<string, AppProcess>();
  /** The ops port of each role, where `/status` is served. */
  const ports = new Map<string, number>();

  const status = async (role = 'feed-generator'): Promise<Status> => {
    const response = await fetch(`http://127.0.0.1:${ports.get(role)}/status`);
    if (!response.ok) throw new Error(`status ${response.status}`);
    return (await response.json()) as Status;
  };
  const logs = () => [...services.values()].map((service) => `--- ${service.name}\n${service.output.slice(-15).join('\n')}`).join('\n');

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'cg-scaled-'));
    await writeFile(path.join(dir, 'feeds.yaml'), 'communities: {}\nfeeds: {}\n');
    broker = await startBroker({ profile: 'test' });
    clickhouse = new AppProcess('clickhouse', chdbHttpEntry, {}, [path.join(dir, 'clickhouse')]).start();
    const { url: clickhouseUrl } = await clickhouse.firstJsonLine<{ url: string }>('url');
    replay = await startJetstreamReplayServer({ events: generated.events, pace: { eventsPerSecond: 12_000 } });
    for (const role of ['scoring', 'feed-generator', 'ingest']) {
      const [port, opsPort] = [await freePort(), await freePort()];
      ports.set(role, opsPort);
      services.set(
        role,
        new AppProcess(role, appEntry, {
          CG_ROLE: role,
          KAFKA_BROKERS: broker.brokers,
          KAFKA_TOPIC_PREFIX: prefix,
          KAFKA_PARTITIONS: '4',
          KAFKA_PUBLISH_TIMEOUT_MS: '5000',
          ...kafkaTestEnv,
          CLICKHOUSE_URL: clickhouseUrl,
          CLICKHOUSE_DATABASE: 'scaled',
          DATA_DIR: path.join(dir, role),
          FEEDS_FILE: path.join(dir, 'feeds.yaml'),
          JETSTREAM_URL: replay.subscribeUrl,
          HTTP_PORT: String(port),
          HTTP_BIND_HOST: '127.0.0.1',
          OPS_PORT: String(opsPort),
          LOG_LEVEL: 'warn',
        }),
      );
    }
  });

  afterAll(async () => {
    for (const service of services.values()) await service.stop('SIGKILL');
    await replay?.close();
    await clickhouse?.stop();
    await broker?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('stores exactly the source events although scoring is killed mid-way and the broker restarts during ingest', async () => {
    services.get('scoring')!.start();
    services.get('feed-generator')!.start();
    // As long as a process may wait for Kafka and ClickHouse at start-up (120 s), with the logs if it never comes.
    await waitFor('the feed generator', () => status(), { timeoutMs: 120_000, context: logs });
    services.get('ingest')!.start();

    await waitFor('a first share in ClickHouse', async () => ((await status()).store.events >= 30_000 ? true : undefined), { timeoutMs: 120_000, intervalMs: STORE_POLL_MS, context: logs });
    await services.get('scoring')!.stop('SIGKILL');
    services.get('scoring')!.start();

    await waitFor('ingest half-way', async () => ((await status('ingest')).ingest!.published >= 90_000 ? true : undefined), {
      timeoutMs: 120_000,
      // Half a second of ingest is ~6,000 events at the replay's pace: the restart still strikes mid-way.
      intervalMs: STORE_POLL_MS / 2,
      context: logs,
    });
    await broker.restart();

    await waitFor(
      'every event in ClickHouse',
      async () => ((await status()).store.events >= generated.counts.mappable ? true : undefined),
      { timeoutMs: 240_000, intervalMs: STORE_POLL_MS, context: logs },
    );
    await sleep(2_000);
    const { store } = await status();
    expect(store.events).toBe(generated.counts.mappable);
    const { post, reply, quote, deletes, erasedPosts } = generated.counts;
    expect(store.posts).toBe(post + reply + quote - deletes.post - erasedPosts);
    // None of them gave up on the broker: each process is still the one last started.
    expect([...services].map(([role, service]) => [role, service.running])).toEqual([...services.keys()].map((role) => [role, true]));
  });

  it('says in the /metrics of each process which part it runs, so that a rule about ingest reads ingest alone', async () => {
    const scraped = new Map<string, ReturnType<typeof parseMetrics>>();
    for (const role of services.keys()) scraped.set(role, parseMetrics(await (await fetch(`http://127.0.0.1:${ports.get(role)}/metrics`)).text()));
    expect(rolesOf(scraped.get('ingest')!)).toEqual(['ingest']);
    expect(rolesOf(scraped.get('scoring')!)).toEqual(['ranker', 'scoring']);
    expect(rolesOf(scraped.get('feed-generator')!)).toEqual(['feed-generator']);
    // Every process exports the Jetstream gauge; only ingest's is about a connection.
    expect(metricTotal(scraped.get('ingest')!, 'cg_jetstream_connected')).toBe(1);
    expect(metricTotal(scraped.get('feed-generator')!, 'cg_jetstream_connected')).toBe(0);
  });

  it('sends messages that cannot be decoded to the dead-letter topic with the reason, while the rest flows', async () => {
    const bus = new PrefixedBus(new KafkaBus({ brokers: [broker.brokers], clientId: 'e2e-dead-letter', logLevel: 'error' }), prefix);
    const deadLetters: IncomingMessage[] = [];
    const subscription = await bus.subscribe({
      groupId: `e2e-dead-letter-reader-${Date.now()}`,
      topics: [Topics.deadLetter],
      handler: async (batch) => void deadLetters.push(...batch.messages),
    });
    try {
      const before = (await status()).store.events;
      const good = {
        v: 1, type: 'follow', op: 'create', did: 'did:plc:deadletter0000000000000', rkey: '3kdeadletter1',
        timeUs: Date.now() * 1000, createdAtMs: Date.now(), subjectDid: 'did:plc:someone00000000000000000',
      };
      await bus.publish(Topics.events, [
        { key: 'did:plc:x', value: 'not json at all' },
        { key: 'did:plc:x', value: JSON.stringify({ v: 2, type: 'post' }) },
        { key: good.did, value: JSON.stringify(good) },
      ]);
      await waitFor('two dead letters', async () => (deadLetters.length >= 2 ? true : undefined), { timeoutMs: 60_000, context: logs });
      expect(deadLetters.map((message) => message.headers[DeadLetterHeaders.reason])).toEqual(['not valid JSON', 'unsupported schema version 2']);
      expect(deadLetters[0]!.headers[DeadLetterHeaders.sourceTopic]).toBe(Topics.events);
      await waitFor('the good message', async () => ((await status()).store.events === before + 1 ? true : undefined), { timeoutMs: 60_000, intervalMs: STORE_POLL_MS, context: logs });
    } finally {
      await subscription.stop();
      await bus.close();
    }
  });
});
