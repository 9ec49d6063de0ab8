import { Body, Controller, Delete, Get, Header, Headers, HttpCode, Param, Put, Query, UseGuards } from '@nestjs/common';
import { z } from 'zod';
import type { CurationSource } from '#lib/clickhouse';
import { CommunitySchema, CurationEntryNotFoundError, FeedSchema, FundSchema, type CommunityDefinition, type FeedDefinition } from '#lib/curation';
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
export const FundInput = definitionInput(FundSchema);

const communityView = (community: CommunityDefinition) => ({ ...community });
const feedView = (registry: FeedRegistry, feed: FeedDefinition) => ({ ...feed, uri: registry.uriOf(feed) });
/** The console sends `x-cg-client: console`; anything else is an admin API client. */
export const sourceOf = (client: string | undefined): CurationSource => (client === 'console' ? 'console' : 'admin');
const HISTORY_MAX = 1_000;

/**
 * The admin API: curators edit communities and feeds without touching the file. Edits go through
 * the same validation as the file and are written as a new curation version to ClickHouse
 * (comments kept), never to the file; every process and replica applies it within seconds.
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
    const snapshot = this.registry.curation.snapshot;
    return {
      file: this.registry.curation.store.file,
      version: snapshot?.version ?? null,
      source: snapshot?.source ?? null,
      lastProblem: this.registry.lastProblem ?? null,
      communities: [...communities.values()].map(communityView),
      feeds: [...feeds.values()].map((feed) => feedView(this.registry, feed)),
    };
  }

  /** The curation in force as the curator document (YAML, comments kept): a file to keep or to seed another deployment. */
  @Get('curation/export')
  @Header('content-type', 'application/yaml; charset=utf-8')
  export() {
    return this.registry.curation.snapshot?.text ?? '';
  }

  /** Every version kept, newest first: when, from where, and its hash. */
  @Get('curation/versions')
  async versions(@Query('limit') text?: string) {
    const limit = text === undefined ? 100 : Number(text);
    if (!Number.isInteger(limit) || limit < 1 || limit > HISTORY_MAX) throw new InvalidRequestError(`limit must be an integer from 1 to ${HISTORY_MAX}`);
    return { versions: await this.registry.curation.store.history(limit) };
  }

  @Get('communities/:id/members')
  async communityMembers(@Param('id') id: string) {
    if (!this.registry.community(id)) throw new CurationEntryNotFoundError(`communities.${id}`);
    const members = [...(await this.members.members(id))].sort();
    // Over the members bound a community counts as empty, and says why.
    const tooLarge = this.members.tooLargeError(id)?.message;
    return { id, count: members.length, sample: members.slice(0, 100), ...(tooLarge && { tooLarge }) };
  }

  @Put('communities/:id')
  async putCommunity(@Param('id') id: string, @Body() body: unknown, @Headers('x-cg-client') client?: string) {
    const snapshot = await this.registry.curation.edit(['communities', id], parseBody(CommunityInput, body), sourceOf(client));
    return communityView(snapshot.curation.communities.get(id)!);
  }

  @Delete('communities/:id')
  @HttpCode(200)
  async deleteCommunity(@Param('id') id: string, @Headers('x-cg-client') client?: string) {
    await this.registry.curation.edit(['communities', id], undefined, sourceOf(client));
    return {};
  }

  @Put('feeds/:shortname')
  async putFeed(@Param('shortname') shortname: string, @Body() body: unknown, @Headers('x-cg-client') client?: string) {
    const fields: Record<string, unknown> = parseBody(FeedInput, body);
    // @NOTE A body without label rules keeps the feed's own: a client that does not know them never drops them.
    const labels = this.registry.current.feeds.get(shortname)?.labels;
    if (labels && !('exclude' in fields) && !('downrank' in fields)) {
      if (labels.exclude.length > 0) fields.exclude = labels.exclude;
      if (labels.downrank) fields.downrank = labels.downrank;
    }
    const snapshot = await this.registry.curation.edit(['feeds', shortname], fields, sourceOf(client));
    return feedView(this.registry, snapshot.curation.feeds.get(shortname)!);
  }

  @Delete('feeds/:shortname')
  @HttpCode(200)
  async deleteFeed(@Param('shortname') shortname: string, @Headers('x-cg-client') client?: string) {
    await this.registry.curation.edit(['feeds', shortname], undefined, sourceOf(client));
    return {};
  }
}

