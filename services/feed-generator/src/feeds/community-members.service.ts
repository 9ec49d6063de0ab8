import { Inject, Injectable } from '@nestjs/common';
import { CommunityRepository } from '#lib/clickhouse';
import { FeedRegistry } from './feed.registry.js';

/** Membership is recomputed at most this often per community. */
const MEMBERSHIP_TTL_MS = 5_000;
/** Hashtag membership looks back this far. */
const HASHTAG_WINDOW_US = 7 * 24 * 3600 * 1_000_000;

interface CachedMembers {
  members: ReadonlySet<string>;
  expiresAt: number;
  pending?: Promise<ReadonlySet<string>>;
}

/** Who belongs to each community now, resolved from curator sources and cached briefly. */
@Injectable()
export class CommunityMembersService {
  private readonly cache = new Map<string, CachedMembers>();
  private curationVersion = -1;

  constructor(
    private readonly registry: FeedRegistry,
    @Inject(CommunityRepository) private readonly communities: CommunityRepository,
  ) {}

  async members(communityId: string): Promise<ReadonlySet<string>> {
    if (this.registry.version !== this.curationVersion) {
      this.curationVersion = this.registry.version;
      this.cache.clear();
    }
    const cached = this.cache.get(communityId);
    if (cached && cached.expiresAt > Date.now()) return cached.members;
    if (cached?.pending) return cached.pending;
    const definition = this.registry.community(communityId);
    if (!definition) return new Set();
    const pending = this.communities
      .members(definition.members, Date.now() * 1000 - HASHTAG_WINDOW_US)
      .then((list) => {
        const members = new Set(list);
        this.cache.set(communityId, { members, expiresAt: Date.now() + MEMBERSHIP_TTL_MS });
        return members;
      })
      .finally(() => {
        const entry = this.cache.get(communityId);
        if (entry?.pending === pending) entry.pending = undefined;
      });
    this.cache.set(communityId, { members: cached?.members ?? new Set(), expiresAt: 0, pending });
    return pending;
  }

  async membersOfAll(communityIds: readonly string[]): Promise<Set<string>> {
    const sets = await Promise.all(communityIds.map((id) => this.members(id)));
    return new Set(sets.flatMap((set) => [...set]));
  }

  /** Forget cached membership (curation changed, or a test needs the newest state). */
  invalidate(): void {
    this.cache.clear();
  }
}
