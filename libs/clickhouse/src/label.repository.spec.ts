import { createClickHouseClient, type ClickHouseClient } from './clickhouse.client.js';
import { LabelRepository } from './label.repository.js';
import { applyMigrations } from './migrations.js';

describe('the followed labels a ranking run reads', () => {
  const database = `label_repository_${process.pid}`;
  let client: ClickHouseClient;

  beforeAll(async () => {
    client = createClickHouseClient({ kind: 'embedded', path: ':memory:', database });
    await applyMigrations(client, database);
  });

  afterAll(async () => {
    await client?.close();
  });

  it('finds the labels on any of a large run\'s subjects, in force and from the labelers followed only', async () => {
    const labeler = 'did:plc:labeler';
    const subjects = Array.from({ length: 5_000 }, (_, i) => `at://did:plc:author${i}/app.bsky.feed.post/3k${String(i).padStart(10, '0')}`);
    const row = (uri: string, overrides: Record<string, unknown> = {}) => ({ src: labeler, uri, val: 'spam', cid: '', neg: 0, cts: '2026-01-01T00:00:00.000Z', exp: '', sig: '', version: 1, ...overrides });
    await client.insert({
      table: `${database}.external_labels`,
      values: [
        // On the first subject, and on one far down the list (another query's share of the subjects).
        row(subjects[0]!),
        row(subjects[4_321]!),
        // Negated, expired, of another labeler, of a value the feed does not act on, on no subject of the run.
        row(subjects[7]!, { neg: 1 }),
        row(subjects[8]!, { exp: '2020-01-01T00:00:00.000Z' }),
        row(subjects[9]!, { src: 'did:plc:unfollowed' }),
        row(subjects[10]!, { val: 'nudity' }),
        row('at://did:plc:elsewhere/app.bsky.feed.post/3kzzzzzzzzzz'),
      ],
      format: 'JSONEachRow',
    });
    const found = await new LabelRepository(client, database).externalInForce({ sources: [labeler], values: ['spam'], subjects, nowIso: new Date().toISOString() });
    expect(found.map((label) => label.uri).sort()).toEqual([subjects[0], subjects[4_321]].sort());
  });
});
