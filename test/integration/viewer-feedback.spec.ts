/**
 * "Show less like this" works for the person who asked: a viewer's `sendInteractions` changes that
 * viewer's next page, on every replica, and nobody else's. Real processes: a ClickHouse front over
 * chDB, a scoring consumer and two feed generators joined by a real Kafka broker; real service-auth
 * tokens signed with keys a local PLC directory publishes.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Secp256k1Keypair } from '@atproto/crypto';
import { createServiceJwt } from '@atproto/xrpc-server';
import { applyMigrations, createClickHouseClient, EventRepository, ScoreRepository, type ClickHouseClient } from '#lib/clickhouse';
import type { PipelineEventV1 } from '#lib/contracts';
import { AppProcess, appEntry, chdbHttpEntry, freePort, kafkaTestEnv, startPlcDirectory, waitFor, type PlcDirectoryServer } from '#lib/testing';

const brokers = process.env.CG_TEST_KAFKA_BROKERS ?? process.env.KAFKA_BROKERS;
const serviceDid = 'did:web:feeds.common-ground.test';
const publisher = 'did:plc:publisher0000000000000000';
const feedUri = `at://${publisher}/app.bsky.feed.generator/ranked`;
const adminToken = 'admin-token-for-tests-0123456789';
const alice = 'did:plc:alice00000000000000000000';
const bob = 'did:plc:bob0000000000000000000000';
const frank = 'did:plc:frank00000000000000000000';
// Served nothing before the last case, so nothing of hers sinks however long the run takes.
const grace = 'did:plc:grace00000000000000000000';
const [dan, erin, carol] = ['did:plc:dan0000000000000000000000', 'did:plc:erin000000000000000000000', 'did:plc:carol00000000000000000000'];
const database = `viewer_feedback_${process.pid}`;
/** Positions of a ranked feed a personal order covers, in these replicas. */
const DEPTH = 12;

/** The ranking of the snapshot: 30 posts, carol's at ranks 20 and 28, dan's and erin's elsewhere. */
const ranked = Array.from({ length: 30 }, (_, index) => {
  const rank = index + 1;
  const author = rank === 20 || rank === 28 ? carol : rank % 2 === 0 ? dan : erin;
  const rkey = `3kpost${String(rank).padStart(7, '0')}`;
  return { rank, author, rkey, uri: `at://${author}/app.bsky.feed.post/${rkey}`, cid: `bafyrei${'abcdefghijklmnopqrstuvwxyz'[index % 26]}${'abc'[Math.floor(index / 26)]}aaaaaaaaaa` };
});
const uriAt = (rank: number) => ranked[rank - 1]!.uri;
const curation = `communities:
  club:
    members:
      dids: [${dan}, ${erin}, ${carol}]
feeds:
  ranked:
    displayName: Ranked
    communities: [club]
    ranking: bridging
`;

