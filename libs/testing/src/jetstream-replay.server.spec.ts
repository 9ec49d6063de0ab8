import { afterEach, describe, expect, it } from '@jest/globals';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Jetstream } from '@skyware/jetstream';
import WebSocket from 'ws';
import { Nsid, type JetstreamEvent } from '#lib/domain';
import { RawLine, writeJsonl } from './jsonl.js';
import { RawFrame, startJetstreamReplayServer, type JetstreamReplayServer, type ReplayItem } from './jetstream-replay.server.js';
import { generateJetstreamEvents } from './synthetic-events.js';

// @NOTE These tests drive the real @skyware/jetstream client (the one ingest uses) against the replay
// server; only libs/jetstream imports it in production code.

const startUs = 1_732_000_000_000_000;
const alice = 'did:plc:ewvi7nxzyoun6zhxrhs64oiz';
const bob = 'did:plc:z72i7hdynmk6r22z27h6tvur';

/** A small hand-made stream: one event per collection of interest, 1 ms apart. */
function handMadeEvents(): JetstreamEvent[] {
  const t = (i: number): number => startUs + i * 1000;
  const commit = (i: number, did: string, collection: string, record: Record<string, unknown>): JetstreamEvent => ({
    did,
    time_us: t(i),
    kind: 'commit',
    commit: { rev: `3lbgbf3tqxs${10 + i}`, operation: 'create', collection, rkey: `3lbgbf3pgp${100 + i}`, record: { $type: collection, ...record }, cid: `bafyreib${i}` },
  });
  const post = `at://${bob}/app.bsky.feed.post/3lbgbdrc2h22k`;
  return [
    commit(0, alice, Nsid.post, { text: 'hello', createdAt: '2024-11-19T07:06:40Z' }),
    commit(1, bob, Nsid.like, { subject: { uri: post, cid: 'bafyreia' }, createdAt: '2024-11-19T07:06:41Z' }),
    commit(2, alice, Nsid.follow, { subject: bob, createdAt: '2024-11-19T07:06:42Z' }),
    { did: bob, time_us: t(3), kind: 'identity', identity: { did: bob, handle: 'bob.example.com', seq: 1, time: '2024-11-19T07:06:43Z' } },
    commit(4, bob, Nsid.block, { subject: alice, createdAt: '2024-11-19T07:06:44Z' }),
    commit(5, alice, Nsid.list, { name: 'friends', purpose: 'app.bsky.graph.defs#curatelist', createdAt: '2024-11-19T07:06:45Z' }),
    commit(6, alice, Nsid.listitem, { subject: bob, list: `at://${alice}/app.bsky.graph.list/3kbdw7a2qfk2c`, createdAt: '2024-11-19T07:06:46Z' }),
    { did: alice, time_us: t(7), kind: 'account', account: { active: false, did: alice, seq: 2, time: '2024-11-19T07:06:47Z', status: 'deactivated' } },
    commit(8, bob, Nsid.repost, { subject: { uri: post, cid: 'bafyreia' }, createdAt: '2024-11-19T07:06:48Z' }),
    commit(9, bob, 'app.bsky.actor.profile', { displayName: 'Bob' }),
  ];
}

type Received = { did: string; time_us: number; kind: string; commit?: { collection: string } };

interface Client {
  jetstream: Jetstream;
  received: Received[];
  errors: { error: Error; cursor: number | undefined }[];
  rawFrames: string[];
  opens: number;
  closes: number;
}

const clients: Jetstream[] = [];
const servers: JetstreamReplayServer[] = [];

afterEach(async () => {
  for (const jetstream of clients.splice(0)) jetstream.close();
  for (const server of servers.splice(0)) await server.close();
});

async function serve(...args: Parameters<typeof startJetstreamReplayServer>): Promise<JetstreamReplayServer> {
  const server = await startJetstreamReplayServer(...args);
  servers.push(server);
  return server;
}

interface ConnectOptions {
  wantedCollections?: string[];
  wantedDids?: string[];
  cursor?: number;
  /** WebSocket implementation: Node's global one (undici) when absent, or the `ws` package. */
  ws?: unknown;
}

