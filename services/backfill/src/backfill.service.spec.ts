import { jest } from '@jest/globals';
import type { BackfillCheckpointRepository, CommunityRepository, EventRepository, NoteRepository } from '#lib/clickhouse';
import type { AppConfig } from '#lib/config';
import type { Curation } from '#lib/curation';
import type { VerifiedHandleResolver } from '#lib/identity';
import type { NetworkReader } from '#lib/network';
import { BackfillProgress, createLogger, Metrics, type CurationService } from '#lib/platform';
import { BackfillService } from './backfill.service.js';

// The background runs, with the network and the store replaced and the clock in the test's hands.

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
    const curation: Curation = {
      communities: new Map([
        ['c', { id: 'c', name: 'c', description: '', allowSelfEnrolment: false, members: { dids: ['did:plc:a'], handles: [], lists: [], starterPacks: [], hashtags: [], followersOf: [], exclude: [] } }],
      ]),
      feeds: new Map([
        ['f', { shortname: 'f', displayName: 'f', description: '', communities: ['c'], ranking: 'recent', membersOnly: false, includeReplies: true, windowHours: 1, halfLifeHours: 24, balance: 'equal' }],
      ]),
      funds: new Map(),
    };
    const reader = {
      // eslint-disable-next-line require-yield -- an empty repository
      async *listRecords() {
        return;
      },
      getRecord: async () => undefined,
      followers: async () => ({ dids: [], capped: false }),
      createdAtOf: async () => undefined,
    };
    const progress = new BackfillProgress();
    const service = new BackfillService(
      { backfill: { enabled: true, concurrency: 1, followersCap: 10 } } as AppConfig,
      createLogger({ logLevel: 'silent', role: 'all' }),
      new Metrics({ processMetrics: false }),
      progress,
      reader as unknown as NetworkReader,
      { write: unavailable } as unknown as EventRepository,
      { covered: async () => new Set<string>(), markDone: unavailable } as unknown as BackfillCheckpointRepository,
      { recordCreatedAt: unavailable } as unknown as NoteRepository,
      { members: async () => ['did:plc:a'] } as unknown as CommunityRepository,
      { resolve: async () => [] } as unknown as VerifiedHandleResolver,
      { current: curation, onChange: () => () => undefined } as unknown as CurationService,
    );

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
});
