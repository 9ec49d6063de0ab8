import { Body, Controller, Delete, Get, Headers, HttpCode, Inject, Param, Post, Put, UseGuards } from '@nestjs/common';
import { randomInt } from 'node:crypto';
import { FundRepository } from '#lib/clickhouse';
import { isDid } from '#lib/domain';
import { FundInput, sourceOf } from '../admin.controller.js';
import { AdminGuard } from '../admin.guard.js';
import { FeedRegistry } from '../feeds/feed.registry.js';
import { parseBody } from '../xrpc/request-input.js';
import { InvalidRequestError } from '../xrpc/xrpc.errors.js';
import { adminPledgeSchema } from './admin-pledge.schema.js';

const RKEY = /^admin-[0-9a-z]{1,32}$/;

/**
 * Curators' side of the Bridge Fund: funds are edited like communities and feeds (validated, stored
 * as a new curation version), and pledges can be recorded for members who do not publish pledge records;
 * the ranker checks both kinds alike (membership, allowance, live post).
 */
@Controller('api/admin')
@UseGuards(AdminGuard)
export class FundAdminController {
  constructor(
    private readonly registry: FeedRegistry,
    @Inject(FundRepository) private readonly funds: FundRepository,
  ) {}

  @Get('funds')
  list() {
    return { funds: [...this.registry.current.funds.values()] };
  }

  @Put('funds/:community')
  async put(@Param('community') community: string, @Body() body: unknown, @Headers('x-cg-client') client?: string) {
    // A field the fund does not have (a misspelt `maxlift`) is refused, as in the file.
    const snapshot = await this.registry.curation.edit(['funds', community], parseBody(FundInput, body), sourceOf(client));
    return snapshot.curation.funds.get(community)!;
  }

  @Delete('funds/:community')
  @HttpCode(200)
  async remove(@Param('community') community: string, @Headers('x-cg-client') client?: string) {
    await this.registry.curation.edit(['funds', community], undefined, sourceOf(client));
    return {};
  }

  @Post('pledges')
  async pledge(@Body() body: unknown) {
    const parsed = adminPledgeSchema.safeParse(body ?? {});
    if (!parsed.success) throw new InvalidRequestError(parsed.error.issues.map((issue) => `${issue.path.join('.') || 'body'}: ${issue.message}`).join('; '));
    const timeUs = Date.now() * 1000;
    const rkey = `admin-${timeUs.toString(36)}${randomInt(1_296).toString(36)}`;
    await this.funds.recordPledge({ ...parsed.data, rkey, timeUs });
    return { pledger: parsed.data.pledger, rkey };
  }

  @Delete('pledges/:pledger/:rkey')
  @HttpCode(200)
  async withdraw(@Param('pledger') pledger: string, @Param('rkey') rkey: string) {
    if (!isDid(pledger)) throw new InvalidRequestError('pledger must be a DID');
    if (!RKEY.test(rkey)) throw new InvalidRequestError('only pledges recorded through the admin API can be withdrawn here; members delete their records');
    await this.funds.recordPledge({ pledger, rkey, timeUs: Date.now() * 1000 });
    return {};
  }
}