function connectClient(server: JetstreamReplayServer, options: ConnectOptions = {}): Client {
  const jetstream = new Jetstream({ endpoint: server.subscribeUrl, ...options });
  clients.push(jetstream);
  const client: Client = { jetstream, received: [], errors: [], rawFrames: [], opens: 0, closes: 0 };
  jetstream.on('commit', (event) => client.received.push(event as Received));
  jetstream.on('identity', (event) => client.received.push(event as Received));
  jetstream.on('account', (event) => client.received.push(event as Received));
  jetstream.on('error', (error, cursor) => client.errors.push({ error, cursor }));
  jetstream.on('open', () => (client.opens += 1));
  jetstream.on('close', () => (client.closes += 1));
  jetstream.start();
  // The raw socket (partysocket, kept across reconnects) sees every frame, even those the client drops.
  jetstream.ws!.addEventListener('message', (message: MessageEvent) => client.rawFrames.push(String(message.data)));
  return client;
}

async function waitFor(condition: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10, undefined, { ref: false });
  }
}

describe.each([
  ['Node WebSocket', undefined],
  ['ws package', WebSocket],
])('startJetstreamReplayServer with @skyware/jetstream over %s', (_name, ws) => {
  const connect = (server: JetstreamReplayServer, options: ConnectOptions = {}): Client => connectClient(server, { ...options, ws });

  it('filters by wantedCollections with a prefix wildcard, and always sends identity and account events', async () => {
    const events = handMadeEvents();
    const server = await serve({ events });
    const client = connect(server, { wantedCollections: [Nsid.post, 'app.bsky.graph.*'] });
    // post, follow, identity, block, list, listitem, account
    await waitFor(() => client.received.length >= 7, 5000, '7 events');
    await sleep(100);
    expect(client.received.map((e) => e.commit?.collection ?? e.kind)).toEqual([
      Nsid.post,
      Nsid.follow,
      'identity',
      Nsid.block,
      Nsid.list,
      Nsid.listitem,
      'account',
    ]);
    // @skyware/jetstream appends one wantedCollections parameter per entry to the endpoint URL.
    expect(client.jetstream.url.searchParams.getAll('wantedCollections')).toEqual([Nsid.post, 'app.bsky.graph.*']);
    expect(server.connections()[0]).toMatchObject({ wantedCollections: [Nsid.post, 'app.bsky.graph.*'], cursor: null, open: true });
  });

  it('filters by wantedDids, identity and account events included', async () => {
    const server = await serve({ events: handMadeEvents() });
    const client = connect(server, { wantedDids: [bob] });
    await waitFor(() => client.received.length >= 5, 5000, "bob's events");
    await sleep(100);
    expect(client.received.every((e) => e.did === bob)).toBe(true);
    expect(client.received.map((e) => e.kind)).toContain('identity');
    expect(client.received).toHaveLength(5);
  });

  it('sends events in time_us order even when loaded out of order, and resumes exactly from a cursor', async () => {
    const events = handMadeEvents();
    const shuffled = [events[3]!, events[0]!, events[9]!, events[1]!, events[7]!, events[2]!, events[8]!, events[5]!, events[4]!, events[6]!];
    const server = await serve({ events: shuffled });
    const all = connect(server);
    await waitFor(() => all.received.length === 10, 5000, 'all events');
    expect(all.received.map((e) => e.time_us)).toEqual(events.map((e) => e.time_us));

    const cursor = events[6]!.time_us;
    const resumed = connect(server, { cursor });
    await waitFor(() => resumed.received.length === 4, 5000, 'events from the cursor');
    await sleep(100);
    // Jetstream's cursor is inclusive: the event at the cursor time is sent again.
    expect(resumed.received.map((e) => e.time_us)).toEqual(events.slice(6).map((e) => e.time_us));
    expect(resumed.jetstream.url.toString()).toContain(`cursor=${cursor}`);
    expect(server.connections()[1]).toMatchObject({ cursor, cursorClamped: false, startTimeUs: cursor });
  });

  it('clamps a cursor older than retention to the oldest retained event, silently', async () => {
    const events = handMadeEvents();
    const server = await serve({ events, retentionStartUs: events[4]!.time_us });
    const client = connect(server, { cursor: startUs - 3_600_000_000 });
    await waitFor(() => client.received.length === 6, 5000, 'retained events');
    await sleep(100);
    // The client only sees that the first event is much later than its cursor: it must detect the gap itself.
    expect(client.received[0]!.time_us).toBe(events[4]!.time_us);
    expect(server.connections()[0]).toMatchObject({ cursorClamped: true, startTimeUs: events[4]!.time_us });
    expect(client.errors).toEqual([]);
  });

  it('delivers malformed frames; the client reports non-JSON as "error" with its cursor and keeps the connection', async () => {
    const events = handMadeEvents();
    const items: ReplayItem[] = [
      events[0]!,
      new RawLine('{"did":"did:plc:', events[0]!.time_us),
      events[1]!,
      new RawLine('null', events[1]!.time_us),
      events[2]!,
      // Valid JSON that @skyware/jetstream drops without a word: a commit without rkey, an array.
      new RawLine(JSON.stringify({ did: alice, time_us: events[2]!.time_us + 1, kind: 'commit', commit: { rev: 'x', operation: 'delete', collection: Nsid.like } }), events[2]!.time_us + 1),
      new RawLine('[1,2,3]', events[2]!.time_us + 2),
      // Valid JSON, structurally wrong for our mapping but passed on by the client.
      new RawLine(JSON.stringify({ did: alice, kind: 'commit', commit: { rev: 'x', operation: 'delete', collection: Nsid.like, rkey: '3lbgbf3pgps2x' } }), events[2]!.time_us + 3),
      events[3]!,
    ];
    const server = await serve({ events: items });
    const client = connect(server);
    await waitFor(() => client.rawFrames.length === items.length, 5000, 'all frames');
    await sleep(100);

    expect(client.rawFrames[1]).toBe('{"did":"did:plc:');
    // Truncated JSON: SyntaxError from JSON.parse. "null": TypeError reading null.time_us. The cursor is
    // the last good event's time, unchanged by the bad frame.
    expect(client.errors.map((e) => [e.error.name, e.cursor])).toEqual([
      ['SyntaxError', events[0]!.time_us],
      ['TypeError', events[1]!.time_us],
    ]);
    // The missing-rkey commit and the array vanish; the event without time_us is emitted as a commit.
    expect(client.received.map((e) => e.time_us)).toEqual([events[0]!.time_us, events[1]!.time_us, events[2]!.time_us, undefined, events[3]!.time_us]);
    expect(client.opens).toBe(1);
    expect(client.closes).toBe(0);
    expect(server.connections()).toHaveLength(1);
  });

  it('reports an exception thrown by a listener as "error", without losing the connection', async () => {
    const server = await serve({ events: handMadeEvents() });
    const jetstream = new Jetstream({ endpoint: server.subscribeUrl, ws });
    clients.push(jetstream);
    const seen: number[] = [];
    const errors: string[] = [];
    jetstream.on('commit', (event) => {
      seen.push(event.time_us);
      if (seen.length === 1) throw new Error('downstream failed');
    });
    jetstream.on('error', (error) => errors.push(error.message));
    jetstream.start();
    await waitFor(() => seen.length === 8, 5000, 'commits');
    expect(errors).toEqual(['downstream failed']);
  });

  it('reconnects after a dropped connection and resumes from the last event received (one duplicate)', async () => {
    const { events } = generateJetstreamEvents({ seed: 11, users: 50, events: 300, startUs });
    const server = await serve({ events, dropAfterFrames: [120] });
    const client = connect(server);
    await waitFor(() => client.received.length >= 300, 20_000, 'replay after the reconnect');
    await sleep(100);

    const [first, second] = server.connections();
    expect(first).toMatchObject({ dropped: true, sent: 120, open: false });
    const lastBeforeDrop = (events[119] as JetstreamEvent).time_us;
    // @skyware/jetstream rebuilt its URL with cursor = time_us of the last event it received.
    expect(second).toMatchObject({ cursor: lastBeforeDrop, cursorClamped: false, open: true });
    expect(client.opens).toBe(2);
    expect(client.closes).toBe(1);
    // At-least-once: the event at the cursor arrives twice, nothing is lost or reordered.
    const times = client.received.map((e) => e.time_us);
    expect(times).toHaveLength(301);
    expect(times[119]).toBe(lastBeforeDrop);
    expect(times[120]).toBe(lastBeforeDrop);
    expect([...new Set(times)]).toEqual(events.map((e) => (e as JetstreamEvent).time_us));
  }, 30_000);
});

