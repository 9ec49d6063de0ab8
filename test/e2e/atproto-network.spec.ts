import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { AtpAgent } from '@atproto/api';
import WebSocket from 'ws';
import type { JetstreamCommitEvent, JetstreamEvent } from '#lib/domain';
import { startPostgres, type StartedPostgres } from '../../scripts/postgres.mjs';
import { startAtprotoNetwork, type AtprotoNetwork, type TestAccount } from '../../libs/testing/src/atproto-network/index.js';

// The harness itself: PostgreSQL from Debian, the real PDS/AppView/PLC of @atproto/dev-env, and a Jetstream
// endpoint fed by the PDS firehose. Everything is started here and everything must be gone at the end.

const startupTimeoutMs = 180_000;
const testTimeoutMs = 60_000;

/** A Jetstream client on the raw protocol (plain `ws`), collecting every JSON frame. */
class JetstreamProbe {
  readonly events: JetstreamEvent[] = [];
  private readonly socket: WebSocket;

  private constructor(url: string) {
    this.socket = new WebSocket(url);
    this.socket.on('message', (data) => this.events.push(JSON.parse(data.toString()) as JetstreamEvent));
  }

  static async connect(subscribeUrl: string, query: Record<string, string | string[]>): Promise<JetstreamProbe> {
    const url = new URL(subscribeUrl);
    for (const [key, value] of Object.entries(query)) for (const item of [value].flat()) url.searchParams.append(key, item);
    const probe = new JetstreamProbe(url.toString());
    await once(probe.socket, 'open');
    return probe;
  }

  commits(): JetstreamCommitEvent[] {
    return this.events.filter((event): event is JetstreamCommitEvent => event.kind === 'commit');
  }

  async waitFor(predicate: (events: JetstreamEvent[]) => boolean, timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate(this.events)) {
      if (Date.now() > deadline) throw new Error(`Jetstream events not received in ${timeoutMs} ms; got ${JSON.stringify(this.events)}`);
      await sleep(20);
    }
  }

  async close(): Promise<void> {
    if (this.socket.readyState === WebSocket.CLOSED) return;
    const closed = once(this.socket, 'close');
    this.socket.close();
    await closed;
  }
}

/** PIDs of processes whose command line mentions `needle` (to prove nothing was left running). */
function processesMentioning(needle: string): number[] {
  const out = execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' });
  return out
    .split('\n')
    .filter((line) => line.includes(needle))
    .map((line) => Number(line.trim().split(/\s+/)[0]));
}

/** What the PDS and AppView would leave in the temp folder if the harness did not redirect them. */
function strayServiceFolders(before: ReadonlySet<string>): string[] {
  return readdirSync(tmpdir())
    .filter((name) => !before.has(name))
    .filter((name) => name === 'bsky--processed-images' || existsSync(path.join(tmpdir(), name, 'account.sqlite')));
}

const mib = (bytes: number) => Math.round(bytes / 1024 / 1024);

