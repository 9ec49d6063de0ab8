import { RankerClaimRepository, type ClickHouseClient } from '#lib/clickhouse';
import { capturedLogger, openEmbeddedStore, type EmbeddedStore } from '#lib/testing';
import { FeedOwnership } from './feed-ownership.js';
import type { RankerAssignment, RankerShare } from './ranker-assignment.js';

/** A ranker's share as its consumer group gives it: here, whether it holds the shared work. */
class Share implements RankerAssignment {
  private readonly listeners: (() => void)[] = [];
  constructor(
    readonly id: string,
    private shared: boolean,
  ) {}
  start = () => Promise.resolve();
  stop = () => Promise.resolve();
  owns = () => true;
  ownsShared = () => this.shared;
  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }
  share(): RankerShare {
    return { ranker: this.id, partitions: [0], partitionCount: 1, shared: this.shared };
  }
  /** A rebalance: the shared work moves to or from this ranker. */
  move(shared: boolean): void {
    this.shared = shared;
    for (const listener of this.listeners) listener();
  }
}

describe('fencing rankers: the shared work and a feed the group still gives a fenced ranker', () => {
  let store: EmbeddedStore;
  let database: string;
  let client: ClickHouseClient;
  let claims: RankerClaimRepository;

  beforeAll(async () => {
    store = await openEmbeddedStore('feed_ownership');
    ({ client, database } = store);
    claims = new RankerClaimRepository(client, database);
  });

  afterAll(() => store?.close());

  it('lets the holder write, and fences a holder that lost the work mid-run without holding its numbers from the new one', async () => {
    const [a, b] = [new Share('ranker-a', true), new Share('ranker-b', false)];
    const { logger } = capturedLogger();
    const [ownerA, ownerB] = [new FeedOwnership(a, claims, logger), new FeedOwnership(b, claims, logger)];

    expect(await ownerA.claimShared('labels', 101)).toBe(true);
    // Not the holder: nothing is written.
    expect(await ownerB.claimShared('labels', 111)).toBe(false);

    // A rebalance gives the work to b while a's run is under way; a still thinks it holds it.
    b.move(true);
    expect(await ownerB.claimShared('labels', 111)).toBe(true);
    // a, under its older epoch, writes nothing more, even where no one claimed yet; and its claim
    // (never written) does not hold the number from b, whose next labels start there.
    expect(await ownerA.claimShared('labels', 121)).toBe(false);
    expect(await ownerB.claimShared('labels', 121)).toBe(true);
    // Given the work back, a takes a newer epoch and b is fenced in turn.
    b.move(false);
    a.move(true);
    expect(await ownerA.claimShared('labels', 131)).toBe(true);
    b.move(true);
    expect(await ownerB.claimShared('labels', 141)).toBe(true);
    expect(await ownerA.claimShared('labels', 151)).toBe(false);
  });

  it('writes nothing more in that run, and takes the feed back at its next write', async () => {
    const feed = 'at://did:plc:publisher0000000000000000/app.bsky.feed.generator/contested';
    const { logger } = capturedLogger();
    const [owner, lapsed] = [new FeedOwnership(new Share('ranker-b', false), claims, logger), new FeedOwnership(new Share('ranker-a', false), claims, logger)];
    expect(await owner.claimSnapshot(feed, 1_000)).toEqual({ snapshot: 1_000, epoch: 1 });
    // A ranker whose lease had lapsed (a pause) still took the feed's next epoch.
    expect(await lapsed.claimSnapshot(feed, 2_000)).toEqual({ snapshot: 2_000, epoch: 2 });
    expect(await owner.claimSnapshot(feed, 3_000)).toBeUndefined();
    // The group still gives the feed to its owner: its next write takes a newer epoch, and the lapsed ranker is fenced.
    expect(await owner.claimSnapshot(feed, 3_000)).toEqual({ snapshot: 3_000, epoch: 3 });
    expect(await lapsed.claimSnapshot(feed, 4_000)).toBeUndefined();
  });
});
