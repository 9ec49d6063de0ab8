import type { ClickHouseClient } from '@clickhouse/client';
import type { Pledge } from '#lib/funding';
import { DidSetStore } from './did-set.store.js';
import { inShares } from './query-shares.js';

/**
 * Record keys asked in one query: a query's parameters travel in its URL, which a server caps at
 * 1 MiB (an epoch's pledged posts may be tens of thousands); 5,000 keys are about 80 KB.
 */
const RKEYS_PER_QUERY = 5_000;

/** What one fund was charged this epoch for one post: impressions (weighted by funds sharing them) and those that reached members of other communities. */
export interface PostCharge {
  impressions: number;
  outside: number;
}

export interface FundAllocation {
  post: string;
  rank: number;
  unboostedRank: number;
  funds: readonly string[];
  credits: number;
  lift: number;
}

export interface FundPostEntry {
  post: string;
  pledged: number;
  matched: number;
  /** The most credits (pledged and matched) the fund held on the post this epoch: what it pays for it at most. */
  credits: number;
  impressions: number;
  outside: number;
  spent: number;
}

export interface FundEpochEntry {
  community: string;
  epoch: number;
  budget: number;
  floor: number;
  matchingPool: number;
  /** What each member could pledge in the epoch; absent from settlements stored before it was kept. */
  memberAllowance?: number;
  pledged: number;
  matched: number;
  impressions: number;
  outside: number;
  /** Impressions served past the budget or a post's credits: served free. */
  unpaid: number;
  spent: number;
  remaining: number;
  pledges: number;
  refused: Record<string, number>;
}

/** A fund's ledger for one epoch, as the public report shows it. */
export interface FundReportRows {
  epoch: FundEpochEntry & { settledAtMs: number };
  posts: FundPostEntry[];
}

/**
 * The Bridge Fund's tables: pledges (from records), boosted impressions (from the feed
 * generators' impressions), and what the ranker — the one writer — allocates and settles.
 */
export class FundRepository {
  private readonly didSets: DidSetStore;

  constructor(
    private readonly client: ClickHouseClient,
    private readonly database: string,
  ) {
    this.didSets = DidSetStore.of(client, database);
  }

  /**
   * Live pledges the relay saw in `[sinceUs, untilUs)`, oldest first; with `communities`, only those
   * to their funds (the ranker's: a pledge to a community without a fund is counted by no fund).
   */
  async pledges(sinceUs: number, untilUs: number, communities?: readonly string[]): Promise<Pledge[]> {
    const result = await this.client.query({
      query: `SELECT did, rkey, community, subject_uri, amount, time_us FROM ${this.database}.pledges FINAL
        WHERE deleted = 0 AND time_us >= {sinceUs:UInt64} AND time_us < {untilUs:UInt64}${communities ? ' AND community IN {communities:Array(String)}' : ''}
        ORDER BY time_us, did, rkey`,
      query_params: { sinceUs, untilUs, communities },
      format: 'JSONCompactEachRow',
    });
    const rows = await result.json<[string, string, string, string, number, string]>();
    return rows.map(([pledger, rkey, community, post, amount, timeUs]) => ({ pledger, rkey, community, post, amount: Number(amount), timeUs: Number(timeUs) }));
  }

  /**
   * A pledge a curator records through the admin API, or its withdrawal (`amount` undefined): the
   * same row a pledge record makes, so the ranker checks and matches both alike.
   */
  async recordPledge(pledge: { pledger: string; rkey: string; community?: string; post?: string; amount?: number; timeUs: number }): Promise<void> {
    const withdrawn = pledge.amount === undefined;
    await this.client.insert({
      table: `${this.database}.pledges`,
      values: [
        {
          did: pledge.pledger,
          rkey: pledge.rkey,
          subject_uri: pledge.post ?? '',
          community: pledge.community ?? '',
          amount: pledge.amount ?? 0,
          time_us: pledge.timeUs,
          deleted: withdrawn ? 1 : 0,
          version: pledge.timeUs,
        },
      ],
      format: 'JSONEachRow',
    });
  }

  /**
   * The pledges of `communities` held for an epoch: every pledge a settlement took, kept at the
   * most it pledged however it was withdrawn or edited since (the ranker counts those whose post
   * the fund was charged for).
   */
  async heldPledges(epoch: number, communities: readonly string[]): Promise<Pledge[]> {
    const result = await this.client.query({
      query: `SELECT pledger, rkey, community, post, amount, time_us FROM ${this.database}.fund_held_pledges FINAL
        WHERE epoch = {epoch:UInt32} AND community IN {communities:Array(String)}
        ORDER BY time_us, pledger, rkey, post`,
      query_params: { epoch, communities },
      format: 'JSONCompactEachRow',
    });
    const rows = await result.json<[string, string, string, string, number, string]>();
    return rows.map(([pledger, rkey, community, post, amount, timeUs]) => ({ pledger, rkey, community, post, amount: Number(amount), timeUs: Number(timeUs) }));
  }

