import { openEmbeddedStore, startChdbHttpServer, type ChdbHttpServer, type EmbeddedStore } from '#lib/testing';
import { applyMigrations, type ClickHouseClient, createClickHouseClient } from './index.js';
import { encoded, jsonRowsInSteps } from './clickhouse.client.js';
import { ScoreRepository, type ScoredRow } from './score.repository.js';
import { runSteps } from '#lib/steps';

const feed = 'at://did:plc:publisher/app.bsky.feed.generator/bridging';
/** More than two slices of the encoding (500 rows each), with text that needs escaping. */
const rows: ScoredRow[] = Array.from({ length: 1_203 }, (_, i) => ({
  uri: `at://did:plc:author${i % 17}/app.bsky.feed.post/3k${i}`,
  cid: `bafy${i}`,
  score: 1 / (i + 1),
  feedContext: JSON.stringify({ v: 1, b: ['north', 'south'], d: [] }),
  components: { ranking: 'bridging', note: `a "quoted", multi-byte é\nline ${i}`, groups: [{ approvals: i % 5 }] },
}));

/** A snapshot through each way to ClickHouse: chDB in the process, and a server over HTTP. */
describe.each(['embedded', 'server'] as const)('a snapshot written as encoded rows (%s)', (kind) => {
  let store: EmbeddedStore | undefined;
  let server: ChdbHttpServer | undefined;
  let client: ClickHouseClient;
  let database: string;

  beforeAll(async () => {
    if (kind === 'embedded') {
      store = await openEmbeddedStore('encoded_rows');
      ({ client, database } = store);
    } else {
      server = await startChdbHttpServer({ path: ':memory:' });
      database = `encoded_rows_server_${process.pid}_${Date.now()}`;
      client = createClickHouseClient({ kind: 'server', url: server.url, username: 'default', password: '', database });
      await applyMigrations(client, database);
    }
  });

  afterAll(async () => {
    if (store) await store.close();
    else {
      await client?.command({ query: `DROP DATABASE IF EXISTS ${database}` });
      await client?.close();
      await server?.close();
    }
  });

  it('reads back every post in its rank, with its explanation as written', async () => {
    const scores = new ScoreRepository(client, database);
    await scores.writeSnapshot(feed, 1, rows);
    const top = await scores.top(feed, 1, rows.length);
    expect(top).toHaveLength(rows.length);
    expect(top.map((item) => item.rank)).toEqual(rows.map((_, i) => i + 1));
    expect(top.map(({ uri, cid, score, feedContext, components }) => ({ uri, cid, score, feedContext, components }))).toEqual(rows);
  });

  it('refuses an insert of encoded rows into all columns except some, clearly, rather than fail in the client', async () => {
    const values = encoded(runSteps(jsonRowsInSteps(rows.slice(0, 3), (row) => row)));
    await expect(client.insert({ table: `${database}.feed_scores`, values, format: 'JSONEachRow', columns: { except: ['components'] } })).rejects.toThrow(/named columns/);
  });

  if (kind === 'server') {
    it('sends the insert\'s own query id with it', async () => {
      const values = encoded(runSteps(jsonRowsInSteps([{ feed, snapshot: 2, rank: 1, uri: rows[0]!.uri, cid: 'c', score: 1, feed_context: '', components: '{}' }], (row) => row)));
      const result = await client.insert({ table: `${database}.feed_scores`, values, format: 'JSONEachRow', query_id: 'snapshot-2-of-bridging' });
      expect(result.query_id).toBe('snapshot-2-of-bridging');
    });
  } else {
    it('refuses an insert of encoded rows with a query id, which chDB\'s insert path cannot take, clearly', async () => {
      const values = encoded(runSteps(jsonRowsInSteps(rows.slice(0, 1), (row) => row)));
      await expect(client.insert({ table: `${database}.feed_scores`, values, format: 'JSONEachRow', query_id: 'q' })).rejects.toThrow(/without a query id/);
    });
  }
});
