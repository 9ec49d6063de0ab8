import { Controller, Get, Headers, Inject, Param, Query, Req, Res, type OnModuleInit } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { EditionRepository, PostRepository } from '#lib/clickhouse';
import type { AppConfig } from '#lib/config';
import { APP_CONFIG } from '#lib/platform';
import { latestCadencePoint, nextCadencePoint } from '#lib/rankings';
import { AdminAuthError, hasAdminToken } from './admin.guard.js';
import { DIGEST_PAGE } from './console/console-assets.js';
import { PublicPage } from './console/console.controller.js';
import { DigestFeed } from './feeds/digest.feed.js';
import { FeedRegistry } from './feeds/feed.registry.js';
import { integerParam, parseParams } from './xrpc/request-input.js';
import { InvalidRequestError } from './xrpc/xrpc.errors.js';

const EditionsParams = z.object({ limit: integerParam({ min: 1, max: 100, fallback: 10 }) });

export interface EditionPost {
  rank: number;
  uri: string;
  /** The post's text while it is live in the store; null once deleted or never stored. */
  text: string | null;
  score: number;
  feedContext: string;
  /** Provenance: the communities or opinion groups that approve it, and where it divides. */
  supportedBy: string[];
  divisiveIn: string[];
}

export interface EditionView {
  edition: number;
  /** The cadence point it was frozen for, ISO 8601. */
  at: string;
  frozenAt: string;
  posts: EditionPost[];
}

export interface EditionsView {
  feed: string;
  displayName: string;
  cadence: { cadence: 'daily' | 'weekly'; day?: string; at: string; timeZone: string; size: number; base: string };
  /** The cadence point of the next edition: a past one while its edition is due (`editionDue`). */
  nextEditionAt: string;
  /** No edition is frozen yet for the latest cadence point: the ranker freezes it at its next run. */
  editionDue: boolean;
  endCard: string | null;
  editions: EditionView[];
}

/**
 * A digest feed's editions, newest first, each with its posts and their provenance: what a
 * community agreed on, edition by edition. Public for public feeds; members-only feeds need the
 * admin token (as explanations do).
 */
@Controller('api/feeds')
export class EditionsController {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly registry: FeedRegistry,
    private readonly store: EditionRepository,
    private readonly posts: PostRepository,
    private readonly digests: DigestFeed,
  ) {}

  @Get(':shortname/editions')
  async editions(@Param('shortname') shortname: string, @Query() query: unknown, @Req() request: FastifyRequest): Promise<EditionsView> {
    const feed = this.registry.named(shortname);
    if (feed.membersOnly && !hasAdminToken(request, this.config.feedGenerator.adminToken)) {
      throw new AdminAuthError('editions of a members-only feed need the admin token');
    }
    const digest = feed.digest;
    if (!digest) throw new InvalidRequestError(`feed "${shortname}" is not a digest: it has no editions`, 'NotADigest');
    const { limit } = parseParams(EditionsParams, query);
    const uri = this.registry.uriOf(feed);
    const summaries = await this.store.list(uri, limit);
    const items = await Promise.all(summaries.map((summary) => this.digests.editionPosts(uri, summary)));
    const texts = await this.posts.summaries(items.flat().map((item) => item.uri));
    const editions = summaries.map((summary, index) => ({
      edition: summary.edition,
      at: new Date(summary.edition).toISOString(),
      frozenAt: new Date(summary.frozenAtMs).toISOString(),
      posts: (items[index] ?? []).map((item) => ({
        rank: item.rank,
        uri: item.uri,
        text: texts.get(item.uri)?.text ?? null,
        score: item.score,
        feedContext: item.feedContext,
        supportedBy: names(item.components.supportedBy),
        divisiveIn: names(item.components.divisiveIn),
      })),
    }));
    // The ranker freezes the edition of a cadence point at its first run after it: until then (no
    // edition yet, or the ranker away at the point) that edition is the next one.
    const nowMs = Date.now();
    const latest = latestCadencePoint(digest, nowMs);
    const due = (summaries[0]?.edition ?? -Infinity) < latest;
    return {
      feed: uri,
      displayName: feed.displayName,
      cadence: { cadence: digest.cadence, ...(digest.day && { day: digest.day }), at: digest.at, timeZone: digest.timeZone, size: digest.size, base: digest.base },
      nextEditionAt: new Date(due ? latest : nextCadencePoint(digest, nowMs)).toISOString(),
      editionDue: due,
      endCard: digest.endCard ?? null,
      editions,
    };
  }
}

const names = (value: unknown): string[] => (Array.isArray(value) ? value.filter((name): name is string => typeof name === 'string') : []);

/**
 * A digest's public page, `/digests/<name>`: its editions as `/api/feeds/<name>/editions` gives
 * them, each post with its text and the communities that support it, to look back at.
 */
@Controller('digests')
export class DigestsController implements OnModuleInit {
  private readonly page = new PublicPage(DIGEST_PAGE);

  constructor(private readonly registry: FeedRegistry) {}

  async onModuleInit(): Promise<void> {
    await this.page.load();
  }

  @Get(':name')
  digestPage(@Param('name') name: string, @Headers('if-none-match') ifNoneMatch: string | undefined, @Res() reply: FastifyReply): void {
    this.page.send(reply, ifNoneMatch, this.registry.missing(name, 'digest'));
  }
}
