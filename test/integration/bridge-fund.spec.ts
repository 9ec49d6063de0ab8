import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Secp256k1Keypair } from '@atproto/crypto';
import { createServiceJwt } from '@atproto/xrpc-server';
import { FundRepository, ScoreRepository } from '#lib/clickhouse';
import { loadConfig } from '#lib/config';
import { eligibility, measureOf } from '#lib/funding';
import { MESSAGE_BUS } from '#lib/platform';
import type { MessageBus } from '#lib/contracts';
import {
  generateJetstreamEvents,
  pledgeEvent,
  startJetstreamReplayServer,
  startPlcDirectory,
  testAppEnv,
  waitFor,
  type JetstreamReplayServer,
  type PlcDirectoryServer,
} from '#lib/testing';
import { startApp, type RunningApp } from '../../services/app/src/app.factory.js';
import { ScoreSnapshotJob } from '../../services/scoring/src/score-snapshot.job.js';

const publisher = 'did:plc:publisher0000000000000000';
const serviceDid = 'did:web:fund.test';
const feedUri = (name: string) => `at://${publisher}/app.bsky.feed.generator/${name}`;
const GET_SKELETON = 'app.bsky.feed.getFeedSkeleton';
const adminToken = 'fund-admin-token-0123456789abcdef0123456789';

interface Item {
  post: string;
  feedContext?: string;
}
interface Report {
  pledged: number;
  matched: number;
  spent: number;
  remaining: number;
  budget: number;
  impressions: number;
  impressionsOutsideCommunity: number;
  refusedPledges: Record<string, number>;
  posts: { post: string; spent: number; impressions: number }[];
}

