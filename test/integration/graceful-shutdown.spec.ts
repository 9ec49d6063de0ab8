import { jest } from '@jest/globals';
import { Secp256k1Keypair } from '@atproto/crypto';
import { createServiceJwt } from '@atproto/xrpc-server';
import WebSocket from 'ws';
import { startJetstreamReplayServer, startPlcDirectory, startTestApp, waitFor, type JetstreamReplayServer, type PlcDirectoryServer, type TestApp } from '#lib/testing';
import { ImpressionRecorder } from '../../services/feed-generator/src/feeds/impression.recorder.js';

const serviceDid = 'did:web:feeds.common-ground.test';
const publisher = 'did:plc:publisher0000000000000000';
const alice = 'did:plc:alice00000000000000000000';
const viewer = 'did:plc:viewer0000000000000000000';
const GET_SKELETON = 'app.bsky.feed.getFeedSkeleton';

const post = (rkey: string, timeUs: number) => ({
  did: alice,
  time_us: timeUs,
  kind: 'commit' as const,
  commit: {
    rev: `3k${rkey}`,
    operation: 'create' as const,
    collection: 'app.bsky.feed.post',
    rkey,
    cid: `bafyrei${rkey.padEnd(52, 'a')}`,
    record: { $type: 'app.bsky.feed.post', text: `hello from ${rkey}`, createdAt: new Date().toISOString(), langs: ['en'] },
  },
});

describe('shutting down a serving process', () => {
  let plc: PlcDirectoryServer;
  let replay: JetstreamReplayServer;
  let running: TestApp | undefined;
  let keypair: Secp256k1Keypair;

  /** A signed-in viewer's page of the feed: its status, or `refused` when no answer came. */
  const page = async (app: TestApp): Promise<number | 'refused'> => {
    const jwt = await createServiceJwt({ iss: viewer, aud: serviceDid, lxm: GET_SKELETON, keypair });
    const url = `${app.url}/xrpc/${GET_SKELETON}?feed=${encodeURIComponent(`at://${publisher}/app.bsky.feed.generator/newest`)}`;
    return fetch(url, { headers: { authorization: `Bearer ${jwt}` } }).then(
      async (response) => {
        await response.arrayBuffer();
        return response.status;
      },
      () => 'refused' as const,
    );
  };

  beforeAll(async () => {
    plc = await startPlcDirectory();
    keypair = await Secp256k1Keypair.create();
    plc.publish(viewer, keypair, 'viewer.test');
    const startUs = (Date.now() - 60_000) * 1000;
    replay = await startJetstreamReplayServer({ events: [post('3kalice000001', startUs), post('3kalice000002', startUs + 1_000)] });
    running = await startTestApp({
      name: 'shutdown',
      feeds: ['communities:', `  club: { members: { dids: [${alice}] } }`, 'feeds:', '  newest: { displayName: Newest, communities: [club] }'].join('\n'),
      jetstreamUrl: replay.subscribeUrl,
      overrides: { FEEDGEN_SERVICE_DID: serviceDid, FEEDGEN_PUBLISHER_DID: publisher, PLC_URL: plc.url, IDENTITY_ALLOW_INSECURE: 'true', INGEST_BATCH_MAX_WAIT_MS: '50' },
    });
    const impressions = running.app.get(ImpressionRecorder);
    await waitFor('a served page of two posts', async () => (await page(running!)) === 200 && impressions.recorded >= 2);
  });

  afterAll(async () => {
    await running?.close();
    await replay?.close();
    await plc?.close();
  });

  it('stops answering before its services stop, so every impression it recorded is published, and does not wait for label subscribers', async () => {
    const app = running!;
    const impressions = app.app.get(ImpressionRecorder);
    // The recorder's last flush: the impressions of a page served after it would never be published.
    let flushedForGood: () => void = () => undefined;
    const lastFlush = new Promise<void>((resolve) => (flushedForGood = resolve));
    const destroy = impressions.onModuleDestroy.bind(impressions);
    jest.spyOn(impressions, 'onModuleDestroy').mockImplementation(async () => {
      await destroy();
      flushedForGood();
    });

    // A labeler subscriber stays connected for good: shutdown must not wait for it to leave.
    const subscriber = new WebSocket(`${app.url.replace(/^http/, 'ws')}/xrpc/com.atproto.label.subscribeLabels`);
    await new Promise((resolve, reject) => subscriber.once('open', resolve).once('error', reject));
    const subscriberClosed = new Promise((resolve) => subscriber.once('close', resolve));

    const closing = app.close();
    running = undefined;
    await lastFlush;
    const late = await page(app);
    let timer: NodeJS.Timeout | undefined;
    const stuck = new Promise((resolve) => (timer = setTimeout(resolve, 10_000, 'still closing')));
    expect(await Promise.race([closing.then(() => 'closed'), stuck])).toBe('closed');
    clearTimeout(timer);
    await subscriberClosed;

    expect(late).toBe('refused');
    expect(impressions.recorded).toBeGreaterThan(0);
    expect(impressions.published).toBe(impressions.recorded);
    expect(impressions.dropped).toBe(0);
  });
});
