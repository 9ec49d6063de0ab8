import { readFile, writeFile } from 'node:fs/promises';
import { AtpAgent } from '@atproto/api';
import { Secp256k1Keypair } from '@atproto/crypto';
import { createServiceJwt } from '@atproto/xrpc-server';
import type { ClickHouseClient } from '#lib/clickhouse';
import type { AppConfig } from '#lib/config';
import { APP_CONFIG, CLICKHOUSE, Metrics } from '#lib/platform';
import {
  startHandleDirectory,
  startJetstreamReplayServer,
  type HandleDirectoryServer,
  type JetstreamReplayServer,
  waitFor,
  startTestApp,
  type TestApp,
} from '#lib/testing';
import { CommunityMembersService } from '../../services/feed-generator/src/feeds/community-members.service.js';
import { ScoreSnapshotJob } from '../../services/scoring/src/score-snapshot.job.js';
import { startPlcDirectory, type PlcDirectoryServer } from '#lib/testing';
import { ImpressionRecorder } from '../../services/feed-generator/src/feeds/impression.recorder.js';

const serviceDid = 'did:web:feeds.common-ground.test';
const publisher = 'did:plc:publisher0000000000000000';
const curator = 'did:plc:curator00000000000000000';
const alice = 'did:plc:alice00000000000000000000';
const bob = 'did:plc:bob0000000000000000000000';
const mallory = 'did:plc:mallory00000000000000000';
const carol = 'did:plc:carol00000000000000000000';
const dave = 'did:plc:dave000000000000000000000';
/** A viewer whose DID nothing resolves before the PLC directory goes away. */
const erin = 'did:plc:erin000000000000000000000';
const clubList = `at://${curator}/app.bsky.graph.list/3kclublist000`;
const adminToken = 'admin-token-for-tests-0123456789';
const feed = (name: string) => `at://${publisher}/app.bsky.feed.generator/${name}`;
const GET_SKELETON = 'app.bsky.feed.getFeedSkeleton';

/** Five accounts besides alice: with her, one more than the bound this app runs with. */
const crowd = Array.from({ length: 5 }, (_, n) => `did:plc:crowd${String(n).padStart(19, '0')}`);

const curation = `communities:
  club:
    name: The club
    members:
      dids: [${alice}]
      lists: [${clubList}]
      handles: [carol.test, frank.test]
  by-handle:
    members:
      handles: [carol.test, frank.test]
  crowd:
    name: A crowd over the bound
    members:
      dids: [${alice}, ${crowd.join(', ')}]
feeds:
  club-only:
    displayName: Club, members only
    communities: [club]
    membersOnly: true
  club-public:
    displayName: Club, public
    communities: [club]
  by-handle:
    displayName: By handle, ranked
    communities: [by-handle]
    ranking: bridging-within
  crowd-only:
    displayName: Crowd, members only
    communities: [crowd]
    membersOnly: true
    ranking: bridging-within
`;

let t = (Date.now() - 60_000) * 1000;
const commit = (did: string, collection: string, rkey: string, record: Record<string, unknown>) => ({
  did,
  time_us: (t += 1_000),
  kind: 'commit' as const,
  commit: { rev: `3k${rkey}`, operation: 'create' as const, collection, rkey, cid: `bafyrei${rkey.padEnd(52, 'a')}`, record },
});
const post = (did: string, rkey: string) =>
  commit(did, 'app.bsky.feed.post', rkey, { $type: 'app.bsky.feed.post', text: `hello from ${rkey}`, createdAt: new Date().toISOString(), langs: ['en'] });

