import { describe, expect, it } from '@jest/globals';
import type { Removal, RemovalRepository } from '#lib/clickhouse';
import type { AppConfig } from '#lib/config';
import { capturedLogger } from '#lib/testing';
import { RemovedContent } from './removed-content.js';

/** Removals in arrival order (each row later than the one before), answering as RemovalRepository does. */
function removalsOf(rows: Removal[]): RemovalRepository {
  const since = (sinceUs: number, limit: number, after?: Removal) =>
    Promise.resolve(rows.filter((row) => row.arrivedUs >= sinceUs && (!after || row.arrivedUs > after.arrivedUs)).slice(0, limit));
  return { since } as unknown as RemovalRepository;
}

describe('RemovedContent', () => {
  it('keeps the posts deleted before an account with 250,000 posts was deleted and erased, and leaves out every post of that account', async () => {
    const gone = 'did:plc:goneaccount00000000000000';
    const post = (did: string, n: number) => `at://${did}/app.bsky.feed.post/${n}`;
    // Each row 3 s after the last: past the overlap each read takes again, so every row is read.
    let arrivedUs = 0;
    const removal = (subject: string, kind: Removal['kind'], active = false): Removal => ({ subject, kind, active, arrivedUs: (arrivedUs += 3_000_000), version: arrivedUs });
    const rows = [
      removal(post('did:plc:someone', 1), 'post'),
      removal(gone, 'account'),
      ...Array.from({ length: 250_000 }, (_, n) => removal(post(gone, n), 'post')),
    ];
    const { logger } = capturedLogger();
    const removed = new RemovedContent(removalsOf(rows), logger, { feedGenerator: { removalsPollMs: 250 } } as AppConfig);
    await removed.poll();
    expect(removed.removes(post('did:plc:someone', 1))).toBe(true);
    expect(removed.removes(post(gone, 0))).toBe(true);
    expect(removed.removes(post(gone, 249_999))).toBe(true);
    expect(removed.removes(post('did:plc:someone', 2))).toBe(false);
  });
});
