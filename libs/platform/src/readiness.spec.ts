import { setTimeout as sleep } from 'node:timers/promises';
import { jest } from '@jest/globals';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { EventRepository, ScoreRepository, SnapshotSummary } from '#lib/clickhouse';
import { loadConfig } from '#lib/config';
import { loadCurationFile, type Curation } from '#lib/curation';
import type { MessageBus } from '#lib/contracts';
import type { Logger } from './logger.js';
import { ReadinessService } from './readiness.js';

const publisher = 'did:plc:publisher0000000000000000';
const ranked = `at://${publisher}/app.bsky.feed.generator/common`;

describe('ReadinessService', () => {
  let dir: string;
  let feedsFile: string;
  /** The curation in force, as the curation service would hold it. */
  let curation: Curation;

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
    curation = await loadCurationFile(feedsFile);
  });

  afterAll(() => rm(dir, { recursive: true, force: true }));

  /** A service over fakes: the bus and ClickHouse answer as told; the store holds `snapshots`. */
  function service(
    env: Record<string, string>,
    { bus = true, clickhouse = true, snapshots = [] as SnapshotSummary[], failing = false, warnings = [] as Record<string, unknown>[] } = {},
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
      { current: curation },
      { warn: (fields: Record<string, unknown>, msg: string) => warnings.push({ ...fields, msg }), info: () => undefined } as unknown as Logger,
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

  it('keeps a feed generator ready while the bus is down (its impressions wait in a bounded buffer), and reports the bus check', async () => {
    const generator = await service({ ...scaled, CG_ROLE: 'feed-generator' }, { bus: false, snapshots: [snapshotAged(100)] }).check();
    expect(generator).toMatchObject({ ready: true, checks: { bus: false, clickhouse: true, snapshot: true } });
    for (const role of ['ingest', 'scoring']) {
      expect(await service({ ...scaled, CG_ROLE: role }, { bus: false, snapshots: [snapshotAged(100)] }).check()).toMatchObject({ ready: false, checks: { bus: false } });
    }
    expect((await service({ ...scaled, CG_ROLE: 'feed-generator' }, { clickhouse: false }).check()).ready).toBe(false);
  });

  it('is not ready in the scoring role when the snapshots it computes are stale', async () => {
    const scoring = service({ ...scaled, CG_ROLE: 'scoring' }, { snapshots: [snapshotAged(200)] });
    // It computes snapshots itself: its own start counts as the newest until one window has passed.
    expect((await scoring.check()).ready).toBe(true);
    const started = Date.now();
    jest.spyOn(Date, 'now').mockReturnValue(started + 200_000);
    try {
      expect(await scoring.check()).toMatchObject({ ready: false, checks: { snapshot: false }, snapshot: { stale: true, gatesReadiness: true } });
    } finally {
      jest.restoreAllMocks();
    }
  });

  it('stays ready where feeds are served, marks the stale feed and warns once', async () => {
    const serving: Record<string, string>[] = [{ ...scaled, CG_ROLE: 'feed-generator' }, { SCORING_SNAPSHOTS: 'false' }, {}];
    for (const env of serving) {
      const warnings: Record<string, unknown>[] = [];
      const readiness = service(env, { snapshots: [snapshotAged(200)], warnings });
      const report = await readiness.check();
      expect(report).toMatchObject({ ready: true, checks: { snapshot: true }, snapshot: { gatesReadiness: false } });
      expect(report.snapshot.feeds).toEqual([expect.objectContaining({ shortname: 'common', stale: true })]);
      expect(warnings).toEqual([expect.objectContaining({ feed: 'common', msg: 'score snapshot is stale; the feed is still served from it' })]);
      await sleep(1_100); // past the one-second cache
      await readiness.check();
      expect(warnings).toHaveLength(1);
    }
  });

  it('does not wait for snapshots nobody produces yet, nor in the ingest role', async () => {
    const generator = await service({ ...scaled, CG_ROLE: 'feed-generator' }).check();
    expect(generator).toMatchObject({ ready: true, snapshot: { applies: false } });
    const ingest = await service({ ...scaled, CG_ROLE: 'ingest' }, { snapshots: [snapshotAged(10_000)] }).check();
    expect(ingest).toMatchObject({ ready: true, snapshot: { applies: false, feeds: [] } });
  });

  it('fails the snapshot check of the scoring role, with the reason, when freshness cannot be read; a server stays ready', async () => {
    const report = await service({ ...scaled, CG_ROLE: 'scoring' }, { failing: true }).check();
    expect(report).toMatchObject({ ready: false, checks: { snapshot: false } });
    expect(report.snapshot.error).toContain('table does not exist');
    const serving = await service({}, { failing: true }).check();
    expect(serving).toMatchObject({ ready: true, checks: { snapshot: true } });
    expect(serving.snapshot.error).toContain('table does not exist');
  });
});
