import { AtpAgent, lexicons } from '@atproto/api';
import { generateJetstreamEvents, startJetstreamReplayServer, type JetstreamReplayServer, waitFor, startTestApp, type TestApp } from '#lib/testing';

const publisher = 'did:plc:publisher0000000000000000';


interface Status {
  ingest: { malformed: number; published: number; connected: boolean };
  scoring: { written: number };
  store: { events: number; posts: number };
}

describe('embedded pipeline: replayed Jetstream → ingest → in-process bus → scoring → ClickHouse → getFeedSkeleton', () => {
  const generated = generateJetstreamEvents({
    seed: 7,
    users: 400,
    events: 12_000,
    startUs: (Date.now() - 3_600_000) * 1000,
    durationSec: 3_000,
    communities: [{ name: 'gardeners', members: 60 }],
    malformedEvery: 500,
  });
  const community = generated.communities[0]!;
  let replay: JetstreamReplayServer;
  let running: TestApp;

  beforeAll(async () => {
    replay = await startJetstreamReplayServer({ events: generated.events });
    running = await startTestApp({
      name: 'embedded',
      feeds: [
        'communities:',
        '  gardeners:',
        '    members:',
        `      dids: [${community.members.join(', ')}]`,
        'feeds:',
        '  gardeners-new:',
        '    displayName: Gardeners, newest',
        '    communities: [gardeners]',
        '    includeReplies: true',
      ].join('\n'),
      jetstreamUrl: replay.subscribeUrl,
      overrides: {
        FEEDGEN_PUBLISHER_DID: publisher,
        INGEST_BATCH_SIZE: '2000',
        INGEST_BATCH_MAX_WAIT_MS: '100',
      },
    });
  });

  afterAll(async () => {
    await running?.close();
    await replay?.close();
  });

  const status = async (): Promise<Status> => (await (await fetch(`${running.opsUrl}/status`)).json()) as Status;

  it('stores every well-formed event once and counts the malformed frames it skipped', async () => {
    const final = await waitFor('every event in ClickHouse', async () => {
      const current = await status();
      const done =
        current.store.events === generated.counts.mappable &&
        current.ingest.published === generated.counts.mappable &&
        current.ingest.malformed === generated.counts.malformed;
      return done ? current : undefined;
    });
    expect(final.ingest.published).toBe(generated.counts.mappable);
    expect(final.scoring.written).toBe(generated.counts.mappable);
    const ready = await fetch(`${running.url}/ready`);
    expect(ready.status).toBe(200);
  });

  it("serves the community's posts through getFeedSkeleton to the @atproto/api client", async () => {
    const agent = new AtpAgent({ service: running.url });
    const feed = `at://${publisher}/app.bsky.feed.generator/gardeners-new`;
    const { data } = await agent.app.bsky.feed.getFeedSkeleton({ feed, limit: 30 });
    lexicons.assertValidXrpcOutput('app.bsky.feed.getFeedSkeleton', data);
    expect(data.feed.length).toBeGreaterThan(0);
    const members = new Set(community.members);
    for (const item of data.feed) expect(members.has(item.post.split('/')[2]!)).toBe(true);
  });
});
