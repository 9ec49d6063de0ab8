import type { ClickHouseClient } from '@clickhouse/client';

/** What a ranker claims before writing it: a snapshot id, a digest edition (its cadence point), or labels from a sequence number. */
export type ClaimKind = 'snapshot' | 'edition' | 'labels';

/**
 * How a claim went: `claimed` (write it), `taken` (another ranker claimed the same key: choose
 * another snapshot id), `fenced` (a newer owner took the feed over: write nothing more of it).
 */
export type ClaimOutcome = 'claimed' | 'taken' | 'fenced';

/**
 * Ownership epochs and claims of the rankers (table `ranker_claims`), the fencing that keeps each
 * feed's writes with one ranker when rankers scale out.
 *
 * @NOTE Each decision is a write followed by a read of the same key: the row is inserted, then
 * every row of the key is read. Two rankers racing for one key each read after their own insert,
 * so at least one of them sees the other's row, and a ranker goes ahead only when it sees none: at
 * most one wins, and when both see each other both retry. This needs a read to see every insert
 * acknowledged before it: true of one ClickHouse server; on a replicated cluster, set
 * `insert_quorum` to all replicas and `select_sequential_consistency=1` for the rankers' user.
 */
export class RankerClaimRepository {
  constructor(
    private readonly client: ClickHouseClient,
    private readonly database: string,
  ) {}

  /**
   * Takes `feed`'s next ownership epoch for `ranker`: one above every epoch taken so far. Returns
   * it, or `undefined` when another ranker took the same or a later epoch at the same time.
   */
  async acquireEpoch(feed: string, ranker: string): Promise<number | undefined> {
    const db = this.database;
    const newest = await this.client.query({
      query: `SELECT max(key) AS newest FROM ${db}.ranker_claims WHERE feed = {feed:String} AND kind = 'epoch'`,
      query_params: { feed },
      format: 'JSONEachRow',
    });
    const [row] = await newest.json<{ newest: string }>();
    const epoch = Number(row?.newest ?? 0) + 1;
    await this.insert(feed, 'epoch', epoch, epoch, ranker);
    const rivals = await this.client.query({
      query: `SELECT count() AS rivals FROM ${db}.ranker_claims
        WHERE feed = {feed:String} AND kind = 'epoch' AND key >= {epoch:UInt64} AND ranker != {ranker:String}`,
      query_params: { feed, epoch, ranker },
      format: 'JSONEachRow',
    });
    const [found] = await rivals.json<{ rivals: string }>();
    return Number(found?.rivals ?? 0) === 0 ? epoch : undefined;
  }

  /**
   * Claims `key` of `feed` for `ranker`, owner under `epoch`. Fenced when the feed has a later epoch
   * than `epoch`. Otherwise taken when another ranker claimed the same key, counting, when
   * `supersede` is set, only claims of the same or a later epoch (an edition a previous owner
   * claimed but may never have written is frozen again by the new owner; a snapshot id is never
   * reused, a new one is chosen instead).
   */
  async claim(feed: string, kind: ClaimKind, key: number, epoch: number, ranker: string, supersede = false): Promise<ClaimOutcome> {
    await this.insert(feed, kind, key, epoch, ranker);
    const result = await this.client.query({
      query: `SELECT
          countIf(kind = {kind:String} AND key = {key:UInt64} AND ranker != {ranker:String} AND epoch >= {minEpoch:UInt64}) AS taken,
          maxIf(key, kind = 'epoch') AS newest
        FROM ${this.database}.ranker_claims
        WHERE feed = {feed:String} AND (kind = 'epoch' OR (kind = {kind:String} AND key = {key:UInt64}))`,
      query_params: { feed, kind, key, ranker, minEpoch: supersede ? epoch : 0 },
      format: 'JSONEachRow',
    });
    const [row] = await result.json<{ taken: string; newest: string }>();
    if (Number(row?.newest ?? 0) > epoch) return 'fenced';
    return Number(row?.taken ?? 0) > 0 ? 'taken' : 'claimed';
  }

  private async insert(feed: string, kind: ClaimKind | 'epoch', key: number, epoch: number, ranker: string): Promise<void> {
    await this.client.insert({ table: `${this.database}.ranker_claims`, values: [{ feed, kind, key, epoch, ranker }], format: 'JSONEachRow' });
  }
}
