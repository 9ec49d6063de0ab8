import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { AtpAgent } from '@atproto/api';
import { getServiceEndpoint, getVerificationMaterial } from '@atproto/common';
import { Secp256k1Keypair } from '@atproto/crypto';
import { getDidKeyFromMultibase, type DidDocument } from '@atproto/identity';
import { Subscription } from '@atproto/xrpc-server';
import WebSocket from 'ws';
import { EventRepository, LabelRepository } from '#lib/clickhouse';
import { loadConfig, type AppConfig } from '#lib/config';
import type { PipelineEventV1 } from '#lib/contracts';
import { signLabel, verifyLabel, type Label } from '#lib/labels';
import { APP_CONFIG, Metrics } from '#lib/platform';
import { capturedLogger, generateCid, mulberry32, startJetstreamReplayServer, startPlcDirectory, testAppEnv, waitFor, type JetstreamReplayServer } from '#lib/testing';
import { startApp, type RunningApp } from '../../services/app/src/app.factory.js';
import { LabelerSubscriber } from '../../services/scoring/src/labeler.subscriber.js';
import { ScoreSnapshotJob } from '../../services/scoring/src/score-snapshot.job.js';

const publisher = 'did:plc:publisher0000000000000000';
// The feed generator's own did:web is the labeler, as in the demo: its did.json names the key.
const labeler = 'did:web:localhost';
const author = 'did:plc:author000000000000000000';
const camp = (name: string) => Array.from({ length: 8 }, (_, i) => `did:plc:${name}${String(i).padStart(20, '0')}`);
const left = camp('left');
const right = camp('right');
const north = camp('north');
const south = camp('south');

/** The curator file: `across` over left and right_2; with `club`, a members-only feed over north and south too. */
const curationWith = ({ acrossMembersOnly = false, club = false } = {}) => `
communities:
  left:
    members: { dids: [${left.join(', ')}] }
  right_2:
    members: { dids: [${right.join(', ')}] }
  north:
    members: { dids: [${north.join(', ')}] }
  south:
    members: { dids: [${south.join(', ')}] }
feeds:
  across:
    displayName: Across
    communities: [left, right_2]
    ranking: bridging
    membersOnly: ${acrossMembersOnly}
${club ? '  club:\n    displayName: Club\n    communities: [north, south]\n    ranking: bridging\n    membersOnly: true\n' : ''}`;
const curation = curationWith();

const nowUs = Date.now() * 1000;
const rng = mulberry32(13);
const cids = new Map<string, string>();
/** A real CID per name, as the lexicon wants one on a label. */
const cidOf = (name: string) => cids.get(name) ?? cids.set(name, generateCid(rng)).get(name)!;
const postUri = (rkey: string) => `at://${author}/app.bsky.feed.post/${rkey}`;
const post = (rkey: string, ageMin: number): PipelineEventV1 => ({
  v: 1, type: 'post', op: 'create', did: author, rkey, cid: cidOf(rkey), timeUs: nowUs - ageMin * 60e6, createdAtMs: nowUs / 1000 - ageMin * 60e3,
  text: rkey, langs: ['en'], tags: [], replyRoot: null, replyParent: null, quote: null, hasMedia: false,
});
const likes = (rkey: string, actors: readonly string[]): PipelineEventV1[] =>
  actors.map((did, i) => ({ v: 1, type: 'like', op: 'create', did, rkey: `like${rkey}${i}`, cid: cidOf(`like${rkey}${i}`), timeUs: nowUs - 60e6 + i, createdAtMs: nowUs / 1000 - 60e3, subjectUri: postUri(rkey), subjectCid: cidOf(rkey) }));

interface LabelsFrame {
  $type: string;
  seq?: number;
  labels?: Label[];
  name?: string;
}

/** Frames from subscribeLabels until `until` says stop (then the connection is closed). */
async function subscribe(url: string, cursor: number | undefined, until: (frames: LabelsFrame[]) => boolean): Promise<LabelsFrame[]> {
  const controller = new AbortController();
  const frames: LabelsFrame[] = [];
  const subscription = new Subscription<LabelsFrame>({
    service: url.replace('http', 'ws'),
    method: 'com.atproto.label.subscribeLabels',
    signal: controller.signal,
    getParams: () => (cursor === undefined ? {} : { cursor }),
    validate: (value) => value as LabelsFrame,
  });
  try {
    for await (const frame of subscription) {
      frames.push(frame);
      if (until(frames)) break;
    }
  } finally {
    controller.abort();
  }
  return frames;
}

