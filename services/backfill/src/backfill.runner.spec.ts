import { setTimeout as sleep } from 'node:timers/promises';
import { TID } from '@atproto/common';
import { CommunityTooLargeError } from '#lib/clickhouse';
import type { PipelineEventV1 } from '#lib/contracts';
import type { Curation } from '#lib/curation';
import { Nsid } from '#lib/domain';
import { RepoUnavailableError, type NetworkReader, type RepoRecord } from '#lib/network';
import { BackfillProgress, createLogger } from '#lib/platform';
import { BackfillRunner, BackfillStoppedError, type BackfillRunnerDeps } from './backfill.runner.js';
import { BackfillWriteError, type BackfillCheckpoint } from './backfill.writer.js';

// The runner's own work, with the network and the store replaced: how much it reads and holds,
// and what it does when a write fails. (What it reads of a real PDS: backfill.history.spec.ts.)

const NOW_MS = Date.parse('2026-01-15T12:00:00Z');
const CID = 'bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm';
const LIST_OWNER = 'did:plc:curator';
const LIST = `at://${LIST_OWNER}/${Nsid.list}/3klist`;
const SEED = 'did:plc:seed';

/** The `index`-th record of a collection of a repository, newest first, or undefined past its end. */
type Repos = (did: string, collection: string, index: number) => Record<string, unknown> | undefined;

/** A reader over `repos` that keeps `listRecords`' word: pages of 100, newest first, `keepGoing` and `maxRecords` obeyed. */
function fakeReader(repos: Repos, listed: string[] = [], rkeyOf: (index: number) => string = (index) => `r${index}`): BackfillRunnerDeps['reader'] {
  return {
    async *listRecords(did: string, collection: string, { keepGoing = () => true, maxRecords = Infinity }: Parameters<NetworkReader['listRecords']>[2] = {}) {
      listed.push(did);
      for (let from = 0; from < maxRecords; from += 100) {
        const records: RepoRecord[] = [];
        for (let index = from; index < Math.min(from + 100, maxRecords); index++) {
          const value = repos(did, collection, index);
          if (!value) break;
          const rkey = rkeyOf(index);
          records.push({ uri: `at://${did}/${collection}/${rkey}`, cid: CID, rkey, value });
        }
        // A turn of the event loop per page, as a request takes: a read that never ends cannot starve the test's timeout.
        await new Promise((resolve) => setImmediate(resolve));
        yield records;
        if (records.length < 100 || !records.every(keepGoing)) return;
      }
    },
    getRecord: async () => undefined,
    followers: async (seed: string) => ({ dids: seed === SEED ? ['did:plc:follower'] : [], capped: false }),
    createdAtOf: async () => undefined,
  };
}

/** The store: events and checkpoints in memory, with event writes that fail as `failWrite` says. */
function fakeStore(failWrite: (call: number) => Error | undefined = () => undefined) {
  const written: PipelineEventV1[] = [];
  const checkpoints: BackfillCheckpoint[] = [];
  const created = new Map<string, number>();
  let calls = 0;
  return {
    written,
    checkpoints,
    created,
    accounts: {
      recordCreatedAt: async (accounts: readonly { did: string; createdUs: number }[]) => {
        for (const { did, createdUs } of accounts) created.set(did, createdUs);
      },
      createdAt: async (dids: readonly string[]) => new Map(dids.flatMap((did) => (created.has(did) ? [[did, created.get(did)!] as const] : []))),
    },
    events: {
      write: async (events: readonly PipelineEventV1[]) => {
        const error = failWrite(calls++);
        if (error) throw error;
        for (const event of events) written.push(event);
      },
    },
    checkpoints_: {
      covered: async (dids: readonly string[], sinceUs: number) => new Set(checkpoints.filter((done) => done.sinceUs <= sinceUs && dids.includes(done.did)).map((done) => done.did)),
      markDone: async (done: readonly BackfillCheckpoint[]) => {
        for (const checkpoint of done) checkpoints.push(checkpoint);
      },
    },
  };
}

