import { Body, Controller, Delete, Get, HttpCode, Param, Put, UseGuards } from '@nestjs/common';
import { z } from 'zod';
import { CommunitySchema, FeedSchema, type CommunityDefinition, type FeedDefinition } from '#lib/curation';
import { AdminGuard } from './admin.guard.js';
import { CommunityMembersService } from './feeds/community-members.service.js';
import { FeedRegistry } from './feeds/feed.registry.js';
import { parseBody } from './xrpc/request-input.js';
import { InvalidRequestError } from './xrpc/xrpc.errors.js';

/**
 * A body names fields of the curator file's community or feed (an unknown one is refused here);
 * their values are checked with the whole edited file before it is written (`CurationStore.set`),
 * so a mistake is reported as it would be in the file.
 */
const definitionInput = (schema: z.AnyZodObject) =>
  z
    .record(schema.keyof(), z.unknown(), { invalid_type_error: 'must be an object' })
    .optional()
    .transform((fields) => Object.fromEntries(Object.entries(fields ?? {}).filter(([, value]) => value !== undefined)));
const CommunityInput = definitionInput(CommunitySchema);
const FeedInput = definitionInput(FeedSchema);

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
  async putCommunity(@Param('id') id: string, @Body() body: unknown) {
    const snapshot = await this.registry.store.set(['communities', id], parseBody(CommunityInput, body));
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
  async putFeed(@Param('shortname') shortname: string, @Body() body: unknown) {
    const snapshot = await this.registry.store.set(['feeds', shortname], parseBody(FeedInput, body));
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

