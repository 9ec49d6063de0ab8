/**
 * The Bridge Fund through the real pipeline: pledges as records through Jetstream, boosts in the
 * funders' feed, impressions served by two feed-generator processes at once settled into one
 * ledger. Real processes and infrastructure: a ClickHouse front over chDB, a real Kafka broker, the
 * ranker (the whole pipeline, its snapshot runs the test's own) in this process, and two
 * feed-generator processes; real service-auth tokens signed with keys a local PLC directory publishes.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Secp256k1Keypair } from '@atproto/crypto';
import { createServiceJwt } from '@atproto/xrpc-server';
import { FundRepository, ScoreRepository } from '#lib/clickhouse';
import { eligibility, measureOf } from '#lib/funding';
import { CurationService } from '#lib/platform';
import {
  AppProcess,
  chdbHttpEntry,
  generateJetstreamEvents,
  kafkaTestEnv,
  pledgeEvent,
  startAppProcess,
  startJetstreamReplayServer,
  startPlcDirectory,
  startTestApp,
  waitFor,
  type JetstreamReplayServer,
  type PlcDirectoryServer,
  type ServingAppProcess,
  type TestApp,
} from '#lib/testing';
import { startBroker, type StartedBroker } from '#scripts/kafka-broker.mjs';
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
  floor: number;
  impressions: number;
  impressionsOutsideCommunity: number;
  unpaidImpressions: number;
  refusedPledges: Record<string, number>;
  posts: { post: string; spent: number; impressions: number }[];
}

describe('the Bridge Fund through the real pipeline, served by two feed-generator processes at once', () => {
  const brokers = process.env.CG_TEST_KAFKA_BROKERS ?? process.env.KAFKA_BROKERS;
  const startUs = (Date.now() - 20 * 3_600_000) * 1000;
  const generated = generateJetstreamEvents({
    seed: 15,
    users: 900,
    events: 15_000,
    startUs,
    durationSec: 19 * 3_600,
    communities: [
      { name: 'alpha', members: 150 },
      { name: 'beta', members: 150 },
      { name: 'gamma', members: 150 },
    ],
    bridgingShare: 0.05,
    // No account leaves: the generator's leavers are drawn by activity, so its most active raters,
    // and the rankings drop their signals with them. This spec's funds need bridging posts below
    // rank 20 that only their raters make; accounts leaving are clickhouse-event-store.spec's.
    mix: { other: 0, account: 0 },
  });
  const [alphaAll, betaAll, gammaAll] = generated.communities.map((community) => community.members) as [string[], string[], string[]];
  /** Members of one community only (generated communities may overlap): the match and reach below count on it. */
  const only = (members: string[], ...others: string[][]) => members.filter((did) => !others.some((other) => other.includes(did)));
  const [alpha, beta, gamma] = [only(alphaAll, betaAll, gammaAll), only(betaAll, alphaAll, gammaAll), only(gammaAll, alphaAll, betaAll)];
  /** A viewer in no community: the funds pay for the impression, but it reached no other community. */
  const outsider = 'did:plc:outsidervieweraaaaaaaaaa';
  const viewers = [alpha[0]!, alpha[1]!, gamma[0]!, gamma[1]!, outsider];
  const keys = new Map<string, Secp256k1Keypair>();
  const community = (name: string, members: string[]) => [`  ${name}:`, '    members:', `      dids: [${members.join(', ')}]`];
  const curation = [
    'communities:',
    ...community('alpha', alphaAll),
    ...community('beta', betaAll),
    ...community('gamma', gammaAll),
    // A community small enough for the floor subsidy.
    ...community('delta', gamma.slice(5, 8)),
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
    '  alpha: { budget: 2.5, matchingPool: 100, memberAllowance: 100 }',
    '  beta: { budget: 2.5, matchingPool: 100, memberAllowance: 100 }',
  ].join('\n');
  let dir: string;
  let broker: StartedBroker | undefined;
  let clickhouse: AppProcess | undefined;
  let plc: PlcDirectoryServer;
  let replay: JetstreamReplayServer;
  let ranker: TestApp;
  /** The two feed-generator processes: every page, explanation and report below comes from them. */
  const servers: ServingAppProcess[] = [];
  let target: { uri: string; rank: number };
  let boostedRank: number;

  const logs = () => [clickhouse, ...servers.map((server) => server.process)].map((p) => (p ? `--- ${p.name}\n${p.output.slice(-15).join('\n')}` : '')).join('\n');
  const server = (index: 0 | 1) => servers[index]!;
  const page = async (at: ServingAppProcess, feed: string, limit: number, viewer?: string, cursor?: string) => {
    const jwt = viewer ? await createServiceJwt({ iss: viewer, aud: serviceDid, lxm: GET_SKELETON, keypair: keys.get(viewer)! }) : undefined;
    const url = `${at.url}/xrpc/${GET_SKELETON}?feed=${encodeURIComponent(feedUri(feed))}&limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const response = await fetch(url, { headers: jwt ? { authorization: `Bearer ${jwt}` } : {} });
    expect(response.status).toBe(200);
    return (await response.json()) as { feed: Item[]; cursor?: string };
  };
  /**
   * Runs the ranker's snapshots and waits until both feed generators serve every feed from the new
   * ones; returns the new snapshot of each feed by its short name.
   */
  const snapshot = async (): Promise<Map<string, number>> => {
    const job = ranker.app.get(ScoreSnapshotJob);
    // The ranker computes the feeds its Kafka group assigned it; alone in the group, it is assigned every one.
    await waitFor('the ranker holding every feed', () => job.share().shared || undefined, { context: logs });
    const runs = await job.runOnce();
    const snapshots = new Map(runs.map((run) => [run.feed.split('/').at(-1)!, run.snapshot] as const));
    for (const at of servers) {
      for (const [feed, number] of snapshots) {
        await waitFor(`${at.process.name} serving snapshot ${number} of ${feed}`, async () => (await page(at, feed, 1)).cursor?.startsWith(`s${number}::`), {
          context: logs,
        });
      }
    }
    return snapshots;
  };
  const rankIn = async (feed: string, uri: string, at = server(0)) => {
    const items = (await page(at, feed, 100)).feed;
    const index = items.findIndex((item) => item.post === uri);
    return index < 0 ? undefined : { rank: index + 1, item: items[index]! };
  };
  const report = async (community: string, at = server(1)) => {
    const response = await fetch(`${at.url}/api/funds/${community}/current`);
    expect(response.status).toBe(200);
    return (await response.json()) as Report;
  };
  /**
   * The explanation of a post's rank in `feed` (`ab` unless named): in the snapshot given (the one a
   * page was served from), or in the latest one the process knows of (which it may trust for two seconds).
   */
  const explain = async (post: string, at = server(1), snapshot?: number, feed = 'ab') =>
    (await (await fetch(`${at.url}/api/feeds/${feed}/explain?post=${encodeURIComponent(post)}${snapshot === undefined ? '' : `&snapshot=${snapshot}`}`)).json()) as {
      components: { boost?: { says: string; unboostedRank: number } } | null;
    };
  /** A counter from a process's `/metrics`. */
  const metric = async (at: ServingAppProcess, name: string) => {
    const text = await (await fetch(`${at.opsUrl}/metrics`)).text();
    return Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1]);
  };
  const pledge = (did: string, community: string, post: string, amount: number) => pledgeEvent({ did, community, post, amount });

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'cg-fund-'));
    plc = await startPlcDirectory();
    for (const did of viewers) {
      const keypair = await Secp256k1Keypair.create();
      keys.set(did, keypair);
      plc.publish(did, keypair, `${did.slice(8, 16)}.test`);
    }
    replay = await startJetstreamReplayServer({ events: generated.events });
    clickhouse = new AppProcess('clickhouse', chdbHttpEntry, {}, [path.join(dir, 'clickhouse')]).start();
    const { url: clickhouseUrl } = await clickhouse.firstJsonLine<{ url: string }>('url');
    const shared = {
      KAFKA_BROKERS: brokers ?? (broker = await startBroker({ profile: 'test' })).brokers,
      KAFKA_TOPIC_PREFIX: `fund${Date.now()}.`,
      KAFKA_PARTITIONS: '2',
      ...kafkaTestEnv,
      CLICKHOUSE_URL: clickhouseUrl,
      FEEDGEN_SERVICE_DID: serviceDid,
      FEEDGEN_PUBLISHER_DID: publisher,
      PLC_URL: plc.url,
      IDENTITY_ALLOW_INSECURE: 'true',
      ADMIN_TOKEN: adminToken,
      // One credit an impression: five viewers spend a fund of 2.5 credits shared with another fund.
      FUND_CREDITS_PER_1000_IMPRESSIONS: '1000',
      // Communities of at most ten members get three credits more each epoch.
      FUND_FLOOR_CREDITS: '3',
      FUND_FLOOR_MAX_MEMBERS: '10',
    };
    // The ranker: the whole pipeline in this process (ingest, scoring of the impressions the feed
    // generators publish, the one writer of the ledger); its snapshot runs are the test's own. It
    // ranks on a day's interval rather than not at all, so that it joins the rankers' Kafka group.
    ranker = await startTestApp({
      name: 'fund',
      feeds: curation,
      jetstreamUrl: replay.subscribeUrl,
      overrides: { ...shared, SCORING_INTERVAL_SECONDS: '86400', INGEST_BATCH_MAX_WAIT_MS: '50' },
    });
    // Started after the ranker imported the curator file; both at once.
    const env = {
      ...shared,
      CG_ROLE: 'feed-generator',
      CLICKHOUSE_DATABASE: ranker.config.clickhouse.database,
      FEEDS_FILE: ranker.feedsFile,
      LOG_LEVEL: 'warn',
    };
    // Each kept as soon as it serves, so that afterAll stops it whatever happens to the other.
    await Promise.all(['feed-generator-a', 'feed-generator-b'].map(async (name) => servers.push(await startAppProcess(name, { ...env, DATA_DIR: path.join(dir, name) }))));
    await waitFor('the replay in ClickHouse', async () => {
      const status = (await (await fetch(`${ranker.opsUrl}/status`)).json()) as { store: { events: number } };
      return status.store.events === generated.counts.mappable ? true : undefined;
    }, { timeoutMs: 180_000, context: logs });
    await snapshot();

    // The post to fund: eligible across alpha and beta, well down the feed.
    const scores = ranker.app.get(ScoreRepository);
    const latest = (await scores.latestSnapshot(feedUri('ab')))!;
    const ranked = await scores.top(feedUri('ab'), latest.snapshot, 60);
    const funders = [{ community: 'alpha', minBridging: 0.5 }, { community: 'beta', minBridging: 0.5 }];
    const found = ranked.filter((item) => item.rank >= 20 && eligibility(measureOf(item.components), funders).eligible).at(-1);
    expect(found).toBeDefined();
    target = { uri: found!.uri, rank: found!.rank };
  }, 300_000);

  afterAll(async () => {
    for (const { process } of servers) await process.stop('SIGKILL');
    await ranker?.close();
    await clickhouse?.stop();
    await broker?.stop();
    await replay?.close();
    await plc?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
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

    // Both processes serve the boost alike.
    const boosted = (await rankIn('ab', target.uri))!;
    expect(boosted.rank).toBeLessThan(target.rank);
    expect((await rankIn('ab', target.uri, server(1)))?.rank).toBe(boosted.rank);
    boostedRank = boosted.rank;
    expect(JSON.parse(boosted.item.feedContext!)).toMatchObject({ f: ['alpha', 'beta'], e: expect.any(Number) });
    const explanation = await explain(target.uri);
    expect(explanation.components?.boost?.says).toBe('raised by the alpha × beta fund: 120 credits, 60 matched');
    expect(explanation.components?.boost?.unboostedRank).toBe(target.rank);

    // Never above the page share (20%: one in any five), never twice, in any page.
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let n = 0; n < 5; n += 1) {
      const next = await page(server(n % 2 === 0 ? 0 : 1), 'ab', 10, undefined, cursor);
      expect(next.feed.filter((item) => item.feedContext?.includes('"f"')).length).toBeLessThanOrEqual(2);
      seen.push(...next.feed.map((item) => item.post));
      cursor = next.cursor;
    }
    expect(new Set(seen).size).toBe(seen.length);

    // The other community's feed is untouched: nothing raises the post there, if it ranks there at
    // all (its rank moves only with the ranking's own inputs, a pledge being an account's activity
    // like any other record), and no item of it is boosted.
    expect((await explain(target.uri, server(0), undefined, 'g')).components?.boost).toBeUndefined();
    for (const item of (await page(server(1), 'g', 100)).feed) expect(item.feedContext ?? '').not.toContain('"f"');

    const alphaReport = await report('alpha');
    expect(alphaReport).toMatchObject({ pledged: 60, matched: 30, spent: 0, remaining: 2.5, floor: 0, refusedPledges: { 'not-member': 1, 'over-allowance': 1 } });
    expect((await report('beta')).refusedPledges).toEqual({ 'deleted-post': 1 });
  });

  it('charges the funds once per viewer from impressions both processes served at once, and stops the boost at zero budget', async () => {
    // Every viewer's page from both processes, all at once.
    const served = await Promise.all(viewers.flatMap((viewer) => servers.map((at) => page(at, 'ab', 50, viewer))));
    for (const { feed } of served) expect(feed.map((item) => item.post)).toContain(target.uri);
    // Everything both processes recorded reaches the bus, and the ranker has consumed all of it.
    const published = await waitFor('the impressions published by both processes', async () => {
      const counts = await Promise.all(servers.map(async (at) => [await metric(at, 'cg_feed_impressions_recorded_total'), await metric(at, 'cg_feed_impressions_published_total')]));
      return counts.every(([recorded, sent]) => recorded! > 0 && sent === recorded) ? counts.reduce((sum, [, sent]) => sum + sent!, 0) : undefined;
    }, { context: logs });
    await waitFor('the ranker to consume every impression', async () => {
      const status = (await (await fetch(`${ranker.opsUrl}/status`)).json()) as { feedback: { consumed: number } };
      return status.feedback.consumed >= published;
    }, { context: logs });
    const settled = (await snapshot()).get('ab');
    const [a, b] = await Promise.all([report('alpha', server(0)), report('beta', server(0))]);
    // Five viewers saw the boosted post, each through both processes: five impressions, shared by
    // the two funds. Members of other communities saw it: gamma's two for alpha, those and alpha's
    // two for beta (each impression half each fund's); the outsider belongs to none.
    expect(a.impressions + b.impressions).toBe(5);
    expect(a).toMatchObject({ spent: 2.5, remaining: 0, impressionsOutsideCommunity: 1, unpaidImpressions: 0 });
    expect(b).toMatchObject({ spent: 2.5, remaining: 0, impressionsOutsideCommunity: 2, unpaidImpressions: 0 });
    expect(a.posts[0]).toMatchObject({ post: target.uri, spent: 2.5, impressions: 2.5 });

    // The snapshot after the budget ran out raises nothing, on either process (the impressions
    // served moved the organic ranks a little).
    for (const at of servers) {
      const after = await rankIn('ab', target.uri, at);
      expect(after?.rank ?? Infinity).toBeGreaterThan(boostedRank + 5);
      expect(after?.item.feedContext ?? '').not.toContain('"f"');
      expect((await explain(target.uri, at, settled)).components?.boost).toBeUndefined();
    }
  });

  it('lets curators set a fund and record and withdraw a pledge for a member through the admin API', async () => {
    const admin = (method: string, route: string, body?: unknown) =>
      fetch(`${server(1).url}/api/admin/${route}`, {
        method,
        headers: { authorization: `Bearer ${adminToken}`, ...(body !== undefined && { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    expect(await (await admin('PUT', 'funds/gamma', { budget: 5, pageShare: 0.1 })).json()).toMatchObject({ community: 'gamma', budget: 5, pageShare: 0.1, matchingPool: 0 });
    expect(await report('gamma')).toMatchObject({ budget: 5, spent: 0 });
    const refused = await admin('PUT', 'funds/gamma', { budget: -1 });
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { message: string }).message).toContain('funds.gamma.budget');
    // A misspelt field is refused, not dropped: the fund would have run on its default.
    const misspelt = await admin('PUT', 'funds/gamma', { budget: 5, maxlift: 5 });
    expect(misspelt.status).toBe(400);
    expect(((await misspelt.json()) as { message: string }).message).toContain('maxlift');
    expect((await admin('PUT', 'funds/gamma', 'five')).status).toBe(400);
    // The ledger of a fund that may boost a members-only feed lists what it boosted there: the admin's alone.
    expect((await admin('PUT', 'feeds/gamma-club', { displayName: 'Gamma club', communities: ['gamma'], membersOnly: true })).status).toBe(200);
    expect((await fetch(`${server(1).url}/api/funds/gamma/current`)).status).toBe(401);
    expect(await (await fetch(`${server(1).url}/api/funds/gamma/current`, { headers: { authorization: `Bearer ${adminToken}` } })).json()).toMatchObject({ community: 'gamma', budget: 5 });
    expect((await admin('DELETE', 'feeds/gamma-club')).status).toBe(200);
    expect(await report('gamma')).toMatchObject({ community: 'gamma', budget: 5 });
    // A small community's fund gets the floor subsidy at the next settlement; a large one none.
    expect((await admin('PUT', 'funds/delta', { budget: 1 })).status).toBe(200);
    // A run settles the funds the ranker knows: none is started before the edit reached it (a run is
    // the whole pipeline's work, and one after the other for seconds cost more than the rest of the file).
    const curation = ranker.app.get(CurationService);
    await waitFor('the ranker to hear of the delta fund', () => curation.current.funds.has('delta'), { context: logs });
    await waitFor('the floor subsidy settled', async () => {
      await ranker.app.get(ScoreSnapshotJob).runOnce();
      const delta = await report('delta', server(0));
      return delta.floor === 3 ? delta : undefined;
    }, { context: logs }).then((delta) => expect(delta).toMatchObject({ budget: 4, remaining: 4 }));
    expect(await report('gamma', server(0))).toMatchObject({ budget: 5, floor: 0 });

    const invalid = await admin('POST', 'pledges', { pledger: gamma[2], community: 'gamma', post: 'not a post', amount: 0 });
    expect(invalid.status).toBe(400);
    expect(((await invalid.json()) as { message: string }).message).toMatch(/post: .*amount: /);
    const recorded = (await (await admin('POST', 'pledges', { pledger: gamma[2], community: 'gamma', post: target.uri, amount: 7 })).json()) as { rkey: string };
    const funds = ranker.app.get(FundRepository);
    const live = async () => (await funds.pledges(0, Date.now() * 2000)).filter((row) => row.community === 'gamma').map((row) => row.amount);
    expect(await live()).toEqual([7]);
    expect((await admin('DELETE', `pledges/${gamma[2]}/${recorded.rkey}`)).status).toBe(200);
    expect(await live()).toEqual([]);
    expect((await fetch(`${server(1).url}/api/admin/pledges`, { method: 'POST' })).status).toBe(401);
  });

  it('answers the public report for unknown funds and epochs with clear errors', async () => {
    expect((await fetch(`${server(0).url}/api/funds/nobody/current`)).status).toBe(404);
    expect((await fetch(`${server(0).url}/api/funds/alpha/later`)).status).toBe(400);
    expect((await fetch(`${server(0).url}/api/funds/alpha/99999999`)).status).toBe(400);
  });
});