function runner(
  reader: BackfillRunnerDeps['reader'],
  store: ReturnType<typeof fakeStore>,
  members: string[] | BackfillRunnerDeps['communities']['members'],
  now?: () => number,
): BackfillRunner {
  return new BackfillRunner({
    reader,
    events: store.events,
    checkpoints: store.checkpoints_,
    accounts: store.accounts,
    communities: { members: typeof members === 'function' ? members : async () => members },
    handles: { resolve: async () => [] },
    progress: new BackfillProgress(),
    log: createLogger({ logLevel: 'silent', role: 'all' }),
    concurrency: 1,
    followersCap: 10,
    ...(now && { now }),
  });
}

function curation(members: { dids?: string[]; lists?: string[]; followersOf?: string[] }, windowHours: number): Curation {
  return {
    communities: new Map([
      [
        'c',
        {
          id: 'c',
          name: 'c',
          description: '',
          allowSelfEnrolment: true,
          members: { dids: [], handles: [], lists: [], starterPacks: [], hashtags: [], followersOf: [], exclude: [], ...members },
        },
      ],
    ]),
    feeds: new Map([
      ['f', { shortname: 'f', displayName: 'f', description: '', communities: ['c'], ranking: 'recent', membersOnly: false, includeReplies: true, windowHours, halfLifeHours: 24, balance: 'equal' }],
    ]),
    funds: new Map(),
  };
}

const post = (minutesAgo: number) => ({ $type: Nsid.post, text: 'hi', createdAt: new Date(NOW_MS - minutesAgo * 60_000).toISOString() });
/** A ClickHouse refusal of the rows themselves ("Code: 27. Cannot parse input"): no retry mends it. */
const rowError = () => new Error('Code: 27. DB::Exception: Cannot parse input');