describe('our labeler: labels from snapshot provenance, queryLabels and subscribeLabels', () => {
  let dir: string;
  let replay: JetstreamReplayServer;
  let running: RunningApp;
  let key: Secp256k1Keypair;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'cg-labeler-'));
    await writeFile(path.join(dir, 'feeds.yaml'), curation);
    key = await Secp256k1Keypair.create({ exportable: true });
    replay = await startJetstreamReplayServer({ events: [] });
    running = await startApp(
      loadConfig(
        testAppEnv({
          name: 'labeler',
          dataDir: dir,
          feedsFile: path.join(dir, 'feeds.yaml'),
          jetstreamUrl: replay.subscribeUrl,
          overrides: {
            FEEDGEN_PUBLISHER_DID: publisher,
            SCORING_SNAPSHOTS: 'false',
            LABELER_DID: labeler,
            LABELER_SIGNING_KEY: Buffer.from(await key.export()).toString('hex'),
            LABELS_POLL_MS: '100',
            LABELS_MAX_SUBSCRIBERS: '2',
          },
        }),
      ),
    );
    await running.app.get(EventRepository).write([
      post('bridge', 30),
      post('leftonly', 20),
      ...likes('bridge', [...left, ...right]),
      ...likes('leftonly', left),
    ]);
    await running.app.get(ScoreSnapshotJob).runOnce();
  });

  afterAll(async () => {
    await running?.close();
    await replay?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('labels the bridging post from its provenance, signed with our key, served by queryLabels', async () => {
    const agent = new AtpAgent({ service: running.url });
    const { data } = await agent.com.atproto.label.queryLabels({ uriPatterns: ['*'] });
    const onBridge = data.labels.filter((label) => label.uri === postUri('bridge'));
    expect(onBridge.map((label) => label.val).sort()).toEqual(['common-ground', 'supported-by-left', 'supported-by-right-two']);
    for (const label of data.labels) {
      expect(label).toMatchObject({ ver: 1, src: labeler });
      expect(await verifyLabel(label as Label, key.did())).toBe(true);
    }
    const byPrefix = await agent.com.atproto.label.queryLabels({ uriPatterns: [`at://${author}/*`], limit: 1 });
    expect(byPrefix.data.labels).toHaveLength(1);
    expect(byPrefix.data.cursor).toBeDefined();
    const none = await agent.com.atproto.label.queryLabels({ uriPatterns: ['at://did:plc:nobody/*'] });
    expect(none.data.labels).toEqual([]);
    await expect(agent.com.atproto.label.queryLabels({ uriPatterns: ['at://*/x'] })).rejects.toThrow(/invalid pattern/);
    await expect(agent.com.atproto.label.queryLabels({ uriPatterns: ['*'], sources: ['notadid'] })).rejects.toThrow(/sources must be a list of DIDs/);
    expect((await agent.com.atproto.label.queryLabels({ uriPatterns: ['*'], sources: [labeler] })).data.labels.length).toBeGreaterThan(0);
    // A cursor is a sequence number of at most 15 digits (a double holds it exactly): past that, a bad request.
    await expect(agent.com.atproto.label.queryLabels({ uriPatterns: ['*'], cursor: '99999999999999999999' })).rejects.toThrow(/invalid cursor/);
  });

  it('the did:web document names our #atproto_label key and #atproto_labeler endpoint', async () => {
    const doc = (await (await fetch(`${running.url}/.well-known/did.json`)).json()) as DidDocument;
    expect(getDidKeyFromMultibase(getVerificationMaterial(doc, 'atproto_label')!)).toBe(key.did());
    expect(getServiceEndpoint(doc, { id: '#atproto_labeler', type: 'AtprotoLabeler' })).toBe('https://localhost');
    expect(getServiceEndpoint(doc, { id: '#bsky_fg', type: 'BskyFeedGenerator' })).toBe('http://localhost');
  });

  it('a subscriber that reconnects with its cursor gets every label once, in order, including the negation of a deleted post', async () => {
    const first = await subscribe(running.url, 0, (frames) => frames.length === 2);
    const cursor = first[first.length - 1]!.seq!;
    // The bridging post is deleted: the next snapshot leaves it out and its labels are negated.
    await running.app.get(EventRepository).write([{ v: 1, type: 'post', op: 'delete', did: author, rkey: 'bridge', timeUs: nowUs + 1 }]);
    const emitted = await running.app.get(ScoreSnapshotJob).runOnce(Date.now() + 1_000);
    expect(emitted).toHaveLength(1);
    const total = await running.app.get(LabelRepository).lastSeq();
    const rest = await subscribe(running.url, cursor, (frames) => frames[frames.length - 1]?.seq === total);
    const all = [...first, ...rest];
    expect(all.map((frame) => frame.seq)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    // Other posts' labels may move with the refit too; the deleted post loses all of its own.
    const negations = all.flatMap((frame) => frame.labels ?? []).filter((label) => label.neg && label.uri === postUri('bridge'));
    expect(negations.map((label) => label.val).sort()).toEqual(['common-ground', 'supported-by-left', 'supported-by-right-two']);
    for (const label of all.flatMap((frame) => frame.labels ?? [])) expect(await verifyLabel(label, key.did())).toBe(true);
  });

  it('a live subscriber receives new labels as they are stored', async () => {
    const before = await running.app.get(LabelRepository).lastSeq();
    const live = subscribe(running.url, undefined, (frames) => frames.length === 1);
    await waitFor('the subscriber to connect', async () => ((await running.app.get(Metrics).labelSubscribers.get()).values[0]?.value === 1 ? true : undefined));
    await running.app.get(EventRepository).write([post('again', 5), ...likes('again', [...left, ...right])]);
    await running.app.get(ScoreSnapshotJob).runOnce(Date.now() + 2_000);
    const [frame] = await live;
    expect(frame?.seq).toBe(before + 1);
  });

  it('a cursor older than the kept history is told OutdatedCursor, then gets what is kept; a future cursor is refused', async () => {
    await running.app.get(LabelRepository).prune(new Date(Date.now() + 60_000).toISOString());
    const kept = await running.app.get(LabelRepository).after(0, 1_000);
    const frames = await subscribe(running.url, 1, (all) => all.length === kept.length + 1);
    expect(frames[0]).toMatchObject({ $type: 'com.atproto.label.subscribeLabels#info', name: 'OutdatedCursor' });
    expect(frames.slice(1).map((frame) => frame.seq)).toEqual(kept.map((label) => label.seq));
    await expect(subscribe(running.url, 1_000_000, () => true)).rejects.toThrow(/FutureCursor|Cursor in the future/);
    // Cursor 0 asks for the whole kept history: nothing is outdated about it.
    const fromStart = await subscribe(running.url, 0, (all) => all.length === kept.length);
    expect(fromStart.map((frame) => frame.seq)).toEqual(kept.map((label) => label.seq));
  });

  it('reads a followed labeler again from its start when our cursor is in its future (it numbers its labels anew)', async () => {
    const plc = await startPlcDirectory();
    const followed = 'did:plc:renumbered0000000000000000';
    plc.publish(followed, key, 'renumbered.test', { key, endpoint: running.url });
    const repository = running.app.get(LabelRepository);
    // A cursor from before the labeler was renumbered: past every label it has now.
    await repository.saveCursor(followed, 1_000_000);
    const base = running.app.get<AppConfig>(APP_CONFIG);
    const config: AppConfig = {
      ...base,
      scoring: { ...base.scoring, snapshots: true },
      labeler: { ...base.labeler, subscribe: [followed] },
      feedGenerator: { ...base.feedGenerator, plcUrl: plc.url, identityAllowInsecure: true },
    };
    const subscriber = new LabelerSubscriber(config, repository, running.app.get(Metrics), capturedLogger().logger);
    try {
      subscriber.onApplicationBootstrap();
      const newest = await repository.lastSeq();
      // Every label is read again (and refused here: they are signed as did:web:localhost, not as the followed DID).
      const entry = await waitFor('the labeler read again from its start', () => subscriber.followed().find((labeler) => labeler.cursor === newest));
      expect(entry.rejected).toBeGreaterThan(0);
      expect(await repository.cursorOf(followed)).toBe(newest);
    } finally {
      await subscriber.beforeApplicationShutdown();
      await plc.close();
    }
  });

  it('pruning keeps each negation, and with it the newest sequence number: none is given out twice', async () => {
    const repository = running.app.get(LabelRepository);
    const agent = new AtpAgent({ service: running.url });
    // The deleted post's labels were pruned above; their negations still say they were withdrawn.
    const { data: bridge } = await agent.com.atproto.label.queryLabels({ uriPatterns: [postUri('bridge')] });
    expect(bridge.labels.map((label) => [label.val, label.neg]).sort()).toEqual([['common-ground', true], ['supported-by-left', true], ['supported-by-right-two', true]]);
    // The newest label of all is a negation older than the kept history.
    const top = await repository.lastSeq();
    const statement = { ver: 1 as const, src: labeler, uri: postUri('withdrawn'), cid: cidOf('withdrawn'), val: 'common-ground', cts: new Date(Date.now() - 60_000).toISOString() };
    const label = await signLabel(statement, key);
    const negation = await signLabel({ ...statement, neg: true }, key);
    await repository.append([{ ...label, seq: top + 1 }, { ...negation, seq: top + 2 }]);
    await repository.prune(new Date().toISOString());
    expect(await repository.lastSeq()).toBe(top + 2);
    expect((await repository.after(top, 10)).map((kept) => [kept.seq, kept.neg])).toEqual([[top + 2, true]]);
    const { data: withdrawn } = await agent.com.atproto.label.queryLabels({ uriPatterns: [postUri('withdrawn')] });
    expect(withdrawn.labels).toMatchObject([{ val: 'common-ground', neg: true }]);
  });

  it('labels no post from a members-only feed, and withdraws the labels of a feed that becomes members-only', async () => {
    const agent = new AtpAgent({ service: running.url });
    const labelsOn = async (rkey: string) =>
      (await agent.com.atproto.label.queryLabels({ uriPatterns: [postUri(rkey)] })).data.labels.map((label) => `${label.neg ? 'not ' : ''}${label.val}`).sort();
    await writeFile(path.join(dir, 'feeds.yaml'), curationWith({ club: true }));
    await running.app.get(EventRepository).write([post('inside', 4), ...likes('inside', [...north, ...south]), post('outside', 4), ...likes('outside', [...left, ...right])]);
    const runs = await running.app.get(ScoreSnapshotJob).runOnce(Date.now() + 3_000);
    // The members-only feed ranks its bridging post; the labels, which anyone may read, say nothing of it.
    expect(runs.find((run) => run.feed.endsWith('/club'))?.posts).toBeGreaterThan(0);
    expect(await labelsOn('inside')).toEqual([]);
    expect(await labelsOn('outside')).toEqual(['common-ground', 'supported-by-left', 'supported-by-right-two']);

    // A public feed that becomes members-only takes its labels back.
    await writeFile(path.join(dir, 'feeds.yaml'), curationWith({ club: true, acrossMembersOnly: true }));
    await running.app.get(ScoreSnapshotJob).runOnce(Date.now() + 4_000);
    expect(await labelsOn('outside')).toEqual(['not common-ground', 'not supported-by-left', 'not supported-by-right-two']);
    expect(await labelsOn('inside')).toEqual([]);
  });

  it('a client frame over 1 KiB closes the subscription (the method reads none)', async () => {
    const socket = new WebSocket(`${running.url.replace('http', 'ws')}/xrpc/com.atproto.label.subscribeLabels`);
    let closedWith: number | undefined;
    socket.once('close', (code) => (closedWith = code));
    await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
    socket.send(Buffer.alloc(2048));
    // 1009: message too big.
    expect(await waitFor('the server to close the socket', () => closedWith, 10_000)).toBe(1009);
  });

  it('refuses a subscriber past LABELS_MAX_SUBSCRIBERS with 503 and Retry-After, and takes one again once a place is free', async () => {
    const url = `${running.url.replace('http', 'ws')}/xrpc/com.atproto.label.subscribeLabels`;
    const open = (): Promise<WebSocket> =>
      new Promise((resolve, reject) => {
        const socket = new WebSocket(url);
        socket.once('open', () => resolve(socket)).once('error', reject);
      });
    const refusal = (): Promise<{ status?: number; retryAfter?: string }> =>
      new Promise((resolve, reject) => {
        const socket = new WebSocket(url);
        socket.once('unexpected-response', (_request, response) => {
          resolve({ status: response.statusCode, retryAfter: response.headers['retry-after'] });
          // Closing before a handshake that never came is reported as an error: expected here.
          socket.once('error', () => undefined);
          socket.terminate();
        });
        socket.once('open', () => reject(new Error('a subscriber past the bound was taken')));
      });
    const first = await open();
    const second = await open();
    expect(await refusal()).toEqual({ status: 503, retryAfter: '30' });
    const metrics = running.app.get(Metrics);
    expect(await metrics.sum(metrics.labelSubscribersRefused)).toBe(1);
    first.close();
    const third = await waitFor('a free place', () => open().catch(() => undefined), 10_000);
    second.close();
    third.close();
  });
});
