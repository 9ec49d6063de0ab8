import { jest } from '@jest/globals';
import type { BackfillCheckpointRepository, CommunityRepository, EventRepository, NoteRepository } from '#lib/clickhouse';
import type { AppConfig } from '#lib/config';
import type { Curation, MemberSources } from '#lib/curation';
import type { VerifiedHandleResolver } from '#lib/identity';
import type { NetworkReader } from '#lib/network';
import { BackfillProgress, createLogger, Metrics, type CurationService } from '#lib/platform';
import { BackfillService } from './backfill.service.js';

// The background runs, with the network and the store replaced and the clock in the test's hands.

/** A curation of one community over `members`, used by one feed. */
const curationOf = (members: Partial<MemberSources>): Curation => ({
  communities: new Map([
    ['c', { id: 'c', name: 'c', description: '', allowSelfEnrolment: true, members: { dids: [], handles: [], lists: [], starterPacks: [], hashtags: [], followersOf: [], exclude: [], ...members } }],
  ]),
  feeds: new Map([
    ['f', { shortname: 'f', displayName: 'f', description: '', communities: ['c'], ranking: 'recent', membersOnly: false, includeReplies: true, windowHours: 1, halfLifeHours: 24, balance: 'equal' }],
  ]),
  funds: new Map(),
});

/** A reader of empty repositories, with the AppView's answer given. */
const readerWith = (followers: () => Promise<{ dids: string[]; capped: boolean }>) => ({
  // eslint-disable-next-line require-yield -- an empty repository
  async *listRecords() {
    return;
  },
  getRecord: async () => undefined,
  followers,
  createdAtOf: async () => undefined,
});

/** The service over `reader` and a store whose writes go through `write`. */
function serviceOver(options: { curation: Curation; reader: ReturnType<typeof readerWith>; write: () => Promise<void>; members: string[] }) {
  const progress = new BackfillProgress();
  const metrics = new Metrics({ processMetrics: false });
  const { write } = options;
  const service = new BackfillService(
    { backfill: { enabled: true, concurrency: 1, followersCap: 10 } } as AppConfig,
    createLogger({ logLevel: 'silent', role: 'all' }),
    metrics,
    progress,
    options.reader as unknown as NetworkReader,
    { write } as unknown as EventRepository,
    { covered: async () => new Set<string>(), markDone: write } as unknown as BackfillCheckpointRepository,
    { recordCreatedAt: write, createdAt: async () => new Map() } as unknown as NoteRepository,
    { members: async () => options.members } as unknown as CommunityRepository,
    { resolve: async () => [] } as unknown as VerifiedHandleResolver,
    { current: options.curation, onChange: () => () => undefined } as unknown as CurationService,
  );
  return { service, progress, metrics };
}

describe('BackfillService', () => {
  afterEach(() => {
    jest.useRealTimers();
  });

  it('runs again, after a wait, a background run that failed because ClickHouse was away', async () => {
    jest.useFakeTimers();
    let down = true;
    const unavailable = async () => {
      if (down) throw new Error('connect ECONNREFUSED 127.0.0.1:8123');
    };
    const reader = readerWith(async () => ({ dids: [], capped: false }));
    const { service, progress } = serviceOver({ curation: curationOf({ dids: ['did:plc:a'] }), reader, write: unavailable, members: ['did:plc:a'] });

    service.onApplicationBootstrap();
    // The run's writes are tried for about half a minute, then it fails.
    await jest.advanceTimersByTimeAsync(40_000);
    expect(progress.state.phase).toBe('failed');

    down = false;
    // The next try comes about half a minute after the failure, with nothing else to start it.
    await jest.advanceTimersByTimeAsync(60_000);
    expect(progress.state.phase).toBe('done');
    expect(progress.state.accounts.done).toBe(1);
    await service.beforeApplicationShutdown();
  });

  it('runs again, after a wait, a run that could not read a community source (the AppView away)', async () => {
    jest.useFakeTimers();
    let appviewDown = true;
    let followerReads = 0;
    const reader = readerWith(async () => {
      followerReads += 1;
      if (appviewDown) throw new Error('failed after 4 tries: connect ECONNREFUSED');
      return { dids: ['did:plc:follower'], capped: false };
    });
    const { service, progress, metrics } = serviceOver({ curation: curationOf({ followersOf: ['did:plc:seed'] }), reader, write: async () => undefined, members: [] });

    service.onApplicationBootstrap();
    await jest.advanceTimersByTimeAsync(1_000);
    // The run ends, and says what it could not read.
    expect(progress.state).toMatchObject({ phase: 'done', sourcesFailed: 1 });
    await metrics.refresh();
    expect(await metrics.sum(metrics.backfillSourcesFailed)).toBe(1);
    appviewDown = false;
    await jest.advanceTimersByTimeAsync(60_000);
    expect(followerReads).toBe(2);
    expect(progress.state).toMatchObject({ phase: 'done', sourcesFailed: 0 });
    // Read in full: no run more.
    await jest.advanceTimersByTimeAsync(600_000);
    expect(followerReads).toBe(2);
    await service.beforeApplicationShutdown();
  });
});
