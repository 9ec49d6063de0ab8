/**
 * The fencing of rankers in the store: ownership epochs, claims of snapshot ids and editions, and
 * the snapshot readers serve. Embedded ClickHouse (chDB); the rankers are named, not processes.
 */
import { EditionRepository, RankerClaimRepository, ScoreRepository, type ClickHouseClient } from '#lib/clickhouse';
import { openEmbeddedStore, type EmbeddedStore } from '#lib/testing';

const feed = 'at://did:plc:publisher0000000000000000/app.bsky.feed.generator/fenced';
const row = (uri: string) => ({ uri, cid: 'bafyreiclaim', score: 1, feedContext: '', components: {} });

describe('ranker claims: ownership epochs, claims and the snapshot served', () => {
  let store: EmbeddedStore;
  let database: string;
  let client: ClickHouseClient;
  let claims: RankerClaimRepository;
  let scores: ScoreRepository;
  let editions: EditionRepository;

  beforeAll(async () => {
    store = await openEmbeddedStore('ranker_claims');
    ({ client, database } = store);
    claims = new RankerClaimRepository(client, database);
    scores = new ScoreRepository(client, database);
    editions = new EditionRepository(client, database);
  });

  afterAll(() => store?.close());

  it('gives each taker of a feed the next epoch, and fences the earlier owner out of every later claim', async () => {
    const first = await claims.acquireEpoch(feed, 'ranker-a');
    expect(first).toBe(1);
    expect(await claims.claim(feed, 'snapshot', 1_000, 1, 'ranker-a')).toBe('claimed');
    expect(await claims.acquireEpoch(feed, 'ranker-b')).toBe(2);
    expect(await claims.claim(feed, 'snapshot', 2_000, 1, 'ranker-a')).toBe('fenced');
    // The fenced claim still holds its id (a claim cannot tell whether its ranker went ahead): the new owner takes the next.
    expect(await claims.claim(feed, 'snapshot', 2_000, 2, 'ranker-b')).toBe('taken');
    expect(await claims.claim(feed, 'snapshot', 2_001, 2, 'ranker-b')).toBe('claimed');
  });

  it('lets one of two rankers claiming the same snapshot id go ahead, at most', async () => {
    const other = `${feed}-race`;
    const epoch = (await claims.acquireEpoch(other, 'ranker-a'))!;
    for (let key = 1; key <= 10; key += 1) {
      const outcomes = await Promise.all([claims.claim(other, 'snapshot', key, epoch, 'ranker-a'), claims.claim(other, 'snapshot', key, epoch, 'ranker-b')]);
      expect(outcomes.filter((outcome) => outcome === 'claimed').length).toBeLessThanOrEqual(1);
      expect(outcomes.every((outcome) => outcome === 'claimed' || outcome === 'taken')).toBe(true);
    }
    // A key claimed before is taken for anyone else, whatever the order.
    expect(await claims.claim(other, 'snapshot', 1, epoch, 'ranker-c')).toBe('taken');
  });

  it('lets at most one of two rankers taking a feed at once write to it', async () => {
    for (let round = 1; round <= 5; round += 1) {
      const contested = `${feed}-contested-${round}`;
      const rankers = ['ranker-a', 'ranker-b'] as const;
      const taken = await Promise.all(rankers.map((ranker) => claims.acquireEpoch(contested, ranker)));
      // Both may hold an epoch when one took it after the other (the later one fences the earlier),
      // never the same epoch; of the holders, only the newest epoch's claims go ahead.
      const held = taken.filter((epoch): epoch is number => epoch !== undefined);
      expect(new Set(held).size).toBe(held.length);
      const outcomes = await Promise.all(
        rankers.map((ranker, index) => {
          const epoch = taken[index];
          return epoch === undefined ? Promise.resolve('fenced' as const) : claims.claim(contested, 'snapshot', 1_000 + index, epoch, ranker);
        }),
      );
      expect(outcomes.filter((outcome) => outcome === 'claimed').length).toBeLessThanOrEqual(1);
    }
  });

  it('freezes again an edition a fenced owner claimed, but not one claimed under the same epoch', async () => {
    const digest = `${feed}-digest`;
    await claims.acquireEpoch(digest, 'ranker-a');
    expect(await claims.claim(digest, 'edition', 77, 1, 'ranker-a', true)).toBe('claimed');
    await claims.acquireEpoch(digest, 'ranker-b');
    expect(await claims.claim(digest, 'edition', 77, 2, 'ranker-b', true)).toBe('claimed');
    expect(await claims.claim(digest, 'edition', 77, 2, 'ranker-c', true)).toBe('taken');
    expect(await claims.claim(digest, 'edition', 78, 1, 'ranker-a', true)).toBe('fenced');
  });

  it('serves the edition the newest owner froze, even when a fenced ranker wrote the same edition later', async () => {
    const digest = `${feed}-late-edition`;
    const edition = 1_700_000_000_000;
    const posts = (author: string) => [1, 2, 3].map((n) => row(`at://did:plc:${author}/app.bsky.feed.post/${n}`));
    // Z claims the edition under epoch 1 and stalls; N takes the feed, freezes the edition and writes it; Z's write lands.
    await claims.acquireEpoch(digest, 'ranker-z');
    expect(await claims.claim(digest, 'edition', edition, 1, 'ranker-z', true)).toBe('claimed');
    await claims.acquireEpoch(digest, 'ranker-n');
    expect(await claims.claim(digest, 'edition', edition, 2, 'ranker-n', true)).toBe('claimed');
    await editions.write(digest, edition, posts('n'), 2);
    await editions.write(digest, edition, [...posts('z'), row('at://did:plc:z/app.bsky.feed.post/4')], 1);
    const expected = posts('n').map((item) => item.uri);
    for (const merged of [false, true]) {
      if (merged) for (const table of ['digest_edition_posts', 'digest_edition_records']) await client.command({ query: `OPTIMIZE TABLE ${database}.${table} FINAL` });
      const summary = await editions.find(digest, edition);
      expect(summary).toMatchObject({ edition, posts: 3, epoch: 2 });
      expect((await editions.list(digest, 1))[0]).toEqual(summary);
      expect((await editions.items(digest, summary!)).map((item) => item.uri)).toEqual(expected);
      expect([...(await editions.history(digest)).posts].sort()).toEqual(expected);
    }
  });

  it('serves the newest snapshot of the newest epoch, even when a fenced ranker wrote a later one', async () => {
    const served = `${feed}-served`;
    await scores.writeSnapshot(served, 1_000, [row('at://did:plc:a/app.bsky.feed.post/1')], { epoch: 1, ranker: 'ranker-a' });
    await scores.writeSnapshot(served, 2_000, [row('at://did:plc:b/app.bsky.feed.post/1')], { epoch: 2, ranker: 'ranker-b' });
    await scores.writeSnapshot(served, 3_000, [row('at://did:plc:a/app.bsky.feed.post/2')], { epoch: 1, ranker: 'ranker-a' });
    expect((await scores.latestSnapshot(served))?.snapshot).toBe(2_000);
    expect((await scores.latestSnapshots([served]))[0]?.snapshot).toBe(2_000);
    // Pruning keeps the served one: the fenced ranker's later snapshot goes first.
    expect(await scores.prune(served, 1, 0, 10_000)).toBe(2);
    expect((await scores.latestSnapshot(served))?.snapshot).toBe(2_000);
  });

  it('drops from disk the ranks of snapshots no feed refers to any more, and keeps those one still does', async () => {
    const [a, b] = [`${feed}-a`, `${feed}-b`];
    // The feeds a run writes share its snapshot id: one partition each run.
    for (const snapshot of [10_000, 20_000, 30_000]) {
      for (const name of [a, b]) await scores.writeSnapshot(name, snapshot, [row(`at://did:plc:a/app.bsky.feed.post/${snapshot}`)]);
    }
    expect(await scores.prune(a, 1, 0, 40_000)).toBe(2);
    expect(await scores.prune(b, 2, 0, 40_000)).toBe(1);
    expect(await scores.dropUnreferenced(40_000, 0)).toBeGreaterThanOrEqual(1);
    const parts = await client.query({
      query: `SELECT DISTINCT partition_id FROM system.parts WHERE database = {db:String} AND table = 'feed_scores' AND active AND partition_id IN ('10000', '20000', '30000') ORDER BY partition_id`,
      query_params: { db: database },
      format: 'JSONCompactEachRow',
    });
    // 10 000 is no feed's any more; b still serves 20 000 and 30 000.
    expect((await parts.json<[string]>()).map(([id]) => id)).toEqual(['20000', '30000']);
    expect((await scores.page(b, 20_000, 0, 10)).map((item) => item.uri)).toEqual(['at://did:plc:a/app.bsky.feed.post/20000']);
  });

  it('prunes the snapshots of a feed nobody ranks any more (gone from the curation), and with them the partitions they kept', async () => {
    const [gone, kept] = [`${feed}-gone`, `${feed}-kept`];
    for (const snapshot of [50_000, 60_000, 70_000]) {
      for (const name of [gone, kept]) await scores.writeSnapshot(name, snapshot, [row(`at://did:plc:a/app.bsky.feed.post/${snapshot}`)]);
    }
    // The feed still ranked keeps its newest; the one gone had pinned every partition of its runs.
    expect(await scores.prune(kept, 1, 0, 80_000)).toBe(2);
    const ranked = [`${feed}-served`, `${feed}-a`, `${feed}-b`, kept];
    expect(await scores.pruneUnranked(ranked, 65_000)).toBe(2);
    expect(await scores.pruneUnranked(ranked, 65_000)).toBe(0);
    await scores.dropUnreferenced(80_000, 0);
    const parts = await client.query({
      query: `SELECT DISTINCT partition_id FROM system.parts WHERE database = {db:String} AND table = 'feed_scores' AND active AND partition_id IN ('50000', '60000', '70000') ORDER BY partition_id`,
      query_params: { db: database },
      format: 'JSONCompactEachRow',
    });
    // 70 000 is younger than the bound: the gone feed's last snapshot waits for the next run.
    expect((await parts.json<[string]>()).map(([id]) => id)).toEqual(['70000']);
    expect((await scores.latestSnapshot(kept))?.snapshot).toBe(70_000);
  });

  it("prunes snapshots whose ids ran ahead of the time (a ranker's clock that ran ahead and was set back) once they were written long enough ago", async () => {
    const ahead = `${feed}-ahead`;
    const now = Date.now();
    // After a run a day ahead, each run's id is the last one's plus 1.
    for (const snapshot of [now + 86_400_000, now + 86_400_001, now + 86_400_002]) await scores.writeSnapshot(ahead, snapshot, [row(`at://did:plc:a/app.bsky.feed.post/${snapshot}`)]);
    expect(await scores.prune(ahead, 1, 1_800_000, now)).toBe(0);
    // An hour later, by the store's clock.
    await client.command({ query: `ALTER TABLE ${database}.feed_snapshots UPDATE completed_at = now64(3) - INTERVAL 1 HOUR WHERE feed = {feed:String}`, query_params: { feed: ahead }, clickhouse_settings: { mutations_sync: '2' } });
    expect(await scores.prune(ahead, 1, 1_800_000, now)).toBe(2);
    expect((await scores.latestSnapshot(ahead))?.snapshot).toBe(now + 86_400_002);
  });
});
