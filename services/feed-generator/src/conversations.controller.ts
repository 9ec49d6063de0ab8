import { Controller, Get, Headers, Inject, Param, Req, Res, ServiceUnavailableException, type OnModuleInit } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ConversationRepository, PostRepository } from '#lib/clickhouse';
import type { AppConfig } from '#lib/config';
import { APP_CONFIG } from '#lib/platform';
import type { ConversationReport } from '#lib/rankings';
import { AdminAuthError, hasAdminToken } from './admin.guard.js';
import { ConsoleNotBuiltError, loadConsoleAssets, REPORT_PAGE, type ConsolePage } from './console/console-assets.js';
import { sendPage } from './console/console.controller.js';
import { FeedRegistry } from './feeds/feed.registry.js';
import { UnknownFeedRequestedError } from './feeds/feed-skeleton.service.js';

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

/**
 * The live report of a conversation (a `deliberation` feed), public: `/conversations/<name>` as a
 * page (the console's modules, `web/report.view.ts`) and `/api/conversations/<name>` as JSON. A
 * members-only conversation's report needs the admin token.
 */
@Controller()
export class ConversationsController implements OnModuleInit {
  private page?: ConsolePage;
  private notBuilt?: ConsoleNotBuiltError;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly registry: FeedRegistry,
    private readonly conversations: ConversationRepository,
    private readonly posts: PostRepository,
  ) {}

  async onModuleInit(): Promise<void> {
    try {
      this.page = (await loadConsoleAssets(undefined, REPORT_PAGE)).page;
    } catch (error) {
      // The JSON report serves without the page; the page says what is missing.
      if (!(error instanceof ConsoleNotBuiltError)) throw error;
      this.notBuilt = error;
    }
  }

  @Get('conversations/:name')
  reportPage(@Param('name') name: string, @Headers('if-none-match') ifNoneMatch: string | undefined, @Res() reply: FastifyReply): void {
    this.conversationFeed(name);
    if (!this.page) throw new ServiceUnavailableException(this.notBuilt?.message ?? 'the report page is starting');
    sendPage(this.page, ifNoneMatch, reply);
  }

  @Get('api/conversations/:name')
  async report(@Param('name') name: string, @Req() request: FastifyRequest): Promise<ConversationView> {
    const feed = this.conversationFeed(name);
    if (feed.membersOnly && !hasAdminToken(request, this.config.feedGenerator.adminToken)) {
      throw new AdminAuthError('the report of a members-only conversation needs the admin token');
    }
    const conversation = feed.deliberation!;
    const uri = this.registry.uriOf(feed);
    const report = ((await this.conversations.latestReport(uri)) ?? null) as ConversationReport | null;
    const named = report
      ? [
          ...report.consensus,
          ...report.divisive,
          ...report.representative.flatMap((group) => group.statements),
          ...report.thin.slice(0, 10),
        ].map((statement) => statement.uri)
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

  private conversationFeed(name: string) {
    const feed = this.registry.current.feeds.get(name);
    if (!feed?.deliberation) throw new UnknownFeedRequestedError(name);
    return feed;
  }
}
