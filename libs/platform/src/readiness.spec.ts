import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { EventRepository, ScoreRepository, SnapshotSummary } from '#lib/clickhouse';
import { loadConfig } from '#lib/config';
import type { MessageBus } from '#lib/contracts';
import { ReadinessService } from './readiness.js';

const publisher = 'did:plc:publisher0000000000000000';
const ranked = `at://${publisher}/app.bsky.feed.generator/common`;

describe('ReadinessService', () => {
  let dir: string;
  let feedsFile: string;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'cg-readiness-'));
    feedsFile = path.join(dir, 'feeds.yaml');
    await writeFile(
      feedsFile,
      [
        'communities:',
        '  a: { members: { dids: [did:plc:aaaaaaaaaaaaaaaaaaaaaaaa] } }',
        '  b: { members: { dids: [did:plc:bbbbbbbbbbbbbbbbbbbbbbbb] } }',
        'feeds:',
        '  newest: { displayName: Newest, communities: [a] }',
        '  common: { displayName: Common, communities: [a, b], ranking: bridging }',
      ].join('\n'),
    );
  });

  afterAll(() => rm(dir, { recursive: true, force: true }));

  /** A service over fakes: the bus and ClickHouse answer as told; the store holds `snapshots`. */
  function service(
    env: Record<string, string>,
    { bus = true, clickhouse = true, snapshots = [] as SnapshotSummary[], failing = false } = {},
  ): ReadinessService {
    const config = loadConfig({ FEEDS_FILE: feedsFile, FEEDGEN_PUBLISHER_DID: publisher, SCORING_INTERVAL_SECONDS: '30', ...env });
    return new ReadinessService(
      config,
      { ping: async () => bus } as unknown as MessageBus,
      { ping: async () => clickhouse } as unknown as EventRepository,
      {
        latestSnapshots: async (feeds: readonly string[]) => {
          if (failing) throw new Error('Code: 60. DB::Exception: table does not exist');
          return snapshots.filter((snapshot) => feeds.includes(snapshot.feed));
        },
      } as unknown as ScoreRepository,
    );
  }

  const snapshotAged = (seconds: number): SnapshotSummary => ({ feed: ranked, snapshot: 1, posts: 10, completedAtMs: Date.now() - seconds * 1000 });
  const scaled = { KAFKA_BROKERS: 'kafka:9092', CLICKHOUSE_URL: 'http://clickhouse:8123' };

  it('is ready when the bus and ClickHouse answer and the newest snapshot is younger than 3 intervals + 60 s', async () => {
    const report = await service({}, { snapshots: [snapshotAged(100)] }).check();
    expect(report).toMatchObject({ ready: true, checks: { bus: true, clickhouse: true, snapshot: true } });
    expect(report.snapshot).toMatchObject({ applies: true, stale: false, staleAfterSeconds: 150 });
    expect(report.snapshot.feeds).toEqual([expect.objectContaining({ shortname: 'common', posts: 10 })]);
  });

  it('is not ready when the bus or ClickHouse does not answer', async () => {
    expect((await service({}, { bus: false }).check()).checks).toEqual({ bus: false, clickhouse: true, snapshot: true });
    expect((await service({}, { clickhouse: false }).check())).toMatchObject({ ready: false, checks: { clickhouse: false } });
  });

  it('is not ready when the newest snapshot is stale, in the feed generator and in scoring', async () => {
    const stale = { snapshots: [snapshotAged(200)] };
    expect(await service({ ...scaled, CG_ROLE: 'feed-generator' }, stale).check()).toMatchObject({ ready: false, checks: { snapshot: false }, snapshot: { stale: true } });
    expect((await service({}, stale).check()).ready).toBe(true); // computes snapshots itself: its own start counts as the newest
  });

  it('does not wait for snapshots nobody produces yet, nor in the ingest role', async () => {
    const generator = await service({ ...scaled, CG_ROLE: 'feed-generator' }).check();
    expect(generator).toMatchObject({ ready: true, snapshot: { applies: false } });
    const ingest = await service({ ...scaled, CG_ROLE: 'ingest' }, { snapshots: [snapshotAged(10_000)] }).check();
    expect(ingest).toMatchObject({ ready: true, snapshot: { applies: false, feeds: [] } });
  });

  it('fails the snapshot check, with the reason, when freshness cannot be read', async () => {
    const report = await service({}, { failing: true }).check();
    expect(report).toMatchObject({ ready: false, checks: { snapshot: false } });
    expect(report.snapshot.error).toContain('table does not exist');
  });
});
