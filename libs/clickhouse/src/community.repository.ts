import type { ClickHouseClient } from '@clickhouse/client';
import { inactiveAccounts } from './account-status.js';
import { DidSetStore } from './did-set.store.js';
import { POSTS_BY_TIME } from './posts-by-time.js';
import type { MemberSources } from '#lib/curation';

/**
 * The member sources the store answers. Handles are not among them: a handle counts only once
 * verified against its domain and DID document, which the caller does and passes as named DIDs.
 */
type StoredMemberSources = Omit<MemberSources, 'handles'>;

/** Members a community may resolve to unless the deployment says otherwise (`COMMUNITY_MAX_MEMBERS`). */
export const DEFAULT_MAX_COMMUNITY_MEMBERS = 1_000_000;

/**
 * A community's sources name more accounts than the deployment's bound (`COMMUNITY_MAX_MEMBERS`):
 * the followers of a very large account, say. Its members are not read at all; the curator
 * narrows its sources or the operator raises the bound.
 */
export class CommunityTooLargeError extends Error {
  override name = 'CommunityTooLargeError';
  constructor(readonly maxMembers: number) {
    super(`the community's member sources name more than ${maxMembers.toLocaleString('en')} accounts (COMMUNITY_MAX_MEMBERS); narrow its sources or raise the bound`);
  }
}

/**
 * Resolves a community's member sources to DIDs from the ingested graph and posts.
 * Named DIDs and exclusions (curator lists, any length) travel as DID sets, not URL parameters.
 */
export class CommunityRepository {
  private readonly didSets: DidSetStore;

  constructor(
    private readonly client: ClickHouseClient,
    private readonly database: string,
    /** The most members a community may have: each resolution holds them all in memory, in every process that asks. */
    private readonly maxMembers = DEFAULT_MAX_COMMUNITY_MEMBERS,
  ) {
    this.didSets = DidSetStore.of(client, database);
  }

  /**
   * Members now: named DIDs, members of the given lists (live, from list-item events), authors
   * who used the hashtags since `sinceUs`, and followers of the seed accounts, minus the
   * exclusions and the accounts deactivated, taken down or deleted (members again if they come
   * back). A starter pack counts as its list (from the pack's own record, followed live).
   *
   * @NOTE The `identities` rows (handles from the firehose's identity events) never decide
   * membership: an identity event is what a DID claims about itself, and anyone can claim any
   * handle there.
   *
   * Throws CommunityTooLargeError, having read at most one member more than the bound, when the
   * sources name more accounts than `maxMembers`.
   */
  async members(sources: StoredMemberSources, sinceUs: number): Promise<string[]> {
    const db = this.database;
    const lists = sources.lists;
    const [named, exclude] = await Promise.all([this.didSets.bind('dids', sources.dids), this.didSets.bind('exclude', sources.exclude)]);
    const parts = [named.sql];
    if (lists.length > 0 || sources.starterPacks.length > 0) {
      // @NOTE On AT Protocol a list's members are the list items in the list owner's repo: anyone
      // can write an item naming someone else's list into their own repo, and that means nothing.
      // So an item counts only when its repo is the authority of the list's AT-URI. A starter pack
      // is read from its owner's repo (its AT-URI names the repo) and stands for its list. The
      // inner query keeps `did` the item's repo: ClickHouse lets an alias shadow a column in WHERE.
      parts.push(`SELECT subject_did AS did FROM (SELECT subject_did FROM ${db}.graph FINAL WHERE kind = 'listitem' AND deleted = 0
        AND startsWith(list, concat('at://', did, '/'))
        AND (list IN {lists:Array(String)} OR list IN (
          SELECT list FROM ${db}.graph FINAL WHERE kind = 'starterpack' AND deleted = 0
            AND concat('at://', did, '/app.bsky.graph.starterpack/', rkey) IN {starterPacks:Array(String)})))`);
    }
    if (sources.hashtags.length > 0) {
      parts.push(`SELECT did FROM ${db}.posts FINAL WHERE deleted = 0 AND time_us >= {sinceUs:UInt64} AND hasAny(tags, {hashtags:Array(String)})`);
    }
    if (sources.followersOf.length > 0) {
      parts.push(`SELECT did FROM ${db}.graph FINAL WHERE kind = 'follow' AND deleted = 0 AND subject_did IN {followersOf:Array(String)}`);
    }
    const result = await this.client.query({
      query: `SELECT DISTINCT did FROM (${parts.join(' UNION ALL ')}) WHERE did NOT IN (${exclude.sql}) AND did NOT IN (${inactiveAccounts(db)})
        ORDER BY did LIMIT {limit:UInt64}`,
      query_params: {
        dids: named.value,
        lists,
        starterPacks: sources.starterPacks,
        sinceUs,
        hashtags: sources.hashtags,
        followersOf: sources.followersOf,
        exclude: exclude.value,
        limit: this.maxMembers + 1,
      },
      // The hashtags' posts are read by time: the parts older than `sinceUs` are skipped.
      ...(sources.hashtags.length > 0 && { clickhouse_settings: POSTS_BY_TIME }),
      format: 'JSONEachRow',
    });
    const members = (await result.json<{ did: string }>()).map((row) => row.did);
    if (members.length > this.maxMembers) throw new CommunityTooLargeError(this.maxMembers);
    return members;
  }
}
