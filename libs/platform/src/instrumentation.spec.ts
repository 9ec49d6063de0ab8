import { ScoreRepository } from '#lib/clickhouse';
import { openEmbeddedStore, type EmbeddedStore } from '#lib/testing';
import { instrumentInserts } from './instrumentation.js';
import { Metrics } from './metrics.js';

describe('the inserts of the one ClickHouse client, as metrics', () => {
  let store: EmbeddedStore;

  beforeAll(async () => {
    store = await openEmbeddedStore('instrumented_inserts');
  });

  afterAll(async () => {
    await store.close();
  });

  it('counts the rows of a snapshot (encoded in slices, not an array) by table', async () => {
    const metrics = new Metrics({ processMetrics: false });
    const scores = new ScoreRepository(instrumentInserts(store.client, metrics), store.database);
    const rows = Array.from({ length: 1_001 }, (_, i) => ({ uri: `at://did:plc:a/app.bsky.feed.post/${i}`, cid: `c${i}`, score: 1, feedContext: '', components: {} }));
    await scores.writeSnapshot('at://did:plc:p/app.bsky.feed.generator/f', 1, rows);
    const text = await metrics.scrape();
    expect(text).toContain('cg_clickhouse_inserted_rows_total{table="feed_scores"} 1001');
    expect(text).toContain('cg_clickhouse_inserted_rows_total{table="feed_snapshots"} 1');
  });
});
