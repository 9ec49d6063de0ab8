import { jest } from '@jest/globals';
import { AtpAgent, type AppBskyFeedDefs } from '@atproto/api';
import type { ClickHouseClient } from '#lib/clickhouse';
import type { AppConfig } from '#lib/config';
import { CLICKHOUSE, CurationService } from '#lib/platform';
import { freePort, started, startTestApp, waitFor, type TestApp } from '#lib/testing';
import {
  connectAtprotoNetwork,
  createAppPassword,
  loginAgent,
  type AtprotoNetworkClient,
  type TestAccount,
  type TestRecordRef,
} from '../../libs/testing/src/atproto-network/index.js';
import { FeedPublisher, type PublishResult } from '#lib/network';
import { ServiceAuthVerifier } from '../../services/feed-generator/src/auth/service-auth.verifier.js';
import { ScoreSnapshotJob } from '../../services/scoring/src/score-snapshot.job.js';

// Our feed generator behind the real AT Protocol stack: @atproto/dev-env's PLC, PDS and AppView (on PostgreSQL),
// the PDS firehose translated to Jetstream for our ingest, and clients that only ever talk to their PDS. The network
// is the run's, shared with other files: our ingest sees their activity too, so every count is of our accounts.

const startupTimeoutMs = 240_000;
const testTimeoutMs = 90_000;
const GET_FEED_SKELETON = 'app.bsky.feed.getFeedSkeleton';
const SEND_INTERACTIONS = 'app.bsky.feed.sendInteractions';


/** What a client sees when an XRPC call fails: the HTTP status and the XRPC error name. */
async function failureOf(call: Promise<unknown>): Promise<{ status: number; error: string; message: string }> {
  try {
    await call;
  } catch (error) {
    const { status, error: name, message } = error as { status: number; error: string; message: string };
    return { status, error: name, message };
  }
  throw new Error('expected the call to fail');
}

/** The claims of a service-auth JWT (not verified: our verifier does that; this only shows what was sent). */
function claimsOf(authorization: string | undefined): { iss: string; aud: string; lxm: string; exp: number } | undefined {
  const jwt = authorization?.replace(/^Bearer /i, '');
  if (!jwt) return undefined;
  return JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8')) as { iss: string; aud: string; lxm: string; exp: number };
}

interface Claims {
  lxm: string;
  claims: ReturnType<typeof claimsOf>;
}

