import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { latestCadencePoint } from '#lib/rankings';
import {
  AppProcess,
  appEntry,
  chdbHttpEntry,
  freePort,
  generateJetstreamEvents,
  kafkaTestEnv,
  startJetstreamReplayServer,
  startTestApp,
  waitFor,
  type JetstreamReplayServer,
  type TestApp,
} from '#lib/testing';
import { startBroker, type StartedBroker } from '#scripts/kafka-broker.mjs';
import { ScoreSnapshotJob } from '../../services/scoring/src/score-snapshot.job.js';

const publisher = 'did:plc:publisher0000000000000000';
const feedUri = `at://${publisher}/app.bsky.feed.generator/digest`;
const endCard = 'at://did:plc:curator00000000000000000/app.bsky.feed.post/3kcaughtup2aa';
const SIZE = 6;
const DAY_MS = 86_400_000;
const adminToken = 'digest-admin-token-0123456789abcdef';

interface SkeletonItem {
  post: string;
  feedContext?: string;
  reason?: { $type: string };
}

interface EditionsView {
  nextEditionAt: string;
  editionDue: boolean;
  endCard: string | null;
  editions: { edition: number; posts: { rank: number; uri: string; supportedBy: string[] }[] }[];
}

describe('digest feeds: an edition that ends, the same on two feed generators, a new one at the next cadence point', () => {
  const generated = generateJetstreamEvents({
    seed: 16,
    users: 900,
    events: 15_000,
    startUs: (Date.now() - 20 * 3_600_000) * 1000,
    durationSec: 19 * 3_600,
    communities: [
      { name: 'alpha', members: 200 },
      { name: 'beta', members: 200 },
    ],
    bridgingShare: 0.1,
    mix: { other: 0 },
  });
  // The cadence point two hours ago, to the minute: the next one is a day after it, far from `now`.
  const start = Date.now();
  const at = new Date(start - 2 * 3_600_000).toISOString().slice(11, 16);
  const cadence = { cadence: 'daily', at, timeZone: 'UTC' } as const;
  let dir: string;
  let broker: StartedBroker | undefined;
  let clickhouse: AppProcess;
  let replay: JetstreamReplayServer;
  let ranker: TestApp;
  const servers: { process: AppProcess; url: string }[] = [];

  const logs = () => servers.map((server) => `--- ${server.process.name}\n${server.process.output.slice(-15).join('\n')}`).join('\n');

  /** Every page of the feed from one feed generator, following cursors until a page comes without one. */
  async function pageThrough(url: string, limit: number): Promise<{ items: SkeletonItem[]; pages: number; cursors: string[] }> {
    const items: SkeletonItem[] = [];
    const cursors: string[] = [];
    let cursor: string | undefined;
    for (let pages = 1; pages <= 50; pages += 1) {
      const query = new URLSearchParams({ feed: feedUri, limit: String(limit), ...(cursor && { cursor }) });
      const response = await fetch(`${url}/xrpc/app.bsky.feed.getFeedSkeleton?${query}`);
      expect(response.status).toBe(200);
      const body = (await response.json()) as { feed: SkeletonItem[]; cursor?: string };
      items.push(...body.feed);
      if (!body.cursor) return { items, pages, cursors };
      cursors.push(body.cursor);
      cursor = body.cursor;
    }
    throw new Error('the digest never ended');
  }

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'cg-digest-'));
    const community = (c: (typeof generated.communities)[number]) => [`  ${c.name}:`, '    members:', `      dids: [${c.members.join(', ')}]`];
    const feeds = [
      'communities:',
      ...generated.communities.flatMap(community),
      'feeds:',
      '  digest:',
      '    displayName: The daily digest',
      '    communities: [alpha, beta]',
      '    ranking: digest',
      '    windowHours: 96',
      '    halfLifeHours: 1000',
      '    digest:',
      '      cadence: daily',
      `      at: "${at}"`,
      '      timeZone: UTC',
      `      size: ${SIZE}`,
      '      base: bridging',
      `      endCard: ${endCard}`,
    ].join('\n');
    const brokers = process.env.CG_TEST_KAFKA_BROKERS ?? (broker = await startBroker({ profile: 'test' })).brokers;
    clickhouse = new AppProcess('clickhouse', chdbHttpEntry, {}, [path.join(dir, 'clickhouse')]).start();
    const { url: clickhouseUrl } = await clickhouse.firstJsonLine<{ url: string }>('url');
    const database = `digest_${process.pid}_${Date.now()}`;
    replay = await startJetstreamReplayServer({ events: generated.events });
    // The ranker: the whole pipeline in this process, on the shared ClickHouse; its snapshot runs are the test's own.
    ranker = await startTestApp({
      name: 'digest',
      feeds,
      jetstreamUrl: replay.subscribeUrl,
      overrides: {
        CLICKHOUSE_URL: clickhouseUrl,
        CLICKHOUSE_DATABASE: database,
        FEEDGEN_PUBLISHER_DID: publisher,
        SCORING_SNAPSHOTS: 'false',
        SCORING_INTERVAL_SECONDS: '3600',
      },
    });
    for (const name of ['feed-generator-a', 'feed-generator-b']) {
      const port = await freePort();
      const child = new AppProcess(name, appEntry, {
        CG_ROLE: 'feed-generator',
        KAFKA_BROKERS: brokers,
        KAFKA_TOPIC_PREFIX: `digest${Date.now()}.`,
        ...kafkaTestEnv,
        CLICKHOUSE_URL: clickhouseUrl,
        CLICKHOUSE_DATABASE: database,
        DATA_DIR: path.join(dir, name),
        FEEDS_FILE: ranker.feedsFile,
        FEEDGEN_PUBLISHER_DID: publisher,
        HTTP_PORT: String(port),
        HTTP_BIND_HOST: '127.0.0.1',
        OPS_PORT: String(await freePort()),
        LOG_LEVEL: 'warn',
        ADMIN_TOKEN: adminToken,
      }).start();
      servers.push({ process: child, url: `http://127.0.0.1:${port}` });
    }
    await waitFor('the replay in ClickHouse', async () => {
      const status = (await (await fetch(`${ranker.opsUrl}/status`)).json()) as { store: { events: number } };
      return status.store.events === generated.counts.mappable ? true : undefined;
    });
    for (const server of servers) await waitFor(server.process.name, async () => ((await fetch(`${server.url}/health`)).ok ? true : undefined), { context: logs });
  });

  afterAll(async () => {
    for (const server of servers) await server.process.stop();
    await ranker?.close();
    await replay?.close();
    await clickhouse?.stop();
    await broker?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const job = () => ranker.app.get(ScoreSnapshotJob);
  let first: SkeletonItem[] = [];
  let second: SkeletonItem[] = [];

  it('serves the edition to its end: exactly `size` posts in pages, then the end card pinned, and no cursor on the last page', async () => {
    // Before the ranker's run, the edition of the point two hours ago is the next one, due.
    const before = (await (await fetch(`${servers[0]!.url}/api/feeds/digest/editions`)).json()) as EditionsView;
    expect(before).toMatchObject({ editions: [], editionDue: true, nextEditionAt: new Date(latestCadencePoint(cadence, start)).toISOString() });
    const [run] = await job().runOnce(start);
    expect(run).toMatchObject({ feed: feedUri, edition: latestCadencePoint(cadence, start) });

    const a = await waitFor('the first edition', async () => {
      const paged = await pageThrough(servers[0]!.url, 4);
      return paged.items.length > 0 ? paged : undefined;
    }, { context: logs });
    expect(a.items).toHaveLength(SIZE + 1);
    expect(a.pages).toBe(Math.ceil((SIZE + 1) / 4));
    expect(a.cursors.every((cursor) => cursor.startsWith(`e${run!.edition}::`))).toBe(true);
    expect(new Set(a.items.map((item) => item.post)).size).toBe(SIZE + 1);
    expect(a.items.at(-1)).toEqual({ post: endCard, reason: { $type: 'app.bsky.feed.defs#skeletonReasonPin' } });
    for (const item of a.items.slice(0, -1)) expect(item.reason).toBeUndefined();
    first = a.items;

    // The same edition from the other process, and from the first again (a refresh), page size aside.
    expect((await pageThrough(servers[1]!.url, 4)).items).toEqual(first);
    expect((await pageThrough(servers[0]!.url, 100)).items).toEqual(first);
  });

  it('keeps serving the same edition until the next cadence point, whatever the ranker recomputes meanwhile', async () => {
    const [run] = await job().runOnce(start + 60_000);
    expect(run!.edition).toBeUndefined();
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    for (const server of servers) expect((await pageThrough(server.url, 50)).items).toEqual(first);
  });

  it('freezes a new edition at the next cadence point, with no post of the earlier one, served alike by both processes', async () => {
    const [run] = await job().runOnce(start + DAY_MS);
    expect(run!.edition).toBe(latestCadencePoint(cadence, start) + DAY_MS);
    const next = await waitFor('the next edition', async () => {
      const paged = await pageThrough(servers[0]!.url, 5);
      return paged.items[0]?.post !== first[0]!.post ? paged.items : undefined;
    }, { context: logs });
    expect(next).toHaveLength(SIZE + 1);
    expect(next.at(-1)!.post).toBe(endCard);
    const earlier = new Set(first.slice(0, -1).map((item) => item.post));
    for (const item of next.slice(0, -1)) expect(earlier.has(item.post)).toBe(false);
    await waitFor('the next edition on the other process', async () => {
      const other = (await pageThrough(servers[1]!.url, 3)).items;
      return other[0]?.post === next[0]!.post ? true : undefined;
    });
    expect((await pageThrough(servers[1]!.url, 3)).items).toEqual(next);

    const editions = (await (await fetch(`${servers[1]!.url}/api/feeds/digest/editions`)).json()) as EditionsView;
    expect(editions.editions.map((edition) => edition.edition)).toEqual([run!.edition, run!.edition! - DAY_MS]);
    expect(editions.editions.map((edition) => edition.posts.map((post) => post.uri))).toEqual([
      next.slice(0, -1).map((item) => item.post),
      first.slice(0, -1).map((item) => item.post),
    ]);
    expect(editions.editions[0]!.posts[0]!.supportedBy.length).toBeGreaterThan(1);
    expect(editions.endCard).toBe(endCard);
    expect(editions.editionDue).toBe(false);
    second = next;
  });

  it('explains a post by the edition a reader was served, and previews the edition the feed serves now', async () => {
    const url = servers[0]!.url;
    const [latest, earlier] = ((await (await fetch(`${url}/api/feeds/digest/editions`)).json()) as EditionsView).editions;
    const explain = async (post: string, snapshot?: string) => {
      const response = await fetch(`${url}/api/feeds/digest/explain?post=${encodeURIComponent(post)}${snapshot ? `&snapshot=${snapshot}` : ''}`);
      return { status: response.status, body: (await response.json()) as { edition?: number; rank: number | null; score: number | null; components: unknown; reason?: string; message?: string } };
    };
    // Without a cursor: the latest edition, which is what the feed serves.
    const top = await explain(second[0]!.post);
    expect(top).toMatchObject({ status: 200, body: { edition: latest!.edition, rank: 1, score: expect.any(Number), components: expect.objectContaining({}) } });
    // The earlier edition's first post is not in the latest; asked with the cursor a reader paged it with, it is there, first.
    expect((await explain(first[0]!.post)).body).toMatchObject({ edition: latest!.edition, rank: null, reason: expect.stringContaining('not in this edition') });
    expect((await explain(first[0]!.post, `e${earlier!.edition}`)).body).toMatchObject({ edition: earlier!.edition, rank: 1 });
    expect((await explain(first[1]!.post, String(earlier!.edition))).body).toMatchObject({ edition: earlier!.edition, rank: 2 });
    // The end card comes last, after the edition's posts; an edition that does not exist and a snapshot's cursor say so.
    expect((await explain(endCard)).body).toMatchObject({ rank: SIZE + 1, reason: expect.stringContaining('end card') });
    expect((await explain(first[0]!.post, `e${earlier!.edition - 1}`)).body).toMatchObject({ rank: null, reason: expect.stringContaining('no edition') });
    expect(await explain(first[0]!.post, 's1')).toMatchObject({ status: 400, body: { message: expect.stringContaining('another ordering') } });

    const preview = (await (await fetch(`${url}/api/admin/feeds/digest/preview`, { headers: { authorization: `Bearer ${adminToken}` } })).json()) as {
      edition: { id: number; posts: number } | null;
      snapshot: unknown;
      items: { post: string; rank: number }[];
    };
    expect(preview.edition).toMatchObject({ id: latest!.edition, posts: SIZE });
    expect(preview.items.map((item) => item.post)).toEqual(second.slice(0, -1).map((item) => item.post));
  });
});