describe('the Bridge Fund through the real pipeline, served by two feed generators', () => {
  const startUs = (Date.now() - 20 * 3_600_000) * 1000;
  const generated = generateJetstreamEvents({
    seed: 15,
    users: 900,
    events: 30_000,
    startUs,
    durationSec: 19 * 3_600,
    communities: [
      { name: 'alpha', members: 150 },
      { name: 'beta', members: 150 },
      { name: 'gamma', members: 150 },
    ],
    bridgingShare: 0.05,
    mix: { other: 0 },
  });
  const [alphaAll, betaAll, gammaAll] = generated.communities.map((community) => community.members) as [string[], string[], string[]];
  /** Members of one community only (generated communities may overlap): the match and reach below count on it. */
  const only = (members: string[], ...others: string[][]) => members.filter((did) => !others.some((other) => other.includes(did)));
  const [alpha, beta, gamma] = [only(alphaAll, betaAll, gammaAll), only(betaAll, alphaAll, gammaAll), only(gammaAll, alphaAll, betaAll)];
  const viewers = [alpha[0]!, alpha[1]!, gamma[0]!, gamma[1]!];
  const keys = new Map<string, Secp256k1Keypair>();
  let dir: string;
  let plc: PlcDirectoryServer;
  let replay: JetstreamReplayServer;
  let ranker: RunningApp;
  let replica: RunningApp;
  let target: { uri: string; rank: number };
  let organicInOther: number | undefined;
  let boostedRank: number;

  const snapshot = () => ranker.app.get(ScoreSnapshotJob).runOnce();
  const page = async (app: RunningApp, feed: string, limit: number, viewer?: string, cursor?: string) => {
    const jwt = viewer ? await createServiceJwt({ iss: viewer, aud: serviceDid, lxm: GET_SKELETON, keypair: keys.get(viewer)! }) : undefined;
    const url = `${app.url}/xrpc/${GET_SKELETON}?feed=${encodeURIComponent(feedUri(feed))}&limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const response = await fetch(url, { headers: jwt ? { authorization: `Bearer ${jwt}` } : {} });
    expect(response.status).toBe(200);
    return (await response.json()) as { feed: Item[]; cursor?: string };
  };
  const rankIn = async (feed: string, uri: string) => {
    const items = (await page(ranker, feed, 100)).feed;
    const index = items.findIndex((item) => item.post === uri);
    return index < 0 ? undefined : { rank: index + 1, item: items[index]! };
  };
  const report = async (community: string, app = replica) => {
    const response = await fetch(`${app.url}/api/funds/${community}/current`);
    expect(response.status).toBe(200);
    return (await response.json()) as Report;
  };
  const pledge = (did: string, community: string, post: string, amount: number) => pledgeEvent({ did, community, post, amount });

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'cg-fund-'));
    const community = (name: string, members: string[]) => [`  ${name}:`, '    members:', `      dids: [${members.join(', ')}]`];
    await writeFile(
      path.join(dir, 'feeds.yaml'),
      [
        'communities:',
        ...community('alpha', alphaAll),
        ...community('beta', betaAll),
        ...community('gamma', gammaAll),
        'feeds:',
        '  ab:',
        '    displayName: Alpha and beta',
        '    communities: [alpha, beta]',
        '    ranking: bridging',
        '    windowHours: 48',
        '    halfLifeHours: 1000',
        '  g:',
        '    displayName: Gamma',
        '    communities: [gamma]',
        '    ranking: bridging',
        '    windowHours: 48',
        '    halfLifeHours: 1000',
        'funds:',
        '  alpha: { budget: 2, matchingPool: 100, memberAllowance: 100 }',
        '  beta: { budget: 2, matchingPool: 100, memberAllowance: 100 }',
      ].join('\n'),
    );
    plc = await startPlcDirectory();
    for (const did of viewers) {
      const keypair = await Secp256k1Keypair.create();
      keys.set(did, keypair);
      plc.publish(did, keypair, `${did.slice(8, 16)}.test`);
    }
    replay = await startJetstreamReplayServer({ events: generated.events });
    const config = loadConfig(
      testAppEnv({
        name: 'fund',
        dataDir: dir,
        feedsFile: path.join(dir, 'feeds.yaml'),
        jetstreamUrl: replay.subscribeUrl,
        overrides: {
          FEEDGEN_SERVICE_DID: serviceDid,
          FEEDGEN_PUBLISHER_DID: publisher,
          PLC_URL: plc.url,
          IDENTITY_ALLOW_INSECURE: 'true',
          SCORING_SNAPSHOTS: 'false',
          ADMIN_TOKEN: adminToken,
          INGEST_BATCH_MAX_WAIT_MS: '50',
          // One credit an impression: four viewers spend a fund of two credits shared with another fund.
          FUND_CREDITS_PER_1000_IMPRESSIONS: '1000',
        },
      }),
    );
    ranker = await startApp(config);
    // @NOTE A second feed generator on the same ClickHouse database and the same bus: a replica. chDB
    // shares one engine per process, so this is what two feed-generator processes on one server are.
    replica = await startApp({ ...config, role: 'feed-generator' }, { bus: ranker.app.get<MessageBus>(MESSAGE_BUS) });
    await waitFor('the replay in ClickHouse', async () => {
      const status = (await (await fetch(`${ranker.opsUrl}/status`)).json()) as { store: { events: number } };
      return status.store.events === generated.counts.mappable ? true : undefined;
    });
    await snapshot();

    // The post to fund: eligible across alpha and beta, well down the feed.
    const scores = ranker.app.get(ScoreRepository);
    const latest = (await scores.latestSnapshot(feedUri('ab')))!;
    const ranked = await scores.top(feedUri('ab'), latest.snapshot, 60);
    const funders = [{ community: 'alpha', minBridging: 0.5 }, { community: 'beta', minBridging: 0.5 }];
    const found = ranked.filter((item) => item.rank >= 20 && eligibility(measureOf(item.components), funders).eligible).at(-1);
    expect(found).toBeDefined();
    target = { uri: found!.uri, rank: found!.rank };
    organicInOther = (await rankIn('g', target.uri))?.rank;
  });

  afterAll(async () => {
    // The ranker's process owns the shared bus: the replica goes after it.
    await ranker?.close();
    await replica?.close();
    await replay?.close();
    await plc?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('takes pledges from records, refuses and counts the ones no fund can honour, and raises the post in the funders’ feed only', async () => {
    const withdrawn = pledge(alpha[5]!, 'alpha', target.uri, 40);
    replay.push(
      withdrawn,
      pledge(alpha[3]!, 'alpha', target.uri, 60),
      pledge(beta[3]!, 'beta', target.uri, 60),
      pledge(gamma[3]!, 'alpha', target.uri, 50),
      pledge(alpha[4]!, 'alpha', target.uri, 500),
      pledge(beta[4]!, 'beta', `at://${beta[4]}/app.bsky.feed.post/3kgone0000000`, 5),
    );
    replay.push(pledgeEvent({ did: withdrawn.did, community: 'alpha', post: target.uri, amount: 40, rkey: withdrawn.commit.rkey, operation: 'delete' }));
    const funds = ranker.app.get(FundRepository);
    await waitFor('the pledges in ClickHouse', async () => ((await funds.pledges(0, Date.now() * 2000)).length === 5 ? true : undefined));
    await snapshot();

    const boosted = (await rankIn('ab', target.uri))!;
    expect(boosted.rank).toBeLessThan(target.rank);
    boostedRank = boosted.rank;
    expect(JSON.parse(boosted.item.feedContext!)).toMatchObject({ f: ['alpha', 'beta'], e: expect.any(Number) });
    const explanation = (await (await fetch(`${replica.url}/api/feeds/ab/explain?post=${encodeURIComponent(target.uri)}`)).json()) as {
      components: { boost: { says: string; unboostedRank: number } };
    };
    expect(explanation.components.boost.says).toBe('raised by the alpha × beta fund: 120 credits, 60 matched');
    expect(explanation.components.boost.unboostedRank).toBe(target.rank);

    // Never above the page share (20%: one in any five), never twice, in any page.
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let n = 0; n < 5; n += 1) {
      const next = await page(ranker, 'ab', 10, undefined, cursor);
      expect(next.feed.filter((item) => item.feedContext?.includes('"f"')).length).toBeLessThanOrEqual(2);
      seen.push(...next.feed.map((item) => item.post));
      cursor = next.cursor;
    }
    expect(new Set(seen).size).toBe(seen.length);

    // The other community's feed is untouched.
    expect((await rankIn('g', target.uri))?.rank).toBe(organicInOther);
    for (const item of (await page(ranker, 'g', 100)).feed) expect(item.feedContext ?? '').not.toContain('"f"');

    const alphaReport = await report('alpha');
    expect(alphaReport).toMatchObject({ pledged: 60, matched: 30, spent: 0, remaining: 2, refusedPledges: { 'not-member': 1, 'over-allowance': 1 } });
    expect((await report('beta')).refusedPledges).toEqual({ 'deleted-post': 1 });
  });

  it('charges the funds once per viewer from impressions both replicas served, and stops the boost at zero budget', async () => {
    for (const viewer of viewers) {
      for (const app of [ranker, replica]) {
        const served = await page(app, 'ab', 50, viewer);
        expect(served.feed.map((item) => item.post)).toContain(target.uri);
      }
    }
    await waitFor('the impressions settled', async () => {
      await snapshot();
      const [a, b] = await Promise.all([report('alpha', ranker), report('beta', ranker)]);
      return a.impressions + b.impressions >= 4 ? { a, b } : undefined;
    });
    const [a, b] = await Promise.all([report('alpha', ranker), report('beta', ranker)]);
    // Four viewers saw the boosted post, each through both replicas: four impressions, shared by the two funds.
    expect(a.impressions + b.impressions).toBe(4);
    expect(a).toMatchObject({ spent: 2, remaining: 0, impressionsOutsideCommunity: 2 });
    expect(b).toMatchObject({ spent: 2, remaining: 0, impressionsOutsideCommunity: 4 });
    expect(a.posts[0]).toMatchObject({ post: target.uri, spent: 2, impressions: 2 });

    // The snapshot after the budget ran out raises nothing (the impressions served moved the organic ranks a little).
    await new Promise((resolve) => setTimeout(resolve, 2_100));
    const after = await rankIn('ab', target.uri);
    expect(after?.rank ?? Infinity).toBeGreaterThan(boostedRank + 5);
    expect(after?.item.feedContext ?? '').not.toContain('"f"');
    const explanation = (await (await fetch(`${replica.url}/api/feeds/ab/explain?post=${encodeURIComponent(target.uri)}`)).json()) as { components: Record<string, unknown> };
    expect(explanation.components.boost).toBeUndefined();
  });

  it('lets curators set a fund and record and withdraw a pledge for a member through the admin API', async () => {
    const admin = (method: string, route: string, body?: unknown) =>
      fetch(`${replica.url}/api/admin/${route}`, {
        method,
        headers: { authorization: `Bearer ${adminToken}`, ...(body !== undefined && { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    expect(await (await admin('PUT', 'funds/gamma', { budget: 5, pageShare: 0.1 })).json()).toMatchObject({ community: 'gamma', budget: 5, pageShare: 0.1, matchingPool: 0 });
    expect(await report('gamma')).toMatchObject({ budget: 5, spent: 0 });
    const refused = await admin('PUT', 'funds/gamma', { budget: -1 });
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { message: string }).message).toContain('funds.gamma.budget');

    const invalid = await admin('POST', 'pledges', { pledger: gamma[2], community: 'gamma', post: 'not a post', amount: 0 });
    expect(invalid.status).toBe(400);
    expect(((await invalid.json()) as { message: string }).message).toMatch(/post: .*amount: /);
    const recorded = (await (await admin('POST', 'pledges', { pledger: gamma[2], community: 'gamma', post: target.uri, amount: 7 })).json()) as { rkey: string };
    const funds = ranker.app.get(FundRepository);
    const live = async () => (await funds.pledges(0, Date.now() * 2000)).filter((row) => row.community === 'gamma').map((row) => row.amount);
    expect(await live()).toEqual([7]);
    expect((await admin('DELETE', `pledges/${gamma[2]}/${recorded.rkey}`)).status).toBe(200);
    expect(await live()).toEqual([]);
    expect((await fetch(`${replica.url}/api/admin/pledges`, { method: 'POST' })).status).toBe(401);
  });

  it('answers the public report for unknown funds and epochs with clear errors', async () => {
    expect((await fetch(`${replica.url}/api/funds/nobody/current`)).status).toBe(404);
    expect((await fetch(`${replica.url}/api/funds/alpha/later`)).status).toBe(400);
    expect((await fetch(`${replica.url}/api/funds/alpha/99999999`)).status).toBe(400);
  });
});