describe('BackfillRunner', () => {
  it('reads an account with 160,000 records in its window without overflowing the call stack', async () => {
    const posts: Repos = (did, collection, index) => (collection === Nsid.post && index < 160_000 ? post(1) : undefined);
    const store = fakeStore();
    const summary = await runner(fakeReader(posts), store, ['did:plc:busy']).run(curation({ dids: ['did:plc:busy'] }, 24 * 100), { nowMs: NOW_MS });
    expect(summary.accounts).toEqual({ done: 1, skipped: 0, failed: 0 });
    expect(store.written).toHaveLength(160_000);
    expect(store.checkpoints).toEqual([{ did: 'did:plc:busy', sinceUs: (NOW_MS - 24 * 100 * 3_600_000) * 1000, records: 160_000 }]);
  }, 60_000);

  it('keeps each member\'s creation time by its PLC directory with its checkpoint, and backfills a member whose directory does not answer all the same', async () => {
    const posts: Repos = (did, collection, index) => (collection === Nsid.post && index < 3 ? post(1) : undefined);
    const store = fakeStore();
    const reader: BackfillRunnerDeps['reader'] = {
      ...fakeReader(posts),
      createdAtOf: async (did) => {
        if (did === 'did:plc:unanswered') throw new Error('plc.directory: HTTP 503');
        return did === 'did:plc:old' ? NOW_MS - 1_000_000_000 : undefined;
      },
    };
    const members = ['did:plc:old', 'did:plc:unanswered', 'did:web:example.com'];
    const summary = await runner(reader, store, members).run(curation({ dids: members }, 24), { nowMs: NOW_MS });
    expect(summary.accounts).toEqual({ done: 3, skipped: 0, failed: 0 });
    expect(store.checkpoints.map((done) => done.did).sort()).toEqual([...members].sort());
    expect(store.written).toHaveLength(9);
    expect(store.created).toEqual(new Map([['did:plc:old', (NOW_MS - 1_000_000_000) * 1000]]));
  });

  it('finds the creation times of members it backfilled before and has none for, once, and asks again where the directory did not answer', async () => {
    const store = fakeStore();
    const asked: string[] = [];
    let answering = false;
    const reader: BackfillRunnerDeps['reader'] = {
      ...fakeReader(() => undefined),
      createdAtOf: async (did) => {
        asked.push(did);
        if (did === 'did:plc:late' && !answering) throw new Error('plc.directory: HTTP 503');
        return did.startsWith('did:plc:') ? NOW_MS - 5_000_000_000 : undefined;
      },
    };
    const members = ['did:plc:early', 'did:plc:late', 'did:web:example.com'];
    const first = await runner(reader, store, members).run(curation({ dids: members }, 24), { nowMs: NOW_MS });
    expect(first.dated).toBe(0);
    expect([...store.created.keys()]).toEqual(['did:plc:early']);
    // Checkpointed before creation times were read: as a backfill before the upgrade left them.
    store.checkpoints.push({ did: 'did:plc:before', sinceUs: 0, records: 1 });
    asked.length = 0;
    answering = true;
    const second = await runner(reader, store, [...members, 'did:plc:before']).run(curation({ dids: [...members, 'did:plc:before'] }, 24), { nowMs: NOW_MS });
    expect(second.accounts.skipped).toBe(4);
    expect(second.dated).toBe(2);
    expect(asked.sort()).toEqual(['did:plc:before', 'did:plc:late']);
    expect(store.created.get('did:plc:before')).toBe((NOW_MS - 5_000_000_000) * 1000);
    asked.length = 0;
    await runner(reader, store, members).run(curation({ dids: members }, 24), { nowMs: NOW_MS });
    expect(asked).toEqual([]);
  });

  it('pauses asking a PLC directory that keeps failing, asks it again once the pause is over, and again at the next run', async () => {
    const store = fakeStore();
    const before = Array.from({ length: 200 }, (_, i) => `did:plc:before${String(i).padStart(3, '0')}`);
    for (const did of before) store.checkpoints.push({ did, sinceUs: 0, records: 1 });
    const fresh = Array.from({ length: 45 }, (_, i) => `did:plc:fresh${String(i).padStart(2, '0')}`);
    const members = [...fresh, 'did:web:example.com', ...before];
    let clockMs = NOW_MS;
    // Each member's history takes a minute to read; the directory answers nothing but errors.
    const history: Repos = (did, collection, index) => {
      if (collection === Nsid.post && index === 0) clockMs += 60_000;
      return undefined;
    };
    let asked = 0;
    const reader: BackfillRunnerDeps['reader'] = {
      ...fakeReader(history),
      createdAtOf: async () => {
        asked += 1;
        throw new Error('plc.directory: HTTP 503');
      },
    };
    const backfill = runner(reader, store, members, () => clockMs);
    const first = await backfill.run(curation({ dids: members }, 24), { nowMs: NOW_MS });
    // Every member is backfilled all the same; only the lookups pause.
    expect(first.accounts).toEqual({ done: 46, skipped: 200, failed: 0 });
    expect(first.dated).toBe(0);
    // 20 failures (the first 20 histories), a pause of ten minutes (9 histories, none asked), then 20
    // failures again (the last 16 histories and 4 of the members done before), and a pause the run ends in.
    expect(asked).toBe(40);
    asked = 0;
    const second = await backfill.run(curation({ dids: members }, 24), { nowMs: NOW_MS });
    expect(second.dated).toBe(0);
    expect(asked).toBe(20);
  });

  it('writes the creation times it finds for members backfilled before as it goes, so a run that ends early keeps them', async () => {
    const store = fakeStore();
    const members = Array.from({ length: 120 }, (_, i) => `did:plc:before${String(i).padStart(3, '0')}`);
    for (const did of members) store.checkpoints.push({ did, sinceUs: 0, records: 1 });
    const last = members.at(-1)!;
    let reached!: () => void;
    const lastAsked = new Promise<void>((resolve) => (reached = resolve));
    let answer!: () => void;
    const reader: BackfillRunnerDeps['reader'] = {
      ...fakeReader(() => undefined),
      // The directory takes its time over the last member: the run is still under way (a restart now would end it).
      createdAtOf: async (did) => {
        if (did === last) {
          reached();
          await new Promise<void>((resolve) => (answer = resolve));
        }
        return NOW_MS - 5_000_000_000;
      },
    };
    const run = runner(reader, store, members).run(curation({ dids: members }, 24), { nowMs: NOW_MS });
    await lastAsked;
    for (let i = 0; i < 100 && store.created.size < 100; i++) await sleep(5);
    expect(store.created.size).toBeGreaterThanOrEqual(100);
    answer();
    expect((await run).dated).toBe(120);
    expect(store.created.size).toBe(120);
  });

  it('reads at most the window\'s worth of an account\'s records per collection, newest first', async () => {
    const posts: Repos = (did, collection, index) => (collection === Nsid.post && index < 1_000 ? post(1) : undefined);
    const store = fakeStore();
    await runner(fakeReader(posts), store, ['did:plc:busy']).run(curation({ dids: ['did:plc:busy'] }, 2), { nowMs: NOW_MS });
    expect(store.written.map((event) => ('rkey' in event ? event.rkey : undefined))).toEqual(Array.from({ length: 200 }, (_, i) => `r${i}`));
  });

  it('takes a curated list of 100,000 items without overflowing the call stack, and reads no more of a longer one', async () => {
    const items: Repos = (did, collection, index) =>
      did === LIST_OWNER && collection === Nsid.listitem && index < 150_000
        ? { $type: Nsid.listitem, subject: `did:plc:member${index}`, list: LIST, createdAt: new Date(NOW_MS).toISOString() }
        : undefined;
    const store = fakeStore();
    const summary = await runner(fakeReader(items), store, []).run(curation({ lists: [LIST] }, 1), { nowMs: NOW_MS });
    expect(summary.membershipRecords).toBe(100_000);
    expect(store.written).toHaveLength(100_000);
  }, 60_000);

  it('reads a member\'s history to the first record key older than the window, past records dated otherwise', async () => {
    // 250 posts of the last 20 hours, newest first by key; the 51st says it was written in 2019, the 52nd says nothing.
    const keyMs = (index: number) => NOW_MS - index * 4 * 60_000;
    const posts: Repos = (did, collection, index) => {
      if (collection !== Nsid.post || index >= 250) return undefined;
      if (index === 50) return { ...post(0), createdAt: '2019-05-01T00:00:00.000Z' };
      if (index === 51) return { $type: Nsid.post, text: 'undated' };
      return { ...post(index * 4) };
    };
    const store = fakeStore();
    await runner(fakeReader(posts, [], (index) => TID.fromTime(keyMs(index) * 1000, 0).toString()), store, ['did:plc:writer']).run(curation({ dids: ['did:plc:writer'] }, 24), { nowMs: NOW_MS });
    expect(store.written.filter((event) => event.type === 'post')).toHaveLength(248);
  });

  it('counts a community source it could not read, and reads the others', async () => {
    const reader = { ...fakeReader(() => undefined), followers: async () => Promise.reject(new Error('failed after 4 tries: connect ECONNREFUSED')) };
    const store = fakeStore();
    const summary = await runner(reader, store, []).run(curation({ followersOf: [SEED], dids: ['did:plc:a'] }, 1), { nowMs: NOW_MS });
    expect(summary).toMatchObject({ sourcesFailed: 1, accounts: { failed: 0 } });
  });

  it('stops in the membership phase too, between pages of a source, when asked to', async () => {
    const follows: Repos = (did, collection) => (collection === Nsid.follow ? { $type: Nsid.follow, subject: 'did:plc:someone', createdAt: new Date(NOW_MS).toISOString() } : undefined);
    const listed: string[] = [];
    const store = fakeStore();
    const reader = { ...fakeReader(follows, listed), followers: async () => ({ dids: Array.from({ length: 10 }, (_, i) => `did:plc:follower${i}`), capped: false }) };
    const backfill = runner(reader, store, []);
    const run = backfill.run(curation({ followersOf: [SEED] }, 1), { nowMs: NOW_MS });
    await sleep(5);
    backfill.stop();
    await expect(run).rejects.toThrow(BackfillStoppedError);
    // A scan of 5,000 follows a follower would take 50 pages: it stopped at the one under way.
    expect(listed.length).toBeLessThan(3);
  });

  it('scans a bounded number of a follower\'s follows for its follow of the seed', async () => {
    // The follower follows someone new for ever; its follow of the seed is never reached.
    const follows: Repos = (did, collection) => (collection === Nsid.follow ? { $type: Nsid.follow, subject: 'did:plc:someone', createdAt: new Date(NOW_MS).toISOString() } : undefined);
    const store = fakeStore();
    const summary = await runner(fakeReader(follows), store, []).run(curation({ followersOf: [SEED] }, 1), { nowMs: NOW_MS });
    expect(summary.membershipRecords).toBe(0);
  }, 20_000);

  it('backfills the other communities when one names more accounts than the members bound', async () => {
    const posts: Repos = (did, collection, index) => (collection === Nsid.post && index < 2 ? post(1) : undefined);
    const store = fakeStore();
    const members: BackfillRunnerDeps['communities']['members'] = async (sources) => {
      if (sources.followersOf.length > 0) throw new CommunityTooLargeError(1_000_000);
      return sources.dids;
    };
    const base = curation({ dids: ['did:plc:a'] }, 1);
    const crowd = { ...base.communities.get('c')!, id: 'crowd', members: { ...base.communities.get('c')!.members, dids: [], followersOf: [SEED] } };
    const both: Curation = {
      ...base,
      communities: new Map([...base.communities, ['crowd', crowd]]),
      feeds: new Map([['f', { ...base.feeds.get('f')!, communities: ['c', 'crowd'] }]]),
    };
    const summary = await runner(fakeReader(posts), store, members).run(both, { nowMs: NOW_MS });
    expect(summary.accounts).toEqual({ done: 1, skipped: 0, failed: 0 });
    expect(store.checkpoints.map((checkpoint) => checkpoint.did)).toEqual(['did:plc:a']);
  });

  it('reads an account whose repository was gone again at the next run, so that it is backfilled once it is back', async () => {
    const posts: Repos = (did, collection, index) => (collection === Nsid.post && index < 3 ? post(1) : undefined);
    const reader = fakeReader(posts);
    let deactivated = true;
    const reactivating: BackfillRunnerDeps['reader'] = {
      ...reader,
      async *listRecords(did, collection, options) {
        if (deactivated) throw new RepoUnavailableError(`${did}: RepoDeactivated`);
        yield* reader.listRecords(did, collection, options);
      },
    };
    const store = fakeStore();
    const backfill = runner(reactivating, store, ['did:plc:a']);
    await backfill.run(curation({ dids: ['did:plc:a'] }, 1), { nowMs: NOW_MS });
    expect(store.checkpoints).toEqual([]);

    deactivated = false;
    const summary = await backfill.run(curation({ dids: ['did:plc:a'] }, 1), { nowMs: NOW_MS });
    expect(summary.accounts).toEqual({ done: 1, skipped: 0, failed: 0 });
    expect(store.written).toHaveLength(3);
    expect(store.checkpoints).toEqual([{ did: 'did:plc:a', sinceUs: (NOW_MS - 3_600_000) * 1000, records: 3 }]);
  });

  it('tries a write again that failed on ClickHouse\'s side', async () => {
    const posts: Repos = (did, collection, index) => (collection === Nsid.post && index < 3 ? post(1) : undefined);
    const store = fakeStore((call) => (call === 0 ? new Error('socket hang up') : undefined));
    const summary = await runner(fakeReader(posts), store, ['did:plc:a']).run(curation({ dids: ['did:plc:a'] }, 1), { nowMs: NOW_MS });
    expect(summary.accounts.done).toBe(1);
    expect(store.written).toHaveLength(3);
    expect(store.checkpoints.map((checkpoint) => checkpoint.did)).toEqual(['did:plc:a']);
  });

  it('stops a run whose write fails for good: the accounts left are not read, and nothing of it goes on into the next run', async () => {
    // The first account has enough records for a write of its own, which ClickHouse refuses.
    const accounts = ['did:plc:a', 'did:plc:b', 'did:plc:c', 'did:plc:d'];
    const posts: Repos = (did, collection, index) => (collection === Nsid.post && index < (did === 'did:plc:a' ? 10_000 : 5) ? post(1) : undefined);
    const listed: string[] = [];
    let broken = true;
    const store = fakeStore(() => (broken ? rowError() : undefined));
    const backfill = runner(fakeReader(posts, listed), store, accounts);
    await expect(backfill.run(curation({ dids: accounts }, 200), { nowMs: NOW_MS })).rejects.toThrow(BackfillWriteError);
    // Given the time, a task of the failed run would go on to the next accounts.
    await sleep(200);
    expect(new Set(listed)).toEqual(new Set(['did:plc:a']));
    expect(store.checkpoints).toEqual([]);

    broken = false;
    const summary = await backfill.run(curation({ dids: accounts }, 200), { nowMs: NOW_MS });
    expect(summary.accounts.done).toBe(4);
    expect(store.written).toHaveLength(10_015);
    expect(store.checkpoints.map((checkpoint) => checkpoint.did).sort()).toEqual(accounts);
  }, 30_000);
});
