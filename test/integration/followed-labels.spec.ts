import { jest } from '@jest/globals';
import { AtpAgent } from '@atproto/api';
import { EventRepository, LabelRepository, type ExternalLabel } from '#lib/clickhouse';
import type { PipelineEventV1 } from '#lib/contracts';
import { startTestApp, type TestApp } from '#lib/testing';
import { ScoreSnapshotJob } from '../../services/scoring/src/score-snapshot.job.js';

const publisher = 'did:plc:publisher0000000000000000';
const labeler = 'did:plc:labeler00000000000000000';
const stranger = 'did:plc:otherlabeler0000000000000';
const a = [0, 1, 2, 3].map((i) => `did:plc:alpha${String(i).padStart(20, '0')}`);
const b = [0, 1, 2, 3].map((i) => `did:plc:beta${String(i).padStart(21, '0')}`);
const outsider = 'did:plc:outsider00000000000000000';
const HOUR_US = 3_600_000_000;
const uri = (did: string, rkey: string) => `at://${did}/app.bsky.feed.post/${rkey}`;

const curation = `
communities:
  alpha:
    members:
      dids: [${a.join(', ')}]
  beta:
    members:
      dids: [${b.join(', ')}]
feeds:
  both:
    displayName: Alpha and beta
    communities: [alpha, beta]
    ranking: bridging
    windowHours: 24
    exclude: [spam]
    downrank:
      labels: [rude]
      factor: 0.25
`;

const post = (did: string, rkey: string, timeUs: number): PipelineEventV1 => ({
  v: 1, type: 'post', op: 'create', did, rkey, cid: `bafy${rkey}`, timeUs, createdAtMs: timeUs / 1000,
  text: rkey, langs: ['en'], tags: [], replyRoot: null, replyParent: null, quote: null, hasMedia: false,
});
const likes = (target: string, timeUs: number): PipelineEventV1[] =>
  [...a, ...b].map((did, i) => ({
    v: 1, type: 'like', op: 'create', did, rkey: `3klike${target.slice(-8)}${i}`, cid: 'bafylike', timeUs: timeUs + i, createdAtMs: 0,
    subjectUri: target, subjectCid: 'bafysubject',
  }));

describe("a feed acts on the labels of the labelers it follows, read for its window's posts and accounts", () => {
  let running: TestApp;
  const nowUs = Date.now() * 1000;
  const posts = {
    spam: uri(a[0]!, '3kspam0000001'),
    rude: uri(a[1]!, '3krude0000001'),
    fine: uri(b[0]!, '3kfine0000001'),
    // Outside the feed's window (two days old) and not in it at all (by no member, liked by none).
    old: uri(a[2]!, '3kold00000001'),
    elsewhere: uri(outsider, '3kelse0000001'),
  };

  beforeAll(async () => {
    running = await startTestApp({
      name: 'labels',
      feeds: curation,
      overrides: { FEEDGEN_PUBLISHER_DID: publisher, LABELERS_SUBSCRIBE: labeler, SCORING_SNAPSHOTS: 'false', SCORING_INTERVAL_SECONDS: '3600' },
    });
    const t = nowUs - 2 * HOUR_US;
    await running.app.get(EventRepository).write([
      post(a[0]!, '3kspam0000001', t),
      post(a[1]!, '3krude0000001', t + 1),
      post(b[0]!, '3kfine0000001', t + 2),
      post(a[2]!, '3kold00000001', nowUs - 48 * HOUR_US),
      post(outsider, '3kelse0000001', t + 3),
      ...likes(posts.spam, t + 100),
      ...likes(posts.rude, t + 200),
      ...likes(posts.fine, t + 300),
      ...likes(posts.old, nowUs - 47 * HOUR_US),
    ]);
    const label = (src: string, subject: string, val: string) => ({ ver: 1 as const, src, uri: subject, val, cts: new Date().toISOString(), sig: new Uint8Array(64) });
    await running.app.get(LabelRepository).writeExternal([
      label(labeler, posts.spam, 'spam'),
      label(labeler, posts.rude, 'rude'),
      label(labeler, posts.old, 'spam'),
      label(labeler, posts.elsewhere, 'spam'),
      label(labeler, outsider, 'bot'),
      // A labeler the feed does not follow: its label changes nothing.
      label(stranger, posts.fine, 'spam'),
    ]);
  });

  afterAll(() => running?.close());

  it('reads only the labels on the posts and accounts of its window, and excludes and downranks by them', async () => {
    const labels = running.app.get(LabelRepository);
    const read: ExternalLabel[][] = [];
    const externalInForce = labels.externalInForce.bind(labels);
    const spy = jest.spyOn(labels, 'externalInForce').mockImplementation(async (query) => {
      const found = await externalInForce(query);
      read.push(found);
      return found;
    });
    try {
      await running.app.get(ScoreSnapshotJob).runOnce(Date.now());
    } finally {
      spy.mockRestore();
    }
    const found = read.flat().map((label) => `${label.src} ${label.uri} ${label.val}`);
    expect(found.sort()).toEqual([`${labeler} ${posts.rude} rude`, `${labeler} ${posts.spam} spam`].sort());

    const { data } = await new AtpAgent({ service: running.url }).app.bsky.feed.getFeedSkeleton({ feed: `at://${publisher}/app.bsky.feed.generator/both` });
    expect(data.feed.map((item) => item.post)).toEqual([posts.fine, posts.rude]);
    const explanation = (await (await fetch(`${running.url}/api/feeds/both/explain?post=${encodeURIComponent(posts.rude)}`)).json()) as { components: { labels?: unknown } };
    expect(explanation.components.labels).toEqual({ downrankedBy: ['rude'], factor: 0.25 });
  });
});