  /** Holds `pledges` for an epoch (a pledge held again replaces its row: hold it at the most it pledged). */
  async holdPledges(epoch: number, pledges: readonly Pledge[], settledAtMs: number): Promise<void> {
    if (pledges.length === 0) return;
    await this.client.insert({
      table: `${this.database}.fund_held_pledges`,
      values: pledges.map((pledge) => ({
        community: pledge.community,
        epoch,
        pledger: pledge.pledger,
        rkey: pledge.rkey,
        post: pledge.post,
        amount: pledge.amount,
        time_us: pledge.timeUs,
        settled_at: settledAtMs,
      })),
      format: 'JSONEachRow',
    });
  }

  /** Which of `uris` are posts we hold and that are not deleted. */
  async livePosts(uris: readonly string[]): Promise<Set<string>> {
    const keys = uris.flatMap((uri) => {
      const match = /^at:\/\/([^/]+)\/app\.bsky\.feed\.post\/([^/]+)$/.exec(uri);
      return match ? [[match[1]!, match[2]!] as const] : [];
    });
    if (keys.length === 0) return new Set();
    const dids = await this.didSets.bind('dids', [...new Set(keys.map(([did]) => did))]);
    const rkeys = [...new Set(keys.map(([, rkey]) => rkey))];
    const wanted = new Set(uris);
    const found = await inShares(
      rkeys,
      async (share) => {
        const result = await this.client.query({
          query: `SELECT concat('at://', did, '/app.bsky.feed.post/', rkey) FROM ${this.database}.posts FINAL
            WHERE did IN (${dids.sql}) AND rkey IN {rkeys:Array(String)} AND deleted = 0`,
          query_params: { dids: dids.value, rkeys: share },
          format: 'JSONCompactEachRow',
        });
        return result.json<[string]>();
      },
      RKEYS_PER_QUERY,
    );
    return new Set(found.flatMap(([uri]) => (wanted.has(uri) ? [uri] : [])));
  }

  /**
   * Boosted impressions one fund was charged for this epoch, per post (each viewer's first serve,
   * weighted by the funds sharing it), and how much of them reached members of other communities:
   * viewers outside `members` (the fund's community) and in `others` (every other community's members).
   */
  async charges(community: string, epoch: number, members: readonly string[], others: readonly string[]): Promise<Map<string, PostCharge>> {
    const [own, other] = [await this.didSets.bind('members', members), await this.didSets.bind('others', others)];
    const result = await this.client.query({
      query: `SELECT post, sum(1 / length(funds)), sumIf(1 / length(funds), viewer NOT IN (${own.sql}) AND viewer IN (${other.sql}))
        FROM ${this.database}.fund_charges FINAL
        WHERE epoch = {epoch:UInt32} AND has(funds, {community:String})
        GROUP BY post`,
      query_params: { community, epoch, members: own.value, others: other.value },
      format: 'JSONCompactEachRow',
    });
    const rows = await result.json<[string, number, number]>();
    return new Map(rows.map(([post, impressions, outside]) => [post, { impressions: Number(impressions), outside: Number(outside) }]));
  }

  /**
   * The impressions a fund pays for, per post, when its budget does not cover all it was charged:
   * its charges in the order they were served, each post's up to `postCaps` (impressions its credits
   * pay for; a post not named has no cap), the fund's up to `budget` impressions; what comes after is
   * served free. Posts the fund pays nothing for are left out.
   *
   * @NOTE The caps reach ClickHouse as `post cap` lines bound like a long DID list (`DidSetStore`):
   * as a query parameter when few, stored as a set when many (a server caps a query's URL at 1 MiB).
   */
  async paidImpressions(community: string, epoch: number, postCaps: ReadonlyMap<string, number>, budget: number): Promise<Map<string, number>> {
    const caps = await this.didSets.bind('caps', [...postCaps].map(([post, cap]) => `${post} ${cap}`));
    // A post's own cap first (its charges in serve order), then the fund's over what every post still pays.
    const result = await this.client.query({
      query: `SELECT post, sum(greatest(0, least(paid, {budget:Float64} - before))) AS fundPaid FROM (
          SELECT post, paid, sum(paid) OVER (ORDER BY time_us, post, viewer ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS before FROM (
            SELECT charged.post AS post, viewer, time_us, greatest(0, least(weight, if(capped.post = '', inf, capped.cap) - postBefore)) AS paid FROM (
              SELECT post, viewer, time_us, 1 / length(funds) AS weight,
                sum(1 / length(funds)) OVER (PARTITION BY post ORDER BY time_us, viewer ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS postBefore
              FROM ${this.database}.fund_charges FINAL
              WHERE epoch = {epoch:UInt32} AND has(funds, {community:String})
            ) AS charged
            LEFT JOIN (
              SELECT substring(did, 1, position(did, ' ') - 1) AS post, toFloat64(substring(did, position(did, ' ') + 1)) AS cap FROM (${caps.sql})
            ) AS capped ON charged.post = capped.post
          )
        )
        GROUP BY post HAVING fundPaid > 0`,
      query_params: { community, epoch, budget, caps: caps.value },
      format: 'JSONCompactEachRow',
    });
    const rows = await result.json<[string, number]>();
    return new Map(rows.map(([post, paid]) => [post, Number(paid)]));
  }

