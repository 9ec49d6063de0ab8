import { Body, Controller, Delete, Get, HttpCode, Param, Put, UseGuards } from '@nestjs/common';
import type { CommunityDefinition, FeedDefinition } from '#lib/curation';
import { AdminGuard } from './admin.guard.js';
import { CommunityMembersService } from './feeds/community-members.service.js';
import { FeedRegistry } from './feeds/feed.registry.js';
import { InvalidRequestError } from './xrpc/xrpc.errors.js';

type CommunityInput = Partial<Omit<CommunityDefinition, 'id'>>;
type FeedInput = Partial<Omit<FeedDefinition, 'shortname'>>;

const communityView = (community: CommunityDefinition) => ({ ...community });
const feedView = (registry: FeedRegistry, feed: FeedDefinition) => ({ ...feed, uri: registry.uriOf(feed) });

/**
 * The admin API: curators edit communities and feeds without touching the file by hand. Edits go
 * through the same validation as the file and are written to it (comments kept); every process
 * that follows the file picks them up.
 */
@Controller('api/admin')
@UseGuards(AdminGuard)
export class AdminController {
  constructor(
    private readonly registry: FeedRegistry,
    private readonly members: CommunityMembersService,
  ) {}

  @Get('curation')
  curation() {
    const { communities, feeds } = this.registry.current;
    return {
      file: this.registry.store.file,
      lastProblem: this.registry.lastProblem ?? null,
      communities: [...communities.values()].map(communityView),
      feeds: [...feeds.values()].map((feed) => feedView(this.registry, feed)),
    };
  }

  @Get('communities/:id/members')
  async communityMembers(@Param('id') id: string) {
    if (!this.registry.community(id)) throw new InvalidRequestError(`no community "${id}"`, 'NotFound');
    const members = [...(await this.members.members(id))].sort();
    return { id, count: members.length, sample: members.slice(0, 100) };
  }

  @Put('communities/:id')
  async putCommunity(@Param('id') id: string, @Body() body: CommunityInput) {
    const { name, description, members, allowSelfEnrolment } = body ?? {};
    const snapshot = await this.registry.store.set(['communities', id], withoutUndefined({ name, description, members, allowSelfEnrolment }));
    this.registry.replace(snapshot.curation);
    return communityView(snapshot.curation.communities.get(id)!);
  }

  @Delete('communities/:id')
  @HttpCode(200)
  async deleteCommunity(@Param('id') id: string) {
    this.registry.replace((await this.registry.store.set(['communities', id], undefined)).curation);
    return {};
  }

  @Put('feeds/:shortname')
  async putFeed(@Param('shortname') shortname: string, @Body() body: FeedInput) {
    const { displayName, description, communities, ranking, membersOnly, includeReplies, windowHours, halfLifeHours, balance } = body ?? {};
    // @NOTE The console's form does not edit label rules yet: a body without them keeps the feed's own.
    const labels = body?.labels ?? this.registry.current.feeds.get(shortname)?.labels;
    const snapshot = await this.registry.store.set(
      ['feeds', shortname],
      withoutUndefined({
        displayName,
        description,
        communities,
        ranking,
        membersOnly,
        includeReplies,
        windowHours,
        halfLifeHours,
        balance,
        exclude: labels?.exclude.length ? labels.exclude : undefined,
        downrank: labels?.downrank,
      }),
    );
    this.registry.replace(snapshot.curation);
    return feedView(this.registry, snapshot.curation.feeds.get(shortname)!);
  }

  @Delete('feeds/:shortname')
  @HttpCode(200)
  async deleteFeed(@Param('shortname') shortname: string) {
    this.registry.replace((await this.registry.store.set(['feeds', shortname], undefined)).curation);
    return {};
  }
}

function withoutUndefined(value: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(value).filter(([, entry]) => entry !== undefined));
}
