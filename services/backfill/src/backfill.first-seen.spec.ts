import { BackfillCheckpointRepository, CommunityRepository, EventRepository, NoteRepository, type ClickHouseClient } from '#lib/clickhouse';
import type { PipelineEventV1 } from '#lib/contracts';
import type { Curation } from '#lib/curation';
import { Nsid } from '#lib/domain';
import type { RepoRecord } from '#lib/network';
import { BackfillProgress, createLogger } from '#lib/platform';
import { BackfillEventRepository } from './backfill-event.repository.js';
import { BackfillRunner, type BackfillRunnerDeps } from './backfill.runner.js';
import { openEmbeddedStore, type EmbeddedStore } from '#lib/testing';

// What a backfill tells the store about when it first saw an account, over a real store (chDB):
// a record's own date is the account's word, not something the store saw.

const SEED = 'did:plc:seed0000000000000000000';
const SYBIL = 'did:plc:sybil000000000000000000';
const VETERAN = 'did:plc:veteran00000000000000000';
const CID = 'bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm';
const DAY_US = 86_400_000_000;
/** Three years back: within the eight years a backfilled record may go back. */
const BACKDATED = new Date(Date.now() - 3 * 365 * DAY_US / 1000).toISOString();
const SYBIL_CREATED_MS = Date.now() - 2 * DAY_US / 1000;

/** The sybil follows the seed with a follow record dated years back; no repository holds anything else. */
const reader: BackfillRunnerDeps['reader'] = {
  async *listRecords(did: string, collection: string) {
    const records: RepoRecord[] =
      did === SYBIL && collection === Nsid.follow
        ? [{ uri: `at://${SYBIL}/${Nsid.follow}/3kfollow00001`, cid: CID, rkey: '3kfollow00001', value: { $type: Nsid.follow, subject: SEED, createdAt: BACKDATED } }]
        : [];
    yield records;
  },
  getRecord: async () => undefined,
  followers: async (seed: string) => ({ dids: seed === SEED ? [SYBIL] : [], capped: false }),
  // Its PLC directory stamped its first operation two days ago, whatever its records say.
  createdAtOf: async (did: string) => (did === SYBIL ? SYBIL_CREATED_MS : undefined),
};

const curation: Curation = {
  communities: new Map([
    ['c', { id: 'c', name: 'c', description: '', allowSelfEnrolment: false, members: { dids: [], handles: [], lists: [], starterPacks: [], hashtags: [], followersOf: [SEED], exclude: [] } }],
  ]),
  feeds: new Map([
    ['f', { shortname: 'f', displayName: 'f', description: '', communities: ['c'], ranking: 'recent', membersOnly: false, includeReplies: true, windowHours: 24, halfLifeHours: 24, balance: 'equal' }],
  ]),
  funds: new Map(),
};

describe('a backfill and when the store first saw an account', () => {
  let store: EmbeddedStore;
  let database: string;
  let client: ClickHouseClient;

  beforeAll(async () => {
    store = await openEmbeddedStore('backfill_first_seen');
    ({ client, database } = store);
  });
  afterAll(() => store?.close());

  it('dates an account it finds by when it was backfilled, not by a record the account dated years back, and keeps the record\'s own time', async () => {
    // Live ingest has run for ten days: the store began then.
    const storeStartUs = Date.now() * 1000 - 10 * DAY_US;
    const live: PipelineEventV1 = { v: 1, type: 'like', op: 'create', did: VETERAN, rkey: '3kveteran0001', cid: 'bafylike', timeUs: storeStartUs, createdAtMs: 0, subjectUri: `at://${SEED}/${Nsid.post}/3kpost0000001`, subjectCid: 'bafypost' };
    await new EventRepository(client, database).write([live]);

    const before = Date.now() * 1000;
    const summary = await new BackfillRunner({
      reader,
      events: new BackfillEventRepository(client, database),
      checkpoints: new BackfillCheckpointRepository(client, database),
      accounts: new NoteRepository(client, database),
      communities: new CommunityRepository(client, database),
      handles: { resolve: async () => [] },
      progress: new BackfillProgress(),
      log: createLogger({ logLevel: 'silent', role: 'all' }),
      concurrency: 1,
      followersCap: 10,
    }).run(curation);
    const after = Date.now() * 1000;
    expect(summary.membershipRecords).toBe(1);

    const notes = new NoteRepository(client, database);
    const sybilSeenUs = (await notes.firstSeen([SYBIL])).get(SYBIL)!;
    expect(sybilSeenUs).toBeGreaterThanOrEqual(before - 1_000);
    expect(sybilSeenUs).toBeLessThanOrEqual(after + 1_000);
    // What live ingest saw keeps its own time, and the store's start stays where live ingest began.
    expect((await notes.firstSeen([VETERAN])).get(VETERAN)).toBe(storeStartUs);
    expect(await notes.storeStartUs()).toBe(storeStartUs);
    // Its creation time is its directory's, kept apart: the store's start does not move with it.
    expect(await notes.createdAt([SYBIL, VETERAN])).toEqual(new Map([[SYBIL, SYBIL_CREATED_MS * 1000]]));
    // The follow itself keeps its date: windows, order and versions read it.
    const follows = await client.query({ query: `SELECT toString(time_us) AS t FROM ${database}.graph FINAL WHERE did = {did:String}`, query_params: { did: SYBIL }, format: 'JSONEachRow' });
    expect((await follows.json<{ t: string }>()).map((row) => Number(row.t))).toEqual([Date.parse(BACKDATED) * 1000]);
  });
});
