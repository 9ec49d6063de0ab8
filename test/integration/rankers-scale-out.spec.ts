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
import type { PipelineEventV1 } from '#lib/contracts';
import { murmur2 } from '#lib/kafka';
import { AppProcess, appEntry, chdbHttpEntry, freePort, generateCid, mulberry32, waitFor } from '#lib/testing';

const brokers = process.env.CG_TEST_KAFKA_BROKERS ?? process.env.KAFKA_BROKERS;
const publisher = 'did:plc:publisher0000000000000000';
const database = `rankers_${process.pid}`;
const PARTITIONS = 4;
const feedUri = (name: string) => `at://${publisher}/app.bsky.feed.generator/${name}`;
const partitionOf = (name: string) => (murmur2(new TextEncoder().encode(feedUri(name))) & 0x7fffffff) % PARTITIONS;

/** Eight feed names covering every partition of the rankers' topic, two each, so both rankers get feeds. */
const feeds = (() => {
  const names: string[] = [];
  for (let i = 0; names.length < 2 * PARTITIONS; i += 1) {
    const name = `feed-${i}`;
    if (names.filter((taken) => partitionOf(taken) === partitionOf(name)).length < 2) names.push(name);
  }
  return names;
})();

const member = (side: string, index: number) => `did:plc:${side}${String(index).padStart(24 - side.length, '0')}`;
const left = Array.from({ length: 6 }, (_, index) => member('left', index));
const right = Array.from({ length: 6 }, (_, index) => member('right', index));
const curation = [
  'communities:',
  '  left:',
  `    members: { dids: [${left.join(', ')}] }`,
  '  right:',
  `    members: { dids: [${right.join(', ')}] }`,
  'feeds:',
  ...feeds.flatMap((name) => [`  ${name}:`, `    displayName: ${name}`, '    communities: [left, right]', '    ranking: bridging']),
].join('\n');

/** Posts by both sides, each liked by members of both: every feed's snapshot ranks them. */
function events(): PipelineEventV1[] {
  const nowUs = Date.now() * 1000;
  const rng = mulberry32(18);
  const out: PipelineEventV1[] = [];
  [...left, ...right].forEach((author, index) => {
    const rkey = `3kpost${String(index).padStart(7, '0')}`;
    const timeUs = nowUs - (index + 10) * 60_000_000;
    const cid = generateCid(rng);
    out.push({
      v: 1, type: 'post', op: 'create', did: author, rkey, cid, timeUs, createdAtMs: Math.floor(timeUs / 1000), text: `post ${index}`,
      langs: ['en'], tags: [], replyRoot: null, replyParent: null, quote: null, hasMedia: false,
    });
    [...left, ...right].forEach((liker, likerIndex) => {
      if (liker === author || (likerIndex + index) % 3 === 0) return;
      out.push({
        v: 1, type: 'like', op: 'create', did: liker, rkey: `3klike${String(index).padStart(3, '0')}${String(likerIndex).padStart(3, '0')}`,
        cid: generateCid(rng), timeUs: timeUs + (likerIndex + 1) * 1_000_000, createdAtMs: Math.floor(timeUs / 1000) + likerIndex + 1,
        subjectUri: `at://${author}/app.bsky.feed.post/${rkey}`, subjectCid: cid,
      });
    });
  });
  return out;
}

interface RankerStatus {
  ranker: { ranker: string; partitions: number[]; feeds: string[]; shared: boolean };
}

