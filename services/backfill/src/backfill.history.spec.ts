import { applyMigrations, BackfillCheckpointRepository, CommunityRepository, createClickHouseClient, EventRepository, NoteRepository, type ClickHouseClient } from '#lib/clickhouse';
import type { Curation } from '#lib/curation';
import { Nsid } from '#lib/domain';
import { NetworkReader } from '#lib/network';
import { BackfillProgress, createLogger } from '#lib/platform';
import { deterministicDidPlc } from '#lib/testing';
import { connectAtprotoNetwork, loginAgent, type AtprotoNetworkClient, type TestAccount } from '../../../libs/testing/src/atproto-network/index.js';
import { BackfillRunner, type BackfillRunnerDeps } from './backfill.runner.js';

// What a backfill reads of real repositories (@atproto/dev-env's PDS) and writes to ClickHouse
// (chDB): records dated over a decade in one run, records that give no date, an account busier
// than its window's worth.

const startupTimeoutMs = 240_000;
const testTimeoutMs = 120_000;
const MONTH_MS = 31 * 24 * 3_600_000;

describe('backfill of real repositories', () => {
  const database = `backfill_history_${process.pid}`;
  let net: AtprotoNetworkClient | undefined;
  let clickhouse: ClickHouseClient | undefined;
  let reader: NetworkReader;
  const accounts: Record<string, TestAccount> = {};
  /** When the accounts were created, as bounds. */
  let accountsSince = 0;
  let accountsUntil = 0;
  /** Pages the runner read, by `did collection`. */
  const pages = new Map<string, number>();

  const network = () => net!;
  const did = (name: string) => accounts[name]!.did;
  const count = async (sql: string, params: Record<string, unknown>) =>
    Number((await (await clickhouse!.query({ query: sql, query_params: params, format: 'JSONEachRow' })).json<{ n: string }>())[0]!.n);
  const postsOf = (author: string) => count(`SELECT count() AS n FROM ${database}.posts FINAL WHERE did = {author:String} AND deleted = 0`, { author });
  /** Writes `values` into `collection` of `account`'s repository as given (no lexicon validation: a client may write anything). */
  const writeRecords = async (account: TestAccount, collection: string, values: Record<string, unknown>[]) => {
    const agent = await loginAgent(network().pdsUrl, account);
    for (let i = 0; i < values.length; i += 200) {
      const writes = values.slice(i, i + 200).map((value) => ({ $type: 'com.atproto.repo.applyWrites#create' as const, collection, value: { $type: collection, ...value } }));
      await agent.com.atproto.repo.applyWrites({ repo: account.did, validate: false, writes });
    }
  };
  const backfill = (members: { dids?: string[]; lists?: string[] }, windowHours: number) => {
    const curation = {
      communities: new Map([
        ['c', { id: 'c', name: 'c', description: '', allowSelfEnrolment: false, members: { dids: [], handles: [], lists: [], starterPacks: [], hashtags: [], followersOf: [], exclude: [], ...members } }],
      ]),
      feeds: new Map([
        ['f', { shortname: 'f', displayName: 'f', description: '', communities: ['c'], ranking: 'recent', membersOnly: false, includeReplies: true, windowHours, halfLifeHours: 24, balance: 'equal' }],
      ]),
      funds: new Map(),
    } as Curation;
    const counted: BackfillRunnerDeps['reader'] = {
      async *listRecords(repo, collection, options) {
        for await (const page of reader.listRecords(repo, collection, options)) {
          pages.set(`${repo} ${collection}`, (pages.get(`${repo} ${collection}`) ?? 0) + 1);
          yield page;
        }
      },
      getRecord: (repo, collection, rkey) => reader.getRecord(repo, collection, rkey),
      followers: (seed, cap) => reader.followers(seed, cap),
      createdAtOf: (repo) => reader.createdAtOf(repo),
    };
    return new BackfillRunner({
      reader: counted,
      events: new EventRepository(clickhouse!, database),
      checkpoints: new BackfillCheckpointRepository(clickhouse!, database),
      accounts: new NoteRepository(clickhouse!, database),
      communities: new CommunityRepository(clickhouse!, database),
      handles: { resolve: async () => [] },
      progress: new BackfillProgress(),
      log: createLogger({ logLevel: 'silent', role: 'all' }),
      concurrency: 4,
      followersCap: 10,
    }).run(curation);
  };

  beforeAll(async () => {
    net = await connectAtprotoNetwork();
    accountsSince = Date.now();
    for (const name of ['curator', 'undated', 'busy']) accounts[name] = await net.createAccount(name);
    accountsUntil = Date.now();
    clickhouse = createClickHouseClient({ kind: 'embedded', path: ':memory:', database });
    await applyMigrations(clickhouse, database);
    reader = new NetworkReader({ plcUrl: net.plcUrl, appviewUrl: net.appviewUrl, concurrency: 8, perHostConcurrency: 8, attempts: 3, retryBaseMs: 100, allowInsecureFetch: true });
  }, startupTimeoutMs);

  afterAll(async () => {
    await clickhouse?.close();
    await net?.close();
  }, 60_000);

  it('writes in one run a list whose items are dated over ten years, one month apart', async () => {
    // `event_log` is partitioned by month; ClickHouse refuses an insert touching over 100 partitions.
    const list = await network().createList(did('curator'), 'Decade');
    const now = Date.now();
    const items = Array.from({ length: 120 }, (_, month) => ({ subject: deterministicDidPlc(`member ${month}`), list: list.uriStr, createdAt: new Date(now - month * MONTH_MS).toISOString() }));
    await writeRecords(accounts.curator!, Nsid.listitem, items);

    const summary = await backfill({ lists: [list.uriStr] }, 1);
    expect(summary.membershipRecords).toBe(120);
    expect(await count(`SELECT count() AS n FROM ${database}.graph FINAL WHERE kind = 'listitem' AND list = {list:String} AND deleted = 0`, { list: list.uriStr })).toBe(120);
  }, testTimeoutMs);

  it('takes a record that gives no date as outside the window, and reads no further', async () => {
    await writeRecords(accounts.undated!, Nsid.post, Array.from({ length: 250 }, (_, i) => ({ text: `undated ${i}` })));

    const summary = await backfill({ dids: [did('undated')] }, 1);
    expect(summary.accounts.done).toBe(1);
    expect(await postsOf(did('undated'))).toBe(0);
    expect(pages.get(`${did('undated')} ${Nsid.post}`)).toBe(1);
  }, testTimeoutMs);

  it('reads at most the window\'s worth of a busy account, newest first', async () => {
    const now = Date.now();
    await writeRecords(accounts.busy!, Nsid.post, Array.from({ length: 150 }, (_, i) => ({ text: `busy ${i}`, createdAt: new Date(now - (150 - i) * 1000).toISOString() })));

    // A one-hour window: 100 records a collection.
    await backfill({ dids: [did('busy')] }, 1);
    expect(await postsOf(did('busy'))).toBe(100);
    expect(await count(`SELECT count() AS n FROM ${database}.posts FINAL WHERE did = {author:String} AND text = 'busy 149'`, { author: did('busy') })).toBe(1);
  }, testTimeoutMs);
  it('keeps when a member\'s account was created, as its PLC directory stamped it', async () => {
    await backfill({ dids: [did('curator')] }, 1);
    const createdUs = (await new NoteRepository(clickhouse!, database).createdAt([did('curator')])).get(did('curator'));
    // The directory's clock is this machine's; it stamps in milliseconds.
    expect(createdUs).toBeGreaterThanOrEqual((accountsSince - 1) * 1000);
    expect(createdUs).toBeLessThanOrEqual((accountsUntil + 1) * 1000);
  }, testTimeoutMs);
});