describe('startJetstreamReplayServer with a raw WebSocket client', () => {
  async function open(url: string): Promise<{ ws: WebSocket; frames: string[]; closed: Promise<void> }> {
    const ws = new WebSocket(url);
    const frames: string[] = [];
    ws.on('message', (data) => frames.push(data.toString()));
    const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return { ws, frames, closed };
  }

  // @NOTE 60k events: more than the 40k bound below, so a server that ignored backpressure would
  // send them all while the client does not read, and fail it.
  it('holds back when the client does not read (backpressure), then delivers all 60k events in order', async () => {
    const total = 60_000;
    const { events } = generateJetstreamEvents({ seed: 2, users: 5000, events: total, startUs });
    const server = await serve({ events, highWaterMarkBytes: 256 * 1024 });
    const ws = new WebSocket(server.subscribeUrl);
    ws.once('open', () => ws.pause());
    let received = 0;
    let lastTime = 0;
    let outOfOrder = 0;
    ws.on('message', (data) => {
      const timeUs = (JSON.parse(data.toString()) as { time_us: number }).time_us;
      if (timeUs < lastTime) outOfOrder += 1;
      lastTime = timeUs;
      received += 1;
    });
    // The client stops reading (at the TCP level) right after the handshake.
    await waitFor(() => ws.isPaused, 5000, 'paused client');
    // The server sends until the kernel socket buffers and its high-water mark are full, then stops.
    let sentWhilePaused = -1;
    for (let i = 0; i < 50 && server.sentCount !== sentWhilePaused; i++) {
      sentWhilePaused = server.sentCount;
      await sleep(300);
    }
    process.stdout.write(`frames sent to a client that does not read: ${sentWhilePaused}\n`);
    expect(server.sentCount).toBe(sentWhilePaused);
    expect(sentWhilePaused).toBeLessThan(40_000);

    const started = performance.now();
    ws.resume();
    await waitFor(() => received === total, 60_000, 'all events');
    const seconds = (performance.now() - started) / 1000;
    process.stdout.write(`replayed ${total} events to one client in ${seconds.toFixed(2)} s (${Math.round(total / seconds)} events/s)\n`);
    expect(outOfOrder).toBe(0);
    ws.close();
  }, 90_000);

  it('serves several clients with different filters at once, paces, pauses and resumes', async () => {
    const { events, counts } = generateJetstreamEvents({ seed: 4, users: 200, events: 2000, startUs });
    const server = await serve({ events, pace: { eventsPerSecond: 2000 } });
    const likes = await open(`${server.subscribeUrl}?wantedCollections=${Nsid.like}`);
    const everything = await open(server.subscribeUrl);
    await waitFor(() => everything.frames.length >= 200, 5000, 'first frames');
    server.pause();
    await sleep(50);
    const frozen = server.sentCount;
    await sleep(200);
    expect(server.sentCount).toBe(frozen);
    server.resume();
    await waitFor(() => everything.frames.length === 2000, 10_000, 'all frames');
    const likeFrames = likes.frames.map((f) => JSON.parse(f) as JetstreamEvent);
    const nonLikes = likeFrames.filter((e) => e.kind === 'commit' && e.commit.collection !== Nsid.like);
    expect(nonLikes).toEqual([]);
    expect(likeFrames.filter((e) => e.kind === 'commit' && e.commit.operation === 'create')).toHaveLength(counts.like);
    likes.ws.close();
    everything.ws.close();
  }, 20_000);

  it('replays a JSONL file (raw non-JSON lines as malformed frames) and injects extra malformed frames', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'replay-'));
    try {
      const events = handMadeEvents();
      const path = join(dir, 'events.jsonl');
      await writeJsonl(path, [...events.slice(0, 5), new RawLine('<html>502 Bad Gateway</html>'), ...events.slice(5)]);
      const server = await serve({ events: path, malformedFrames: { every: 4 } });
      expect(server.frameCount).toBe(11);
      const client = await open(server.subscribeUrl);
      // 11 lines + a malformed frame injected after the 4th and the 8th frame.
      await waitFor(() => client.frames.length === 11 + 2, 5000, 'frames');
      expect(client.frames[3]).toBe(JSON.stringify(events[3]));
      expect(client.frames[4]).toBe('{"did":"did:plc:');
      expect(client.frames.filter((f) => f === '<html>502 Bad Gateway</html>')).toHaveLength(1);
      const unparsable = client.frames.filter((f) => {
        try {
          JSON.parse(f);
          return false;
        } catch {
          return true;
        }
      });
      expect(unparsable).toHaveLength(3);
      client.ws.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('waits for options_update when requireHello is set, then applies its filters', async () => {
    const server = await serve({ events: handMadeEvents() });
    const client = await open(`${server.subscribeUrl}?requireHello=true`);
    await sleep(150);
    expect(client.frames).toEqual([]);
    client.ws.send(JSON.stringify({ type: 'options_update', payload: { wantedCollections: [Nsid.follow, Nsid.block], wantedDids: [], maxMessageSizeBytes: 0 } }));
    await waitFor(() => client.frames.length === 4, 5000, 'filtered frames');
    await sleep(100);
    expect(client.frames.map((f) => (JSON.parse(f) as Received).commit?.collection ?? (JSON.parse(f) as Received).kind)).toEqual([
      Nsid.follow,
      'identity',
      Nsid.block,
      'account',
    ]);
    client.ws.close();
  });

  it('answers 400 to invalid parameters, like Jetstream', async () => {
    const server = await serve({ events: handMadeEvents() });
    for (const query of ['cursor=abc', 'wantedCollections=not-an-nsid', 'wantedDids=bob.bsky.social', 'compress=true']) {
      const status = await new Promise<number>((resolve) => {
        const ws = new WebSocket(`${server.subscribeUrl}?${query}`);
        ws.on('unexpected-response', (_request, response) => {
          resolve(response.statusCode ?? 0);
          ws.terminate();
        });
        ws.on('error', () => undefined);
      });
      expect(status).toBe(400);
    }
    expect(server.connections()).toEqual([]);
  });

  it('close() terminates every socket and stops listening', async () => {
    const server = await startJetstreamReplayServer({ events: handMadeEvents(), noCursor: 'live' });
    const a = await open(server.subscribeUrl);
    const b = await open(`${server.subscribeUrl}?cursor=${startUs}`);
    await waitFor(() => b.frames.length === 10, 5000, 'replay');
    expect(a.frames).toEqual([]);
    server.push({ did: bob, time_us: startUs + 60_000_000, kind: 'identity', identity: { did: bob, handle: 'bob.bsky.social', seq: 3, time: '2024-11-19T07:07:40Z' } });
    await waitFor(() => a.frames.length === 1 && b.frames.length === 11, 5000, 'pushed event');
    await server.close();
    await Promise.all([a.closed, b.closed]);
    expect(server.connections().every((c) => !c.open)).toBe(true);
    await expect(open(server.subscribeUrl)).rejects.toThrow();
  });
});

