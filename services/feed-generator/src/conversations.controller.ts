import { createHash } from 'node:crypto';
import { Controller, Get, Headers, Inject, Param, Req, Res, type OnModuleInit } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ConversationRepository, PostRepository } from '#lib/clickhouse';
import type { AppConfig } from '#lib/config';
import { APP_CONFIG } from '#lib/platform';
import type { ConversationReport } from '#lib/rankings';
import { AdminAuthError, hasAdminToken } from './admin.guard.js';
import { REPORT_PAGE } from './console/console-assets.js';
import { matchesEtag, PublicPage } from './console/console.controller.js';
import { FeedRegistry } from './feeds/feed.registry.js';

export interface ConversationView {
  conversation: string;
  title: string;
  feed: string;
  /** Where the statements come from. */
  source: { root: string } | { hashtag: string };
  participants: 'anyone' | 'members';
  /** The latest report the ranker stored; null before its first run. */
  report: ConversationReport | null;
  /** The text of each statement the report names, while it is live in the store. */
  texts: Record<string, string>;
}

/** Statements of the report named with their text: those it lists (ten of the thin ones at most). */
const THIN_LISTED = 10;

/**
 * The live report of a conversation (a `deliberation` feed), public: `/conversations/<name>` as a
 * page (the console's modules, `web/report.view.ts`) and `/api/conversations/<name>` as JSON. A
 * members-only conversation's report needs the admin token.
 */
@Controller()
export class ConversationsController implements OnModuleInit {
  private readonly page = new PublicPage(REPORT_PAGE);

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly registry: FeedRegistry,
    private readonly conversations: ConversationRepository,
    private readonly posts: PostRepository,
  ) {}

  async onModuleInit(): Promise<void> {
    await this.page.load();
  }

  /** The page; for a name no conversation has, the page with status 404 (it says there is none). */
  @Get('conversations/:name')
  reportPage(@Param('name') name: string, @Headers('if-none-match') ifNoneMatch: string | undefined, @Res() reply: FastifyReply): void {
    this.page.send(reply, ifNoneMatch, this.registry.missing(name, 'conversation'));
  }

  /**
   * The report as JSON, with an entity tag: a reader whose copy is current gets 304 and no body.
   * A public report may be cached for 10 s; a members-only one is not stored anywhere.
   */
  @Get('api/conversations/:name')
  async report(@Param('name') name: string, @Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const feed = this.registry.named(name, 'conversation');
    if (feed.membersOnly && !hasAdminToken(request, this.config.feedGenerator.adminToken)) {
      throw new AdminAuthError('the report of a members-only conversation needs the admin token');
    }
    // @NOTE Every open report polls every 10 s: a reader whose copy is current costs the two reads
    // and no transfer, and a shared cache may answer the others of a public report meanwhile.
    const body = JSON.stringify(await this.view(name));
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
    void reply.headers({ etag, 'cache-control': feed.membersOnly ? 'private, no-store' : 'public, max-age=10' });
    if (matchesEtag(request.headers['if-none-match'], etag)) {
      void reply.status(304).send();
      return;
    }
    void reply.type('application/json; charset=utf-8').send(body);
  }

  private async view(name: string): Promise<ConversationView> {
    const feed = this.registry.named(name, 'conversation');
    const conversation = feed.deliberation!;
    const uri = this.registry.uriOf(feed);
    const stored = ((await this.conversations.latestReport(uri)) ?? null) as ConversationReport | null;
    // Reports stored before the count was kept list every thin statement.
    const report = stored && { ...stored, thin: stored.thin.slice(0, THIN_LISTED), thinCount: stored.thinCount ?? stored.thin.length };
    const named = report
      ? [...report.consensus, ...report.divisive, ...report.representative.flatMap((group) => group.statements), ...report.thin].map((statement) => statement.uri)
      : [];
    const texts = await this.posts.summaries([...new Set(named)]);
    return {
      conversation: name,
      title: conversation.title ?? feed.displayName,
      feed: uri,
      source: conversation.root ? { root: conversation.root } : { hashtag: conversation.hashtag! },
      participants: conversation.participants,
      report,
      texts: Object.fromEntries([...texts].map(([statement, summary]) => [statement, summary.text])),
    };
  }
}
