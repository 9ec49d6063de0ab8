import { AtpAgent, lexicons } from '@atproto/api';
import { generateJetstreamEvents, startJetstreamReplayServer, type JetstreamReplayServer, waitFor, startTestApp, type TestApp } from '#lib/testing';
import { ScoreSnapshotJob } from '../../services/scoring/src/score-snapshot.job.js';

const publisher = 'did:plc:publisher0000000000000000';
const feedUri = (name: string) => `at://${publisher}/app.bsky.feed.generator/${name}`;


describe('ranked feeds: bridging across communities, bridging inside one, balanced', () => {
  const generated = generateJetstreamEvents({
    seed: 4,
    users: 1_500,
    events: 60_000,
    startUs: (Date.now() - 20 * 3_600_000) * 1000,
    durationSec: 19 * 3_600,
    communities: [
      { name: 'alpha', members: 250 },
      { name: 'beta', members: 250 },
      { name: 'gamma', members: 250 },
    ],
    bridgingShare: 0.05,
    mix: { other: 0 },
  });
  const [alpha, beta, gamma] = generated.communities;
  let replay: JetstreamReplayServer;
  let running: TestApp;
  let agent: AtpAgent;

  beforeAll(async () => {
    const community = (c: typeof alpha) => [`  ${c!.name}:`, '    members:', `      dids: [${c!.members.join(', ')}]`];
    replay = await startJetstreamReplayServer({ events: generated.events });
    running = await startTestApp({
      name: 'ranked',
      feeds: [
        'communities:',
        ...community(alpha),
        ...community(beta),
        ...community(gamma),
        'feeds:',
        '  across:',
        '    displayName: Common ground',
        '    communities: [alpha, beta, gamma]',
        '    ranking: bridging',
        '    windowHours: 48',
        '    halfLifeHours: 1000',
        '  within-alpha:',
        '    displayName: Alpha agrees',
        '    communities: [alpha]',
        '    ranking: bridging-within',
        '    windowHours: 48',
        '  balanced-alpha:',
        '    displayName: Alpha, balanced',
        '    communities: [alpha]',
        '    ranking: balanced',
        '    windowHours: 48',
      ].join('\n'),
      jetstreamUrl: replay.subscribeUrl,
      overrides: {
        FEEDGEN_PUBLISHER_DID: publisher,
        // Every snapshot here is the test's own (runOnce) on the complete replay: a scheduled run
        // on part of it would warm-start the next fit from a model of other data, and the
        // opinion axis it settles on would depend on the machine's speed.
        SCORING_SNAPSHOTS: 'false',
        SCORING_INTERVAL_SECONDS: '3600',
      },
    });
    agent = new AtpAgent({ service: running.url });
    await waitFor('the replay in ClickHouse', async () => {
      const status = (await (await fetch(`${running.opsUrl}/status`)).json()) as { store: { events: number } };
      return status.store.events === generated.counts.mappable ? true : undefined;
    });
    await running.app.get(ScoreSnapshotJob).runOnce();
  });

  afterAll(async () => {
    await running?.close();
    await replay?.close();
  });

  /** Explains `post` in the snapshot a page was served from (`cursor`), or in the latest one. */
  const explain = async (name: string, post: string, cursor?: string) =>
    (await (
      await fetch(
        `${running.url}/api/feeds/${name}/explain?post=${encodeURIComponent(post)}${cursor ? `&snapshot=${cursor.split('::')[0]}` : ''}`,
      )
    ).json()) as {
      snapshot: number | null;
      rank: number | null;
      components: { factor?: number; supportedBy?: string[]; eligible?: boolean } | null;
    };

  /** Posts liked mostly (≥ 90%) by one community and by at least 15 of its members: viral on one side. */
  function oneSidedViralPosts(): string[] {
    const communityOf = new Map<string, string>();
    for (const community of generated.communities) for (const did of community.members) communityOf.set(did, community.name);
    const likers = new Map<string, string[]>();
    for (const event of generated.events) {
      const commit = (event as { commit?: { collection: string; operation: string; record?: { subject?: { uri: string } } } }).commit;
      if (commit?.collection !== 'app.bsky.feed.like' || commit.operation !== 'create') continue;
      const community = communityOf.get((event as { did: string }).did);
      const uri = commit.record?.subject?.uri;
      if (!community || !uri) continue;
      likers.set(uri, [...(likers.get(uri) ?? []), community]);
    }
    return [...likers].filter(([, communities]) => {
      const top = Math.max(...['alpha', 'beta', 'gamma'].map((name) => communities.filter((c) => c === name).length));
      return communities.length >= 15 && top / communities.length >= 0.9;
    }).map(([uri]) => uri);
  }

  it('ranks the posts every community engaged with far above chance, and one-sided viral posts out of the top', async () => {
    const { data } = await agent.app.bsky.feed.getFeedSkeleton({ feed: feedUri('across'), limit: 20 });
    lexicons.assertValidXrpcOutput('app.bsky.feed.getFeedSkeleton', data);
    expect(data.feed).toHaveLength(20);
    const planted = new Set(generated.bridgingPosts);
    const originalPosts = generated.counts.post;
    const chance = (20 * planted.size) / originalPosts;
    const hits = data.feed.filter((item) => planted.has(item.post)).length;
    expect(hits).toBeGreaterThanOrEqual(4 * chance);

    const viral = oneSidedViralPosts();
    expect(viral.length).toBeGreaterThan(0);
    const top = new Set(data.feed.map((item) => item.post));
    expect(viral.filter((uri) => top.has(uri))).toEqual([]);
  });

  it('says in each item which communities support it', async () => {
    const { data } = await agent.app.bsky.feed.getFeedSkeleton({ feed: feedUri('across'), limit: 10 });
    for (const item of data.feed) {
      expect(item.feedContext!.length).toBeLessThanOrEqual(2000);
      const context = JSON.parse(item.feedContext!) as { v: number; b: string[]; d: string[] };
      expect(context.v).toBe(1);
      expect(context.b.length).toBeGreaterThanOrEqual(2);
    }
    const explanation = await explain('across', data.feed[0]!.post, data.cursor);
    expect(explanation.snapshot).toBe(Number(data.cursor!.split('::')[0]!.slice(1)));
    expect(explanation.rank).toBe(1);
    expect(explanation.components).toMatchObject({ eligible: true, supportedBy: expect.arrayContaining(context0(data.feed[0]!.feedContext!)) });
  });

  it('gives both sides of the opinion axis a share of the top of the balanced feed, half each while both have posts', async () => {
    // The generator plants communities, not camps inside one: how many posts the axis puts on each
    // side is the data's. Whatever it is, the feed's top gives the smaller side every post it has, up to half.
    const { data } = await agent.app.bsky.feed.getFeedSkeleton({ feed: feedUri('balanced-alpha'), limit: 100 });
    expect(data.feed.length).toBeGreaterThanOrEqual(20);
    const sides = await Promise.all(
      data.feed.map(async (item) => ((await explain('balanced-alpha', item.post, data.cursor)).components!.factor ?? 0) >= 0),
    );
    const positive = sides.filter(Boolean).length;
    const smaller = Math.min(positive, sides.length - positive);
    const smallerSide = positive <= sides.length - positive;
    expect(smaller).toBeGreaterThanOrEqual(1);
    expect(sides.slice(0, 10).filter((side) => side === smallerSide).length).toBe(Math.min(5, smaller));
    // Within the top 10, the sides alternate as long as the smaller one lasts.
    for (let n = 2; n <= 2 * Math.min(5, smaller); n += 2) {
      expect(sides.slice(0, n).filter((side) => side === smallerSide).length).toBe(n / 2);
    }
  });

  it('pages a snapshot to its end with no post twice, even while a newer snapshot is written', async () => {
    const first = await agent.app.bsky.feed.getFeedSkeleton({ feed: feedUri('within-alpha'), limit: 25 });
    await running.app.get(ScoreSnapshotJob).runOnce(Date.now() + 1_000);
    const seen = first.data.feed.map((item) => item.post);
    let cursor = first.data.cursor;
    while (cursor) {
      const { data } = await agent.app.bsky.feed.getFeedSkeleton({ feed: feedUri('within-alpha'), limit: 100, cursor });
      if (data.feed.length === 0) break;
      expect(data.cursor!.split('::')[0]).toBe(first.data.cursor!.split('::')[0]);
      seen.push(...data.feed.map((item) => item.post));
      cursor = data.cursor;
    }
    expect(seen.length).toBeGreaterThan(25);
    expect(new Set(seen).size).toBe(seen.length);
    // The feed generator looks for a newer snapshot at most every 2 s: within that, a first page moves to it.
    const snapshotOf = (page: { data: { cursor?: string } }) => page.data.cursor!.split('::')[0];
    const fresh = await waitFor('a first page from the newer snapshot', async () => {
      const page = await agent.app.bsky.feed.getFeedSkeleton({ feed: feedUri('within-alpha'), limit: 1 });
      return snapshotOf(page) === snapshotOf(first) ? undefined : page;
    }, { timeoutMs: 2_100 });
    expect(snapshotOf(fresh)).not.toBe(snapshotOf(first));
  });

  it('explains why a post is not in the feed', async () => {
    const outsider = `at://${beta!.members[0]}/app.bsky.feed.post/3kzzzzzzzzzzz`;
    expect(await explain('within-alpha', outsider)).toMatchObject({ rank: null, reason: expect.stringContaining('not ranked') });
    const { data } = await agent.app.bsky.feed.getFeedSkeleton({ feed: feedUri('within-alpha'), limit: 1 });
    expect(await explain('within-alpha', data.feed[0]!.post, 's1::1')).toMatchObject({ rank: null, reason: expect.stringContaining('no longer kept') });
    // A word, and a number past 2^53 (which the database driver refuses to send): both the caller's mistake.
    for (const snapshot of ['yesterday', '9007199254740993']) {
      const invalid = await fetch(`${running.url}/api/feeds/within-alpha/explain?post=${encodeURIComponent(outsider)}&snapshot=${snapshot}`);
      expect(invalid.status).toBe(400);
      expect(await invalid.json()).toMatchObject({ error: 'InvalidRequest', message: expect.stringContaining('snapshot') });
    }
  });
});

const context0 = (feedContext: string): string[] => (JSON.parse(feedContext) as { b: string[] }).b;