describe('curators, members-only feeds, verified service auth and feedback', () => {
  let plc: PlcDirectoryServer;
  let handles: HandleDirectoryServer;
  let plcStopped = false;
  let replay: JetstreamReplayServer;
  let running: TestApp;
  let agent: AtpAgent;
  const keys = new Map<string, Secp256k1Keypair>();

  const token = async (iss: string, options: { aud?: string; lxm?: string; exp?: number; signer?: string } = {}) =>
    createServiceJwt({
      iss,
      aud: options.aud ?? serviceDid,
      lxm: options.lxm ?? GET_SKELETON,
      exp: options.exp,
      keypair: keys.get(options.signer ?? iss)!,
    });
  const skeleton = async (name: string, jwt?: string) => {
    const url = `${running.url}/xrpc/${GET_SKELETON}?feed=${encodeURIComponent(feed(name))}`;
    const response = await fetch(url, { headers: jwt ? { authorization: `Bearer ${jwt}` } : {} });
    return { status: response.status, body: (await response.json()) as { feed?: { post: string }[]; error?: string } };
  };
  const admin = (method: string, route: string, body?: unknown, auth = adminToken) =>
    fetch(`${running.url}/api/admin/${route}`, {
      method,
      headers: { authorization: `Bearer ${auth}`, ...(body !== undefined && { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });

  beforeAll(async () => {
    plc = await startPlcDirectory();
    for (const did of [alice, bob, mallory, carol, dave, erin]) {
      const keypair = await Secp256k1Keypair.create();
      keys.set(did, keypair);
      plc.publish(did, keypair, `${did.slice(8, 13).replace(/0+$/, '')}.test`);
    }
    // The curated handles: carol.test is carol's, both ways. frank.test's domain names dave, whose
    // DID document does not name it back. Mallory's own DID document claims carol.test.
    handles = await startHandleDirectory();
    handles.publish('carol.test', carol);
    handles.publish('frank.test', dave);
    plc.publish(mallory, keys.get(mallory)!, 'carol.test');
    replay = await startJetstreamReplayServer({ events: [post(alice, '3kalice000001'), post(bob, '3kbob00000001')] });
    running = await startTestApp({
      name: 'curation',
      feeds: curation,
      jetstreamUrl: replay.subscribeUrl,
      overrides: {
        FEEDGEN_SERVICE_DID: serviceDid,
        FEEDGEN_PUBLISHER_DID: publisher,
        PLC_URL: plc.url,
        IDENTITY_ALLOW_INSECURE: 'true',
        IDENTITY_TEST_HANDLE_ORIGIN: handles.url,
        ADMIN_TOKEN: adminToken,
        INGEST_BATCH_MAX_WAIT_MS: '50',
        SEND_INTERACTIONS_BURST: '3',
        SEND_INTERACTIONS_PER_MINUTE: '1',
        COMMUNITY_MAX_MEMBERS: '5',
      },
    });
    agent = new AtpAgent({ service: running.url });
    await waitFor('the first posts in the public feed', async () => (await skeleton('club-public')).body.feed?.length === 1);
  });

  afterAll(async () => {
    await running?.close();
    await replay?.close();
    if (!plcStopped) await plc?.close();
    await handles?.close();
  });

  describe('service auth on getFeedSkeleton', () => {
    it('accepts a valid token whose audience is the service DID, with or without #bsky_fg', async () => {
      expect((await skeleton('club-public', await token(bob))).status).toBe(200);
      expect((await skeleton('club-public', await token(bob, { aud: `${serviceDid}#bsky_fg` }))).status).toBe(200);
    });

    it.each([
      ['expired', 'JwtExpired', () => token(bob, { exp: Math.floor(Date.now() / 1000) - 10 })],
      ['forged (signed by another key)', 'BadJwtSignature', () => token(bob, { signer: mallory })],
      ['for another service', 'BadJwtAudience', () => token(bob, { aud: 'did:web:elsewhere.test' })],
      ['for another method', 'BadJwtLexiconMethod', () => token(bob, { lxm: 'app.bsky.feed.getTimeline' })],
      ['from an unknown account', 'UnknownIssuer', async () => createServiceJwt({ iss: 'did:plc:nobody000000000000000000', aud: serviceDid, lxm: GET_SKELETON, keypair: keys.get(bob)! })],
      ['not a JWT', 'BadJwt', async () => 'not.a.jwt'],
    ])('rejects a token that is %s with 401 %s, as the atproto XRPC server names it', async (_defect, error, make) => {
      const response = await skeleton('club-public', await make());
      expect(response.status).toBe(401);
      expect(response.body.error).toBe(error);
    });

    it('serves public feeds to anonymous requests', async () => {
      expect((await skeleton('club-public')).status).toBe(200);
    });
  });

  describe('members-only feeds', () => {
    it('serves a member, and refuses anonymous requests and non-members without leaking a post', async () => {
      const member = await skeleton('club-only', await token(alice));
      expect(member.status).toBe(200);
      expect(member.body.feed!.map((item) => item.post)).toEqual([`at://${alice}/app.bsky.feed.post/3kalice000001`]);

      const anonymous = await skeleton('club-only');
      expect(anonymous).toEqual({ status: 401, body: { error: 'AuthMissing', message: expect.any(String) } });
      const stranger = await skeleton('club-only', await token(bob));
      expect(stranger).toEqual({ status: 403, body: { error: 'Forbidden', message: expect.any(String) } });
    });

    it('admits a new member as soon as the list-item event adding them arrives', async () => {
      replay.push(
        commit(curator, 'app.bsky.graph.listitem', '3klistitem001', {
          $type: 'app.bsky.graph.listitem',
          subject: bob,
          list: clubList,
          createdAt: new Date().toISOString(),
        }),
      );
      await waitFor('bob admitted to the members-only feed', async () => (await skeleton('club-only', await token(bob))).status === 200, 20_000);
      const { body } = await skeleton('club-public');
      expect(body.feed!.map((item) => item.post).sort()).toEqual([
        `at://${alice}/app.bsky.feed.post/3kalice000001`,
        `at://${bob}/app.bsky.feed.post/3kbob00000001`,
      ]);
    });

    it("refuses a viewer who wrote an item naming the club's list into their own repo", async () => {
      replay.push(
        commit(mallory, 'app.bsky.graph.listitem', '3kforeign0001', {
          $type: 'app.bsky.graph.listitem',
          subject: mallory,
          list: clubList,
          createdAt: new Date().toISOString(),
        }),
      );
      const clickhouse = running.app.get<ClickHouseClient>(CLICKHOUSE);
      const { database } = running.app.get<AppConfig>(APP_CONFIG).clickhouse;
      await waitFor('the foreign list item in ClickHouse', async () => {
        const result = await clickhouse.query({ query: `SELECT rkey FROM ${database}.graph FINAL WHERE did = '${mallory}' AND kind = 'listitem'`, format: 'JSONEachRow' });
        return (await result.json()).length === 1;
      });
      running.app.get(CommunityMembersService).invalidate();
      expect(await skeleton('club-only', await token(mallory))).toEqual({ status: 403, body: { error: 'Forbidden', message: expect.any(String) } });
      expect((await skeleton('club-only', await token(bob))).status).toBe(200);
    });

    it('admits by a curated handle only the account the handle verifies as, both ways, whatever the firehose claims', async () => {
      replay.push({ did: mallory, time_us: (t += 1_000), kind: 'identity', identity: { did: mallory, handle: 'carol.test', seq: 1, time: new Date().toISOString() } });
      replay.push({ did: dave, time_us: (t += 1_000), kind: 'identity', identity: { did: dave, handle: 'frank.test', seq: 2, time: new Date().toISOString() } });
      const clickhouse = running.app.get<ClickHouseClient>(CLICKHOUSE);
      const { database } = running.app.get<AppConfig>(APP_CONFIG).clickhouse;
      await waitFor('the identity events in ClickHouse', async () => {
        const result = await clickhouse.query({ query: `SELECT handle FROM ${database}.identities FINAL WHERE did IN ('${mallory}', '${dave}') ORDER BY handle`, format: 'JSONEachRow' });
        return JSON.stringify(await result.json()) === JSON.stringify([{ handle: 'carol.test' }, { handle: 'frank.test' }]);
      });
      running.app.get(CommunityMembersService).invalidate();

      const refused = { status: 403, body: { error: 'Forbidden', message: expect.any(String) } };
      expect(await skeleton('club-only', await token(mallory))).toEqual(refused);
      expect(await skeleton('club-only', await token(dave))).toEqual(refused);
      expect((await skeleton('club-only', await token(carol))).status).toBe(200);
      const members = (await (await admin('GET', 'communities/club/members')).json()) as { sample: string[] };
      expect(members.sample.filter((did) => [carol, mallory, dave].includes(did))).toEqual([carol]);

      // Scoring ranks from the same verified members: only carol's post is a candidate.
      replay.push(post(carol, '3kcarol000001'), post(mallory, '3kmallory0001'), post(dave, '3kdave0000001'));
      await waitFor('the three posts in ClickHouse', async () => {
        const result = await clickhouse.query({ query: `SELECT count() AS n FROM ${database}.posts FINAL WHERE did IN ('${carol}', '${mallory}', '${dave}')`, format: 'JSONEachRow' });
        return Number((await result.json<{ n: string }>())[0]?.n) === 3;
      });
      const runs = await running.app.get(ScoreSnapshotJob).runOnce();
      expect(runs.find((run) => run.feed === feed('by-handle'))).toMatchObject({ candidates: 1 });
    });
  });

  describe('a community over the members bound (COMMUNITY_MAX_MEMBERS)', () => {
    it('counts as empty and says why, in the console and the metrics, while the other communities and their feeds go on', async () => {
      const members = (await (await admin('GET', 'communities/crowd/members')).json()) as Record<string, unknown>;
      expect(members).toEqual({ id: 'crowd', count: 0, sample: [], tooLarge: expect.stringMatching(/more than 5 accounts \(COMMUNITY_MAX_MEMBERS\)/) });
      // Alice is named in it, yet the members-only feed of a community counted as empty admits no one.
      expect(await skeleton('crowd-only', await token(alice))).toEqual({ status: 403, body: { error: 'Forbidden', message: expect.any(String) } });
      expect((await skeleton('club-only', await token(alice))).status).toBe(200);
      expect((await (await admin('GET', 'communities/club/members')).json()) as Record<string, unknown>).not.toHaveProperty('tooLarge');

      const runs = await running.app.get(ScoreSnapshotJob).runOnce();
      expect(runs.map((run) => run.feed)).toEqual(expect.arrayContaining([feed('by-handle'), feed('crowd-only')]));
      expect(runs.find((run) => run.feed === feed('crowd-only'))?.candidates ?? 0).toBe(0);
      const metrics = running.app.get(Metrics);
      await metrics.scrape();
      expect(await metrics.sum(metrics.communityTooLarge, { community: 'crowd' })).toBe(1);
      expect(await metrics.sum(metrics.communityTooLarge, { community: 'club' })).toBeUndefined();
    });
  });

  describe('curation without restart', () => {
    it('keeps the previous definitions when the curator file has a mistake, and takes the fix', async () => {
      const file = running.feedsFile;
      const good = await readFile(file, 'utf8');
      await writeFile(file, `${good}  broken:\n    displayName: Broken\n    communities: [nobody]\n`);
      await waitFor('the rejected curator file reported', async () => {
        const state = (await (await admin('GET', 'curation')).json()) as { lastProblem: string | null };
        return state.lastProblem?.includes('feeds.broken.communities.0') ?? false;
      });
      expect((await skeleton('club-public')).status).toBe(200);

      await writeFile(file, `${good}  fixed:\n    displayName: Fixed\n    communities: [club]\n`);
      await waitFor('the fixed feed described', async () => {
        const { data } = await agent.app.bsky.feed.describeFeedGenerator();
        return data.feeds.some((entry) => entry.uri === feed('fixed'));
      });
      const { versions } = (await (await admin('GET', 'curation/versions')).json()) as { versions: { source: string }[] };
      expect(versions.map((version) => version.source)).toEqual(['file', 'file']);
    });

    it('lets curators edit feeds through the admin API, with the same validation', async () => {
      expect((await admin('PUT', 'feeds/club-new', { displayName: 'Club, new', communities: ['club'] }, 'wrong-token-0123456789')).status).toBe(401);
      const refused = await admin('PUT', 'feeds/club-bad', { displayName: 'Bad', communities: ['club'], ranking: 'loudest' });
      expect(refused.status).toBe(400);
      expect(((await refused.json()) as { message: string }).message).toContain('feeds.club-bad.ranking');

      const created = await admin('PUT', 'feeds/club-new', { displayName: 'Club, new', communities: ['club'], includeReplies: true });
      expect(created.status).toBe(200);
      const { data } = await agent.app.bsky.feed.describeFeedGenerator();
      expect(data.feeds.map((entry) => entry.uri)).toContain(feed('club-new'));
      // Kept in ClickHouse as a new version, comments and all; the curator file is left as it was.
      const exported = await (await admin('GET', 'curation/export')).text();
      expect(exported).toContain('club-new:');
      expect(await readFile(running.feedsFile, 'utf8')).not.toContain('club-new:');
      const { versions } = (await (await admin('GET', 'curation/versions')).json()) as { versions: { source: string }[] };
      expect(versions[0]!.source).toBe('admin');
    });

    it('answers 404 to removing a feed, community or fund that is not there, and writes no version', async () => {
      const before = (await (await admin('GET', 'curation/versions')).json()) as { versions: unknown[] };
      for (const route of ['feeds/no-such-feed', 'communities/no-such-community', 'funds/no-such-fund']) {
        const response = await admin('DELETE', route);
        expect({ route, status: response.status }).toEqual({ route, status: 404 });
        expect(await response.json()).toMatchObject({ error: 'NotFound', message: expect.stringContaining('no-such') });
      }
      expect((await admin('GET', 'communities/no-such-community/members')).status).toBe(404);
      const after = (await (await admin('GET', 'curation/versions')).json()) as { versions: unknown[] };
      expect(after.versions).toHaveLength(before.versions.length);
      // One that is there is removed, as before.
      expect((await admin('DELETE', 'feeds/club-new')).status).toBe(200);
      expect(await (await admin('GET', 'curation/export')).text()).not.toContain('club-new:');
    });
  });

  describe('sendInteractions and impressions', () => {
    it('records feedback from an authenticated viewer and what was served to them', async () => {
      const clickhouse = running.app.get<ClickHouseClient>(CLICKHOUSE);
      const item = `at://${alice}/app.bsky.feed.post/3kalice000001`;
      expect((await skeleton('club-only', await token(alice))).status).toBe(200);

      const send = (jwt?: string) =>
        fetch(`${running.url}/xrpc/app.bsky.feed.sendInteractions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(jwt && { authorization: `Bearer ${jwt}` }) },
          body: JSON.stringify({
            feed: feed('club-only'),
            interactions: [
              { item, event: 'app.bsky.feed.defs#requestLess', feedContext: 'ctx', reqId: 'req-1' },
              { item, event: 'app.bsky.feed.defs#interactionSeen' },
            ],
          }),
        });
      const anonymous = await send();
      expect(anonymous.status).toBe(401);
      expect(anonymous.headers.get('www-authenticate')).toBe('Bearer');
      expect(anonymous.headers.get('x-content-type-options')).toBe('nosniff');
      expect((await send(await token(alice))).status).toBe(401);
      const accepted = await send(await token(alice, { lxm: 'app.bsky.feed.sendInteractions' }));
      expect(accepted.status).toBe(200);
      expect(await accepted.json()).toEqual({});
      // An answer to a request with credentials is the caller's own: no shared cache keeps it.
      expect(accepted.headers.get('cache-control')).toBe('no-store');

      const query = async (sql: string) => (await (await clickhouse.query({ query: sql, format: 'JSONEachRow' })).json<Record<string, string>>());
      const { database } = running.app.get<AppConfig>(APP_CONFIG).clickhouse;
      await waitFor('the feedback in ClickHouse', async () => (await query(`SELECT kind FROM ${database}.interactions FINAL WHERE actor = '${alice}' ORDER BY kind`)).length === 2);
      expect(await query(`SELECT kind, subject_uri FROM ${database}.interactions FINAL WHERE actor = '${alice}' ORDER BY kind`)).toEqual([
        { kind: 'interactionSeen', subject_uri: item },
        { kind: 'requestLess', subject_uri: item },
      ]);
      await waitFor('the impressions in ClickHouse', async () => (await query(`SELECT post FROM ${database}.impressions FINAL WHERE viewer = '${alice}'`)).length > 0);
    });

    const sendAs = async (viewer: string, items: string[], others: { item?: string; event?: string }[] = []) => {
      const response = await fetch(`${running.url}/xrpc/app.bsky.feed.sendInteractions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${await token(viewer, { lxm: 'app.bsky.feed.sendInteractions' })}` },
        body: JSON.stringify({ interactions: [...items.map((item) => ({ item, event: 'app.bsky.feed.defs#requestMore' })), ...others] }),
      });
      return { status: response.status, retryAfter: response.headers.get('retry-after'), body: (await response.json()) as { error?: string } };
    };

    it("bounds a feedContext in UTF-8 bytes, as the lexicon's maxLength does", async () => {
      const item = `at://${alice}/app.bsky.feed.post/3kalice000001`;
      const context = (text: string) => [{ item, event: 'app.bsky.feed.defs#interactionSeen', feedContext: text }];
      const refused = await sendAs(dave, [], context('€'.repeat(1_000)));
      expect(refused).toMatchObject({ status: 400, body: { error: 'InvalidRequest' } });
      expect((await sendAs(dave, [], context('€'.repeat(666)))).status).toBe(200);
    });

    it('answers 429 RateLimitExceeded to a viewer past its burst, while another viewer is served', async () => {
      const item = `at://${alice}/app.bsky.feed.post/3kalice000001`;
      // A burst of three, refilled at one a minute.
      for (let i = 0; i < 3; i += 1) expect((await sendAs(bob, [item])).status).toBe(200);
      const refused = await sendAs(bob, [item]);
      expect(refused.status).toBe(429);
      expect(refused.body.error).toBe('RateLimitExceeded');
      // Refilled at one a minute: the next request is allowed within that minute.
      expect(Number(refused.retryAfter)).toBeGreaterThan(0);
      expect(Number(refused.retryAfter)).toBeLessThanOrEqual(60);
      expect((await sendAs(mallory, [item])).status).toBe(200);
      expect(await running.app.get(Metrics).sum(running.app.get(Metrics).interactionsRateLimited)).toBe(1);
    });

    it('stores feedback only about posts served or servable, and drops the rest without failing the request', async () => {
      const clickhouse = running.app.get<ClickHouseClient>(CLICKHOUSE);
      const { database } = running.app.get<AppConfig>(APP_CONFIG).clickhouse;
      const served = `at://${alice}/app.bsky.feed.post/3kalice000001`;
      const unknownPost = `at://${alice}/app.bsky.feed.post/3knosuchpost1`;
      const notAPost = feed('club-public');
      const metrics = running.app.get(Metrics);
      // An at-uri naming its repository by handle is valid in the lexicon, and so are interactions without an item or an event.
      const byHandle = 'at://alice.test/app.bsky.feed.post/3kalice000001';
      expect((await sendAs(carol, [unknownPost, served, notAPost, byHandle], [{ item: served }, { event: 'app.bsky.feed.defs#requestMore' }])).status).toBe(200);
      // The request is answered once the bus acknowledged; in embedded mode that is once it is written.
      const result = await clickhouse.query({ query: `SELECT subject_uri FROM ${database}.interactions FINAL WHERE actor = '${carol}'`, format: 'JSONEachRow' });
      expect((await result.json<{ subject_uri: string }>()).map((row) => row.subject_uri)).toEqual([served]);
      expect(await metrics.sum(metrics.interactionsDropped, { reason: 'not-servable' })).toBe(1);
      expect(await metrics.sum(metrics.interactionsDropped, { reason: 'not-a-post' })).toBe(3);
    });
  });

  // Last: it stops the PLC directory.
  describe('while the PLC directory is unreachable', () => {
    it('serves a public feed anonymously to a viewer it cannot check, recording no impression, and keeps a members-only feed closed', async () => {
      const impressions = running.app.get(ImpressionRecorder);
      await plc.close();
      plcStopped = true;

      // erin's DID was never resolved, so her key can only come from the stopped directory.
      const before = impressions.recorded;
      const page = await skeleton('club-public', await token(erin));
      expect(page.status).toBe(200);
      expect(page.body.feed!.length).toBeGreaterThan(0);
      expect(impressions.recorded).toBe(before);

      const closed = await skeleton('club-only', await token(erin));
      expect(closed).toEqual({ status: 502, body: { error: 'UpstreamFailure', message: expect.any(String) } });

      // A viewer whose document is cached is still verified, and what they are served is recorded.
      expect((await skeleton('club-public', await token(alice))).status).toBe(200);
      expect(impressions.recorded).toBeGreaterThan(before);
    });
  });
});