describe('per-viewer feedback at serving time, across two feed-generator processes', () => {
  let dir: string;
  let plc: PlcDirectoryServer;
  let clickhouse: AppProcess;
  let client: ClickHouseClient;
  const processes: AppProcess[] = [];
  /** Base URLs of the two feed generators. */
  const replicas: string[] = [];
  const keys = new Map<string, Secp256k1Keypair>();

  const token = (iss: string, lxm = 'app.bsky.feed.getFeedSkeleton') => createServiceJwt({ iss, aud: serviceDid, lxm, keypair: keys.get(iss)! });
  const logs = () => processes.map((process) => `--- ${process.name}\n${process.output.slice(-10).join('\n')}`).join('\n');
  const page = async (replica: number, viewer: string | undefined, limit: number, cursor?: string) => {
    const query = new URLSearchParams({ feed: feedUri, limit: String(limit), ...(cursor && { cursor }) });
    const response = await fetch(`${replicas[replica]}/xrpc/app.bsky.feed.getFeedSkeleton?${query}`, {
      headers: viewer ? { authorization: `Bearer ${await token(viewer)}` } : {},
    });
    if (!response.ok) throw new Error(`getFeedSkeleton ${response.status}: ${await response.text()}`);
    const body = (await response.json()) as { feed: { post: string }[]; cursor?: string };
    return { posts: body.feed.map((item) => item.post), cursor: body.cursor };
  };
  const send = async (replica: number, viewer: string, event: string, item: string, feedContext?: string) => {
    const response = await fetch(`${replicas[replica]}/xrpc/app.bsky.feed.sendInteractions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${await token(viewer, 'app.bsky.feed.sendInteractions')}` },
      body: JSON.stringify({ feed: feedUri, interactions: [{ item, event: `app.bsky.feed.defs#${event}`, feedContext }] }),
    });
    expect(response.status).toBe(200);
  };

  beforeAll(async () => {
    if (!brokers) throw new Error('this test needs a Kafka broker: run it with npm test, or set KAFKA_BROKERS');
    dir = await mkdtemp(path.join(os.tmpdir(), 'cg-viewer-feedback-'));
    await writeFile(path.join(dir, 'feeds.yaml'), curation);
    plc = await startPlcDirectory();
    for (const did of [alice, bob, frank, grace]) {
      const keypair = await Secp256k1Keypair.create();
      keys.set(did, keypair);
      plc.publish(did, keypair, `${did.slice(8, 13).replace(/0+$/, '')}.test`);
    }
    clickhouse = new AppProcess('clickhouse', chdbHttpEntry, {}, [path.join(dir, 'clickhouse')]).start();
    processes.push(clickhouse);
    const { url } = await clickhouse.firstJsonLine<{ url: string }>('url');
    client = createClickHouseClient({ kind: 'server', url, username: 'default', password: '', database });
    await applyMigrations(client, database);
    const now = Date.now() * 1000;
    const posts: PipelineEventV1[] = ranked.map((post) => ({
      v: 1, type: 'post', op: 'create', did: post.author, rkey: post.rkey, cid: post.cid, timeUs: now - post.rank * 1_000_000,
      createdAtMs: Math.floor(now / 1000) - post.rank * 1000, text: `post ${post.rank}`, langs: ['en'], tags: [],
      replyRoot: null, replyParent: null, quote: null, hasMedia: false,
    }));
    await new EventRepository(client, database).write(posts);
    await new ScoreRepository(client, database).writeSnapshot(
      feedUri,
      Date.now(),
      ranked.map((post) => ({ uri: post.uri, cid: post.cid, score: 1 / post.rank, feedContext: '{"v":1,"b":["club"],"d":[]}', components: { supportedBy: ['club'] } })),
    );

    const common = {
      KAFKA_BROKERS: brokers,
      KAFKA_TOPIC_PREFIX: `viewer${Date.now()}.`,
      KAFKA_PARTITIONS: '2',
      ...kafkaTestEnv,
      CLICKHOUSE_URL: url,
      CLICKHOUSE_DATABASE: database,
      FEEDS_FILE: path.join(dir, 'feeds.yaml'),
      FEEDGEN_SERVICE_DID: serviceDid,
      FEEDGEN_PUBLISHER_DID: publisher,
      PLC_URL: plc.url,
      IDENTITY_ALLOW_INSECURE: 'true',
      ADMIN_TOKEN: adminToken,
      HTTP_BIND_HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
    };
    const start = async (name: string, env: Record<string, string>) => {
      const [port, opsPort] = [await freePort(), await freePort()];
      const process = new AppProcess(name, appEntry, { ...common, ...env, DATA_DIR: path.join(dir, name), HTTP_PORT: String(port), OPS_PORT: String(opsPort) });
      processes.push(process.start());
      return `http://127.0.0.1:${port}`;
    };
    await start('scoring', { CG_ROLE: 'scoring', SCORING_SNAPSHOTS: 'false', SCORING_BATCH_SIZE: '100' });
    // A personal order covers the first 12 positions here: pages of 7 cross into the rest of the session.
    const replica = { CG_ROLE: 'feed-generator', VIEWER_FEEDBACK_DEPTH: String(DEPTH) };
    replicas.push(await start('feed-generator-a', replica), await start('feed-generator-b', replica));
    for (const replica of [0, 1]) {
      await waitFor(`feed generator ${replica}`, async () => (await page(replica, undefined, 1)).posts.length === 1, { timeoutMs: 120_000, context: logs });
    }
  }, 180_000);

  afterAll(async () => {
    for (const process of processes.toReversed()) await process.stop('SIGKILL');
    await client?.close();
    await plc?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('removes a post for the viewer who asked less of it, at once and on the other replica, and for nobody else', async () => {
    const everything = ranked.map((post) => post.uri);
    expect((await page(0, undefined, 100)).posts).toEqual(everything);
    // Both replicas hold alice's (empty) feedback before she says anything: the other one can only learn it from the bus.
    expect((await page(1, alice, 10)).posts).toEqual(everything.slice(0, 10));
    expect((await page(0, alice, 10)).posts).toEqual(everything.slice(0, 10));

    await send(0, alice, 'requestLess', uriAt(3));
    const onA = (await page(0, alice, 100)).posts;
    expect(onA).not.toContain(uriAt(3));
    expect([...onA].sort()).toEqual(everything.filter((uri) => uri !== uriAt(3)).sort());
    await waitFor('the other replica to drop the post for alice', async () => !(await page(1, alice, 100)).posts.includes(uriAt(3)), { context: logs });
    expect((await page(1, bob, 100)).posts).toEqual(everything);
  });

  it("raises an author alice asked more of, for alice only, and says so in alice's explanation", async () => {
    await send(1, alice, 'requestMore', uriAt(20), '{"v":1,"b":["club"],"d":[]}');
    // The first rank of carol's two posts moves from 20 and 28 to the top of alice's page, on both replicas.
    for (const replica of [1, 0]) {
      await waitFor(`carol's posts first for alice on replica ${replica}`, async () => {
        const top = (await page(replica, alice, 5)).posts;
        return top[0] === uriAt(20) && top[1] === uriAt(28);
      }, { context: logs });
    }
    const bobsTop = (await page(0, bob, 5)).posts;
    expect(bobsTop).toEqual(ranked.slice(0, 5).map((post) => post.uri));

    const explain = async (post: string, authorization?: string) => {
      const query = new URLSearchParams({ post, viewer: alice });
      return fetch(`${replicas[0]}/api/feeds/ranked/explain?${query}`, { headers: authorization ? { authorization } : {} });
    };
    const own = await explain(uriAt(28), `Bearer ${await token(alice)}`);
    expect(own.status).toBe(200);
    const body = (await own.json()) as { rank: number; personal: { reasons: { reason: string }[]; shift: number } };
    expect(body.rank).toBe(28);
    expect(body.personal.reasons.map((reason) => reason.reason)).toEqual(expect.arrayContaining(['you asked for more of this author']));
    const removed = (await (await explain(uriAt(3), `Bearer ${adminToken}`)).json()) as { personal: { removed: boolean; reasons: { reason: string }[] } };
    expect(removed.personal.removed).toBe(true);
    expect(removed.personal.reasons.map((reason) => reason.reason)).toEqual(
      expect.arrayContaining(['you asked for less of this post', 'you asked for less of this author']),
    );
    // Bob is signed in, and is not Alice: forbidden, not "sign in".
    expect((await explain(uriAt(28), `Bearer ${await token(bob)}`)).status).toBe(403);
    expect((await explain(uriAt(28))).status).toBe(401);
  });

  it('pages alice\'s personal order with every post once, in the same order from either replica, on past its depth', async () => {
    const served: string[] = [];
    const cursors: string[] = [];
    let cursor: string | undefined;
    for (let round = 0; round < 10; round += 1) {
      const fromA = await page(0, alice, 7, cursor);
      if (cursor) expect(await page(1, alice, 7, cursor)).toEqual(fromA);
      served.push(...fromA.posts);
      if (!fromA.cursor || fromA.posts.length === 0) break;
      cursors.push(fromA.cursor);
      cursor = fromA.cursor;
    }
    expect(new Set(served).size).toBe(served.length);
    expect([...served].sort()).toEqual(ranked.map((post) => post.uri).filter((uri) => uri !== uriAt(3)).sort());
    expect(served.slice(0, 2)).toEqual([uriAt(20), uriAt(28)]);
    // Past its depth the session goes on in the ranking's order, less what its personal order served.
    expect(cursors[0]).toMatch(/^p\d+-\d+::7::/);
    expect(cursors.slice(1)).toEqual(cursors.slice(1).map(() => expect.stringMatching(/^p\d+-\d+r::\d+::/)));
    const personal = new Set(served.slice(0, DEPTH));
    expect(served.slice(DEPTH)).toEqual(ranked.map((post) => post.uri).filter((uri) => !personal.has(uri) && uri !== uriAt(3)));
  });

  it('refuses a cursor past what a personal order covers, and goes on from a personal cursor for a signed-out reader', async () => {
    const first = await page(0, alice, 7);
    const [, session] = /^(p\d+-\d+)::/.exec(first.cursor!)!;
    const cid = ranked[0]!.cid;
    for (const cursor of [`${session}::${DEPTH + 1}::${cid}`, `${session}::9007199254740991::${cid}`, `${session}r::4294967296::${cid}`, `${session}::99999999999999999::${cid}`]) {
      const query = new URLSearchParams({ feed: feedUri, limit: '7', cursor });
      const response = await fetch(`${replicas[0]}/xrpc/app.bsky.feed.getFeedSkeleton?${query}`, { headers: { authorization: `Bearer ${await token(alice)}` } });
      expect({ cursor, status: response.status, error: ((await response.json()) as { error: string }).error }).toEqual({ cursor, status: 400, error: 'InvalidRequest' });
    }
    // A reader who signed out mid-scroll (or whose identity cannot be checked now) goes on in the ranking's order.
    const signedOut = await page(1, undefined, 7, first.cursor);
    expect(signedOut.posts).toEqual(ranked.slice(7, 14).map((post) => post.uri));
  });

  it('sinks the posts a viewer was served, on their next visit, on the replica that served them and on the other', async () => {
    const top = ranked.slice(0, 5).map((post) => post.uri);
    // Replica b holds frank's feedback first (serving him rank 1); then replica a serves him ranks 1 to 5.
    expect((await page(1, frank, 1)).posts).toEqual(top.slice(0, 1));
    expect((await page(0, frank, 5)).posts).toEqual(top);
    // A session counts what was served before it began (less the bus's settling time): a later visit
    // sees ranks 1 to 5 sunk on a (which served them) and on b (which heard of ranks 2 to 5 from a).
    for (const replica of [0, 1]) {
      await waitFor(`ranks 1 to 5 sunk for frank on replica ${replica}`, async () => {
        const posts = (await page(replica, frank, 5)).posts;
        return posts.length === 5 && posts.every((post) => !top.includes(post));
      }, { context: logs });
    }
    expect((await page(0, grace, 5)).posts).toEqual(top);
  });
});
