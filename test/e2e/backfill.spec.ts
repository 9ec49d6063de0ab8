import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { jest } from '@jest/globals';
import { createClickHouseClient, ScoreRepository, type ClickHouseClient } from '#lib/clickhouse';
import { loadConfig, type AppConfig } from '#lib/config';
import { Nsid } from '#lib/domain';
import { NetworkReader } from '#lib/network';
import { startHandleDirectory, started, testAppEnv, waitFor, type HandleDirectoryServer } from '#lib/testing';
import { connectAtprotoNetwork, loginAgent, type AtprotoNetworkClient, type TestAccount, type TestRecordRef } from '../../libs/testing/src/atproto-network/index.js';
import { startApp, type RunningApp } from '../../services/app/src/app.factory.js';
import { BackfillService } from '../../services/backfill/src/backfill.service.js';
import { RemovedContent } from '../../services/feed-generator/src/feeds/removed-content.js';
import { CommunityMembersService } from '../../services/feed-generator/src/feeds/community-members.service.js';
import { ScoreSnapshotJob } from '../../services/scoring/src/score-snapshot.job.js';

// Communities that exist on the network before our pipeline starts: a list, a starter pack, followers of a seed
// account and a handle, with posts and likes, all on @atproto/dev-env's PDS and AppView (the run's network, shared
// with other files: what is counted is this file's communities and posts).

const startupTimeoutMs = 240_000;
const testTimeoutMs = 120_000;
const GET_FEED_SKELETON = 'app.bsky.feed.getFeedSkeleton';