describe('Common Ground feeds served to Bluesky clients through a real PDS and AppView', () => {
  const startedAt = performance.now();
  const database = `appview_e2e_${process.pid}`;
  const tag = Date.now().toString(36);
  let net: AtprotoNetworkClient | undefined;
  let running: TestApp | undefined;
  let config: AppConfig;
  let port: number;
  let serviceDid: string;
  let feedgenUrl: string;
  /** Every service-auth token our verifier was asked about, with the method it was checked for. */
  const tokens: Claims[] = [];

  let publisher: TestAccount;
  let curator: TestAccount;
  let alice: TestAccount;
  let bob: TestAccount;
  let carol: TestAccount;
  let dave: TestAccount;
  let eve: TestAccount;
  /** The rest of the two opinion communities: five members each. */
  let moreLeft: TestAccount[];
  let moreRight: TestAccount[];
  let clubList: TestRecordRef;
  const posts: Record<string, TestRecordRef> = {};
  let published: PublishResult[] = [];

  const network = () => started('network', net);
  const app = () => started('app', running);
  const feedUri = (name: string) => `at://${publisher.did}/app.bsky.feed.generator/${name}`;
  const query = async <T = Record<string, string>>(sql: string): Promise<T[]> =>
    (await app().app.get<ClickHouseClient>(CLICKHOUSE).query({ query: sql, format: 'JSONEachRow' })).json<T>();
  /** Our own answer, asked directly and anonymously: the order the AppView must keep. */
  const ourSkeleton = async (name: string) => {
    const response = await fetch(`${feedgenUrl}/xrpc/${GET_FEED_SKELETON}?feed=${encodeURIComponent(feedUri(name))}`);
    expect(response.status).toBe(200);
    return (await response.json()) as { feed: { post: string; feedContext?: string }[] };
  };
  const textOf = (item: AppBskyFeedDefs.FeedViewPost) => (item.post.record as { text: string }).text;

  beforeAll(async () => {
    net = await connectAtprotoNetwork();
    const startedNetwork = performance.now();

    publisher = await net.createAccount('publisher');
    curator = await net.createAccount('curator');
    alice = await net.createAccount('alice');
    bob = await net.createAccount('bob');
    carol = await net.createAccount('carol');
    dave = await net.createAccount('dave');
    eve = await net.createAccount('eve');
    moreLeft = [await net.createAccount('fay'), await net.createAccount('gus'), await net.createAccount('hal')];
    moreRight = [await net.createAccount('ivy'), await net.createAccount('jon'), await net.createAccount('kim')];
    // The list exists before our app starts (the curator file names it); its members are added later, live.
    clubList = await net.createList(curator.did, 'The club');
    const appPassword = await createAppPassword(net.pdsUrl, publisher, 'common-ground-publishing');

    port = await freePort();
    serviceDid = `did:web:localhost%3A${port}`;
    feedgenUrl = `http://localhost:${port}`;
    running = await startTestApp({
      name: 'appview',
      feeds: [
        'communities:',
        '  club:',
        '    name: The club',
        '    members:',
        `      lists: [${clubList.uriStr}]`,
        '  left:',
        '    members:',
        `      dids: [${[alice, bob, ...moreLeft].map((account) => account.did).join(', ')}]`,
        '  right:',
        '    members:',
        `      dids: [${[carol, dave, ...moreRight].map((account) => account.did).join(', ')}]`,
        'feeds:',
        '  club-recent:',
        '    displayName: The club, newest',
        '    description: Newest posts by members of the club list.',
        '    communities: [club]',
        '  common-ground:',
        '    displayName: Common ground',
        '    description: Posts liked on both sides.',
        '    communities: [left, right]',
        '    ranking: bridging',
        '  club-only:',
        '    displayName: The club, members only',
        '    communities: [club]',
        '    membersOnly: true',
      ].join('\n'),
      jetstreamUrl: net.jetstreamUrl,
      overrides: {
        CG_ROLE: 'all',
        CLICKHOUSE_DATABASE: database,
        HTTP_PORT: String(port),
        FEEDGEN_HOSTNAME: `localhost:${port}`,
        FEEDGEN_SERVICE_DID: serviceDid,
        FEEDGEN_PUBLISHER_DID: publisher.did,
        PLC_URL: net.plcUrl,
        IDENTITY_ALLOW_INSECURE: 'true',
        BSKY_SERVICE: net.pdsUrl,
        BSKY_IDENTIFIER: publisher.handle,
        BSKY_APP_PASSWORD: appPassword,
        INGEST_BATCH_MAX_WAIT_MS: '50',
        SCORING_INTERVAL_SECONDS: '3600',
        LOG_LEVEL: 'warn',
      },
    });
    config = running.config;
    const verifier = running.app.get(ServiceAuthVerifier);
    const verify = verifier.verify.bind(verifier);
    jest.spyOn(verifier, 'verify').mockImplementation(async (authorization, lxm) => {
      tokens.push({ lxm, claims: claimsOf(authorization) });
      return verify(authorization, lxm);
    });
    await waitFor('our ingest connected to the Jetstream endpoint', async () => {
      const status = (await (await fetch(`${running!.opsUrl}/status`)).json()) as { ingest: { connected: boolean } };
      return status.ingest.connected ? true : undefined;
    });
    console.log(
      `[appview] network ${Math.round(startedNetwork - startedAt)} ms, accounts + app ${Math.round(performance.now() - startedNetwork)} ms`,
    );
  }, startupTimeoutMs);

  afterAll(async () => {
    // Safety net when a test failed before the last one; every close is idempotent.
    await running?.close();
    running = undefined;
    await net?.close();
  }, 60_000);

  it('ingests the posts, likes, follows and list items made on the PDS, through the Jetstream translation', async () => {
    const net = network();
    await net.follow(eve.did, alice.did);
    await net.follow(bob.did, carol.did);
    await net.follow(dave.did, alice.did);
    await net.addToList(curator.did, alice.did, clubList);
    await net.addToList(curator.did, carol.did, clubList);

    posts.trees = await net.post(alice.did, `More shade trees on every street (${tag})`);
    posts.mine = await net.post(bob.did, `Only my side gets it (${tag})`);
    posts.library = await net.post(carol.did, `Keep the library open late (${tag})`);
    posts.theirs = await net.post(dave.did, `Their side is wrong about everything (${tag})`);
    posts.reader = await net.post(eve.did, `Just reading along (${tag})`);
    posts.thanks = await net.post(alice.did, `Thanks, neighbours, for planting them (${tag})`);

    // Trees: liked by nearly everyone on both sides (and by eve, who belongs to neither). Library: by the whole
    // left and one of the right, so it is eligible (evidence from both) but far less of a common ground.
    for (const by of [bob, ...moreLeft, carol, dave, ...moreRight, eve]) await net.like(by.did, posts.trees);
    for (const by of [alice, bob, ...moreLeft, dave]) await net.like(by.did, posts.library);
    // Liked on one side only.
    await net.like(alice.did, posts.mine);
    await net.like(carol.did, posts.theirs);

    await net.syncJetstream();
    const authors = [alice, bob, carol, dave, eve].map((account) => `'${account.did}'`).join(',');
    const everyone = [alice, bob, carol, dave, eve, ...moreLeft, ...moreRight].map((account) => `'${account.did}'`).join(',');
    await waitFor('every record in ClickHouse', async () => {
      const [row] = await query<{ posts: string; likes: string; follows: string; listitems: string }>(`SELECT
        (SELECT count() FROM ${database}.posts FINAL WHERE deleted = 0 AND did IN (${authors})) AS posts,
        (SELECT count() FROM ${database}.interactions FINAL WHERE deleted = 0 AND kind = 'like' AND actor IN (${everyone})) AS likes,
        (SELECT count() FROM ${database}.graph FINAL WHERE deleted = 0 AND kind = 'follow' AND did IN (${everyone})) AS follows,
        (SELECT count() FROM ${database}.graph FINAL WHERE deleted = 0 AND kind = 'listitem' AND list = '${clubList.uriStr}') AS listitems`);
      return row && Number(row.posts) === 6 && Number(row.likes) === 18 && Number(row.follows) === 3 && Number(row.listitems) === 2
        ? row
        : undefined;
    });
    expect((await network().jetstreamStatus()).errors).toEqual([]);

    const runs = await app().app.get(ScoreSnapshotJob).runOnce();
    // Every post members rated is ranked: the two liked across both communities, and three liked on one side only.
    expect(runs.map((run) => [run.feed, run.posts])).toEqual([[feedUri('common-ground'), 5]]);
  }, testTimeoutMs);

  it('publishes the feeds from the test account (app password) and serves a DID document the AppView can use', async () => {
    const feedPublisher = await FeedPublisher.login(config);
    // The curation in force, as `npm run feed:publish` reads it (see `readCurationInForce`).
    const curation = app().app.get(CurationService).current;
    published = await feedPublisher.publishAll(curation);
    expect(published).toEqual(
      ['club-recent', 'common-ground', 'club-only'].map((name) => ({ uri: feedUri(name), action: 'created' })),
    );
    // Publishing again updates in place.
    expect((await feedPublisher.publishAll(curation)).map((result) => result.action)).toEqual(['updated', 'updated', 'updated']);

    const didDocument = (await (await fetch(`${feedgenUrl}/.well-known/did.json`)).json()) as { id: string; service: unknown[] };
    expect(didDocument).toMatchObject({
      id: serviceDid,
      service: [{ id: '#bsky_fg', type: 'BskyFeedGenerator', serviceEndpoint: `http://localhost:${port}` }],
    });
    const described = await new AtpAgent({ service: feedgenUrl }).app.bsky.feed.describeFeedGenerator();
    expect(described.data.did).toBe(serviceDid);
    expect(described.data.feeds.map((feed) => feed.uri).sort()).toEqual(published.map((result) => result.uri).sort());

    await network().syncAppView();
    const reader = await loginAgent(network().pdsUrl, eve);
    for (const result of published) {
      const { data } = await reader.app.bsky.feed.getFeedGenerator({ feed: result.uri });
      expect(data).toMatchObject({ isOnline: true, isValid: true });
      expect(data.view).toMatchObject({ uri: result.uri, did: serviceDid, creator: { did: publisher.did }, acceptsInteractions: true });
    }
    const { data } = await reader.app.bsky.feed.getFeedGenerator({ feed: feedUri('club-recent') });
    expect(data.view).toMatchObject({ displayName: 'The club, newest', description: 'Newest posts by members of the club list.' });
  }, testTimeoutMs);

  it('gives a reader the public recent feed through their PDS, hydrated by the AppView, in our order', async () => {
    await network().syncAppView();
    const ours = await ourSkeleton('club-recent');
    expect(ours.feed.map((item) => item.post)).toEqual([posts.thanks!.uriStr, posts.library!.uriStr, posts.trees!.uriStr]);

    const reader = await loginAgent(network().pdsUrl, eve);
    tokens.length = 0;
    const { data } = await reader.app.bsky.feed.getFeed({ feed: feedUri('club-recent'), limit: 10 });
    expect(data.feed.map((item) => item.post.uri)).toEqual(ours.feed.map((item) => item.post));
    expect(data.feed.map(textOf)).toEqual([
      `Thanks, neighbours, for planting them (${tag})`,
      `Keep the library open late (${tag})`,
      `More shade trees on every street (${tag})`,
    ]);
    expect(data.feed.map((item) => item.post.author.handle)).toEqual([alice.handle, carol.handle, alice.handle]);
    expect(data.feed[2]!.post.likeCount).toBe(10);
    // Our request id comes back on every item, for the client to echo in sendInteractions.
    expect(new Set(data.feed.map((item) => item.reqId)).size).toBe(1);
    expect(data.feed[0]!.reqId).toMatch(/^[0-9a-f-]{36}$/);

    // How it reached us: a service-auth token minted by the PDS for the reader, for our DID, for getFeedSkeleton.
    expect(tokens).toEqual([{ lxm: GET_FEED_SKELETON, claims: expect.objectContaining({ iss: eve.did, aud: serviceDid, lxm: GET_FEED_SKELETON }) }]);
  }, testTimeoutMs);

  it('gives the ranked feed in our order, with our feedContext passed through', async () => {
    // Liked across both communities ranks first; posts liked on one side only come after them, on thin evidence.
    const ours = await ourSkeleton('common-ground');
    expect(ours.feed.map((item) => item.post).slice(0, 2)).toEqual([posts.trees!.uriStr, posts.library!.uriStr]);
    expect(ours.feed).toHaveLength(5);
    for (const item of ours.feed) expect(JSON.parse(item.feedContext!)).toMatchObject({ v: 1, b: expect.any(Array), d: expect.any(Array) });

    // A reader served nothing before: what a viewer was served (eve, the recent feed just above) sinks for her on a
    // visit more than a few seconds later, and how much later this one comes depends on the machine's load.
    const reader = await loginAgent(network().pdsUrl, moreRight[0]!);
    const { data } = await reader.app.bsky.feed.getFeed({ feed: feedUri('common-ground') });
    expect(data.feed.map((item) => [item.post.uri, item.feedContext])).toEqual(ours.feed.map((item) => [item.post, item.feedContext]));
    expect(data.feed.map(textOf).slice(0, 2)).toEqual([`More shade trees on every street (${tag})`, `Keep the library open late (${tag})`]);
    expect(data.feed.map((item) => item.post.likeCount).slice(0, 2)).toEqual([10, 6]);
  }, testTimeoutMs);

  it('refuses the members-only feed to a non-member and to an anonymous AppView request, and serves a member', async () => {
    const stranger = await loginAgent(network().pdsUrl, eve);
    const refused = await failureOf(stranger.app.bsky.feed.getFeed({ feed: feedUri('club-only') }));
    const anonymous = await failureOf(new AtpAgent({ service: network().appviewUrl }).app.bsky.feed.getFeed({ feed: feedUri('club-only') }));
    console.log(`[appview] members-only feed: non-member through the PDS → ${JSON.stringify(refused)}; anonymous at the AppView → ${JSON.stringify(anonymous)}`);
    expect(refused).toMatchObject({ status: 403, error: 'Forbidden' });
    expect(anonymous).toMatchObject({ status: 401, error: 'AuthMissing' });

    const member = await loginAgent(network().pdsUrl, carol);
    const { data } = await member.app.bsky.feed.getFeed({ feed: feedUri('club-only') });
    expect(data.feed.map((item) => item.post.uri)).toEqual([posts.thanks!.uriStr, posts.library!.uriStr, posts.trees!.uriStr]);
    expect(data.feed.map(textOf)[1]).toBe(`Keep the library open late (${tag})`);
  }, testTimeoutMs);

  it('receives sendInteractions sent through the PDS with the atproto-proxy header', async () => {
    const reader = await loginAgent(network().pdsUrl, eve);
    const { data } = await reader.app.bsky.feed.getFeed({ feed: feedUri('common-ground') });
    const [first] = data.feed;
    tokens.length = 0;
    const proxied = reader.withProxy('bsky_fg', serviceDid);
    await proxied.app.bsky.feed.sendInteractions({
      feed: feedUri('common-ground'),
      interactions: [
        { item: first!.post.uri, event: 'app.bsky.feed.defs#requestMore', feedContext: first!.feedContext, reqId: first!.reqId },
        { item: first!.post.uri, event: 'app.bsky.feed.defs#interactionSeen', feedContext: first!.feedContext, reqId: first!.reqId },
      ],
    });
    expect(tokens).toEqual([{ lxm: SEND_INTERACTIONS, claims: expect.objectContaining({ iss: eve.did, aud: serviceDid, lxm: SEND_INTERACTIONS }) }]);

    const rows = await waitFor('the feedback rows', async () => {
      const found = await query<{ kind: string; subject_uri: string }>(
        `SELECT kind, subject_uri FROM ${database}.interactions FINAL WHERE actor = '${eve.did}' AND kind IN ('requestMore', 'interactionSeen') ORDER BY kind`,
      );
      return found.length === 2 ? found : undefined;
    });
    expect(rows).toEqual([
      { kind: 'interactionSeen', subject_uri: first!.post.uri },
      { kind: 'requestMore', subject_uri: first!.post.uri },
    ]);
    // What we served to the reader through the AppView was recorded as impressions.
    await waitFor('the reader impressions', async () => {
      const found = await query(`SELECT post FROM ${database}.impressions FINAL WHERE viewer = '${eve.did}' AND feed = '${feedUri('common-ground')}'`);
      return found.length === data.feed.length ? found : undefined;
    });
  }, testTimeoutMs);

  it("changes the reader's next getFeed after a requestLess sent through the PDS, in every feed, and nobody else's", async () => {
    const reader = await loginAgent(network().pdsUrl, eve);
    // The reader was served this feed by the tests above: what she saw then sinks for her on this
    // visit, so the two bridging posts are on her page, no longer necessarily at its top.
    const before = (await reader.app.bsky.feed.getFeed({ feed: feedUri('common-ground') })).data.feed;
    expect(before.map((item) => item.post.uri)).toEqual(expect.arrayContaining([posts.trees!.uriStr, posts.library!.uriStr]));
    const trees = before.find((item) => item.post.uri === posts.trees!.uriStr)!;
    await reader.withProxy('bsky_fg', serviceDid).app.bsky.feed.sendInteractions({
      feed: feedUri('common-ground'),
      interactions: [{ item: posts.trees!.uriStr, event: 'app.bsky.feed.defs#requestLess', feedContext: trees.feedContext, reqId: trees.reqId }],
    });
    const after = (await reader.app.bsky.feed.getFeed({ feed: feedUri('common-ground') })).data.feed;
    expect(after.map((item) => item.post.uri)).not.toContain(posts.trees!.uriStr);
    expect(after.map((item) => item.post.uri)).toContain(posts.library!.uriStr);
    const recent = (await reader.app.bsky.feed.getFeed({ feed: feedUri('club-recent') })).data.feed;
    expect(recent.map((item) => item.post.uri)).toEqual([posts.thanks!.uriStr, posts.library!.uriStr]);
    const other = await loginAgent(network().pdsUrl, dave);
    const theirs = (await other.app.bsky.feed.getFeed({ feed: feedUri('common-ground') })).data.feed;
    expect(theirs.map((item) => item.post.uri).slice(0, 2)).toEqual([posts.trees!.uriStr, posts.library!.uriStr]);
  }, testTimeoutMs);

  it('unpublishes the feeds, after which the AppView no longer finds them', async () => {
    const results = await (await FeedPublisher.login(config)).unpublishAll(app().app.get(CurationService).current);
    expect(results.map((result) => result.action)).toEqual(['deleted', 'deleted', 'deleted']);
    await network().syncAppView();
    const reader = await loginAgent(network().pdsUrl, eve);
    const gone = await failureOf(reader.app.bsky.feed.getFeedGenerator({ feed: feedUri('club-recent') }));
    expect(gone.status).toBe(400);
  }, testTimeoutMs);

  it('stops our app and leaves no server of ours behind', async () => {
    await app().close();
    running = undefined;
    await expect(fetch(`${feedgenUrl}/xrpc/app.bsky.feed.describeFeedGenerator`)).rejects.toThrow();
    console.log(`[appview] total ${Math.round(performance.now() - startedAt)} ms; peak rss ${Math.round(process.resourceUsage().maxRSS / 1024)} MiB`);
  }, testTimeoutMs);
});