describe('startJetstreamReplayServer with raw frames', () => {
  it('sends RawFrames verbatim in their place: text with newlines, invalid JSON, and binary frames', async () => {
    const events = handMadeEvents();
    const t0 = events[0]!.time_us;
    const binary = Uint8Array.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 0xff, 0x0a]);
    const items: ReplayItem[] = [
      events[0]!,
      new RawFrame('{"did":\n"did:plc:x"', { timeUs: t0 + 1 }),
      new RawFrame(binary, { timeUs: t0 + 2, binary: true }),
      // Without a time it keeps its place after the frame before it.
      new RawFrame('after the binary frame'),
      events[1]!,
    ];
    const server = await serve({ events: items });
    const socket = new WebSocket(server.subscribeUrl);
    const frames: { binary: boolean; data: Buffer }[] = [];
    socket.on('message', (data: Buffer, isBinary: boolean) => frames.push({ binary: isBinary, data }));
    try {
      await waitFor(() => frames.length === items.length, 5000, 'all frames');
      expect(frames.map((frame) => frame.binary)).toEqual([false, false, true, false, false]);
      expect(frames[1]!.data.toString('utf8')).toBe('{"did":\n"did:plc:x"');
      expect(Uint8Array.from(frames[2]!.data)).toEqual(binary);
      expect(frames[3]!.data.toString('utf8')).toBe('after the binary frame');
      expect((JSON.parse(frames[4]!.data.toString('utf8')) as { time_us: number }).time_us).toBe(events[1]!.time_us);
      expect(server.sentCount).toBe(items.length);
    } finally {
      socket.terminate();
    }
  });
});