describe('local AT Protocol network (dev-env TestNetwork on PostgreSQL) with a Jetstream endpoint', () => {
  let postgres: StartedPostgres | undefined;
  let net: AtprotoNetwork | undefined;
  let alice: TestAccount;
  let bob: TestAccount;
  const probes: JetstreamProbe[] = [];
  const tmpBefore = new Set(readdirSync(tmpdir()));

  const started = () => {
    if (!net) throw new Error('network not started');
    return net;
  };

  beforeAll(async () => {
    const t0 = performance.now();
    postgres = await startPostgres();
    const t1 = performance.now();
    net = await startAtprotoNetwork({ postgresUrl: postgres.url });
    const t2 = performance.now();
    console.log(
      `[atproto-network] postgres ${Math.round(t1 - t0)} ms, network + jetstream ${Math.round(t2 - t1)} ms, ` +
        `total ${Math.round(t2 - t0)} ms; rss ${mib(process.memoryUsage().rss)} MiB`,
    );
  }, startupTimeoutMs);

  afterAll(async () => {
    // Safety net when a test failed before the last one: close() and stop() are idempotent.
    await Promise.all(probes.map((probe) => probe.close()));
    await net?.close();
    await postgres?.stop();
  }, 60_000);

  it('delivers posts and likes made on the PDS as Jetstream commit events', async () => {
    const network = started();
    const live = await JetstreamProbe.connect(network.jetstream!.subscribeUrl, {
      wantedCollections: ['app.bsky.feed.post', 'app.bsky.feed.like'],
    });
    probes.push(live);

    alice = await network.createAccount('alice');
    bob = await network.createAccount('bob');
    const post = await network.post(alice.did, 'hello from a local Bluesky');
    const likeUri = await network.like(bob.did, post);

    await live.waitFor(() => live.commits().some((event) => event.commit.collection === 'app.bsky.feed.like'));
    const commits = live.commits();
    expect(commits.map((event) => [event.did, event.commit.collection])).toEqual([
      [alice.did, 'app.bsky.feed.post'],
      [bob.did, 'app.bsky.feed.like'],
    ]);

    const [postEvent, likeEvent] = commits;
    expect(postEvent).toEqual({
      did: alice.did,
      time_us: expect.any(Number),
      kind: 'commit',
      commit: {
        rev: expect.any(String),
        operation: 'create',
        collection: 'app.bsky.feed.post',
        rkey: post.uri.rkey,
        cid: post.cidStr,
        record: expect.objectContaining({ $type: 'app.bsky.feed.post', text: 'hello from a local Bluesky', createdAt: expect.any(String) }),
      },
    });
    expect(likeEvent!.commit).toMatchObject({
      operation: 'create',
      rkey: likeUri.split('/').pop(),
      record: { $type: 'app.bsky.feed.like', subject: { uri: post.uriStr, cid: post.cidStr } },
    });
    expect(likeEvent!.time_us).toBeGreaterThan(postEvent!.time_us);
    // Identity and account events pass any collection filter, as in Jetstream; nothing else may come through.
    expect(live.events.every((event) => event.kind !== 'commit' || ['app.bsky.feed.post', 'app.bsky.feed.like'].includes(event.commit.collection))).toBe(true);
  }, testTimeoutMs);

  it('replays from a cursor and filters by DID; follows and list items come through too', async () => {
    const network = started();
    await network.follow(bob.did, alice.did);
    const list = await network.createList(alice.did, 'neighbours');
    await network.addToList(alice.did, bob.did, list);
    await network.syncJetstream();

    const replay = await JetstreamProbe.connect(network.jetstream!.subscribeUrl, { cursor: '0', wantedDids: alice.did });
    probes.push(replay);
    await replay.waitFor(() => replay.commits().some((event) => event.commit.collection === 'app.bsky.graph.listitem'));
    expect(replay.events.every((event) => event.did === alice.did)).toBe(true);
    const collections = replay.commits().map((event) => event.commit.collection);
    expect(collections).toEqual(expect.arrayContaining(['app.bsky.feed.post', 'app.bsky.graph.list', 'app.bsky.graph.listitem']));
    expect(collections).not.toContain('app.bsky.feed.like');
    expect(replay.events).toContainEqual(expect.objectContaining({ kind: 'identity', identity: expect.objectContaining({ did: alice.did, handle: alice.handle }) }));
    expect(replay.events).toContainEqual(expect.objectContaining({ kind: 'account', account: expect.objectContaining({ did: alice.did, active: true }) }));
    const listItem = replay.commits().find((event) => event.commit.collection === 'app.bsky.graph.listitem');
    expect(listItem!.commit.record).toMatchObject({ subject: bob.did, list: list.uriStr });
  }, testTimeoutMs);

  it('indexes the same activity in the AppView', async () => {
    const network = started();
    await network.syncAppView();
    const appview = new AtpAgent({ service: network.appviewUrl });
    const feed = await appview.app.bsky.feed.getAuthorFeed({ actor: alice.did });
    expect(feed.data.feed).toHaveLength(1);
    expect(feed.data.feed[0]!.post).toMatchObject({ likeCount: 1, author: { did: alice.did, handle: alice.handle } });
    const follows = await appview.app.bsky.graph.getFollows({ actor: bob.did });
    expect(follows.data.follows.map((profile) => profile.did)).toEqual([alice.did]);
  }, testTimeoutMs);

  it('stops everything and leaves no process or folder behind', async () => {
    const network = started();
    const pg = postgres!;
    const { dataDir } = network;
    console.log(
      `[atproto-network] peak rss ${mib(process.resourceUsage().maxRSS * 1024)} MiB, ` +
        `jetstream events ${network.jetstream!.eventCount}, firehose seq ${network.jetstream!.lastSeq}`,
    );
    expect(network.jetstream!.errors).toEqual([]);
    await Promise.all(probes.map((probe) => probe.close()));
    await network.close();
    await pg.stop();
    expect(existsSync(dataDir)).toBe(false);
    expect(existsSync(pg.dir)).toBe(false);
    expect(processesMentioning(pg.dir)).toEqual([]);
    expect(strayServiceFolders(tmpBefore)).toEqual([]);
    // dev-env's port claims of this process are released too (the folder goes once no process holds any).
    const claims = path.join(tmpdir(), `atproto-dev-env-ports-${process.getuid!()}`);
    const ours = existsSync(claims) ? readdirSync(claims).filter((entry) => readFileSync(path.join(claims, entry), 'utf8') === String(process.pid)) : [];
    expect(ours).toEqual([]);
    await expect(fetch(network.pdsUrl)).rejects.toThrow();
    await expect(fetch(network.appviewUrl)).rejects.toThrow();
  }, testTimeoutMs);
});
