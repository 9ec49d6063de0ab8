import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { AppProcess, appEntry, chdbHttpEntry, freePort, kafkaTestEnv, waitFor } from '#lib/testing';
import { startBroker, type StartedBroker } from '#scripts/kafka-broker.mjs';

// A broker given by the environment (`npm test` passes CG_TEST_KAFKA_BROKERS) is shared; otherwise
// this file starts its own.
const externalBrokers = process.env.CG_TEST_KAFKA_BROKERS ?? process.env.KAFKA_BROKERS;

const adminToken = 'replica-test-admin-token-0123456789';
const publisher = 'did:web:localhost';
const feedUri = (name: string) => `at://${publisher}/app.bsky.feed.generator/${name}`;
const curation = `# The curator's own words stay with every version.
communities:
  walkers:
    members:
      dids: [did:plc:aaaaaaaaaaaaaaaaaaaaaaaa]
feeds:
  walks:
    displayName: Walks
    communities: [walkers]
`;

describe('curation across replicas: two feed generators on one ClickHouse and one Kafka broker', () => {
  const prefix = `curation${Date.now()}.`;
  let dir: string;
  let broker: StartedBroker | undefined;
  let clickhouse: AppProcess;
  const replicas: { process: AppProcess; url: string }[] = [];

  const describeFeeds = async (url: string) => {
    const response = await fetch(`${url}/xrpc/app.bsky.feed.describeFeedGenerator`);
    if (!response.ok) throw new Error(`describeFeedGenerator: ${response.status}`);
    return ((await response.json()) as { feeds: { uri: string }[] }).feeds.map((feed) => feed.uri);
  };
  const skeletonStatus = async (url: string, name: string) =>
    (await fetch(`${url}/xrpc/app.bsky.feed.getFeedSkeleton?feed=${encodeURIComponent(feedUri(name))}`)).status;
  const admin = (url: string, method: string, route: string, body?: unknown) =>
    fetch(`${url}/api/admin/${route}`, {
      method,
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  const logs = () => [clickhouse, ...replicas.map((replica) => replica.process)].map((p) => `--- ${p.name}\n${p.output.slice(-15).join('\n')}`).join('\n');

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'cg-replicas-'));
    await writeFile(path.join(dir, 'feeds.yaml'), curation);
    if (!externalBrokers) broker = await startBroker({ profile: 'test' });
    clickhouse = new AppProcess('clickhouse', chdbHttpEntry, {}, [path.join(dir, 'clickhouse')]).start();
    const { url: clickhouseUrl } = await clickhouse.firstJsonLine<{ url: string }>('url');
    for (const name of ['replica-a', 'replica-b']) {
      const port = await freePort();
      const process = new AppProcess(name, appEntry, {
        CG_ROLE: 'feed-generator',
        KAFKA_BROKERS: externalBrokers ?? broker!.brokers,
        KAFKA_TOPIC_PREFIX: prefix,
        KAFKA_PARTITIONS: '1',
        ...kafkaTestEnv,
        CLICKHOUSE_URL: clickhouseUrl,
        CLICKHOUSE_DATABASE: 'replicas',
        DATA_DIR: path.join(dir, name),
        FEEDS_FILE: path.join(dir, 'feeds.yaml'),
        ADMIN_TOKEN: adminToken,
        // The poll is out of reach of the test: what reaches the other replica is the announcement.
        CURATION_POLL_SECONDS: '3600',
        HTTP_PORT: String(port),
        HTTP_BIND_HOST: '127.0.0.1',
        OPS_PORT: String(await freePort()),
        LOG_LEVEL: 'warn',
      });
      replicas.push({ process, url: `http://127.0.0.1:${port}` });
    }
    // One after the other: the second finds the file imported by the first.
    for (const replica of replicas) {
      replica.process.start();
      await waitFor(`${replica.process.name} serving`, () => describeFeeds(replica.url), { timeoutMs: 120_000, context: logs });
    }
  }, 240_000);

  afterAll(async () => {
    for (const replica of replicas) await replica.process.stop('SIGKILL');
    await clickhouse?.stop();
    await broker?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('applies an admin edit made on one replica on the other within 5 s, without writing the curator file', async () => {
    const [a, b] = replicas as [(typeof replicas)[number], (typeof replicas)[number]];
    expect(await describeFeeds(b.url)).toEqual([feedUri('walks')]);
    expect(await skeletonStatus(b.url, 'walks-all')).toBe(400);

    const edited = Date.now();
    const response = await admin(a.url, 'PUT', 'feeds/walks-all', { displayName: 'Every walk', communities: ['walkers'] });
    expect(response.status).toBe(200);
    await waitFor('the new feed described and served by the other replica', async () =>
      (await describeFeeds(b.url)).includes(feedUri('walks-all')) && (await skeletonStatus(b.url, 'walks-all')) === 200,
      { timeoutMs: 10_000, intervalMs: 50, context: logs },
    );
    expect(Date.now() - edited).toBeLessThan(5_000);

    // One version for the file (imported once, by the first replica) and one for the edit.
    const versions = (await (await admin(b.url, 'GET', 'curation/versions')).json()) as { versions: { source: string }[] };
    expect(versions.versions.map((version) => version.source)).toEqual(['admin', 'file']);
    const exported = await (await admin(b.url, 'GET', 'curation/export')).text();
    expect(exported).toContain('walks-all:');
    expect(exported).toContain("# The curator's own words stay with every version.");
    expect(await readFile(path.join(dir, 'feeds.yaml'), 'utf8')).toBe(curation);
  });
});