describe('backfill of communities that exist before the pipeline starts', () => {
  const startedAt = performance.now();
  const database = `backfill_e2e_${process.pid}`;
  let dir: string;
  let net: AtprotoNetworkClient | undefined;
  let handles: HandleDirectoryServer | undefined;
  let running: RunningApp | undefined;
  /** Held open across app restarts: chDB drops an in-memory database with its last connection. */
  let clickhouse: ClickHouseClient | undefined;
  let config: AppConfig;
  const publisher = 'did:web:feeds.test';
  const accounts: Record<string, TestAccount> = {};
  const posts: Record<string, TestRecordRef> = {};
  /** Every repository listing our reader asked for, as `did collection`. */
  const listed: string[] = [];

  const network = () => started('network', net);
  const app = () => started('app', running);
  const did = (name: string) => accounts[name]!.did;
  const feedUri = (name: string) => `at://${publisher}/app.bsky.feed.generator/${name}`;
  const query = async <T = Record<string, string>>(sql: string): Promise<T[]> =>
    (await clickhouse!.query({ query: sql, format: 'JSONEachRow' })).json<T>();
  const skeleton = async (name: string): Promise<string[]> => {
    const response = await fetch(`${app().url}/xrpc/${GET_FEED_SKELETON}?feed=${encodeURIComponent(feedUri(name))}`);
    expect(response.status).toBe(200);
    return ((await response.json()) as { feed: { post: string }[] }).feed.map((item) => item.post);
  };
  const backfillDone = () =>
    waitFor('the backfill to finish', () => {
      const { state } = app().app.get(BackfillService).progress;
      return state.phase === 'done' ? state : undefined;
    }, 60_000);
  const likesOn = async (post: TestRecordRef) =>
    Number((await query<{ n: string }>(`SELECT count() AS n FROM ${database}.interactions FINAL WHERE deleted = 0 AND kind = 'like' AND subject_uri = '${post.uriStr}'`))[0]!.n);

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'cg-backfill-'));
    net = await connectAtprotoNetwork();
    handles = await startHandleDirectory();
    for (const name of ['curator', 'alice', 'bob', 'carol', 'dave', 'erin', 'seed', 'frank', 'mallory']) accounts[name] = await net.createAccount(name);
    handles.publish(accounts.erin!.handle, did('erin'));

    // left: a list (alice, bob) and a handle (erin). right: a starter pack (carol) and the followers of seed (dave).
    const list = await net.createList(did('curator'), 'Left');
    await net.addToList(did('curator'), did('alice'), list);
    await net.addToList(did('curator'), did('bob'), list);
    // An item naming the curator's list in another repo: means nothing on AT Protocol.
    await net.addToList(did('mallory'), did('frank'), list);
    const pack = await net.createStarterPack(did('curator'), 'Right', [did('carol')]);
    await net.follow(did('dave'), did('seed'));

    posts.common = await net.post(did('alice'), 'Plant more trees on every street');
    posts.left = await net.post(did('bob'), 'Only my side gets it');
    posts.right = await net.post(did('carol'), 'Keep the library open late');
    posts.frank = await net.post(did('frank'), 'Not a member');
    for (const by of ['bob', 'erin', 'carol', 'dave']) await net.like(did(by), posts.common);
    await net.like(did('alice'), posts.left);
    await net.like(did('dave'), posts.right);
    await net.syncAppView();

    await writeFile(
      path.join(dir, 'feeds.yaml'),
      [
        'communities:',
        '  left:',
        '    members:',
        `      lists: [${list.uriStr}]`,
        `      handles: [${accounts.erin!.handle}]`,
        '  right:',
        '    members:',
        `      starterPacks: [${pack.uriStr}]`,
        `      followersOf: [${did('seed')}]`,
        '    allowSelfEnrolment: true',
        'feeds:',
        '  everyone:',
        '    displayName: Everyone, newest',
        '    communities: [left, right]',
        '  common-ground:',
        '    displayName: Common ground',
        '    communities: [left, right]',
        '    ranking: bridging',
      ].join('\n'),
    );
    config = loadConfig(
      testAppEnv({
        name: 'backfill_e2e',
        dataDir: dir,
        feedsFile: path.join(dir, 'feeds.yaml'),
        jetstreamUrl: net.jetstreamUrl,
        overrides: {
          CLICKHOUSE_DATABASE: database,
          FEEDGEN_PUBLISHER_DID: publisher,
          PLC_URL: net.plcUrl,
          APPVIEW_URL: net.appviewUrl,
          IDENTITY_ALLOW_INSECURE: 'true',
          IDENTITY_TEST_HANDLE_ORIGIN: handles.url,
          BACKFILL_ENABLED: 'true',
          BACKFILL_CONCURRENCY: '1',
          INGEST_BATCH_MAX_WAIT_MS: '50',
          SCORING_INTERVAL_SECONDS: '3600',
          LOG_LEVEL: 'warn',
        },
      }),
    );
    clickhouse = createClickHouseClient({ kind: 'embedded', path: ':memory:', database });
    const listRecords = NetworkReader.prototype.listRecords;
    jest.spyOn(NetworkReader.prototype, 'listRecords').mockImplementation(function (this: NetworkReader, repo, collection, keepGoing) {
      listed.push(`${repo} ${collection}`);
      return listRecords.call(this, repo, collection, keepGoing);
    });
  }, startupTimeoutMs);

  afterAll(async () => {
    await running?.close();
    await clickhouse?.close();
    await net?.close();
    await handles?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
    console.log(`[backfill] total ${Math.round(performance.now() - startedAt)} ms`);
  }, 60_000);

  it('resumes after a restart in the middle without reading finished accounts again', async () => {
    // The first run is held after its second account, and the app stopped there.
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const historyDids = new Set<string>();
    const listRecords = jest.mocked(NetworkReader.prototype.listRecords).getMockImplementation()!;
    jest.spyOn(NetworkReader.prototype, 'listRecords').mockImplementation(function (this: NetworkReader, repo, collection, keepGoing) {
      if (collection !== Nsid.post) return listRecords.call(this, repo, collection, keepGoing);
      historyDids.add(repo);
      if (historyDids.size <= 2) return listRecords.call(this, repo, collection, keepGoing);
      return (async function* (reader: NetworkReader) {
        await held;
        yield* listRecords.call(reader, repo, collection, keepGoing);
      })(this);
    });
    running = await startApp(config);
    const service = app().app.get(BackfillService);
    await waitFor('two accounts backfilled', () => (service.progress.state.accounts.done >= 2 ? true : undefined), 60_000);
    const stopping = service.beforeApplicationShutdown();
    release();
    await stopping;
    const firstRun = { ...service.progress.state, accounts: { ...service.progress.state.accounts } };
    const checkpointed = (await query<{ did: string }>(`SELECT did FROM ${database}.backfill_checkpoints FINAL`)).map((row) => row.did).sort();
    await app().close();
    running = undefined;
    expect(firstRun.phase).toBe('failed');
    expect(checkpointed.length).toBeGreaterThanOrEqual(2);
    expect(checkpointed.length).toBeLessThan(firstRun.accounts.total);

    jest.spyOn(NetworkReader.prototype, 'listRecords').mockImplementation(listRecords);
    listed.length = 0;
    running = await startApp(config);
    const state = await backfillDone();
    const readAgain = listed.filter((entry) => entry.endsWith(Nsid.post)).map((entry) => entry.split(' ')[0]!);
    expect(readAgain.filter((repo) => checkpointed.includes(repo))).toEqual([]);
    expect(state.accounts).toEqual({ total: 5, done: 5 - checkpointed.length, skipped: checkpointed.length, failed: 0 });
  }, testTimeoutMs);

  it('gives each community exactly its members: list items in the owner repo, the starter pack, followers, the handle', async () => {
    const members = app().app.get(CommunityMembersService);
    members.invalidate();
    expect([...(await members.members('left'))].sort()).toEqual([did('alice'), did('bob'), did('erin')].sort());
    expect([...(await members.members('right'))].sort()).toEqual([did('carol'), did('dave')].sort());
  }, testTimeoutMs);

  it('serves the posts made before the start in the recent and the ranked feed', async () => {
    expect(await skeleton('everyone')).toEqual([posts.right!.uriStr, posts.left!.uriStr, posts.common!.uriStr]);
    await app().app.get(ScoreSnapshotJob).runOnce();
    expect(await skeleton('common-ground')).toContain(posts.common!.uriStr);
  }, testTimeoutMs);

  it('adds a live like to the backfilled ones without counting any twice, even when the record is backfilled again', async () => {
    expect(await likesOn(posts.common!)).toBe(4);
    await network().like(did('alice'), posts.right!);
    await network().syncJetstream();
    await waitFor('the live like', async () => ((await likesOn(posts.right!)) === 2 ? true : undefined));
    // Backfill everything again from scratch: the same records land on the same keys.
    await clickhouse!.command({ query: `TRUNCATE TABLE ${database}.backfill_checkpoints` });
    const summary = await app().app.get(BackfillService).run();
    expect(summary.accounts.done).toBe(5);
    expect(await likesOn(posts.common!)).toBe(4);
    expect(await likesOn(posts.right!)).toBe(2);
  }, testTimeoutMs);

  it('leaves an author who asks to be hidden out of the ranked feed, not the recent one, until they ask no more', async () => {
    const alice = await loginAgent(network().pdsUrl, accounts.alice!);
    const declare = async (hide: boolean) => {
      const record = { $type: Nsid.visibility, hideFromAlgorithmicRecommendations: hide };
      await alice.com.atproto.repo.putRecord({ repo: did('alice'), collection: Nsid.visibility, rkey: 'self', record });
      await network().syncJetstream();
      await waitFor('the declaration stored', async () => {
        const [row] = await query<{ hide: number }>(`SELECT hide FROM ${database}.visibility FINAL WHERE did = '${did('alice')}'`);
        return row && Number(row.hide) === (hide ? 1 : 0) ? true : undefined;
      });
      await app().app.get(ScoreSnapshotJob).runOnce();
    };
    const served = (present: boolean) => async () => ((await skeleton('common-ground')).includes(posts.common!.uriStr) === present ? true : undefined);
    await declare(true);
    // The feed generator takes the new snapshot at its next look (it checks for one about once a second).
    await waitFor('the hidden author out of the ranked feed', served(false), 30_000);
    // @NOTE A recent feed is the community's posts in time order, not a recommendation: it keeps them.
    expect(await skeleton('everyone')).toContain(posts.common!.uriStr);
    await declare(false);
    const authors = Object.values(accounts).map((account) => account.did);
    const candidates = await app().app.get(ScoreRepository).candidates({ authors, sinceUs: 0, includeReplies: true });
    expect(candidates.map((candidate) => candidate.uri)).toContain(posts.common!.uriStr);
    await waitFor('the author back in the ranked feed', served(true), 30_000);
  }, testTimeoutMs);

  it('leaves a post deleted after the snapshot out of the very next page of every feed', async () => {
    expect(await skeleton('common-ground')).toContain(posts.common!.uriStr);
    expect(await skeleton('everyone')).toContain(posts.common!.uriStr);
    await network().deletePost(did('alice'), posts.common!);
    await network().syncJetstream();
    await waitFor('the delete stored', async () =>
      (await query(`SELECT 1 FROM ${database}.removals WHERE subject = '${posts.common!.uriStr}'`)).length === 1 ? true : undefined,
    );
    // The poll every replica runs every 250 ms, run now: the next request comes after it.
    await app().app.get(RemovedContent).poll();
    expect(await skeleton('common-ground')).not.toContain(posts.common!.uriStr);
    expect(await skeleton('everyone')).toEqual([posts.right!.uriStr, posts.left!.uriStr]);
  }, testTimeoutMs);
});
