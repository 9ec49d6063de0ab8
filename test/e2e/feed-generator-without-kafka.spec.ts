import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { AppProcess, appEntry, chdbHttpEntry, freePort, kafkaTestEnv, waitFor } from '#lib/testing';
import { startBroker, type StartedBroker } from '#scripts/kafka-broker.mjs';

const publisher = 'did:plc:publisher0000000000000000';
const feeds = ['communities:', '  alpha:', '    members:', '      dids: [did:plc:alpha0000000000000000000]', 'feeds:', '  latest:', '    displayName: Latest', '    communities: [alpha]', ''].join('\n');

/**
 * A feed generator serves from ClickHouse: one started while Kafka is down (a deploy or a restart
 * during a Kafka outage) serves feeds at once instead of failing its start after the bus's start
 * timeout, and takes its bus steps (topics, the viewer-feedback subscription) once Kafka is back.
 */
describe('a feed generator started while Kafka is down', () => {
  let dir: string;
  let clickhouse: AppProcess;
  let server: AppProcess;
  let broker: StartedBroker | undefined;
  let url: string;
  let opsUrl: string;
  let kafkaPort: number;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'cg-no-kafka-'));
    await writeFile(path.join(dir, 'feeds.yaml'), feeds);
    clickhouse = new AppProcess('clickhouse', chdbHttpEntry, {}, [path.join(dir, 'clickhouse')]).start();
    ({ url: clickhouseUrl } = await clickhouse.firstJsonLine<{ url: string }>('url'));
    kafkaPort = await freePort();
    ({ process: server, url, opsUrl } = await startFeedGenerator('feed-generator', clickhouseUrl, kafkaPort));
  }, 60_000);

  /** A feed generator process on the shared ClickHouse, its Kafka at `kafkaPort` (nothing there, at first). */
  async function startFeedGenerator(name: string, clickhouseUrl: string, port: number) {
    const [httpPort, opsPort] = [await freePort(), await freePort()];
    const child = new AppProcess(name, appEntry, {
      CG_ROLE: 'feed-generator',
      KAFKA_BROKERS: `127.0.0.1:${port}`,
      KAFKA_TOPIC_PREFIX: `nokafka${Date.now()}.`,
      ...kafkaTestEnv,
      CLICKHOUSE_URL: clickhouseUrl,
      CLICKHOUSE_DATABASE: `no_kafka_${process.pid}`,
      DATA_DIR: path.join(dir, name),
      FEEDS_FILE: path.join(dir, 'feeds.yaml'),
      FEEDGEN_PUBLISHER_DID: publisher,
      HTTP_PORT: String(httpPort),
      HTTP_BIND_HOST: '127.0.0.1',
      OPS_PORT: String(opsPort),
      LOG_LEVEL: 'info',
    }).start();
    return { process: child, url: `http://127.0.0.1:${httpPort}`, opsUrl: `http://127.0.0.1:${opsPort}`, clickhouseUrl };
  }
  let clickhouseUrl: string;

  afterAll(async () => {
    await server?.stop();
    await broker?.stop();
    await clickhouse?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const logs = () => server.output.slice(-20).join('\n');

  it('serves feeds and answers ready without the bus, then takes its bus steps once Kafka is back', async () => {
    const started = Date.now();
    await waitFor('the feed generator ready', async () => ((await fetch(`${opsUrl}/ready`)).ok ? true : undefined), { timeoutMs: 60_000, context: logs });
    // Well within the bus's start timeout, after which it used to exit.
    expect(Date.now() - started).toBeLessThan(45_000);
    const page = await fetch(`${url}/xrpc/app.bsky.feed.getFeedSkeleton?feed=${encodeURIComponent(`at://${publisher}/app.bsky.feed.generator/latest`)}`);
    expect(page.status).toBe(200);
    expect(await page.json()).toMatchObject({ feed: [] });
    expect(server.output.some((line) => line.includes('serving feeds without it'))).toBe(true);

    broker = await startBroker({ profile: 'test', port: kafkaPort });
    for (const step of ['creating topics', 'subscribing to viewer feedback']) {
      await waitFor(`${step} once Kafka is back`, () => server.output.some((line) => line.includes('message bus start step done') && line.includes(step)) || undefined, {
        timeoutMs: 90_000,
        context: logs,
      });
    }
    expect(server.running).toBe(true);
    expect((await fetch(`${opsUrl}/ready`)).status).toBe(200);
  }, 240_000);

  it('stops promptly and cleanly while Kafka is still away', async () => {
    const other = await startFeedGenerator('feed-generator-b', clickhouseUrl, await freePort());
    try {
      await waitFor('the second feed generator ready', async () => ((await fetch(`${other.opsUrl}/ready`)).ok ? true : undefined), { timeoutMs: 60_000 });
      const started = Date.now();
      expect(await other.process.stop()).toBe(0);
      // Its background bus steps end with the bus: no 30 s shutdown timeout.
      expect(Date.now() - started).toBeLessThan(20_000);
    } finally {
      await other.process.stop();
    }
  }, 120_000);
});