describe('rankers that scale out by feed, over a Kafka consumer group', () => {
  let dir: string;
  let clickhouse: AppProcess;
  let client: ClickHouseClient;
  const processes: AppProcess[] = [];
  const opsPorts = new Map<AppProcess, number>();

  const logs = () => processes.map((process) => `--- ${process.name}\n${process.output.slice(-15).join('\n')}`).join('\n');
  const status = async (ranker: AppProcess): Promise<RankerStatus['ranker']> => {
    const response = await fetch(`http://127.0.0.1:${opsPorts.get(ranker)}/status`);
    if (!response.ok) throw new Error(`status ${response.status}`);
    return ((await response.json()) as RankerStatus).ranker;
  };
  const rows = async <T>(query: string): Promise<T[]> => (await client.query({ query, format: 'JSONEachRow' })).json<T>();
  /** Snapshots written per feed by `ranker`, completed after `sinceMs`. */
  const writtenBy = async (ranker: string, sinceMs = 0) =>
    new Set(
      (
        await rows<{ feed: string }>(
          `SELECT DISTINCT feed FROM ${database}.feed_snapshots WHERE ranker = '${ranker}' AND completed_at > fromUnixTimestamp64Milli(${sinceMs})`,
        )
      ).map((row) => row.feed),
    );

  beforeAll(async () => {
    if (!brokers) throw new Error('this test needs a Kafka broker: run it with npm test, or set KAFKA_BROKERS');
    dir = await mkdtemp(path.join(os.tmpdir(), 'cg-rankers-'));
    await writeFile(path.join(dir, 'feeds.yaml'), curation);
    clickhouse = new AppProcess('clickhouse', chdbHttpEntry, {}, [path.join(dir, 'clickhouse')]).start();
    processes.push(clickhouse);
    const { url } = await clickhouse.firstJsonLine<{ url: string }>('url');
    client = createClickHouseClient({ kind: 'server', url, username: 'default', password: '', database });
    await applyMigrations(client, database);
    await new EventRepository(client, database).write(events());
  }, 120_000);

  afterAll(async () => {
    for (const process of processes.toReversed()) await process.stop('SIGKILL');
    await client?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const startRanker = async (name: string, clickhouseUrl: string, prefix: string) => {
    const [port, opsPort] = [await freePort(), await freePort()];
    const ranker = new AppProcess(name, appEntry, {
      CG_ROLE: 'scoring',
      KAFKA_BROKERS: brokers!,
      KAFKA_TOPIC_PREFIX: prefix,
      KAFKA_PARTITIONS: '2',
      RANKER_PARTITIONS: String(PARTITIONS),
      RANKER_SESSION_TIMEOUT_MS: '6000',
      SCORING_INTERVAL_SECONDS: '2',
      CLICKHOUSE_URL: clickhouseUrl,
      CLICKHOUSE_DATABASE: database,
      FEEDS_FILE: path.join(dir, 'feeds.yaml'),
      FEEDGEN_PUBLISHER_DID: publisher,
      DATA_DIR: path.join(dir, name),
      HTTP_PORT: String(port),
      HTTP_BIND_HOST: '127.0.0.1',
      OPS_PORT: String(opsPort),
      LOG_LEVEL: 'warn',
    });
    opsPorts.set(ranker, opsPort);
    processes.push(ranker.start());
    return ranker;
  };

  it('splits the feeds between two rankers, and the survivor takes a killed ranker\'s feeds within 30 s, never writing a snapshot twice', async () => {
    const { url } = await clickhouse.firstJsonLine<{ url: string }>('url');
    const prefix = `rankers${Date.now()}.`;
    const a = await startRanker('ranker-a', url, prefix);
    const b = await startRanker('ranker-b', url, prefix);
    const every = feeds.map(feedUri).sort();

    // Both rankers hold a share, none all of it, together every feed, and each wrote its own feeds.
    const [shareA, shareB] = await waitFor(
      'two rankers splitting the feeds',
      async () => {
        const shares = [await status(a), await status(b)] as const;
        const [feedsA, feedsB] = shares.map((share) => share.feeds);
        if (feedsA!.length === 0 || feedsB!.length === 0) return undefined;
        if ([...feedsA!, ...feedsB!].sort().join() !== every.join() || shares[0].shared === shares[1].shared) return undefined;
        const [wroteA, wroteB] = [await writtenBy(shares[0].ranker), await writtenBy(shares[1].ranker)];
        return feedsA!.every((feed) => wroteA.has(feed)) && feedsB!.every((feed) => wroteB.has(feed)) ? shares : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 500, context: logs },
    );
    expect(shareA.feeds.length).toBeLessThan(every.length);
    expect(shareB.feeds.length).toBeLessThan(every.length);
    expect(shareA.feeds.filter((feed) => shareB.feeds.includes(feed))).toEqual([]);
    expect([shareA.shared, shareB.shared].filter(Boolean)).toHaveLength(1);

    const killedAt = Date.now();
    await b.stop('SIGKILL');
    await waitFor(
      "the surviving ranker computing the killed ranker's feeds",
      async () => {
        const share = await status(a);
        if (share.feeds.length !== every.length || !share.shared) return undefined;
        const wrote = await writtenBy(shareA.ranker, killedAt);
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
