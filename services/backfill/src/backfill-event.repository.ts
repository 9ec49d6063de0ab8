import { EventRepository, type ClickHouseClient } from '#lib/clickhouse';

/**
 * The label of a backfill's writes: ClickHouse's `log_comment` setting, which the view keeping when
 * the store first saw each account reads (`first_seen_of_events`, migration 28: the same text).
 */
export const BACKFILL_LOG_COMMENT = 'common-ground:backfill';

/**
 * The event tables as a backfill writes them: the rows live ingest would write, each insert
 * labelled as a backfill's.
 *
 * @NOTE A backfilled event keeps its record's date as its time (windows, order and versions read
 * it), but that date is the account's own word, up to years back; what the store saw is that it
 * read the record now. The label is what lets the view tell the two apart, the rows being the same.
 * It also names these inserts in ClickHouse's query log.
 */
export class BackfillEventRepository extends EventRepository {
  constructor(client: ClickHouseClient, database: string) {
    super(labelled(client), database);
  }
}

function labelled(client: ClickHouseClient): ClickHouseClient {
  const inserts = Object.create(client) as ClickHouseClient;
  inserts.insert = (params) => client.insert({ ...params, clickhouse_settings: { ...params.clickhouse_settings, log_comment: BACKFILL_LOG_COMMENT } });
  return inserts;
}
