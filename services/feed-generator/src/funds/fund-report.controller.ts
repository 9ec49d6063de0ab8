import { Controller, Get, Param } from '@nestjs/common';
import { InvalidRequestError } from '../xrpc/xrpc.errors.js';
import { FundReportService, type FundReport } from './fund-report.service.js';

const COMMUNITY_ID = /^[a-z0-9][a-z0-9_-]{0,63}$/;

/**
 * `GET /api/funds/<community>/<epoch>`: the public, unauthenticated ledger of a community's Bridge
 * Fund for one epoch (`current` for the epoch now running), which anyone can check against the
 * pledge records and the boosted items they were served.
 */
@Controller('api/funds')
export class FundReportController {
  constructor(private readonly reports: FundReportService) {}

  @Get(':community/:epoch')
  async report(@Param('community') community: string, @Param('epoch') epochParam: string): Promise<FundReport> {
    if (!COMMUNITY_ID.test(community)) throw new InvalidRequestError('community must be a community id (a-z, 0-9, - and _)');
    const current = this.reports.currentEpoch();
    const epoch = epochParam === 'current' ? current : /^\d{1,9}$/.test(epochParam) ? Number(epochParam) : NaN;
    if (!Number.isSafeInteger(epoch) || epoch > current) throw new InvalidRequestError(`epoch must be a number up to ${current}, or current`);
    return this.reports.report(community, epoch);
  }
}
