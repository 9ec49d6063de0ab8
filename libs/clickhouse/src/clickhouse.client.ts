import { createClient, type ClickHouseClient } from '@clickhouse/client';
import { createChdbConnection } from 'chdb/connection';
import type { ClickHouseConfig } from '#lib/config';

export type { ClickHouseClient };

type EmbeddedConnection = NonNullable<Parameters<typeof createClient>[0]>['connection'];

/** Settings every connection uses: wait for inserts to be written before acknowledging them. */
const clickhouseSettings = { async_insert: 0, wait_end_of_query: 1 } as const;

/**
 * One client for either ClickHouse: embedded in-process (chDB) or a server over HTTP.
 * Everything above this function is the same code and the same SQL.
 */
export function createClickHouseClient(config: ClickHouseConfig): ClickHouseClient {
  if (config.kind === 'embedded') {
    // @NOTE chdb types its connection against `@clickhouse/client-common`, which the client now
    // bundles under another path; the interfaces are the same, the declarations are not.
    const connection = createChdbConnection({ path: config.path }) as unknown as EmbeddedConnection;
    return createClient({ connection, clickhouse_settings: clickhouseSettings });
  }
  return createClient({
    url: config.url,
    username: config.username,
    password: config.password,
    clickhouse_settings: clickhouseSettings,
    request_timeout: 30_000,
  });
}
