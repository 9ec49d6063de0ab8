import type { ClickHouseClient } from '@clickhouse/client';

/** A post deleted, or an account whose status changed (`active` 0: deactivated, taken down, deleted). */
export interface Removal {
  subject: string;
  kind: 'post' | 'account';
  active: boolean;
  /** When it reached ClickHouse, in microseconds: the position to poll from next. */
  arrivedUs: number;
  /** An account status's version (the accounts table keeps the newest): a status older than one applied is stale. */
  version: number;
}

/** Removals in the order they reached the store (the `removals` table fed by materialized views). */
export class RemovalRepository {
  constructor(
    private readonly client: ClickHouseClient,
    private readonly database: string,
  ) {}

  /**
   * Removals that arrived at or after `sinceUs`, oldest first, at most `limit`; after `after` when
   * given (the last of a full page), in the same order, so a page ends anywhere, even inside the rows
   * of one insert, which share their arrival.
   */
  async since(sinceUs: number, limit: number, after?: Removal): Promise<Removal[]> {
    const cursor = after
      ? `AND (toUnixTimestamp64Micro(arrived_at), kind, subject, version) > ({afterUs:Int64}, {afterKind:String}, {afterSubject:String}, {afterVersion:UInt64})`
      : '';
    const result = await this.client.query({
      query: `SELECT subject, kind, active, toUnixTimestamp64Micro(arrived_at) AS arrived_us, toString(version) AS version_text FROM ${this.database}.removals
        WHERE arrived_at >= fromUnixTimestamp64Micro({sinceUs:Int64}) ${cursor}
        ORDER BY arrived_at, kind, subject, version LIMIT {limit:UInt32}`,
      query_params: { sinceUs, limit, ...(after && { afterUs: after.arrivedUs, afterKind: after.kind, afterSubject: after.subject, afterVersion: after.version }) },
      format: 'JSONEachRow',
    });
    return (await result.json<{ subject: string; kind: string; active: number; arrived_us: string; version_text: string }>()).map((row) => ({
      subject: row.subject,
      kind: row.kind === 'account' ? 'account' : 'post',
      active: Number(row.active) === 1,
      arrivedUs: Number(row.arrived_us),
      version: Number(row.version_text),
    }));
  }
}
