import { Inject, Injectable } from '@nestjs/common';
import { LRUCache } from 'lru-cache';
import { FundRepository } from '#lib/clickhouse';
import type { AppConfig } from '#lib/config';
import { epochBounds, epochOf } from '#lib/funding';
import { APP_CONFIG } from '#lib/platform';
import { FeedRegistry } from '../feeds/feed.registry.js';

/** Posts listed in a report, most costly first. */
const REPORT_POSTS = 200;
/** Reports kept, and how long: the ledger changes once per snapshot run. */
const CACHED_REPORTS = 1_000;
const REPORT_TTL_MS = 5_000;

export interface FundReport {
  community: string;
  epoch: number;
  startsAt: string;
  endsAt: string;
  /** When the ranker last settled this epoch; null before it did. */
  settledAt: string | null;
  creditsPerThousandImpressions: number;
  budget: number;
  floor: number;
  matchingPool: number;
  pledged: number;
  matched: number;
  spent: number;
  remaining: number;
  /**
   * Boosted impressions charged (a viewer once per post, shared by the funds that raised it), those
   * that reached members of other communities, and those served past the budget or a post's
   * credits, which the fund did not pay for (a boost stops at the next snapshot after either runs out).
   */
  impressions: number;
  impressionsOutsideCommunity: number;
  unpaidImpressions: number;
  pledges: number;
  refusedPledges: Record<string, number>;
  posts: { post: string; pledged: number; matched: number; impressions: number; impressionsOutsideCommunity: number; spent: number }[];
}

/** A community without a fund now or a ledger for the epoch asked for. */
export class FundNotFoundError extends Error {
  override name = 'FundNotFoundError';
}

/**
 * The public report of a fund's epoch: what was pledged, matched and spent, on which posts, and how
 * far the boosted posts reached beyond the community. Read from the ledger the ranker settles;
 * cached briefly, so asking often costs one read per few seconds per fund and epoch.
 */
@Injectable()
export class FundReportService {
  private readonly cache = new LRUCache<string, FundReport>({ max: CACHED_REPORTS, ttl: REPORT_TTL_MS });

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly registry: FeedRegistry,
    @Inject(FundRepository) private readonly funds: FundRepository,
  ) {}

  currentEpoch(nowMs = Date.now()): number {
    return epochOf(nowMs, this.config.funding.epochDays);
  }

  async report(community: string, epoch: number): Promise<FundReport> {
    const key = `${community} ${epoch}`;
    const cached = this.cache.get(key);
    if (cached) return cached;
    const { epochDays, creditsPerThousandImpressions } = this.config.funding;
    const rows = await this.funds.report(community, epoch, REPORT_POSTS);
    const fund = this.registry.current.funds.get(community);
    if (!rows && !fund) throw new FundNotFoundError(`no fund of community "${community}" in epoch ${epoch}`);
    const { startMs, endMs } = epochBounds(epoch, epochDays);
    const totals = rows?.epoch;
    const report: FundReport = {
      community,
      epoch,
      startsAt: new Date(startMs).toISOString(),
      endsAt: new Date(endMs).toISOString(),
      settledAt: totals ? new Date(totals.settledAtMs).toISOString() : null,
      creditsPerThousandImpressions,
      budget: totals?.budget ?? fund?.budget ?? 0,
      floor: totals?.floor ?? 0,
      matchingPool: totals?.matchingPool ?? fund?.matchingPool ?? 0,
      pledged: totals?.pledged ?? 0,
      matched: totals?.matched ?? 0,
      spent: totals?.spent ?? 0,
      remaining: totals?.remaining ?? fund?.budget ?? 0,
      impressions: totals?.impressions ?? 0,
      impressionsOutsideCommunity: totals?.outside ?? 0,
      unpaidImpressions: totals?.unpaid ?? 0,
      pledges: totals?.pledges ?? 0,
      refusedPledges: totals?.refused ?? {},
      posts: (rows?.posts ?? []).map(({ outside, ...post }) => ({ ...post, impressionsOutsideCommunity: outside })),
    };
    this.cache.set(key, report);
    return report;
  }
}
