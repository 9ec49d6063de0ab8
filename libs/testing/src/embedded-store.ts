import { applyMigrations, createClickHouseClient, type ClickHouseClient } from '#lib/clickhouse';

/** An embedded ClickHouse (chDB, in memory) with every migration applied, for one spec file. */
export interface EmbeddedStore {
  client: ClickHouseClient;
  /** Named after the spec and this process, so that spec files in one worker never share one. */
  database: string;
  /** Drops the database and lets chDB go (the next spec file in the worker may open its own). */
  close(): Promise<void>;
}

export async function openEmbeddedStore(name: string): Promise<EmbeddedStore> {
  const database = `${name}_${process.pid}_${Date.now()}`;
  const client = createClickHouseClient({ kind: 'embedded', path: ':memory:', database });
  await applyMigrations(client, database);
  return {
    client,
    database,
    async close() {
      await client.command({ query: `DROP DATABASE IF EXISTS ${database}` });
      await client.close();
    },
  };
}
