import type { ClickHouseClient } from '@clickhouse/client';
import { DidSetStore } from './did-set.store.js';

/** Accounts whose recent history was backfilled, so that a restart resumes instead of starting over. */
export class BackfillCheckpointRepository {
  private readonly didSets: DidSetStore;

  constructor(
    private readonly client: ClickHouseClient,
    private readonly database: string,
  ) {
    this.didSets = DidSetStore.of(client, database);
  }

  /** Those of `dids` already backfilled from `sinceUs` or earlier. */
  async covered(dids: readonly string[], sinceUs: number): Promise<Set<string>> {
    if (dids.length === 0) return new Set();
    const list = await this.didSets.bind('dids', dids);
    const result = await this.client.query({
      query: `SELECT did FROM ${this.database}.backfill_checkpoints FINAL WHERE since_us <= {sinceUs:UInt64} AND did IN (${list.sql})`,
      query_params: { dids: list.value, sinceUs },
      format: 'JSONEachRow',
    });
    return new Set((await result.json<{ did: string }>()).map((row) => row.did));
  }

  /** Records that these accounts are backfilled from their `sinceUs`; called once their records are written. */
  async markDone(done: readonly { did: string; sinceUs: number; records: number }[]): Promise<void> {
    if (done.length === 0) return;
    await this.client.insert({
      table: `${this.database}.backfill_checkpoints`,
      values: done.map(({ did, sinceUs, records }) => [did, sinceUs, records]),
      columns: ['did', 'since_us', 'records'],
      format: 'JSONCompactEachRow',
    });
  }

  /** Forget every checkpoint (a backfill asked to start over). */
  async clear(dids: readonly string[]): Promise<void> {
    if (dids.length === 0) return;
    const list = await this.didSets.bind('dids', dids);
    await this.client.command({
      query: `DELETE FROM ${this.database}.backfill_checkpoints WHERE did IN (${list.sql})`,
      query_params: { dids: list.value },
    });
  }
}
