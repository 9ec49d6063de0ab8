import { createHash } from 'node:crypto';
import type { ClickHouseClient } from '@clickhouse/client';
import { LRUCache } from 'lru-cache';

/** A set in use is written again this often, so the table's TTL (2 hours) only drops abandoned ones. */
const REFRESH_MS = 20 * 60_000;
/** Lists up to this long go as an `Array(String)` parameter (~80 KB of URL); longer ones as sets. */
const MAX_PARAMETER_DIDS = 2_000;
/** Set ids remembered as written; one forgotten early is merely written again. */
const MAX_REMEMBERED_SETS = 10_000;

/** A DID list bound to a query: `sql` selects its DIDs (for `x IN (sql)` or a `UNION` part); `value` is the parameter's value. */
export interface DidList {
  readonly sql: string;
  readonly value: string | readonly string[];
}

/**
 * Long lists of DIDs (community members) reach ClickHouse as rows, not as query parameters:
 * `@clickhouse/client` sends parameters in the URL, which a server caps at 1 MiB
 * (`http_max_uri_size`), about 25 000 DIDs. A long list is stored once under the hash of its
 * content in `did_sets`, and queries read it as `IN (SELECT did FROM did_sets WHERE set_id = …)`;
 * a short one stays a parameter, so small communities and changing ones write nothing.
 *
 * One store per client and database (`DidSetStore.of`), shared by the repositories of a process.
 * Sets are content-addressed, so processes that write the same list at once write the same rows
 * (the ReplacingMergeTree keeps one copy).
 */
export class DidSetStore {
  private static readonly stores = new WeakMap<ClickHouseClient, Map<string, DidSetStore>>();

  static of(client: ClickHouseClient, database: string): DidSetStore {
    let byDatabase = DidSetStore.stores.get(client);
    if (!byDatabase) DidSetStore.stores.set(client, (byDatabase = new Map()));
    let store = byDatabase.get(database);
    if (!store) byDatabase.set(database, (store = new DidSetStore(client, database)));
    return store;
  }

  /**
   * Set ids this process wrote (or is writing) within `REFRESH_MS`. Concurrent callers share one
   * write; a failed write is not remembered, so the next call writes again.
   */
  private readonly written = new LRUCache<string, true, readonly string[]>({
    max: MAX_REMEMBERED_SETS,
    ttl: REFRESH_MS,
    fetchMethod: async (setId, _stale, { context }) => {
      await this.write(setId, context);
      return true as const;
    },
  });
  /** The id of a list already hashed, by the list's identity: callers that keep a list pay once. */
  private readonly ids = new WeakMap<readonly string[], string>();

  private constructor(
    private readonly client: ClickHouseClient,
    private readonly database: string,
  ) {}

  /** Binds `dids` to the query parameter `name`: as the list itself when short, else as a stored set. */
  async bind(name: string, dids: readonly string[]): Promise<DidList> {
    if (dids.length <= MAX_PARAMETER_DIDS) return { sql: `SELECT arrayJoin({${name}:Array(String)}) AS did`, value: dids };
    return { sql: `SELECT did FROM ${this.database}.did_sets WHERE set_id = {${name}:String}`, value: await this.ensure(dids) };
  }

  /** Stores `dids` (unless this process stored the same list lately) and returns the set's id. */
  async ensure(dids: readonly string[]): Promise<string> {
    let id = this.ids.get(dids);
    if (id === undefined) {
      const hash = createHash('sha256');
      for (const did of dids) hash.update(did).update('\n');
      id = hash.digest('hex').slice(0, 32);
      this.ids.set(dids, id);
    }
    await this.written.forceFetch(id, { context: dids });
    return id;
  }

  private async write(setId: string, dids: readonly string[]): Promise<void> {
    if (dids.length === 0) return;
    await this.client.insert({
      table: `${this.database}.did_sets`,
      values: dids.map((did) => [setId, did]),
      columns: ['set_id', 'did'],
      format: 'JSONCompactEachRow',
    });
  }
}
