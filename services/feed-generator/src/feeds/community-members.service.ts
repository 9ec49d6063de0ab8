import { Inject, Injectable } from '@nestjs/common';
import { LRUCache } from 'lru-cache';
import { CommunityRepository, CommunityTooLargeError } from '#lib/clickhouse';
import { VerifiedHandleResolver } from '#lib/identity';
import { LOGGER, type Logger } from '#lib/platform';
import { FeedRegistry } from './feed.registry.js';

/** Membership is recomputed at most this often per community. */
const MEMBERSHIP_TTL_MS = 5_000;
/** Hashtag membership looks back this far. */
const HASHTAG_WINDOW_US = 7 * 24 * 3600 * 1_000_000;
/**
 * A community over the members bound is asked about again this rarely: each asking reads its
 * sources whole in ClickHouse (up to the bound), only to count it empty again.
 */
const TOO_LARGE_TTL_MS = 60_000;
/** Communities whose membership is kept at once. */
const MAX_CACHED_COMMUNITIES = 10_000;

/** Members of several communities together; the same objects while every part is unchanged. */
interface Union {
  parts: readonly ReadonlySet<string>[];
  members: ReadonlySet<string>;
  list: readonly string[];
}

/** Who belongs to each community now, resolved from curator sources and cached briefly. */
@Injectable()
export class CommunityMembersService {
  /**
   * @NOTE Callers asking at once share one resolution. A resolution under way when the curation
   * changes still answers its callers but is not kept (`ignoreFetchAbort`, and `clear` aborts it).
   */
  private readonly cache = new LRUCache<string, ReadonlySet<string>>({
    max: MAX_CACHED_COMMUNITIES,
    ttl: MEMBERSHIP_TTL_MS,
    ignoreFetchAbort: true,
    fetchMethod: (communityId, _stale, { options }) => this.resolve(communityId, options),
  });
  private readonly unions = new Map<string, Union>();
  /** Communities whose sources named more accounts than the bound when last resolved: they count as empty. */
  private readonly tooLarge = new Map<string, CommunityTooLargeError>();
  private curationVersion = -1;
  private readonly log: Logger;

  constructor(
    private readonly registry: FeedRegistry,
    @Inject(CommunityRepository) private readonly communities: CommunityRepository,
    @Inject(VerifiedHandleResolver) private readonly handles: VerifiedHandleResolver,
    @Inject(LOGGER) logger: Logger,
  ) {
    this.log = logger.child({ component: 'community-members' });
  }

  /** Why a community counts as empty now, if it is over the members bound (`COMMUNITY_MAX_MEMBERS`). */
  tooLargeError(communityId: string): CommunityTooLargeError | undefined {
    return this.tooLarge.get(communityId);
  }

  async members(communityId: string): Promise<ReadonlySet<string>> {
    if (this.registry.version !== this.curationVersion) {
      this.curationVersion = this.registry.version;
      this.invalidate();
    }
    if (!this.registry.community(communityId)) return new Set();
    return this.cache.forceFetch(communityId);
  }

  private async resolve(communityId: string, kept: { ttl?: number } = {}): Promise<ReadonlySet<string>> {
    const sources = this.registry.community(communityId)?.members;
    if (!sources) return new Set();
    const verified = await this.handles.resolve(sources.handles);
    let members: string[];
    try {
      members = await this.communities.members({ ...sources, dids: [...sources.dids, ...verified] }, Date.now() * 1000 - HASHTAG_WINDOW_US);
    } catch (error) {
      // Over the bound, a community is nobody's: a members-only feed of it admits no one, and its
      // recent feed is empty. Said once until it fits again; the console shows why.
      if (!(error instanceof CommunityTooLargeError)) throw error;
      if (!this.tooLarge.has(communityId)) this.log.error({ community: communityId, maxMembers: error.maxMembers, err: error.message }, 'community over the members bound counts as empty');
      this.tooLarge.set(communityId, error);
      kept.ttl = TOO_LARGE_TTL_MS;
      return new Set();
    }
    this.tooLarge.delete(communityId);
    return new Set(members);
  }

  async membersOfAll(communityIds: readonly string[]): Promise<ReadonlySet<string>> {
    return (await this.union(communityIds)).members;
  }

  /** The same members as a list: the same array while membership is unchanged, so what is derived from it can be cached. */
  async memberListOfAll(communityIds: readonly string[]): Promise<readonly string[]> {
    return (await this.union(communityIds)).list;
  }

  private async union(communityIds: readonly string[]): Promise<Union> {
    const parts = await Promise.all(communityIds.map((id) => this.members(id)));
    const key = communityIds.join('\n');
    const cached = this.unions.get(key);
    if (cached && cached.parts.length === parts.length && cached.parts.every((part, i) => part === parts[i])) return cached;
    const members = parts.length === 1 ? parts[0]! : new Set(parts.flatMap((part) => [...part]));
    const union: Union = { parts, members, list: [...members] };
    this.unions.set(key, union);
    return union;
  }

  /** Forget cached membership (curation changed, or a test needs the newest state). */
  invalidate(): void {
    this.cache.clear();
    this.unions.clear();
  }
}
