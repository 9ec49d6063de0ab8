/**
 * TEST FIXTURE: many bridging feeds over two small communities whose posts are liked across them,
 * so that every feed's snapshot ranks posts, and ranker processes over them; for the rankers'
 * scale-out test and benchmark.
 */
import type { ClickHouseClient } from '#lib/clickhouse';
import type { PipelineEventV1 } from '#lib/contracts';
import { AppProcess, appEntry, freePort } from './app-process.js';
import { generateCid, mulberry32 } from './synthetic-events.js';
import { kafkaTestEnv } from './test-app.env.js';

export interface RankerFeeds {
  /** Feed short names: `perPartition` on each partition of the rankers' topic. */
  names: string[];
  uri(name: string): string;
  /** The curator file (YAML) defining the two communities and the feeds. */
  curation: string;
  /** Posts by both communities and likes across them, ending an hour ago. */
  events(): PipelineEventV1[];
}

/**
 * `partitionOf` places a feed URI on one of `partitions`, as the rankers do (the caller passes the
 * Kafka library's hash, so that this fixture loads no Kafka client).
 */
export function rankerFeeds(options: {
  publisher: string;
  partitions: number;
  perPartition: number;
  partitionOf: (feedUri: string, partitions: number) => number;
  members?: number;
}): RankerFeeds {
  const { publisher, partitions, perPartition, partitionOf, members = 6 } = options;
  const uri = (name: string) => `at://${publisher}/app.bsky.feed.generator/${name}`;
  const names: string[] = [];
  const filled = new Array<number>(partitions).fill(0);
  for (let i = 0; names.length < partitions * perPartition; i += 1) {
    const name = `feed-${i}`;
    const partition = partitionOf(uri(name), partitions);
    if (filled[partition]! >= perPartition) continue;
    filled[partition]! += 1;
    names.push(name);
  }
  const member = (side: string, index: number) => `did:plc:${side}${String(index).padStart(24 - side.length, '0')}`;
  const left = Array.from({ length: members }, (_, index) => member('left', index));
  const right = Array.from({ length: members }, (_, index) => member('right', index));
  const everyone = [...left, ...right];
  const curation = [
    'communities:',
    '  left:',
    `    members: { dids: [${left.join(', ')}] }`,
    '  right:',
    `    members: { dids: [${right.join(', ')}] }`,
    'feeds:',
    ...names.flatMap((name) => [`  ${name}:`, `    displayName: ${name}`, '    communities: [left, right]', '    ranking: bridging']),
  ].join('\n');
  const events = (): PipelineEventV1[] => {
    const nowUs = Date.now() * 1000;
    const rng = mulberry32(18);
    const out: PipelineEventV1[] = [];
    everyone.forEach((author, index) => {
      const rkey = `3kpost${String(index).padStart(7, '0')}`;
      const timeUs = nowUs - (index + 60) * 60_000_000;
      const cid = generateCid(rng);
      out.push({
        v: 1, type: 'post', op: 'create', did: author, rkey, cid, timeUs, createdAtMs: Math.floor(timeUs / 1000), text: `post ${index}`,
        langs: ['en'], tags: [], replyRoot: null, replyParent: null, quote: null, hasMedia: false,
      });
      everyone.forEach((liker, likerIndex) => {
        if (liker === author || (likerIndex + index) % 3 === 0) return;
        out.push({
          v: 1, type: 'like', op: 'create', did: liker, rkey: `3klike${String(index).padStart(3, '0')}${String(likerIndex).padStart(3, '0')}`,
          cid: generateCid(rng), timeUs: timeUs + (likerIndex + 1) * 1_000_000, createdAtMs: Math.floor(timeUs / 1000) + likerIndex + 1,
          subjectUri: `at://${author}/app.bsky.feed.post/${rkey}`, subjectCid: cid,
        });
      });
    });
    return out;
  };
  return { names, uri, curation, events };
}

/** What a ranker's `/status` says of its share (`ranker`). */
export interface RankerShareStatus {
  ranker: string;
  partitions: number[];
  feeds: string[];
  shared: boolean;
}

export interface RankerProcess {
  process: AppProcess;
  /** The ranker's share, from `/status` on its ops port. */
  share(): Promise<RankerShareStatus>;
}

/** Starts a ranker (a scoring process that computes snapshots) from the build, in scaled mode. */
export async function startRanker(options: {
  name: string;
  brokers: string;
  topicPrefix: string;
  clickhouseUrl: string;
  database: string;
  feedsFile: string;
  publisher: string;
  dataDir: string;
  partitions: number;
  intervalSeconds: number;
}): Promise<RankerProcess> {
  const [port, opsPort] = [await freePort(), await freePort()];
  const process = new AppProcess(options.name, appEntry, {
    CG_ROLE: 'scoring',
    KAFKA_BROKERS: options.brokers,
    KAFKA_TOPIC_PREFIX: options.topicPrefix,
    KAFKA_PARTITIONS: '2',
    ...kafkaTestEnv,
    RANKER_PARTITIONS: String(options.partitions),
    RANKER_SESSION_TIMEOUT_MS: '6000',
    SCORING_INTERVAL_SECONDS: String(options.intervalSeconds),
    CLICKHOUSE_URL: options.clickhouseUrl,
    CLICKHOUSE_DATABASE: options.database,
    FEEDS_FILE: options.feedsFile,
    FEEDGEN_PUBLISHER_DID: options.publisher,
    DATA_DIR: options.dataDir,
    HTTP_PORT: String(port),
    HTTP_BIND_HOST: '127.0.0.1',
    OPS_PORT: String(opsPort),
    LOG_LEVEL: 'warn',
  }).start();
  return {
    process,
    share: async () => {
      const response = await fetch(`http://127.0.0.1:${opsPort}/status`);
      if (!response.ok) throw new Error(`status ${response.status}`);
      return ((await response.json()) as { ranker: RankerShareStatus }).ranker;
    },
  };
}

/** Feeds with a snapshot written by `ranker` and completed after `sinceMs`. */
export async function feedsWrittenBy(client: ClickHouseClient, database: string, ranker: string, sinceMs = 0): Promise<Set<string>> {
  const result = await client.query({
    query: `SELECT DISTINCT feed FROM ${database}.feed_snapshots
      WHERE ranker = {ranker:String} AND completed_at > fromUnixTimestamp64Milli({sinceMs:Int64})`,
    query_params: { ranker, sinceMs },
    format: 'JSONEachRow',
  });
  return new Set((await result.json<{ feed: string }>()).map((row) => row.feed));
}
