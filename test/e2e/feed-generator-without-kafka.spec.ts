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
    const { url: clickhouseUrl } = await clickhouse.firstJsonLine<{ url: string }>('url');
    kafkaPort = await freePort();
    const [port, opsPort] = [await freePort(), await freePort()];
    url = `http://127.0.0.1:${port}`;
    opsUrl = `http://127.0.0.1:${opsPort}`;
    server = new AppProcess('feed-generator', appEntry, {
      CG_ROLE: 'feed-generator',
      KAFKA_BROKERS: `127.0.0.1:${kafkaPort}`,
      KAFKA_TOPIC_PREFIX: `nokafka${Date.now()}.`,
      ...kafkaTestEnv,
      CLICKHOUSE_URL: clickhouseUrl,
      CLICKHOUSE_DATABASE: `no_kafka_${process.pid}_${Date.now()}`,
      DATA_DIR: path.join(dir, 'data'),
      FEEDS_FILE: path.join(dir, 'feeds.yaml'),
      FEEDGEN_PUBLISHER_DID: publisher,
      HTTP_PORT: String(port),
      HTTP_BIND_HOST: '127.0.0.1',
      OPS_PORT: String(opsPort),
      LOG_LEVEL: 'info',
    }).start();
  }, 60_000);

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
});
