import { Controller, Get, Inject, Param, Req } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import type { AppConfig } from '#lib/config';
import type { Curation } from '#lib/curation';
import { APP_CONFIG } from '#lib/platform';
import { AdminAuthError, hasAdminToken } from '../admin.guard.js';
import { FeedRegistry } from '../feeds/feed.registry.js';
import { InvalidRequestError } from '../xrpc/xrpc.errors.js';
import { FundReportService, type FundReport } from './fund-report.service.js';

const COMMUNITY_ID = /^[a-z0-9][a-z0-9_-]{0,63}$/;

/**
 * `GET /api/funds/<community>/<epoch>`: the public, unauthenticated ledger of a community's Bridge
 * Fund for one epoch (`current` for the epoch now running), which anyone can check against the
 * pledge records and the boosted items they were served. The ledger of a fund that may boost a
 * members-only feed lists what was boosted inside it, and needs the admin token, as that feed's
 * explanations and editions do.
 */
@Controller('api/funds')
export class FundReportController {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly registry: FeedRegistry,
    private readonly reports: FundReportService,
  ) {}

  @Get(':community/:epoch')
  async report(@Param('community') community: string, @Param('epoch') epochParam: string, @Req() request: FastifyRequest): Promise<FundReport> {
    if (!COMMUNITY_ID.test(community)) throw new InvalidRequestError('community must be a community id (a-z, 0-9, - and _)');
    if (boostsMembersOnly(this.registry.current, community) && !hasAdminToken(request, this.config.feedGenerator.adminToken)) {
      throw new AdminAuthError('the ledger of a fund that boosts a members-only feed needs the admin token');
    }
    const current = this.reports.currentEpoch();
    const epoch = epochParam === 'current' ? current : /^\d{1,9}$/.test(epochParam) ? Number(epochParam) : NaN;
    if (!Number.isSafeInteger(epoch) || epoch > current) throw new InvalidRequestError(`epoch must be a number up to ${current}, or current`);
    return this.reports.report(community, epoch);
  }
}

/** Whether the community's fund may boost a members-only feed: one it names, or with none named, any feed over the community (a fund removed since: any such feed). */
function boostsMembersOnly(curation: Curation, community: string): boolean {
  const named = curation.funds.get(community)?.feeds ?? [];
  const feeds = [...curation.feeds.values()].filter((feed) => (named.length > 0 ? named.includes(feed.shortname) : feed.communities.includes(community)));
  return feeds.some((feed) => feed.membersOnly);
}
