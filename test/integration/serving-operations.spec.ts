import { ScoreRepository, type ClickHouseClient, type ScoredRow } from '#lib/clickhouse';
import { loadConfig, type AppConfig } from '#lib/config';
import { CLICKHOUSE } from '#lib/platform';
import { capturedLogger, generateJetstreamEvents, startJetstreamReplayServer, startTestApp, type TestApp, waitFor, type JetstreamReplayServer } from '#lib/testing';

const publisher = 'did:plc:publisher0000000000000000';
const feedUri = (name: string) => `at://${publisher}/app.bsky.feed.generator/${name}`;
/** Rows of the large snapshot: many granules of 8 192 rows, so that a scan and a look-up differ tenfold. */
const SNAPSHOT_ROWS = 100_000;

/** The value of one sample of a Prometheus text exposition, or undefined. */
function sample(text: string, name: string, labels = ''): number | undefined {
  const line = text.split('\n').find((entry) => entry.startsWith(`${name}${labels ? `{${labels}}` : ''} `));
  return line === undefined ? undefined : Number(line.split(' ').at(-1));
}

describe('the public port and the ops port', () => {
  const generated = generateJetstreamEvents({
    seed: 21,
    users: 200,
    events: 2_000,
    startUs: (Date.now() - 3_600_000) * 1000,
    durationSec: 3_000,
    communities: [{ name: 'gardeners', members: 40 }],
    mix: { other: 0 },
  });
  const [gardeners] = generated.communities;
  const captured = capturedLogger();
  let replay: JetstreamReplayServer;
  let config: AppConfig;
  let running: TestApp;

  beforeAll(async () => {
    replay = await startJetstreamReplayServer({ events: generated.events });
    running = await startTestApp({
      name: 'serving_ops',
      feeds: [
        'communities:',
        `  gardeners: { members: { dids: [${gardeners!.members.join(', ')}] } }`,
        'feeds:',
        '  gardeners-new: { displayName: Gardeners, communities: [gardeners] }',
        '  common: { displayName: Common ground, communities: [gardeners], ranking: bridging }',
        '  dormant: { displayName: Dormant, communities: [gardeners], ranking: bridging }',
      ].join('\n'),
      jetstreamUrl: replay.subscribeUrl,
      // The snapshots here are the test's own; no process computes any.
      overrides: { FEEDGEN_PUBLISHER_DID: publisher, SCORING_SNAPSHOTS: 'false', SCORING_INTERVAL_SECONDS: '30', LOG_LEVEL: 'info' },
      start: { logger: captured.logger },
    });
    config = running.config;
  });

  afterAll(async () => {
    await running?.close();
    await replay?.close();
  });

  it('answers /status and /metrics only on the ops port, and /ready on the public port as a bare status', async () => {
    expect((await fetch(`${running.url}/status`)).status).toBe(404);
    expect((await fetch(`${running.url}/metrics`)).status).toBe(404);
    const ready = await fetch(`${running.url}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready' });
    expect(await (await fetch(`${running.url}/health`)).json()).toEqual({ status: 'ok' });

    expect(new URL(running.opsUrl).port).not.toBe(new URL(running.url).port);
    const status = await fetch(`${running.opsUrl}/status`);
    expect(status.status).toBe(200);
    expect(await status.json()).toMatchObject({ ingest: { connected: expect.any(Boolean) }, store: { events: expect.any(Number) } });
    const metrics = await fetch(`${running.opsUrl}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(sample(await metrics.text(), 'cg_ready', 'check="clickhouse"')).toBe(1);
    const report = await fetch(`${running.opsUrl}/ready`);
    expect(report.status).toBe(200);
    expect(await report.json()).toMatchObject({ status: 'ready', checks: { bus: true, clickhouse: true, snapshot: true } });
  });

  it('binds the ops port to loopback unless configured otherwise', () => {
    expect(loadConfig({}).http).toMatchObject({ port: 3000, bindHost: '0.0.0.0', opsPort: 9464, opsBindHost: '127.0.0.1' });
    expect(loadConfig({ OPS_PORT: '9100', OPS_BIND_HOST: '0.0.0.0' }).http).toMatchObject({ opsPort: 9100, opsBindHost: '0.0.0.0' });
    expect(() => loadConfig({ OPS_PORT: '3000' })).toThrow(/OPS_PORT: must differ from HTTP_PORT/);
  });

  // Before any fresh snapshot exists (the explanations below write one): every ranked feed's newest snapshot is stale.
  describe('a stale snapshot where feeds are served', () => {
    it('keeps the process ready, still serves the feed, and reports the staleness', async () => {
      const client = running.app.get<ClickHouseClient>(CLICKHOUSE);
      const { database } = config.clickhouse;
      const old = Date.now() - 3_600_000;
      const posts = gardeners!.members.slice(0, 3).map((did, index) => `at://${did}/app.bsky.feed.post/3kdormant${index}`);
      await client.insert({
        table: `${database}.feed_scores`,
        values: posts.map((uri, index) => ({ feed: feedUri('dormant'), snapshot: old, rank: index + 1, uri, cid: `bafy${index}`, score: 1, feed_context: '', components: '{}' })),
        format: 'JSONEachRow',
      });
      // Completed an hour ago: far past 3 × 30 s + 60 s.
      await client.command({
        query: `INSERT INTO ${database}.feed_snapshots (feed, snapshot, posts, completed_at)
          VALUES ({feed:String}, {snapshot:UInt64}, {posts:UInt32}, fromUnixTimestamp64Milli({completedAtMs:Int64}))`,
        query_params: { feed: feedUri('dormant'), snapshot: old, posts: posts.length, completedAtMs: old },
      });

      const metrics = await waitFor('the stale gauge', async () => {
        const text = await (await fetch(`${running.opsUrl}/metrics`)).text();
        return sample(text, 'cg_snapshot_stale', 'feed="dormant"') === 1 ? text : undefined;
      });
      expect(sample(metrics, 'cg_ready', 'check="snapshot"')).toBe(1);
      expect((await fetch(`${running.url}/ready`)).status).toBe(200);
      const report = (await (await fetch(`${running.opsUrl}/ready`)).json()) as { snapshot: { feeds: { shortname: string; stale: boolean }[] } };
      expect(report.snapshot.feeds).toEqual(expect.arrayContaining([expect.objectContaining({ shortname: 'dormant', stale: true })]));

      const page = await fetch(`${running.url}/xrpc/app.bsky.feed.getFeedSkeleton?feed=${encodeURIComponent(feedUri('dormant'))}&limit=10`);
      expect(page.status).toBe(200);
      expect(((await page.json()) as { feed: { post: string }[] }).feed.map((item) => item.post)).toEqual(posts);
      expect(captured.lines).toContainEqual(expect.objectContaining({ level: 40, feed: 'dormant', msg: 'score snapshot is stale; the feed is still served from it' }));
    });
  });
  describe('explaining a post', () => {
    const snapshot = Date.now();
    const postAt = (rank: number) => `at://did:plc:author${String(rank % 997).padStart(19, '0')}/app.bsky.feed.post/3k${String(rank).padStart(11, '0')}`;
    const explainUrl = (post: string, pinned?: number) =>
      `${running.url}/api/feeds/common/explain?post=${encodeURIComponent(post)}${pinned === undefined ? '' : `&snapshot=${pinned}`}`;
    /** The queries the app sends to ClickHouse while `action` runs, with their parameters. */
    async function queriesDuring(action: () => Promise<void>): Promise<{ query: string; query_params?: Record<string, unknown> }[]> {
      const client = running.app.get<ClickHouseClient>(CLICKHOUSE);
      const original = client.query;
      const seen: { query: string; query_params?: Record<string, unknown> }[] = [];
      client.query = ((params: { query: string; query_params?: Record<string, unknown> }) => {
        seen.push(params);
        return original.call(client, params as never);
      });
      try {
        await action();
      } finally {
        client.query = original;
      }
      return seen;
    }
    /** Rows ClickHouse plans to read for a query, after its indexes and projections pruned what they can. */
    async function rowsToRead(query: string, queryParams?: Record<string, unknown>): Promise<number> {
      const client = running.app.get<ClickHouseClient>(CLICKHOUSE);
      const result = await client.query({ query: `EXPLAIN ESTIMATE ${query}`, query_params: queryParams, format: 'JSONEachRow' });
      return (await result.json<{ table: string; rows: string }>()).filter((row) => row.table === 'feed_scores').reduce((sum, row) => sum + Number(row.rows), 0);
    }

    beforeAll(async () => {
      const rows: ScoredRow[] = Array.from({ length: SNAPSHOT_ROWS }, (_, index) => ({
        uri: postAt(index + 1),
        cid: `bafy${index}`,
        score: 1 - index / SNAPSHOT_ROWS,
        feedContext: '',
        components: { gic: 1 - index / SNAPSHOT_ROWS, supportedBy: ['gardeners'] },
      }));
      await running.app.get(ScoreRepository).writeSnapshot(feedUri('common'), snapshot, rows);
    });

    it(`reads about one granule of a ${SNAPSHOT_ROWS}-post snapshot, not the snapshot`, async () => {
      const post = postAt(77_777);
      let answer: unknown;
      const queries = await queriesDuring(async () => {
        const response = await fetch(explainUrl(post, snapshot));
        expect(response.status).toBe(200);
        answer = await response.json();
      });
      expect(answer).toMatchObject({ feed: feedUri('common'), post, snapshot, rank: 77_777, components: { supportedBy: ['gardeners'] } });

      const reads = queries.filter(({ query }) => /\bfeed_scores\b/.test(query));
      expect(reads.length).toBeGreaterThan(0);
      const planned = await Promise.all(reads.map(({ query, query_params }) => rowsToRead(query, query_params)));
      // The measure can tell a scan: looking the post up by a column outside every index plans the whole snapshot.
      const { database } = config.clickhouse;
      const scan = `SELECT rank FROM ${database}.feed_scores WHERE feed = {feed:String} AND snapshot = {snapshot:UInt64} AND cid = {cid:String}`;
      expect(await rowsToRead(scan, { feed: feedUri('common'), snapshot, cid: 'bafy77776' })).toBe(SNAPSHOT_ROWS);
      expect(planned.reduce((sum, rows) => sum + rows, 0)).toBeLessThanOrEqual(SNAPSHOT_ROWS / 5);
    });

    it('answers a repeated question from its cache, pinned or latest', async () => {
      const post = postAt(12_345);
      const first = await (await fetch(explainUrl(post))).json();
      expect(first).toMatchObject({ snapshot, rank: 12_345 });
      let again: unknown[] = [];
      const queries = await queriesDuring(async () => {
        again = await Promise.all([fetch(explainUrl(post)), fetch(explainUrl(post, snapshot))].map(async (response) => (await response).json()));
      });
      expect(again).toEqual([first, first]);
      expect(queries.filter(({ query }) => /\bfeed_(scores|snapshots)\b/.test(query))).toEqual([]);

      const outsider = postAt(SNAPSHOT_ROWS + 1);
      expect(await (await fetch(explainUrl(outsider, snapshot))).json()).toMatchObject({ rank: null, reason: expect.stringContaining('not ranked') });
      const repeated = await queriesDuring(async () => {
        expect(await (await fetch(explainUrl(outsider, snapshot))).json()).toMatchObject({ rank: null });
      });
      expect(repeated.filter(({ query }) => /\bfeed_(scores|snapshots)\b/.test(query))).toEqual([]);
    });
  });
});