  /** A fund's ledger lines as last settled for an epoch: a ranker that starts settling it knows which posts it holds. */
  async ledgerLines(community: string, epoch: number, limit: number): Promise<FundPostEntry[]> {
    const result = await this.client.query({
      query: `SELECT post, pledged, matched, credits, impressions, impressions_other, spent FROM ${this.database}.fund_posts FINAL
        WHERE community = {community:String} AND epoch = {epoch:UInt32} AND (pledged > 0 OR impressions > 0)
        ORDER BY spent DESC, pledged DESC, post LIMIT {limit:UInt32}`,
      query_params: { community, epoch, limit },
      format: 'JSONCompactEachRow',
    });
    return (await result.json<[string, number, number, number, number, number, number]>()).map(([post, pledged, matched, credits, impressions, outside, spent]) => ({
      post,
      pledged: Number(pledged),
      matched: Number(matched),
      credits: Number(credits),
      impressions: Number(impressions),
      outside: Number(outside),
      spent: Number(spent),
    }));
  }

  async writeAllocations(feed: string, snapshot: number, epoch: number, allocations: readonly FundAllocation[]): Promise<void> {
    if (allocations.length === 0) return;
    await this.client.insert({
      table: `${this.database}.fund_allocations`,
      values: allocations.map((row) => ({
        feed,
        snapshot,
        epoch,
        post: row.post,
        rank: row.rank,
        unboosted_rank: row.unboostedRank,
        funds: row.funds,
        credits: row.credits,
        lift: row.lift,
      })),
      format: 'JSONEachRow',
    });
  }

  /** One settlement of a fund's epoch: its post lines that changed first (a line of zeros takes a post out), then the totals the report starts from. */
  async writeSettlement(entry: FundEpochEntry, posts: readonly FundPostEntry[], settledAtMs: number): Promise<void> {
    const { community, epoch } = entry;
    if (posts.length > 0) {
      await this.client.insert({
        table: `${this.database}.fund_posts`,
        values: posts.map((row) => ({
          community,
          epoch,
          post: row.post,
          pledged: row.pledged,
          matched: row.matched,
          credits: row.credits,
          impressions: row.impressions,
          impressions_other: row.outside,
          spent: row.spent,
          settled_at: settledAtMs,
        })),
        format: 'JSONEachRow',
      });
    }
    await this.client.insert({
      table: `${this.database}.fund_epochs`,
      values: [
        {
          community,
          epoch,
          budget: entry.budget,
          floor: entry.floor,
          matching_pool: entry.matchingPool,
          member_allowance: entry.memberAllowance ?? null,
          pledged: entry.pledged,
          matched: entry.matched,
          impressions: entry.impressions,
          impressions_other: entry.outside,
          unpaid: entry.unpaid,
          spent: entry.spent,
          remaining: entry.remaining,
          pledges: entry.pledges,
          refused: JSON.stringify(entry.refused),
          settled_at: settledAtMs,
        },
      ],
      format: 'JSONEachRow',
    });
  }

  /** A fund's settled ledger for one epoch, with its `limit` posts that cost most; undefined before any settlement. */
  async report(community: string, epoch: number, limit: number): Promise<FundReportRows | undefined> {
    const totals = await this.totals(community, epoch);
    return totals && { epoch: totals, posts: await this.ledgerLines(community, epoch, limit) };
  }

  /** A fund's settled totals for one epoch; undefined before any settlement. */
  async totals(community: string, epoch: number): Promise<(FundEpochEntry & { settledAtMs: number }) | undefined> {
    const result = await this.client.query({
      query: `SELECT * FROM ${this.database}.fund_epochs FINAL WHERE community = {community:String} AND epoch = {epoch:UInt32} LIMIT 1`,
      query_params: { community, epoch },
      format: 'JSONEachRow',
    });
    const [row] = await result.json<Record<string, string | number | null>>();
    if (!row) return undefined;
    const n = (value: string | number | null | undefined) => Number(value ?? 0);
    return {
      community,
      epoch,
      budget: n(row.budget),
      floor: n(row.floor),
      matchingPool: n(row.matching_pool),
      ...(row.member_allowance != null && { memberAllowance: n(row.member_allowance) }),
      pledged: n(row.pledged),
      matched: n(row.matched),
      impressions: n(row.impressions),
      outside: n(row.impressions_other),
      unpaid: n(row.unpaid),
      spent: n(row.spent),
      remaining: n(row.remaining),
      pledges: n(row.pledges),
      refused: JSON.parse(String(row.refused ?? '{}')) as Record<string, number>,
      settledAtMs: n(row.settled_at),
    };
  }
}
