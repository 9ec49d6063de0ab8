import { createClickHouseClient, type ClickHouseClient } from '#lib/clickhouse';
import type { CampaignSource, ExpectedAggregates } from './campaign-source.js';

/** One aggregate the app reads, compared group by group with the source. */
interface AggregateAudit {
  name: string;
  /** Counts above the source's: something counted twice. */
  over: number;
  /** Counts below the source's: something missing. */
  under: number;
}

export interface StoreAudit {
  /** Distinct events in the source (mappable ones: what ingest keeps). */
  sourceEvents: number;
  /** Distinct event identities in `event_log`. */
  storedDistinct: number;
  /** Source events whose identity is not stored. */
  lost: number;
  /** Stored identities that are not in the source (a corrupted or invented event). */
  foreign: number;
  /** Counts above the source summed over every aggregate, `event_log` read with FINAL included. */
  duplicates: number;
  aggregates: AggregateAudit[];
}

/** The app's reads (every one with FINAL, as the repositories query), by group. */
const storedAggregates: Record<keyof ExpectedAggregates, { name: string; sql: (db: string) => string }> = {
  interactionsPerPost: {
    name: 'interactions per post and kind',
    sql: (db) => `SELECT subject_uri, kind, count() FROM ${db}.interactions FINAL WHERE deleted = 0 GROUP BY subject_uri, kind`,
  },
  graphPerAccount: {
    name: 'graph records per account and kind',
    sql: (db) => `SELECT did, kind, count() FROM ${db}.graph FINAL WHERE deleted = 0 GROUP BY did, kind`,
  },
  postsPerAuthor: {
    name: 'live posts per author',
    sql: (db) => `SELECT did, count() FROM ${db}.posts FINAL WHERE deleted = 0 GROUP BY did`,
  },
  eventsPerType: {
    name: 'events per type',
    sql: (db) => `SELECT type, count() FROM ${db}.event_log FINAL GROUP BY type`,
  },
};

async function rows<T extends unknown[]>(client: ClickHouseClient, query: string): Promise<T[]> {
  const result = await client.query({ query, format: 'JSONCompactEachRow' });
  return result.json<T>();
}

async function count(client: ClickHouseClient, query: string): Promise<number> {
  const [row] = await rows<[string]>(client, query);
  return Number(row?.[0] ?? 0);
}

function compare(name: string, expected: Map<string, number>, stored: [...string[], string][]): AggregateAudit {
  let over = 0;
  let under = 0;
  const seen = new Set<string>();
  for (const row of stored) {
    const key = row.slice(0, -1).join('\t');
    const n = Number(row.at(-1));
    seen.add(key);
    const want = expected.get(key) ?? 0;
    over += Math.max(0, n - want);
    under += Math.max(0, want - n);
  }
  for (const [key, want] of expected) if (!seen.has(key)) under += want;
  return { name, over, under };
}

/**
 * Audits what a campaign left in ClickHouse against its source: every source event stored exactly
 * once by identity (an anti-join in ClickHouse over the uploaded source identities), and every
 * aggregate the app reads equal, group by group, to the one the source implies.
 *
 * @NOTE The source identities go into a database of their own beside the app's, so the
 * comparison runs where the data is; a million identities are ~80 MB to upload, not to download.
 */
export async function auditStore(options: { url: string; database: string; source: CampaignSource }): Promise<StoreAudit> {
  const { database: db, source } = options;
  const audit = `${db}_audit`;
  const client = createClickHouseClient({ kind: 'server', url: options.url, username: 'default', password: '', database: db });
  try {
    await client.command({ query: `DROP DATABASE IF EXISTS ${audit}` });
    await client.command({ query: `CREATE DATABASE ${audit}` });
    await client.command({
      query: `CREATE TABLE ${audit}.source_events (did String, time_us UInt64, type String, rkey String) ENGINE = MergeTree ORDER BY (did, time_us)`,
    });
    const chunk = 100_000;
    for (let i = 0; i < source.keys.length; i += chunk) {
      await client.insert({
        table: `${audit}.source_events`,
        values: source.keys.slice(i, i + chunk),
        columns: ['did', 'time_us', 'type', 'rkey'],
        format: 'JSONCompactEachRow',
      });
    }
    const identity = '(did, time_us, type, rkey)';
    const sourceEvents = await count(client, `SELECT count() FROM (SELECT DISTINCT did, time_us, type, rkey FROM ${audit}.source_events)`);
    const storedDistinct = await count(client, `SELECT count() FROM (SELECT DISTINCT did, time_us, type, rkey FROM ${db}.event_log)`);
    const lost = await count(
      client,
      `SELECT count() FROM ${audit}.source_events WHERE ${identity} NOT IN (SELECT did, time_us, type, rkey FROM ${db}.event_log)`,
    );
    const foreign = await count(
      client,
      `SELECT count() FROM (SELECT DISTINCT did, time_us, type, rkey FROM ${db}.event_log)
        WHERE ${identity} NOT IN (SELECT did, time_us, type, rkey FROM ${audit}.source_events)`,
    );
    const aggregates: AggregateAudit[] = [];
    for (const [key, { name, sql }] of Object.entries(storedAggregates) as [keyof ExpectedAggregates, (typeof storedAggregates)[keyof ExpectedAggregates]][]) {
      aggregates.push(compare(name, source.expected[key], await rows<[...string[], string]>(client, sql(db))));
    }
    await client.command({ query: `DROP DATABASE IF EXISTS ${audit}` });
    return {
      sourceEvents,
      storedDistinct,
      lost,
      foreign,
      duplicates: aggregates.reduce((sum, aggregate) => sum + aggregate.over, 0),
      aggregates,
    };
  } finally {
    await client.close();
  }
}
