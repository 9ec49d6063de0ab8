/**
 * Rankers scale out by feed: two ranker processes (scoring with snapshots) split the feeds over
 * the rankers' Kafka consumer group; when one is killed, the other takes its feeds over, and no
 * (feed, snapshot) is ever written twice. Real processes: a ClickHouse front over chDB shared by
 * both, a real Kafka broker.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { applyMigrations, createClickHouseClient, EventRepository, type ClickHouseClient } from '#lib/clickhouse';
import { partitionOfKey } from '#lib/kafka';
import { AppProcess, chdbHttpEntry, feedsWrittenBy, rankerFeeds, type RankerProcess, startRanker, waitFor } from '#lib/testing';

const brokers = process.env.CG_TEST_KAFKA_BROKERS ?? process.env.KAFKA_BROKERS;
const publisher = 'did:plc:publisher0000000000000000';
const database = `rankers_${process.pid}`;
const PARTITIONS = 4;
/** Eight bridging feeds, two on each partition of the rankers' topic, so both rankers get some. */
const fixture = rankerFeeds({ publisher, partitions: PARTITIONS, perPartition: 2, partitionOf: partitionOfKey });

describe('rankers that scale out by feed, over a Kafka consumer group', () => {
  let dir: string;
  let clickhouse: AppProcess;
  let clickhouseUrl: string;
  let client: ClickHouseClient;
  const processes: AppProcess[] = [];

  const logs = () => processes.map((process) => `--- ${process.name}\n${process.output.slice(-15).join('\n')}`).join('\n');
  const rows = async <T>(query: string): Promise<T[]> => (await client.query({ query, format: 'JSONEachRow' })).json<T>();
  // @NOTE Every run this test looks at is one that a change of assignment starts at once (joining,
  // the rebalance when the second ranker joins, taking the killed one's feeds over): the scheduled
  // runs in between, every 2 s before, only spent both rankers' CPU, so they come once a minute.
  const ranker = async (name: string, topicPrefix: string): Promise<RankerProcess> => {
    const started = await startRanker({
      name, brokers: brokers!, topicPrefix, clickhouseUrl, database, publisher, partitions: PARTITIONS, intervalSeconds: 60,
      feedsFile: path.join(dir, 'feeds.yaml'), dataDir: path.join(dir, name),
    });
    processes.push(started.process);
    return started;
  };

  beforeAll(async () => {
    if (!brokers) throw new Error('this test needs a Kafka broker: run it with npm test, or set KAFKA_BROKERS');
    dir = await mkdtemp(path.join(os.tmpdir(), 'cg-rankers-'));
    await writeFile(path.join(dir, 'feeds.yaml'), fixture.curation);
    clickhouse = new AppProcess('clickhouse', chdbHttpEntry, {}, [path.join(dir, 'clickhouse')]).start();
    processes.push(clickhouse);
    clickhouseUrl = (await clickhouse.firstJsonLine<{ url: string }>('url')).url;
    client = createClickHouseClient({ kind: 'server', url: clickhouseUrl, username: 'default', password: '', database });
    await applyMigrations(client, database);
    await new EventRepository(client, database).write(fixture.events());
  }, 120_000);

  afterAll(async () => {
    for (const process of processes.toReversed()) await process.stop('SIGKILL');
    await client?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('splits the feeds between two rankers, and the survivor takes a killed ranker\'s feeds within 30 s, never writing a snapshot twice', async () => {
    const prefix = `rankers${Date.now()}.`;
    const a = await ranker('ranker-a', prefix);
    const b = await ranker('ranker-b', prefix);
    const every = fixture.names.map(fixture.uri).sort();

    // Both rankers hold a share, none all of it, together every feed, one of them the shared work, and each wrote its own feeds.
    const [shareA, shareB] = await waitFor(
      'two rankers splitting the feeds',
      async () => {
        const shares = [await a.share(), await b.share()] as const;
        const [feedsA, feedsB] = shares.map((share) => share.feeds);
        if (feedsA!.length === 0 || feedsB!.length === 0 || shares[0].shared === shares[1].shared) return undefined;
        if ([...feedsA!, ...feedsB!].sort().join() !== every.join()) return undefined;
        const [wroteA, wroteB] = [await feedsWrittenBy(client, database, shares[0].ranker), await feedsWrittenBy(client, database, shares[1].ranker)];
        return feedsA!.every((feed) => wroteA.has(feed)) && feedsB!.every((feed) => wroteB.has(feed)) ? shares : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 500, context: logs },
    );
    expect(shareA.feeds.length).toBeLessThan(every.length);
    expect(shareB.feeds.length).toBeLessThan(every.length);
    expect(shareA.feeds.filter((feed) => shareB.feeds.includes(feed))).toEqual([]);

    const killedAt = Date.now();
    await b.process.stop('SIGKILL');
    await waitFor(
      "the surviving ranker computing the killed ranker's feeds",
      async () => {
        const share = await a.share();
        if (share.feeds.length !== every.length || !share.shared) return undefined;
        const wrote = await feedsWrittenBy(client, database, shareA.ranker, killedAt);
        return shareB.feeds.every((feed) => wrote.has(feed));
      },
      { timeoutMs: 30_000, intervalMs: 250, context: logs },
    );

    // The killed ranker's feeds are served from the survivor's snapshots (the newer ownership epoch).
    const served = await rows<{ feed: string; ranker: string }>(
      `SELECT feed, argMax(ranker, (epoch, snapshot)) AS ranker FROM ${database}.feed_snapshots FINAL GROUP BY feed ORDER BY feed`,
    );
    expect(served).toEqual(every.map((feed) => ({ feed, ranker: shareA.ranker })));

    // No (feed, snapshot) written twice: one completion record each, one row per rank, as many rows as the record says.
    const snapshots = await rows<{ feed: string; snapshot: string; records: string; posts: number }>(
      `SELECT feed, snapshot, count() AS records, any(posts) AS posts FROM ${database}.feed_snapshots GROUP BY feed, snapshot`,
    );
    expect(snapshots.length).toBeGreaterThanOrEqual(every.length + shareB.feeds.length);
    expect(snapshots.filter((row) => Number(row.records) !== 1)).toEqual([]);
    expect(snapshots.every((row) => Number(row.posts) > 0)).toBe(true);
    const ranks = await rows<{ feed: string; snapshot: string; rows: string; ranks: string }>(
      `SELECT feed, snapshot, count() AS rows, uniqExact(rank) AS ranks FROM ${database}.feed_scores GROUP BY feed, snapshot`,
    );
    const posts = new Map(snapshots.map((row) => [`${row.feed} ${row.snapshot}`, Number(row.posts)]));
    const duplicated = ranks.filter((row) => Number(row.rows) !== Number(row.ranks) || (posts.has(`${row.feed} ${row.snapshot}`) && posts.get(`${row.feed} ${row.snapshot}`) !== Number(row.rows)));
    expect(duplicated).toEqual([]);
  }, 240_000);
});
